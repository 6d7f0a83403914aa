//! The LIVE order router against tools/kite-sim: a place call answered 5xx is looked up by
//! tag and re-sent only because the book proves it was never placed; a refused token rejects
//! the order and halts new entries; a cancel is never lost, whether it comes before the
//! order was sent or before Kite answered with its id; a modify or cancel answered 429 is sent
//! again after the backoff; a burst of places, modifications and
//! cancels never breaks Kite's 10 orders/s.

mod common;
use aitrapp::domain::{ControlCommand, HaltReason, OrderId, OrderUpdateKind, Price, Qty, Token};
use aitrapp::exec::kite::rest::PlaceOrder;
use aitrapp::exec::kite::router::{self, IoJob, RouterSettings};
use aitrapp::exec::InboxMsg;
use common::{sim_get, start_sim, wait_until};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

fn start_router(
    sim: &kite_sim::SimHandle,
    workers: usize,
) -> (
    router::KiteRouter,
    crossbeam_channel::Receiver<InboxMsg>,
    Arc<AtomicBool>,
) {
    let rest = common::kite_rest_client(sim.rest_root(), Duration::from_secs(2));
    let (inbox, rx) = crossbeam_channel::bounded(1024);
    let (_updates_tx, updates_rx) = crossbeam_channel::bounded(16);
    let stop = Arc::new(AtomicBool::new(false));
    let (r, _threads) = router::start(
        Arc::new(rest),
        inbox,
        updates_rx,
        RouterSettings {
            workers,
            max_retries: 2,
            backoff: Duration::from_millis(100),
            poll_every: Duration::from_millis(200),
            metrics: Arc::new(aitrapp::telemetry::Metrics::default()),
        },
        stop.clone(),
    )
    .unwrap();
    (r, rx, stop)
}

fn buy(id: u64) -> IoJob {
    buy_at(id, None)
}

/// A buy of 3 INFY: MARKET, or LIMIT at `price` rupees.
fn buy_at(id: u64, price: Option<String>) -> IoJob {
    IoJob::Place {
        id: OrderId(id),
        token: Token(408065),
        divisor: 100,
        order: Box::new(PlaceOrder {
            exchange: "NSE".into(),
            tradingsymbol: "INFY".into(),
            transaction_type: "BUY",
            order_type: if price.is_some() { "LIMIT" } else { "MARKET" },
            quantity: 3,
            product: "MIS".into(),
            market_protection: price.is_none().then_some(-1.0),
            price,
            trigger_price: None,
            validity: "DAY",
            tag: OrderId(id).tag().as_str().to_string(),
            algo_id: None,
        }),
        ts: 0,
    }
}

#[test]
fn a_5xx_place_is_looked_up_then_placed_once() {
    let sim = start_sim("09:20", 20.0);
    let (r, inbox, stop) = start_router(&sim, 1);
    wait_until("a market", 10, || {
        sim.market.last_tick(Token(408065)).is_some()
    });
    // The OMS is "unreachable" for the first call: nothing was placed, the router must find
    // that out by tag and only then place again.
    sim.faults.place_5xx.arm(1);
    assert!(r.submit(buy(7)));
    let mut filled = 0;
    wait_until("the fill", 15, || {
        while let Ok(InboxMsg::Order(u)) = inbox.try_recv() {
            if let OrderUpdateKind::Fill { last_qty: qty, .. } = u.kind {
                filled += qty.0;
            }
        }
        filled == 3
    });
    let orders = sim_get(&sim, "/orders");
    let tag = OrderId(7).tag();
    let ours: Vec<_> = orders
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["tag"] == tag.as_str())
        .collect();
    assert_eq!(ours.len(), 1, "one intent, one order: {orders}");
    // Two place calls: the refused one, and the one after the lookup found nothing.
    assert_eq!(sim.faults.place_attempts.load(Ordering::SeqCst), 2);
    stop.store(true, Ordering::Relaxed);
}

#[test]
fn a_refused_token_rejects_and_halts_entries() {
    let sim = start_sim("09:20", 20.0);
    let (r, inbox, stop) = start_router(&sim, 1);
    sim.faults.expire_token();
    assert!(r.submit(buy(9)));
    let (mut rejected, mut halted) = (false, false);
    wait_until("reject and halt", 10, || {
        while let Ok(m) = inbox.try_recv() {
            match m {
                InboxMsg::Order(u) => rejected |= matches!(u.kind, OrderUpdateKind::Rejected(_)),
                InboxMsg::Control(ControlCommand::HaltEntries { reason }) => {
                    halted |= reason == HaltReason::TokenExpired
                }
                InboxMsg::Control(_) => {}
            }
        }
        rejected && halted
    });
    assert_eq!(sim.faults.orders_placed.load(Ordering::SeqCst), 0);
    stop.store(true, Ordering::Relaxed);
}

