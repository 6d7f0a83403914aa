//! PAPER and the simulator never disagree about a fill: the same orders and the same books
//! go to the paper broker and to kite-sim's exchange, and every order ends with the same
//! filled quantity, the same fill value and the same fate (filled, resting, cancelled,
//! rejected) on both.

use aitrapp::clock::{ist_epoch, today_ist, TimeOfDay};
use aitrapp::domain::*;
use aitrapp::exec::paper::{PaperBroker, PaperRules};
use kite_sim::exchange::Exchange;
use proptest::prelude::*;
use std::sync::Arc;

fn master() -> Arc<InstrumentMaster> {
    let csv = format!("{INSTRUMENTS_HEADER}\n408065,1594,INFY,INFOSYS,1550,,0,0.05,1,EQ,NSE,NSE\n");
    Arc::new(InstrumentMaster::parse_csv(&csv, "t").unwrap())
}

/// A book around `mid` (paise): five levels a side, `depth` units each, 5 paise apart.
fn book(mid: i32, depth: u32, ts: u32) -> Tick {
    let mut t = Tick {
        token: Token(408065),
        mode: TickMode::Full,
        last_price: mid,
        exchange_timestamp: ts,
        ..Tick::default()
    };
    for k in 0..5 {
        t.buy[k] = DepthLevel {
            quantity: depth,
            price: mid - 5 * (k as i32 + 1),
            orders: 1,
        };
        t.sell[k] = DepthLevel {
            quantity: depth,
            price: mid + 5 * (k as i32 + 1),
            orders: 1,
        };
    }
    t
}

#[derive(Clone, Debug)]
enum Step {
    Book {
        mid: i32,
        depth: u32,
    },
    Order {
        buy: bool,
        kind: u8,
        qty: i64,
        offset: i32,
        ioc: bool,
    },
    Cancel(usize),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => (154_000..156_000i32, 1..60u32).prop_map(|(m, d)| Step::Book { mid: m / 5 * 5, depth: d }),
        3 => (any::<bool>(), 0..4u8, 1..200i64, -60..60i32, any::<bool>())
            .prop_map(|(buy, kind, qty, offset, ioc)| Step::Order { buy, kind, qty, offset: offset / 5 * 5, ioc }),
        1 => (0..20usize).prop_map(Step::Cancel),
    ]
}

/// (filled, value, final) per order, from the paper broker's updates.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Seen {
    filled: i64,
    value: i128,
    done: bool,
    rejected: bool,
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn paper_and_kite_sim_fill_alike(steps in proptest::collection::vec(step(), 1..60)) {
        let m = master();
        let inst = *m.by_index(0);
        let mut sim = Exchange::new(m.clone());
        let rules = PaperRules {
            price_band_pct: sim.price_band_pct,
            margin_paise: (sim.margin_available * 100.0) as i64,
            margin_bps: sim.margin_bps,
            market_protection: -1.0,
            freeze: Some(sim.freeze.clone()),
            ..PaperRules::default()
        };
        let mut paper = PaperBroker::new(rules, 1);
        let now = ist_epoch(today_ist(), TimeOfDay::hm(10, 0)) as u32;
        let mut last: Option<Tick> = None;
        let mut ids: Vec<(OrderId, Option<String>)> = Vec::new();
        let mut seen: Vec<Seen> = Vec::new();
        let on_update = |seen: &mut Vec<Seen>, u: OrderUpdate| {
            let s = &mut seen[(u.id.0 - 1) as usize];
            match u.kind {
                OrderUpdateKind::Fill { cum_qty, last_qty, last_price } => {
                    s.filled = cum_qty.0;
                    s.value += last_price.0 as i128 * last_qty.0 as i128;
                }
                OrderUpdateKind::Cancelled => s.done = true,
                OrderUpdateKind::Rejected(_) => { s.done = true; s.rejected = true; }
                OrderUpdateKind::Status(_) => {}
            }
        };
        for st in steps {
            match st {
                Step::Book { mid, depth } => {
                    let t = book(mid, depth, now);
                    last = Some(t);
                    sim.on_ticks(&[t]);
                    paper.on_tick(0, &t, 0, |u| on_update(&mut seen, u));
                }
                Step::Order { buy, kind, qty, offset, ioc } => {
                    let ltp = last.map_or(155_000, |t| t.last_price) as i64;
                    let order_type = [OrderType::Market, OrderType::Limit, OrderType::StopMarket, OrderType::StopLimit][kind as usize];
                    let side = if buy { Side::Buy } else { Side::Sell };
                    let price = if order_type.has_limit() { ltp + offset as i64 } else { 0 };
                    let trigger = if order_type.is_stop() { ltp - side.sign() * offset.abs() as i64 } else { 0 };
                    let id = OrderId(ids.len() as u64 + 1);
                    let intent = OrderIntent {
                        id, token: inst.token, side, qty: Qty(qty), order_type,
                        price: Price(price), trigger: Price(trigger),
                        validity: if ioc { Validity::Ioc } else { Validity::Day },
                        purpose: OrderPurpose::Entry, strategy: StrategyId::Orb, ts: now,
                    };
                    seen.push(Seen::default());
                    paper.place(0, &inst, &intent, 0, |u| on_update(&mut seen, u));
                    let r = |p: i64| format_rupees(p, 100);
                    let mut form = vec![
                        ("exchange".to_string(), "NSE".to_string()),
                        ("tradingsymbol".into(), "INFY".into()),
                        ("transaction_type".into(), side.as_str().into()),
                        ("order_type".into(), order_type.as_str().into()),
                        ("quantity".into(), qty.to_string()),
                        ("market_protection".into(), "-1".into()),
                        ("validity".into(), (if ioc { "IOC" } else { "DAY" }).into()),
                    ];
                    if order_type.has_limit() { form.push(("price".into(), r(price))); }
                    if order_type.is_stop() { form.push(("trigger_price".into(), r(trigger))); }
                    let placed = sim.place(&form, |_| last).ok().map(|(id, _)| id);
                    ids.push((id, placed));
                }
                Step::Cancel(k) => {
                    if let Some((id, sim_id)) = ids.get(k).cloned() {
                        paper.cancel(id, inst.token, now, |u| on_update(&mut seen, u));
                        if let Some(s) = sim_id { let _ = sim.cancel(&s); }
                    }
                }
            }
        }
        for (k, (_, sim_id)) in ids.iter().enumerate() {
            let p = seen[k];
            match sim_id {
                // Kite's input errors (no order at all) are the paper broker's rejections.
                None => prop_assert!(p.rejected, "order {k}: sim refused it, paper did not: {p:?}"),
                Some(s) => {
                    let o = sim.orders.iter().find(|o| &o.order_id == s).unwrap();
                    prop_assert_eq!(o.w.filled, p.filled, "order {} filled", k);
                    prop_assert_eq!(o.filled_value, p.value, "order {} value", k);
                    let sim_done = matches!(o.status, "COMPLETE" | "CANCELLED" | "REJECTED");
                    prop_assert_eq!(sim_done, p.done || p.filled == o.w.qty, "order {} fate: sim {}", k, o.status);
                    prop_assert_eq!(o.status == "REJECTED", p.rejected, "order {} rejected", k);
                }
            }
        }
    }
}
