//! The paper broker: walking the depth, resting limits, rejections from the shared checks, stops and their modifications, latency.

use super::*;

fn inst() -> Instrument {
    let csv = format!("{INSTRUMENTS_HEADER}\n408065,1594,INFY,INFOSYS,1500,,0,0.05,1,EQ,NSE,NSE\n");
    *InstrumentMaster::parse_csv(&csv, "t").unwrap().by_index(0)
}

fn book(bid: i32, ask: i32) -> Tick {
    let mut t = Tick {
        token: Token(408065),
        last_price: bid,
        exchange_timestamp: 100,
        ..Tick::default()
    };
    t.buy[0] = DepthLevel {
        quantity: 10,
        price: bid,
        orders: 1,
    };
    t.sell[0] = DepthLevel {
        quantity: 10,
        price: ask,
        orders: 1,
    };
    t
}

fn intent(side: Side, ot: OrderType, price: i64) -> OrderIntent {
    OrderIntent {
        id: OrderId(1),
        token: Token(408065),
        side,
        qty: Qty(10),
        order_type: ot,
        price: Price(price),
        trigger: Price(0),
        validity: Validity::Day,
        purpose: OrderPurpose::Entry,
        strategy: StrategyId::Orb,
        ts: 100,
    }
}

fn fills(got: &[OrderUpdate]) -> Vec<(i64, i64, i64)> {
    got.iter()
        .filter_map(|u| match u.kind {
            OrderUpdateKind::Fill {
                cum_qty,
                last_qty,
                last_price,
            } => Some((cum_qty.0, last_qty.0, last_price.0)),
            _ => None,
        })
        .collect()
}

#[test]
fn market_walks_the_book_and_finishes_on_the_next_tick() {
    let mut b = PaperBroker::new(PaperRules::default(), 1);
    b.on_tick(0, &book(150_000, 150_010), 0, |_| {});
    let mut got = Vec::new();
    let mut o = intent(Side::Buy, OrderType::Market, 0);
    o.qty = Qty(15);
    b.place(0, &inst(), &o, 0, |u| got.push(u));
    assert_eq!(got[0].kind, OrderUpdateKind::Status(BrokerStatus::Open));
    assert_eq!(fills(&got), vec![(10, 10, 150_010)]);
    got.clear();
    b.on_tick(0, &book(150_005, 150_020), 0, |u| got.push(u));
    assert_eq!(fills(&got), vec![(15, 5, 150_020)]);
    assert_eq!(b.working(), 0);
}

#[test]
fn no_book_waits_for_one_never_a_zero_fill() {
    let mut b = PaperBroker::new(PaperRules::default(), 1);
    let mut got = Vec::new();
    b.place(
        0,
        &inst(),
        &intent(Side::Buy, OrderType::Market, 0),
        0,
        |u| got.push(u),
    );
    assert!(fills(&got).is_empty());
    let mut empty = book(0, 0);
    empty.last_price = 0;
    b.on_tick(0, &empty, 0, |u| got.push(u));
    assert!(fills(&got).is_empty());
    b.on_tick(0, &book(150_000, 150_010), 0, |u| got.push(u));
    assert_eq!(fills(&got), vec![(10, 10, 150_010)]);
}

#[test]
fn limit_rests_until_traded_through_and_cancels() {
    let mut b = PaperBroker::new(PaperRules::default(), 1);
    b.on_tick(0, &book(150_000, 150_010), 0, |_| {});
    let mut got = Vec::new();
    b.place(
        0,
        &inst(),
        &intent(Side::Buy, OrderType::Limit, 149_900),
        0,
        |u| got.push(u),
    );
    assert_eq!(
        got,
        vec![intent(Side::Buy, OrderType::Limit, 0)
            .update(OrderUpdateKind::Status(BrokerStatus::Open))]
    );
    got.clear();
    // Trades at the limit: not through, no fill.
    b.on_tick(0, &book(149_900, 149_905), 0, |u| got.push(u));
    assert!(got.is_empty());
    b.on_tick(0, &book(149_895, 149_900), 0, |u| got.push(u));
    assert_eq!(fills(&got), vec![(10, 10, 149_900)]);
    got.clear();
    b.place(
        0,
        &inst(),
        &intent(Side::Sell, OrderType::Limit, 160_000),
        0,
        |u| got.push(u),
    );
    b.cancel(OrderId(1), Token(408065), 101, |u| got.push(u));
    assert_eq!(got[1].kind, OrderUpdateKind::Cancelled);
    // A marketable limit fills at the touch.
    got.clear();
    b.place(
        0,
        &inst(),
        &intent(Side::Buy, OrderType::Limit, 150_100),
        0,
        |u| got.push(u),
    );
    assert_eq!(fills(&got), vec![(10, 10, 149_900)]);
}

