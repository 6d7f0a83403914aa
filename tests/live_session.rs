//! LIVE end to end with no account: aitrapp runs LIVE (typed confirmation) against
//! tools/kite-sim, in the collapsed topology. Orders are placed and filled on the simulator
//! and positions agree on both sides; a lost order acknowledgement and a dropped ticker
//! socket cause no duplicate order; the rate limiter keeps the simulator from ever answering
//! 429.

mod common;
use common::{http, log_text, metric, sim_get, start_aitrapp, start_sim, wait_until};
use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::Ordering;
use std::time::Duration;

/// Net quantity per instrument token, non-zero only.
fn net(list: &serde_json::Value) -> BTreeMap<u64, i64> {
    list.as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| {
            Some((
                p["instrument_token"].as_u64()?,
                p["quantity"].as_f64()? as i64,
            ))
        })
        .filter(|(_, q)| *q != 0)
        .collect()
}

fn our_positions(port: u16) -> BTreeMap<u64, i64> {
    let (_, body) = http(port, "GET", "/positions").unwrap_or_default();
    let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    net(v.get("positions").unwrap_or(&v))
}

#[test]
fn live_session_against_kite_sim() {
    // From before the open: ORB builds its range only from the whole opening window.
    let sim = start_sim("09:14", 30.0);
    // The first placement's answer is held for 3 s, past the 1 s request timeout.
    sim.faults.ack_delay_ms.store(3000, Ordering::SeqCst);
    sim.faults.lose_order_acks.arm(1);
    let app = start_aitrapp(
        "live",
        &sim,
        "mode: LIVE\npipeline:\n  topology: collapsed\nexecution:\n  retry_backoff_ms: 200\n  exchange_algo_id: ALGO42\nkite:\n  api_root: REST\n  request_timeout_ms: 1000\n",
        &["--confirm-live", "CONFIRM LIVE TRADING"],
    );
    let port = app.port;
    let orders_placed = || sim.faults.orders_placed.load(Ordering::SeqCst);
    wait_until("three orders on the simulator", 90, || orders_placed() >= 3);

    // A dropped ticker socket mid-session.
    sim.faults.drop_ws();
    wait_until("the ticker to reconnect", 10, || {
        metric(port, "ws_reconnects_total").unwrap_or(0) >= 1
    });
    let placed = orders_placed();
    wait_until("more orders after the reconnect", 90, || {
        orders_placed() > placed
    });

    // Positions agree on both sides once nothing is in flight.
    wait_until("positions to agree", 30, || {
        let ours = our_positions(port);
        let theirs = net(&sim_get(&sim, "/portfolio/positions")["net"]);
        ours == theirs
    });

    let orders = sim_get(&sim, "/orders");
    let orders = orders.as_array().unwrap();
    let tags: Vec<&str> = orders.iter().filter_map(|o| o["tag"].as_str()).collect();
    let unique: HashSet<&&str> = tags.iter().collect();
    assert_eq!(tags.len(), orders.len(), "an order without our tag");
    assert!(
        orders.iter().all(|o| o["algo_id"] == "ALGO42"),
        "every order carries execution.exchange_algo_id"
    );
    assert_eq!(
        unique.len(),
        tags.len(),
        "duplicate order for one intent: {tags:?}"
    );
    assert!(
        orders.iter().any(|o| o["status"] == "COMPLETE"),
        "nothing filled on the simulator"
    );
    assert_eq!(
        sim.faults.rate_limited.load(Ordering::SeqCst),
        0,
        "the simulator answered 429"
    );
    assert_eq!(
        metric(port, "orders_sent_total").unwrap_or(0),
        orders.len() as u64,
        "aitrapp and the simulator disagree on the number of orders"
    );
    let log = log_text(&app.dir);
    assert!(log.contains("LIVE TRADING confirmed"));
    assert!(
        log.contains("outcome unknown"),
        "the lost ack was not noticed"
    );
    assert!(
        log.contains("not re-sending"),
        "the lost ack's order was not found by tag"
    );
    assert!(
        !log.contains("sim_access_token"),
        "the access token reached the log"
    );

    // SIGTERM: drain and exit 0.
    let mut app = app;
    unsafe { libc::kill(app.child.id() as i32, libc::SIGTERM) };
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = app.child.try_wait().unwrap() {
            assert!(status.success(), "exit {status:?}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
