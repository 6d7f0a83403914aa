//! The freeze quantity: entries go in slices, one after another; exits go sliced at once.

use super::*;

/// The chain stage sized so a NIFTY future signal plans 60 lots, and that future.
fn nifty_future_at_60_lots() -> (RiskStage, Instrument) {
    let (mut r, master) = chain_stage();
    r.params.sizing.capital_paise = 10_000_000_000;
    r.params.sizing.per_trade_risk_pct = 50.0;
    r.params.sizing.max_lots = 60;
    r.params.sizing.max_notional_paise = i64::MAX / 4;
    r.params.heat_limit_paise = i64::MAX / 4;
    let fut = *master
        .iter()
        .find(|i| i.instrument_type == InstrumentType::Future && i.name.as_str() == "NIFTY")
        .unwrap();
    (r, fut)
}

/// An ORB long on `fut` at its last price at 10:00 (stop 1.00 below, target 5.00 above):
/// the intents risk sends for it.
fn enter_long(r: &mut RiskStage, fut: &Instrument) -> Vec<OrderIntent> {
    let at = ts(20261202, "10:00");
    let p = fut.last_price.0;
    feed(r, ltp(fut.token, at, p as i32));
    feed(
        r,
        Event::Signal(Signal {
            token: fut.token,
            strategy: StrategyId::Orb,
            side: Side::Buy,
            entry: Price(p),
            stop: Price(p - 100),
            target: Price(p + 500),
            ts: at,
            score: SignalScore::default(),
            spread: None,
        }),
    )
}

/// A NIFTY future planned at 60 lots (3900): the entry goes in freeze-sized slices (27 lots
/// of 65 = 1755), each once the one before filled; a position above the limit (the limit cut
/// after it opened) closes in freeze-sized slices.
#[test]
fn entries_and_exits_are_sliced_at_the_freeze_quantity() {
    let (mut r, fut) = nifty_future_at_60_lots();
    let (tok, lot, p) = (fut.token, fut.lot_size as i64, fut.last_price.0);
    let e = enter_long(&mut r, &fut);
    let slice = 1800 / lot * lot;
    assert_eq!(e.len(), 1, "one slice at a time");
    assert_eq!(e[0].qty.0, slice, "a slice at the freeze quantity");
    let second = fill(&mut r, &e[0], p);
    assert_eq!(second.len(), 1);
    assert_eq!(
        (second[0].qty.0, second[0].purpose),
        (slice, OrderPurpose::Entry)
    );
    assert_eq!(r.position(tok).unwrap().pending_entry, Some(second[0].id));
    let third = fill(&mut r, &second[0], p);
    assert_eq!(third.len(), 1);
    assert_eq!(third[0].qty.0, 60 * lot - 2 * slice, "the rest of the plan");
    assert!(fill(&mut r, &third[0], p).is_empty(), "the plan is done");
    let held = r.position(tok).unwrap();
    assert_eq!(held.qty, 60 * lot);
    assert!(held.pending_entry.is_none() && held.entry_rest == 0);
    // NSE cuts NIFTY to 650 (10 lots) while the position is open.
    let mut cut = (*r.freeze).clone();
    cut.tables
        .last_mut()
        .unwrap()
        .limits
        .insert("NIFTY".into(), 650);
    let mut r = r.with_freeze(Arc::new(cut));
    let out = feed(
        &mut r,
        Event::Control(ControlCommand::ClosePosition { token: tok }),
    );
    let sizes: Vec<i64> = out.iter().map(|i| i.qty.0).collect();
    assert_eq!(sizes, vec![650; 6]);
    assert!(out.iter().all(|i| i.purpose == OrderPurpose::Manual));
    assert_eq!(r.position(tok).unwrap().exit_working, 60 * lot);
}

/// An exit while a sliced entry is still going ends the plan: the working slice is
/// cancelled and no further slice is sent, whatever fills afterwards.
#[test]
fn an_exit_ends_a_sliced_entry() {
    let (mut r, fut) = nifty_future_at_60_lots();
    let (tok, p) = (fut.token, fut.last_price.0);
    let e = enter_long(&mut r, &fut);
    let second = fill(&mut r, &e[0], p);
    assert_eq!(second.len(), 1);
    // A manual close while the second slice works: the slice is cancelled (an Event::Cancel,
    // not an intent) and the close goes for what is held.
    let out = feed(
        &mut r,
        Event::Control(ControlCommand::ClosePosition { token: tok }),
    );
    assert!(
        out.iter().all(|i| i.purpose == OrderPurpose::Manual),
        "{out:?}"
    );
    assert_eq!(r.position(tok).unwrap().entry_rest, 0);
    // The cancelled slice filled in the race: nothing more is sent for the entry.
    let more = fill(&mut r, &second[0], p);
    assert!(
        more.iter().all(|i| i.purpose != OrderPurpose::Entry),
        "a slice went after the exit: {more:?}"
    );
}