/// The simulator's orders with our tag for `id`.
fn sim_orders(sim: &kite_sim::SimHandle, id: u64) -> Vec<serde_json::Value> {
    let tag = OrderId(id).tag();
    sim_get(sim, "/orders")
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["tag"] == tag.as_str())
        .cloned()
        .collect()
}

fn wait_cancelled(inbox: &crossbeam_channel::Receiver<InboxMsg>, id: u64) {
    wait_until("the Cancelled update", 15, || {
        std::iter::from_fn(|| inbox.try_recv().ok()).any(|m| {
            matches!(m, InboxMsg::Order(u) if u.id == OrderId(id) && u.kind == OrderUpdateKind::Cancelled)
        })
    });
}

/// A resting LIMIT buy 5 % under the market: it stays open until cancelled.
fn resting_price(sim: &kite_sim::SimHandle) -> String {
    wait_until("a market", 10, || {
        sim.market.last_tick(Token(408065)).is_some()
    });
    let ltp = sim.market.last_tick(Token(408065)).unwrap().last_price as f64 / 100.0;
    format!("{:.2}", (ltp * 0.95 * 20.0).round() / 20.0)
}

/// The resting price rounded to whole rupees (on the tick grid whatever the instrument's
/// tick), as text and in paise.
fn whole_rupee_resting_price(sim: &kite_sim::SimHandle) -> (String, i64) {
    let price = format!("{:.2}", resting_price(sim).parse::<f64>().unwrap().round());
    let paise = (price.parse::<f64>().unwrap() * 100.0).round() as i64;
    (price, paise)
}

/// A rupee under `paise`, as the simulator shows the price.
fn rupees_a_rupee_lower(paise: i64) -> String {
    format!("{:.2}", (paise - 100) as f64 / 100.0)
}

/// A modification moving order `id`'s LIMIT price a rupee under `paise`.
fn a_rupee_lower(id: u64, paise: i64) -> IoJob {
    IoJob::Modify {
        id: OrderId(id),
        token: Token(408065),
        divisor: 100,
        qty: Qty(0),
        price: Price(paise - 100),
        trigger: Price(0),
    }
}

#[test]
fn a_cancel_served_before_its_order_was_sent_means_it_is_never_sent() {
    let sim = start_sim("09:20", 20.0);
    let (r, inbox, stop) = start_router(&sim, 1);
    let price = resting_price(&sim);
    // The one worker is busy with order 20 (its ack held 1 s) while 21 and its cancel queue
    // up; cancels go first, so 21's cancel is served before 21 is.
    sim.faults.ack_delay_ms.store(1000, Ordering::SeqCst);
    sim.faults.lose_order_acks.arm(1);
    assert!(r.submit(buy_at(20, Some(price.clone()))));
    wait_until("order 20 on the simulator", 10, || {
        sim.faults.orders_placed.load(Ordering::SeqCst) == 1
    });
    assert!(r.submit(buy_at(21, Some(price))));
    assert!(r.submit(IoJob::Cancel { id: OrderId(21) }));
    wait_cancelled(&inbox, 21);
    assert!(sim_orders(&sim, 21).is_empty(), "order 21 reached Kite");
    assert_eq!(sim_orders(&sim, 20).len(), 1);
    stop.store(true, Ordering::Relaxed);
}

#[test]
fn a_cancel_before_kite_answers_goes_once_the_order_has_its_id() {
    let sim = start_sim("09:20", 20.0);
    let (r, inbox, stop) = start_router(&sim, 2);
    let price = resting_price(&sim);
    // Order 30 is in Kite's book, but its answer is held for 1.5 s: the cancel that arrives
    // meanwhile has no Kite id to cancel yet.
    sim.faults.ack_delay_ms.store(1500, Ordering::SeqCst);
    sim.faults.lose_order_acks.arm(1);
    assert!(r.submit(buy_at(30, Some(price))));
    wait_until("order 30 on the simulator", 10, || {
        sim.faults.orders_placed.load(Ordering::SeqCst) == 1
    });
    assert!(r.submit(IoJob::Cancel { id: OrderId(30) }));
    wait_cancelled(&inbox, 30);
    let ours = sim_orders(&sim, 30);
    assert_eq!(ours.len(), 1, "{ours:?}");
    assert_eq!(ours[0]["status"], "CANCELLED", "{ours:?}");
    stop.store(true, Ordering::Relaxed);
}

