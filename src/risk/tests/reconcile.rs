//! Reconciliation with the broker's book: fills made while down, orders the journal
//! missed, foreign positions, drift.

use super::*;

/// The INFY stage with the broker stop on (the shipped config), the clock at 09:31.
fn live_stage() -> RiskStage {
    let mut r = stage();
    r.params.protective = protective::ProtectiveRules::from_config(&AppConfig::default().execution);
    feed(&mut r, tick(ts(20261202, "09:31"), 155_000));
    r
}

fn ours(id: OrderId, side: Side, qty: i64, filled: i64, state: BrokerOrderState) -> BrokerOrder {
    BrokerOrder {
        broker_id: format!("K{}", id.0),
        ours: Some(id),
        tag: id.tag().as_str().to_string(),
        token: INFY,
        side,
        qty,
        filled,
        avg_price: Price(if filled > 0 { 155_000 } else { 0 }),
        order_type: OrderType::Limit,
        price: Price(155_000),
        trigger: Price(0),
        validity: Validity::Day,
        state,
    }
}

fn held(qty: i64) -> Vec<BrokerPosition> {
    vec![BrokerPosition {
        token: INFY,
        qty,
        avg_price: Price(155_000),
    }]
}

fn look(r: &mut RiskStage, book: &BrokerBook, first: bool) -> (ReconcileReport, Vec<OrderIntent>) {
    let mut sent = Vec::new();
    let rep = r.reconcile(book, first, &mut |ev| {
        if let Event::Intent(i) = ev {
            sent.push(i)
        }
    });
    (rep, sent)
}

/// The entry was working when the engine died and filled at the broker meanwhile: the fill
/// is applied, the position opens, and its protective stop goes out.
#[test]
fn a_fill_made_while_down_is_applied_and_the_position_gets_its_stop() {
    let mut r = live_stage();
    let entry = feed(&mut r, Event::Signal(long_infy(ts(20261202, "09:31"))))[0];
    let q = entry.qty.0;
    let book = BrokerBook {
        orders: vec![ours(entry.id, Side::Buy, q, q, BrokerOrderState::Filled)],
        positions: held(q),
    };
    let (rep, sent) = look(&mut r, &book, true);
    assert_eq!(rep.fills_applied, 1, "{rep:?}");
    assert!(rep.drift.is_empty(), "{rep:?}");
    assert_eq!(r.position(INFY).unwrap().qty, q);
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].purpose, OrderPurpose::StopLoss);
    assert_eq!(sent[0].trigger, Price(154_000), "the signal's stop");
    assert_eq!(r.state(), TradingState::Active);
    // A second look finds nothing to do.
    let (again, sent) = look(&mut r, &book, false);
    assert_eq!(
        (again.fills_applied, again.drift.len()),
        (0, 0),
        "{again:?}"
    );
    assert!(sent.is_empty());
}

/// The journal lost its tail: an order with our tag that it never had filled at the broker.
/// It is adopted under its own id, the position it made gets a protective stop at
/// `kite.adopted_stop_pct` (1.5 %), and new ids go on past it.
#[test]
fn an_order_of_ours_the_journal_missed_is_adopted_with_a_stop_and_ids_go_past_it() {
    let mut r = stage().with_first_order_id(5000);
    r.params.protective = protective::ProtectiveRules::from_config(&AppConfig::default().execution);
    feed(&mut r, tick(ts(20261202, "09:31"), 155_000));
    let lost = OrderId(4990);
    let book = BrokerBook {
        orders: vec![ours(lost, Side::Buy, 10, 10, BrokerOrderState::Filled)],
        positions: held(10),
    };
    let (rep, sent) = look(&mut r, &book, true);
    assert_eq!(
        (rep.orders_adopted, rep.positions_adopted),
        (1, 1),
        "{rep:?}"
    );
    assert!(rep.drift.is_empty(), "{rep:?}");
    assert_eq!(r.position(INFY).unwrap().qty, 10);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].purpose, OrderPurpose::StopLoss);
    // 1550.00 less 1.5 % is 1526.75, on the 0.10 grid below it: 1526.70.
    assert_eq!(sent[0].trigger, Price(152_670));
    assert!(sent[0].id.0 > lost.0, "a tag at the broker would be reused");
    assert_eq!(r.state(), TradingState::Active);
}

