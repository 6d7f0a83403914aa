//! The kill switch and rejected exits: everything working is cancelled, every position
//! closed, twice is harmless, a close waits for its cancelled exit, rejects back off.

use super::*;

const D: u32 = 20261125;

/// Every event the stage emits (intents and cancels) for one input.
fn run(r: &mut RiskStage, ev: Event) -> Vec<Event> {
    let mut out = Vec::new();
    r.on_slot(&Slot { ev, recv_ns: 0 }, &mut |s| {
        if matches!(s.ev, Event::Intent(_) | Event::Cancel { .. }) {
            out.push(s.ev)
        }
    });
    out
}

fn intents(evs: &[Event]) -> Vec<OrderIntent> {
    evs.iter()
        .filter_map(|e| match e {
            Event::Intent(i) => Some(*i),
            _ => None,
        })
        .collect()
}

fn cancels(evs: &[Event]) -> Vec<OrderId> {
    evs.iter()
        .filter_map(|e| match e {
            Event::Cancel { id, .. } => Some(*id),
            _ => None,
        })
        .collect()
}

fn update(r: &mut RiskStage, i: &OrderIntent, kind: OrderUpdateKind) -> Vec<Event> {
    run(
        r,
        Event::Order(OrderUpdate {
            id: i.id,
            token: i.token,
            kind,
            ts: i.ts,
        }),
    )
}

fn cum(q: i64, px: i64) -> OrderUpdateKind {
    OrderUpdateKind::Fill {
        cum_qty: Qty(q),
        last_qty: Qty(q),
        last_price: Price(px),
    }
}

fn flatten(r: &mut RiskStage) -> Vec<Event> {
    run(r, Event::Control(ControlCommand::Flatten { request: 1 }))
}

/// A long INFY, filled; returns the entry.
fn long(r: &mut RiskStage) -> OrderIntent {
    feed(r, tick(ts(D, "09:31"), 155_000));
    let e = feed(r, Event::Signal(long_infy(ts(D, "09:31"))));
    fill(r, &e[0], 155_000);
    e[0]
}

#[test]
fn kill_switch_twice_is_harmless() {
    let mut r = stage();
    let entry = long(&mut r);
    let first = flatten(&mut r);
    let exits = intents(&first);
    assert_eq!(exits.len(), 1);
    assert_eq!(
        (exits[0].purpose, exits[0].qty),
        (OrderPurpose::Flatten, entry.qty)
    );
    assert_eq!(r.state(), TradingState::Paused);
    assert_eq!(r.working_orders(), 1, "the close is working until it fills");
    // Again before the close filled: nothing new is sent or cancelled twice.
    let again = flatten(&mut r);
    assert!(intents(&again).is_empty(), "{again:?}");
    fill(&mut r, &exits[0], 154_900);
    assert_eq!((r.open_positions(), r.working_orders()), (0, 0));
    assert!(flatten(&mut r).is_empty());
    assert_eq!(r.trades_today()[0].exit_purpose, OrderPurpose::Flatten);
}

/// An exit resting at the broker (a MARKET under market protection) is cancelled first; the
/// kill switch's own close goes only when that cancel is final, for what is still held, so
/// a fill racing the cancel never reverses the position.
#[test]
fn a_working_exit_is_cancelled_before_the_close() {
    let mut r = stage();
    let entry = long(&mut r);
    let stop = feed(&mut r, tick(ts(D, "09:35"), 153_900));
    assert_eq!(stop[0].purpose, OrderPurpose::StopLoss);
    let out = flatten(&mut r);
    assert_eq!(cancels(&out), vec![stop[0].id]);
    assert!(
        intents(&out).is_empty(),
        "no second close while the stop may still fill"
    );
    // Part of the stop fills before the cancel lands, then the cancel.
    let part = entry.qty.0 / 2;
    update(&mut r, &stop[0], cum(part, 153_900));
    let after = update(&mut r, &stop[0], OrderUpdateKind::Cancelled);
    let close = intents(&after);
    assert_eq!(close.len(), 1);
    assert_eq!(close[0].purpose, OrderPurpose::Flatten);
    assert_eq!(
        close[0].qty.0,
        entry.qty.0 - part,
        "only what is still held"
    );
    fill(&mut r, &close[0], 153_800);
    let p = r.position(INFY).unwrap();
    assert_eq!(p.qty, 0, "flat, not reversed");
    assert_eq!(r.working_orders(), 0);
}

/// The kill switch cancels a resting entry too (any order type), and counts it.
#[test]
fn kill_switch_cancels_resting_entries() {
    let mut r = stage();
    r.params.entry_order_type = EntryOrderType::Limit;
    feed(&mut r, tick(ts(D, "09:31"), 155_000));
    let e = feed(&mut r, Event::Signal(long_infy(ts(D, "09:31"))));
    assert_eq!(e[0].order_type, OrderType::Limit);
    update(&mut r, &e[0], OrderUpdateKind::Status(BrokerStatus::Open));
    let out = flatten(&mut r);
    assert_eq!(cancels(&out), vec![e[0].id]);
    update(&mut r, &e[0], OrderUpdateKind::Cancelled);
    assert_eq!(r.working_orders(), 0);
}

/// A rejected exit is not re-sent on the next tick: it waits 1 s, then 2 s, and an alert
/// is logged each time (counted in exits_rejected_total).
#[test]
fn a_rejected_exit_backs_off() {
    let mut r = stage();
    long(&mut r);
    let stop = feed(&mut r, tick(ts(D, "09:35"), 153_900));
    update(
        &mut r,
        &stop[0],
        OrderUpdateKind::Rejected(RejectReason::Broker),
    );
    assert!(
        feed(&mut r, tick(ts(D, "09:35"), 153_800)).is_empty(),
        "no resend in the same second"
    );
    let again = feed(&mut r, tick(ts(D, "09:35") + 1, 153_800));
    assert_eq!(again[0].purpose, OrderPurpose::StopLoss);
    update(
        &mut r,
        &again[0],
        OrderUpdateKind::Rejected(RejectReason::Broker),
    );
    assert!(feed(
        &mut r,
        Event::Clock {
            ts: ts(D, "09:35") + 2
        }
    )
    .is_empty());
    let third = feed(
        &mut r,
        Event::Clock {
            ts: ts(D, "09:35") + 3,
        },
    );
    assert_eq!(third.len(), 1, "retried after 2 s, on the clock alone");
    assert_eq!(Metrics::get(&r.metrics.exits_rejected_total), 2);
}

/// A partly filled entry whose position is stopped out has its remainder cancelled first.
#[test]
fn a_partly_filled_entry_is_cancelled_before_its_stop() {
    let mut r = stage();
    r.params.entry_order_type = EntryOrderType::Limit;
    feed(&mut r, tick(ts(D, "09:31"), 155_000));
    let e = feed(&mut r, Event::Signal(long_infy(ts(D, "09:31"))));
    let half = e[0].qty.0 / 2;
    update(&mut r, &e[0], cum(half, 155_000));
    let out = run(&mut r, tick(ts(D, "09:35"), 153_900));
    assert_eq!(cancels(&out), vec![e[0].id], "the entry's remainder first");
    let stop = intents(&out);
    assert_eq!(
        (stop[0].purpose, stop[0].qty.0),
        (OrderPurpose::StopLoss, half)
    );
}