#[test]
fn a_rate_limited_modify_and_cancel_are_sent_again() {
    use aitrapp::domain::BrokerStatus;
    let sim = start_sim("09:20", 20.0);
    let (r, inbox, stop) = start_router(&sim, 2);
    let (price, paise) = whole_rupee_resting_price(&sim);
    assert!(r.submit(buy_at(40, Some(price))));
    wait_until("order 40 on the simulator", 10, || {
        sim_orders(&sim, 40)
            .first()
            .is_some_and(|o| o["status"] == "OPEN")
    });
    // Kite's 429 twice (max_retries is 2): the modification still lands.
    sim.faults.order_429.arm(2);
    assert!(r.submit(a_rupee_lower(40, paise)));
    let mut status = None;
    wait_until("the modification's answer", 10, || {
        while let Ok(m) = inbox.try_recv() {
            if let InboxMsg::Order(u) = m {
                if let OrderUpdateKind::Status(
                    s @ (BrokerStatus::Modified | BrokerStatus::NotModified),
                ) = u.kind
                {
                    status = Some(s);
                }
            }
        }
        status.is_some()
    });
    assert_eq!(status, Some(BrokerStatus::Modified));
    let moved = rupees_a_rupee_lower(paise);
    let ours = sim_orders(&sim, 40);
    assert_eq!(
        format!("{:.2}", ours[0]["price"].as_f64().unwrap_or(0.0)),
        moved,
        "{ours:?}"
    );
    // And a cancel answered 429 once is sent again.
    sim.faults.order_429.arm(1);
    assert!(r.submit(IoJob::Cancel { id: OrderId(40) }));
    wait_cancelled(&inbox, 40);
    assert_eq!(sim_orders(&sim, 40)[0]["status"], "CANCELLED");
    stop.store(true, Ordering::Relaxed);
}

#[test]
fn a_burst_of_orders_modifications_and_cancels_stays_under_kites_10_per_second() {
    let sim = start_sim("09:20", 20.0);
    let (r, inbox, stop) = start_router(&sim, 4);
    let (price, paise) = whole_rupee_resting_price(&sim);
    // Twenty slices, twenty stop moves and twenty closes handed over at once, as a kill
    // switch over a sliced book does: sixty order calls that the shared limiter must spread
    // over six seconds; the simulator answers 429 to anything past Kite's windows.
    const N: u64 = 20;
    let ids = 100..100 + N;
    for id in ids.clone() {
        assert!(r.submit(buy_at(id, Some(price.clone()))));
    }
    wait_until("every order on the simulator", 30, || {
        sim.faults.orders_placed.load(Ordering::SeqCst) == N
    });
    let moved = rupees_a_rupee_lower(paise);
    for id in ids.clone() {
        assert!(r.submit(a_rupee_lower(id, paise)));
    }
    // One look at the book each half second: the router polls it too, and reads share
    // Kite's 10/s for other endpoints.
    wait_until("every order modified", 30, || {
        std::thread::sleep(Duration::from_millis(500));
        let orders = sim_get(&sim, "/orders");
        let moved_ours = orders.as_array().map_or(0, |all| {
            all.iter()
                .filter(|o| {
                    let ours = ids.clone().any(|id| o["tag"] == OrderId(id).tag().as_str());
                    ours && format!("{:.2}", o["price"].as_f64().unwrap_or(0.0)) == moved
                })
                .count()
        });
        moved_ours == N as usize
    });
    for id in ids.clone() {
        assert!(r.submit(IoJob::Cancel { id: OrderId(id) }));
    }
    let mut cancelled = std::collections::HashSet::new();
    wait_until("every Cancelled update", 30, || {
        while let Ok(m) = inbox.try_recv() {
            if let InboxMsg::Order(u) = m {
                if u.kind == OrderUpdateKind::Cancelled {
                    cancelled.insert(u.id.0);
                }
            }
        }
        cancelled.len() == N as usize
    });
    assert_eq!(
        sim.faults.rate_limited.load(Ordering::SeqCst),
        0,
        "Kite's 10 orders/s was broken"
    );
    assert_eq!(sim.faults.orders_placed.load(Ordering::SeqCst), N);
    stop.store(true, Ordering::Relaxed);
}