/// A working stop order of ours the journal missed, beside a position it has: it becomes
/// that position's broker stop (no second stop is placed).
#[test]
fn a_stop_of_ours_the_journal_missed_becomes_the_positions_broker_stop() {
    let mut r = live_stage();
    let entry = feed(&mut r, Event::Signal(long_infy(ts(20261202, "09:31"))))[0];
    let q = entry.qty.0;
    let stop_sent = fill(&mut r, &entry, 155_000);
    assert_eq!(stop_sent.len(), 1);
    // That stop's record is lost; the broker has it resting under its tag.
    let stop = stop_sent[0];
    let mut r2 = live_stage();
    let entry2 = feed(&mut r2, Event::Signal(long_infy(ts(20261202, "09:31"))))[0];
    assert_eq!(entry2.id, entry.id);
    let mut resting = ours(
        stop.id,
        Side::Sell,
        q,
        0,
        BrokerOrderState::Working(BrokerStatus::TriggerPending),
    );
    resting.order_type = OrderType::StopMarket;
    resting.trigger = stop.trigger;
    let book = BrokerBook {
        orders: vec![
            ours(entry.id, Side::Buy, q, q, BrokerOrderState::Filled),
            resting,
        ],
        positions: held(q),
    };
    let (rep, sent) = look(&mut r2, &book, true);
    assert_eq!((rep.fills_applied, rep.orders_adopted), (1, 1), "{rep:?}");
    assert_eq!(rep.adopted_working, vec![stop.id]);
    assert!(rep.drift.is_empty(), "{rep:?}");
    // The adopted stop covers the position: no second one goes, and new ids are past it.
    assert!(sent.is_empty(), "a second stop was placed: {sent:?}");
    assert_eq!(r2.broker_stop(INFY).unwrap().id, Some(stop.id));
    assert!(r2.oms().next_id().0 > stop.id.0);
}

/// A position nobody here made (bought by hand in Kite's web app): reported, counted in
/// heat, never traded.
#[test]
fn a_position_no_order_of_ours_made_is_foreign_counted_in_heat_and_left_alone() {
    let mut r = live_stage();
    let heat_before = r.heat_paise();
    let mut by_hand = ours(OrderId(1), Side::Buy, 100, 100, BrokerOrderState::Filled);
    by_hand.ours = None;
    by_hand.tag = String::new();
    let book = BrokerBook {
        orders: vec![by_hand],
        positions: held(100),
    };
    let (rep, sent) = look(&mut r, &book, true);
    assert_eq!(rep.foreign.len(), 1, "{rep:?}");
    assert_eq!(rep.foreign[0].qty, 100);
    assert!(rep.drift.is_empty(), "{rep:?}");
    assert!(sent.is_empty(), "a foreign position was traded: {sent:?}");
    assert_eq!(r.position(INFY).unwrap().qty, 0);
    // 100 x 1550.00 = 1,55,000 rupees, at 1.5 %: 2,325 rupees of heat.
    assert_eq!(r.foreign_exposure(), Paise(15_500_000));
    assert_eq!(r.heat_paise() - heat_before, 232_500);
    assert_eq!(r.state(), TradingState::Active);
}

/// Our position closed by hand at the broker (an order without our tag): drift. While
/// trading it takes two looks (a fill can land between the broker's two answers); entries
/// pause, and a look that finds the two agreeing again lifts the pause.
#[test]
fn drift_pauses_entries_until_a_look_finds_none() {
    let mut r = live_stage();
    let entry = feed(&mut r, Event::Signal(long_infy(ts(20261202, "09:31"))))[0];
    let q = entry.qty.0;
    fill(&mut r, &entry, 155_000);
    let mut book = BrokerBook {
        orders: vec![ours(entry.id, Side::Buy, q, q, BrokerOrderState::Filled)],
        positions: held(0),
    };
    let (one, _) = look(&mut r, &book, false);
    assert!(one.drift.is_empty(), "one look is not drift: {one:?}");
    assert_eq!(r.state(), TradingState::Active);
    let (two, sent) = look(&mut r, &book, false);
    assert_eq!(two.drift.len(), 1, "{two:?}");
    assert!(sent.is_empty(), "drift is reported, not traded: {sent:?}");
    assert_eq!(r.state(), TradingState::Paused);
    book.positions = held(q);
    let (three, _) = look(&mut r, &book, false);
    assert!(three.drift.is_empty(), "{three:?}");
    assert_eq!(r.state(), TradingState::Active, "the drift pause is lifted");
}

/// An entry sent just before the crash that Kite never received: counted as unsent (the
/// order side places it again), no drift.
#[test]
fn an_order_kite_never_received_is_unsent_not_drift() {
    let mut r = live_stage();
    feed(&mut r, Event::Signal(long_infy(ts(20261202, "09:31"))));
    let (rep, sent) = look(&mut r, &BrokerBook::default(), true);
    assert_eq!(rep.orders_unsent, 1, "{rep:?}");
    assert!(rep.drift.is_empty(), "{rep:?}");
    assert!(sent.is_empty());
    assert_eq!(r.state(), TradingState::Active);
}
