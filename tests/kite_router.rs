//! The LIVE order router against tools/kite-sim: a place call answered 5xx is looked up by
//! tag and re-sent only because the book proves it was never placed; a refused token rejects
//! the order and halts new entries.

mod common;
use aitrapp::domain::{ControlCommand, HaltReason, OrderId, OrderUpdateKind, Token};
use aitrapp::exec::kite::rest::{KiteRest, PlaceOrder, RestConfig};
use aitrapp::exec::kite::router::{self, IoJob, RouterSettings};
use aitrapp::exec::kite::{RateLimiter, RateLimits};
use aitrapp::exec::InboxMsg;
use common::{sim_get, start_sim, wait_until};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

fn start_router(
    sim: &kite_sim::SimHandle,
) -> (
    router::KiteRouter,
    crossbeam_channel::Receiver<InboxMsg>,
    Arc<AtomicBool>,
) {
    let c = kite_sim::Credentials::default();
    let rest = KiteRest::new(
        RestConfig {
            api_root: sim.rest_root(),
            api_key: c.api_key,
            access_token: c.access_token,
            timeout: Duration::from_secs(2),
            ca_pem: None,
        },
        Arc::new(RateLimiter::new(RateLimits::default())),
    )
    .unwrap();
    let (inbox, rx) = crossbeam_channel::bounded(1024);
    let (_updates_tx, updates_rx) = crossbeam_channel::bounded(16);
    let stop = Arc::new(AtomicBool::new(false));
    let (r, _threads) = router::start(
        Arc::new(rest),
        inbox,
        updates_rx,
        RouterSettings {
            workers: 1,
            max_retries: 2,
            backoff: Duration::from_millis(100),
            poll_every: Duration::from_millis(200),
        },
        stop.clone(),
    )
    .unwrap();
    (r, rx, stop)
}

fn buy(id: u64) -> IoJob {
    IoJob::Place {
        id: OrderId(id),
        token: Token(408065),
        divisor: 100,
        order: Box::new(PlaceOrder {
            exchange: "NSE".into(),
            tradingsymbol: "INFY".into(),
            transaction_type: "BUY",
            order_type: "MARKET",
            quantity: 3,
            product: "MIS".into(),
            price: None,
            trigger_price: None,
            validity: "DAY",
            market_protection: Some(-1.0),
            tag: OrderId(id).tag().as_str().to_string(),
        }),
        ts: 0,
    }
}

#[test]
fn a_5xx_place_is_looked_up_then_placed_once() {
    let sim = start_sim("09:20", 20.0);
    let (r, inbox, stop) = start_router(&sim);
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
            if let OrderUpdateKind::Fill { qty, .. } = u.kind {
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
    let (r, inbox, stop) = start_router(&sim);
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
