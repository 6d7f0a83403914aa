//! LIVE end to end with no account: aitrapp runs LIVE (typed confirmation) against
//! tools/kite-sim, in the collapsed topology. Orders are placed and filled on the simulator
//! and positions agree on both sides; a lost order acknowledgement and a dropped ticker
//! socket cause no duplicate order; the rate limiter keeps the simulator from ever answering
//! 429.

mod common;
use common::{
    http, log_text, metric, net_quantities as net, sim_get, start_aitrapp, start_sim, wait_until,
};
use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::Ordering;
use std::time::Duration;

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

    // The held acknowledgement times out (1 s) and the order is found by its tag.
    wait_until("the lost ack to be looked up by tag", 20, || {
        log_text(&app.dir).contains("not re-sending")
    });
    // Every order aitrapp sent is on the simulator, except protective stops cancelled
    // before a worker sent them (resized at once), which never reach it.
    wait_until("order counts to agree", 30, || {
        let unsent = log_text(&app.dir)
            .matches("was cancelled before it was sent")
            .count() as u64;
        let theirs = sim_get(&sim, "/orders").as_array().map_or(0, |a| a.len()) as u64;
        metric(port, "orders_total{status=\"sent\"}").unwrap_or(0) == theirs + unsent
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
    let log = log_text(&app.dir);
    assert!(log.contains("LIVE TRADING confirmed"));
    assert!(
        log.contains("Circuit limits for") && !log.contains("Circuit limits for 0 of"),
        "no circuit limits from the quote"
    );
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

    // The kill switch in LIVE: every protective stop cancelled and every position closed at
    // the simulator, each order of it paced under Kite's rate limits.
    let (code, body) = http(port, "POST", "/flatten").unwrap();
    assert_eq!(code, 200, "{body}");
    wait_until("the book to be flat at the simulator", 60, || {
        net(&sim_get(&sim, "/portfolio/positions")["net"]).is_empty()
            && resting_stops(&sim).is_empty()
    });
    assert_eq!(
        sim.faults.rate_limited.load(Ordering::SeqCst),
        0,
        "the kill switch went over Kite's rate limits"
    );
    wait_until("the engine to agree it is flat", 20, || {
        our_positions(port).is_empty()
    });

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

#[test]
fn a_killed_engine_leaves_every_position_its_stop_at_kite() {
    // From 09:08: the start (a warm-up from history) is over before the opening range.
    let sim = start_sim("09:08", 30.0);
    let app = start_aitrapp(
        "live-kill",
        &sim,
        "mode: LIVE\npipeline:\n  topology: collapsed\nkite:\n  api_root: REST\n",
        &["--confirm-live", "CONFIRM LIVE TRADING"],
    );
    // A position at the broker with its protective stop resting beside it.
    let mut covered = None;
    wait_until("a position with its SL-M at the simulator", 120, || {
        let held = net(&sim_get(&sim, "/portfolio/positions")["net"]);
        let stops = resting_stops(&sim);
        covered = held.iter().find_map(|(tok, q)| {
            let (side, qty, id) = stops.get(tok)?;
            let closes = if *q > 0 { "SELL" } else { "BUY" };
            (side == closes && *qty == q.abs()).then(|| (*tok, *q, id.clone()))
        });
        covered.is_some()
    });
    let (token, qty, stop_id) = covered.unwrap();
    // kill -9: no drain, no summary, nothing sent on the way out.
    let mut app = app;
    app.child.kill().unwrap();
    app.child.wait().unwrap();
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        resting_stops(&sim).contains_key(&token),
        "the stop did not outlive the engine"
    );
    // The market falls (or spikes) 10 % through the stop: the exchange closes the position.
    let bps = if qty > 0 { -1000 } else { 1000 };
    sim.market.price_shift_bps.store(bps, Ordering::SeqCst);
    wait_until("the resting stop to close the position", 30, || {
        let held = net(&sim_get(&sim, "/portfolio/positions")["net"]);
        !held.contains_key(&token)
    });
    // The stop itself did it (read until the simulator answers; a busy one may not).
    wait_until("the resting stop to be COMPLETE", 30, || {
        sim_get(&sim, "/orders")
            .as_array()
            .into_iter()
            .flatten()
            .any(|o| o["order_id"] == stop_id.as_str() && o["status"] == "COMPLETE")
    });
}

/// Our tagged SL-M orders still waiting for their trigger, by token: (side, quantity, id).
fn resting_stops(sim: &kite_sim::SimHandle) -> BTreeMap<u64, (String, i64, String)> {
    let orders = sim_get(sim, "/orders");
    common::resting_stops_of(orders.as_array().map_or(&[][..], |a| a.as_slice()))
        .into_iter()
        .map(|(t, (side, q, id, _))| (t, (side, q, id)))
        .collect()
}

/// PAPER on the Kite feed goes LIVE by POST /mode: refused without the confirmation, taken
/// while flat with it; the strategies' orders then reach the simulator. A kill -9 and a
/// restart with the same PAPER config carry on LIVE (the journal has the switch); back to
/// PAPER only once flat, and a restart after that stays PAPER.
#[test]
fn mode_switch_from_paper_to_live_against_kite_sim() {
    // Before the open by more than the start's history fetch: ORB builds its range.
    let sim = start_sim("09:08", 30.0);
    let mut app = start_aitrapp(
        "mode",
        &sim,
        "mode: PAPER\npipeline:\n  topology: collapsed\nkite:\n  api_root: REST\n",
        &[],
    );
    let port = app.port;
    let mode = |b: &str| {
        common::http_with(
            port,
            "POST",
            "/mode",
            &[("Content-Type", "application/json")],
            b,
        )
        .unwrap()
    };
    let orders_placed = || sim.faults.orders_placed.load(Ordering::SeqCst);
    let live = r#"{"mode": "LIVE", "confirmation": "CONFIRM LIVE TRADING"}"#;
    let (code, body) = mode(r#"{"mode": "LIVE"}"#);
    assert_eq!(code, 400, "no confirmation: {body}");
    assert_eq!(orders_placed(), 0);
    let (code, body) = mode(live);
    assert_eq!(code, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (
            v["mode"].as_str(),
            v["changed"].as_bool(),
            v["journaled"].as_bool()
        ),
        (Some("LIVE"), Some(true), Some(true)),
        "{body}"
    );
    assert_eq!(metric(port, "orders_route_live"), Some(1));
    let (_, health) = http(port, "GET", "/health").unwrap();
    assert!(health.contains("\"mode\":\"LIVE\""), "{health}");
    assert!(log_text(&app.dir).contains("Mode PAPER -> LIVE"));

    // The strategies' orders now go to the simulator, under our tags.
    wait_until("an order on the simulator after the switch", 120, || {
        orders_placed() >= 1
    });
    wait_until("a position open at the simulator", 30, || {
        !net(&sim_get(&sim, "/portfolio/positions")["net"]).is_empty()
    });
    let orders = sim_get(&sim, "/orders");
    assert!(
        orders
            .as_array()
            .unwrap()
            .iter()
            .all(|o| o["tag"].as_str().is_some_and(|t| !t.is_empty())),
        "{orders}"
    );
    // Not flat: PAPER is refused.
    wait_until("the desk to hold the position", 30, || {
        !our_positions(port).is_empty()
    });
    let (code, body) = mode(r#"{"mode": "PAPER"}"#);
    assert_eq!(code, 409, "{body}");

    // kill -9, then the same command line: no --confirm-live, the config says PAPER, and the
    // journal says LIVE since the switch.
    let log_len = log_text(&app.dir).len();
    app.restart();
    wait_until("the control API after the restart", 60, || {
        http(port, "GET", "/health").is_some()
    });
    let (_, health) = http(port, "GET", "/health").unwrap();
    assert!(health.contains("\"mode\":\"LIVE\""), "{health}");
    wait_until("LIVE routing after the restart", 30, || {
        metric(port, "orders_route_live") == Some(1)
    });
    let second = log_text(&app.dir)[log_len..].to_string();
    assert!(
        second.contains("Mode LIVE from today's journal"),
        "{second}"
    );
    assert!(second.contains("Recovered from journal"), "{second}");
    wait_until("positions to agree after the restart", 60, || {
        let ours = our_positions(port);
        ours == net(&sim_get(&sim, "/portfolio/positions")["net"]) && !ours.is_empty()
    });

    // Flat at the simulator, then back to PAPER: the paper broker takes the orders again.
    let (code, body) = http(port, "POST", "/flatten").unwrap();
    assert_eq!(code, 200, "{body}");
    wait_until("the book to be flat at the simulator", 60, || {
        net(&sim_get(&sim, "/portfolio/positions")["net"]).is_empty()
            && resting_stops(&sim).is_empty()
    });
    wait_until("the desk to be flat", 30, || our_positions(port).is_empty());
    let mut answer = (0, String::new());
    wait_until("PAPER to be taken once flat", 30, || {
        answer = mode(r#"{"mode": "PAPER"}"#);
        answer.0 == 200
    });
    assert_eq!(metric(port, "orders_route_live"), Some(0), "{answer:?}");
    assert!(log_text(&app.dir).contains("Mode LIVE -> PAPER"));

    // A restart now stays PAPER, as the journal's last switch says.
    let log_len = log_text(&app.dir).len();
    let placed = orders_placed();
    app.restart();
    wait_until("the control API after the second restart", 60, || {
        http(port, "GET", "/health").is_some()
    });
    let (_, health) = http(port, "GET", "/health").unwrap();
    assert!(health.contains("\"mode\":\"PAPER\""), "{health}");
    assert_eq!(metric(port, "orders_route_live"), Some(0));
    assert!(!log_text(&app.dir)[log_len..].contains("from today's journal"));
    assert_eq!(orders_placed(), placed, "PAPER sent an order to Kite");
}
