//! The Kite WebSocket ticker against tools/kite-sim on loopback: aitrapp runs as an operator
//! would start it (PAPER, credentials in .env, `feed.source: kite`), and the simulator drops,
//! stalls and corrupts the feed and expires the token on demand.

mod common;
use common::{http, log_text, metric, start_aitrapp, start_sim, wait_until};
use std::path::Path;
use std::sync::atomic::Ordering;

#[test]
fn ticker_survives_drops_stalls_and_bad_frames() {
    let sim = start_sim("09:20", 20.0);
    let app = start_aitrapp("ws", &sim, "", &[]);
    let port = app.port;
    let ticks = || metric(port, "feed_ticks_total").unwrap_or(0);
    wait_until("ticks from the simulator", 30, || ticks() > 0);
    assert_eq!(metric(port, "ws_connections_open"), Some(1));
    let log = log_text(&app.dir);
    let connected = log
        .find("WebSocket connected")
        .expect("no WebSocket connected line");
    let started = log.find("AITRAPP started successfully").unwrap();
    assert!(connected < started, "runbook order broken");
    assert!(
        log.contains("Downloaded 43 instruments from Kite"),
        "no instrument sync"
    );
    assert!(app.dir.join("run").read_dir().unwrap().any(|e| e
        .unwrap()
        .file_name()
        .to_string_lossy()
        .starts_with("instruments-")));
    assert!(
        !log.contains("sim_access_token"),
        "the access token reached the log"
    );

    // A malformed frame is counted and skipped; the connection stays up.
    sim.faults.ws_bad_frames.arm(1);
    wait_until("the malformed frame", 10, || {
        metric(port, "feed_malformed_frames_total").unwrap_or(0) >= 1
    });
    assert_eq!(metric(port, "ws_disconnects_total"), Some(0));

    // A dropped socket: reconnect, resubscribe, ticks flow again.
    let before = sim.faults.ws_connections.load(Ordering::SeqCst);
    sim.faults.drop_ws();
    wait_until("a reconnect", 10, || {
        metric(port, "ws_reconnects_total").unwrap_or(0) >= 1
    });
    assert!(sim.faults.ws_connections.load(Ordering::SeqCst) > before);
    let after_reconnect = ticks();
    wait_until("ticks after the reconnect", 10, || {
        ticks() > after_reconnect
    });
    let reconnect_us = metric(port, "ws_last_reconnect_us").unwrap();
    eprintln!("reconnect + resubscribe after a dropped socket: {reconnect_us} us");

    // Silence past stale_after_ms (no ticks, no heartbeats) is a dead feed.
    sim.faults.stall_ws(2500);
    wait_until("the stale feed to be noticed", 10, || {
        metric(port, "ws_stale_total").unwrap_or(0) >= 1
    });
    let after_stall = ticks();
    wait_until("ticks after the stall", 20, || ticks() > after_stall);
    assert_eq!(metric(port, "ws_connections_open"), Some(1));

    let log = log_text(&app.dir);
    assert!(log.contains("reconnected in"), "no reconnect line");
    assert!(log.contains("no data or heartbeat within stale_after_ms"));
    assert!(log.contains("Malformed frame skipped"));
    assert!(
        !log.contains("sim_access_token"),
        "the access token reached the log"
    );
    std::fs::write(
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("ws_reconnect_us.txt"),
        reconnect_us.to_string(),
    )
    .unwrap();
}

#[test]
fn expired_token_halts_new_entries_with_a_clear_line() {
    let sim = start_sim("09:20", 20.0);
    let app = start_aitrapp("token", &sim, "", &[]);
    let port = app.port;
    wait_until("ticks", 30, || {
        metric(port, "feed_ticks_total").unwrap_or(0) > 0
    });
    sim.faults.expire_token();
    sim.faults.drop_ws();
    wait_until("the halt", 15, || {
        http(port, "GET", "/state")
            .map(|(_, b)| b.contains("\"is_paused\":true"))
            .unwrap_or(false)
    });
    wait_until("the alert line", 5, || {
        log_text(&app.dir).contains("Kite refused the access token")
    });
    assert_eq!(metric(port, "ws_connections_open"), Some(0));
}