#[test]
fn rejections_come_from_the_shared_checks() {
    let rules = PaperRules {
        price_band_pct: 20.0,
        margin_paise: 100_000,
        ..PaperRules::default()
    };
    let mut b = PaperBroker::new(rules, 1);
    b.on_tick(0, &book(150_000, 150_010), 0, |_| {});
    let mut got = Vec::new();
    let reject = |got: &Vec<OrderUpdate>| match got.last().map(|u| u.kind) {
        Some(OrderUpdateKind::Rejected(r)) => Some(r),
        _ => None,
    };
    b.place(
        0,
        &inst(),
        &intent(Side::Buy, OrderType::Limit, 150_003),
        0,
        |u| got.push(u),
    );
    assert_eq!(reject(&got), Some(RejectReason::TickMultiple));
    // 1500 +- 20 %: 1800.05 is outside.
    b.place(
        0,
        &inst(),
        &intent(Side::Buy, OrderType::Limit, 180_005),
        0,
        |u| got.push(u),
    );
    assert_eq!(reject(&got), Some(RejectReason::PriceBand));
    // 10 x 1500 = 15,000 notional needs 3,000 margin; the account has 1,000.
    b.place(
        0,
        &inst(),
        &intent(Side::Buy, OrderType::Limit, 150_000),
        0,
        |u| got.push(u),
    );
    assert_eq!(reject(&got), Some(RejectReason::Margin));
}

#[test]
fn stop_market_rests_then_triggers_and_modify_moves_it() {
    let mut b = PaperBroker::new(PaperRules::default(), 1);
    b.on_tick(0, &book(150_000, 150_010), 0, |_| {});
    let mut got = Vec::new();
    let mut sl = intent(Side::Sell, OrderType::StopMarket, 0);
    sl.trigger = Price(149_000);
    b.place(0, &inst(), &sl, 0, |u| got.push(u));
    assert_eq!(
        got[0].kind,
        OrderUpdateKind::Status(BrokerStatus::TriggerPending)
    );
    // Trail it up to 1495.
    b.modify(
        sl.id,
        sl.token,
        Qty(0),
        Price(0),
        Price(149_500),
        100,
        0,
        |u| got.push(u),
    );
    assert_eq!(got[1].kind, OrderUpdateKind::Status(BrokerStatus::Modified));
    got.clear();
    b.on_tick(0, &book(149_600, 149_610), 0, |u| got.push(u));
    assert!(got.is_empty());
    b.on_tick(0, &book(149_450, 149_460), 0, |u| got.push(u));
    assert_eq!(fills(&got), vec![(10, 10, 149_450)]);
}

#[test]
fn the_26th_modification_is_refused() {
    let mut b = PaperBroker::new(PaperRules::default(), 1);
    b.on_tick(0, &book(150_000, 150_010), 0, |_| {});
    let mut sl = intent(Side::Sell, OrderType::StopMarket, 0);
    sl.trigger = Price(100_000);
    b.place(0, &inst(), &sl, 0, |_| {});
    let mut got = Vec::new();
    for k in 0..26 {
        let trig = Price(100_000 + 5 * (k + 1));
        b.modify(sl.id, sl.token, Qty(0), Price(0), trig, 100, 0, |u| {
            got.push(u)
        });
    }
    assert!(got[..25]
        .iter()
        .all(|u| u.kind == OrderUpdateKind::Status(BrokerStatus::Modified)));
    assert_eq!(
        got[25].kind,
        OrderUpdateKind::Status(BrokerStatus::NotModified)
    );
}

#[test]
fn latency_holds_the_order_until_a_later_book() {
    let rules = PaperRules {
        latency_ns: 50_000_000,
        ..PaperRules::default()
    };
    let mut b = PaperBroker::new(rules, 1);
    b.on_tick(0, &book(150_000, 150_010), 1_000, |_| {});
    let mut got = Vec::new();
    b.place(
        0,
        &inst(),
        &intent(Side::Buy, OrderType::Market, 0),
        1_000,
        |u| got.push(u),
    );
    b.on_tick(0, &book(150_000, 150_015), 40_000_000, |u| got.push(u));
    assert!(fills(&got).is_empty());
    b.on_tick(0, &book(150_000, 150_020), 50_001_000, |u| got.push(u));
    assert_eq!(fills(&got), vec![(10, 10, 150_020)]);
}
