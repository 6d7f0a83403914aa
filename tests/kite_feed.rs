//! The Kite WebSocket ticker against tools/kite-sim on loopback: aitrapp runs as an operator
//! would start it (PAPER, credentials in .env, `feed.source: kite`), and the simulator drops,
//! stalls and corrupts the feed and expires the token on demand.

mod common;
use common::{http, log_text, metric, start_aitrapp, start_sim, start_sim_with, wait_until};
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
        log.contains("Downloaded 183 instruments from Kite"),
        "no instrument sync"
    );
    // The warm-up and the turnover cut asked Kite's historical API (through the limiter) for
    // the futures, equities and indices; the simulator has no earlier sessions, so nothing
    // failed and the candles are today's so far.
    assert!(
        log.contains("Historical candles for 15 instruments (0 failed)"),
        "no historical fetch"
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
    let reconnect = common::metric_f64(port, "ws_last_reconnect_seconds").unwrap();
    eprintln!("reconnect + resubscribe after a dropped socket: {reconnect} s");

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
        ((reconnect * 1e6).round() as u64).to_string(),
    )
    .unwrap();
}

#[test]
fn universe_reload_moves_the_ticker_subscriptions() {
    let sim = start_sim("09:20", 20.0);
    // The chains OptionsRanker streams depend on today's expiries; without it the count is
    // the file's 15 (universe tests cover the chains).
    let app = start_aitrapp(
        "resub",
        &sim,
        "strategies:\n  options_ranker:\n    enabled: false\n",
        &[],
    );
    let port = app.port;
    let subscribed = || sim.faults.ws_subscribed.load(Ordering::SeqCst);
    wait_until("the first subscriptions", 30, || subscribed() == 15);
    // Banning BANKNIFTY takes its future out of the universe (the index stays streamed).
    std::fs::write(app.dir.join("configs/fo_secban.csv"), "BANKNIFTY\n").unwrap();
    let (code, body) = http(port, "POST", "/universe/reload").unwrap();
    assert_eq!(code, 200, "{body}");
    wait_until("the unsubscribe", 10, || subscribed() == 14);
    std::fs::write(app.dir.join("configs/fo_secban.csv"), "").unwrap();
    let (code, body) = http(port, "POST", "/universe/reload").unwrap();
    assert_eq!(code, 200, "{body}");
    wait_until("the subscribe", 10, || subscribed() == 15);
    assert!(log_text(&app.dir).contains("resubscribed: +0 -1"));
    assert_eq!(metric(port, "ws_disconnects_total"), Some(0));
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

#[test]
fn record_from_the_ticker_then_replay_the_file() {
    let sim = start_sim("09:20", 20.0);
    let dir = common::temp_project("record");
    std::fs::write(
        dir.join("configs/app.yaml"),
        format!(
            "websocket:\n  ws_root: {}\nlogging:\n  stderr: false\n",
            sim.ws_root()
        ),
    )
    .unwrap();
    common::write_sim_env(&dir);
    let out = std::process::Command::new(common::bin())
        .current_dir(&dir)
        .args([
            "record",
            "--out",
            "rec/session.bin",
            "--tokens",
            "408065,256265",
        ])
        .args(["--mode", "quote", "--duration", "2s"])
        .env_remove("KITE_API_KEY")
        .env_remove("KITE_ACCESS_TOKEN")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("recorded"), "{text}");

    let decoded = std::process::Command::new(common::bin())
        .args(["decode"])
        .arg(dir.join("rec/session.bin"))
        .output()
        .unwrap();
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&decoded.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(lines.len() >= 10, "only {} ticks recorded", lines.len());
    let tokens: std::collections::HashSet<u64> = lines
        .iter()
        .map(|t| t["instrument_token"].as_u64().unwrap())
        .collect();
    assert_eq!(tokens, [408065u64, 256265].into_iter().collect());
    assert!(
        lines.iter().all(|t| t["mode"] == "quote"),
        "not in quote mode"
    );

    // Replay the file as fast as possible: every recorded tick goes through, then exit 0.
    std::fs::write(
        dir.join("configs/app.yaml"),
        format!(
            "feed:\n  source: replay\n  replay_path: rec/session.bin\n  replay_speed: 0\ncontrol:\n  api_port: {}\n  dashboard_port: {}\nlogging:\n  stderr: false\n",
            common::free_port(),
            common::free_port()
        ),
    )
    .unwrap();
    let run = common::aitrapp_run(&dir).output().unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let log = log_text(&dir);
    assert!(log.contains("Replay started"), "no replay line");
    assert!(
        log.contains(&format!("\"ticks\":{}", lines.len())),
        "replay did not carry all {} ticks",
        lines.len()
    );

    // kite-sim --replay serves the same recording on its ticker.
    let replay_sim = common::start_sim_replay(&dir.join("rec/session.bin"));
    wait_until("the recording on the simulator's book", 10, || {
        replay_sim
            .market
            .last_tick(aitrapp::domain::Token(408065))
            .is_some()
    });
}

#[test]
fn ticker_and_rest_over_tls_trusting_the_sims_certificate() {
    let sim = start_sim_with("09:20", 20.0, true);
    assert!(sim.ws_root().starts_with("wss://") && sim.rest_root().starts_with("https://"));
    let ca = std::env::temp_dir().join(format!("aitrapp-sim-ca-{}.pem", std::process::id()));
    std::fs::write(&ca, sim.ca_pem.as_deref().unwrap()).unwrap();
    let extra = format!("kite:\n  api_root: REST\n  ca_file: {}\n", ca.display());
    let app = start_aitrapp("tls", &sim, &extra, &[]);
    let port = app.port;
    // Without trusting the certificate for wss:// the ticker cannot connect...
    wait_until("the refused TLS handshake", 10, || {
        log_text(&app.dir).contains("handshake failed")
    });
    assert_eq!(metric(port, "ws_connections_open"), Some(0));
    drop(app);
    // ...with websocket.ca_file it streams, and the instrument dump came over https://.
    let app = common::start_aitrapp_with_ws_ca("tls2", &sim, &extra, &ca);
    let port = app.port;
    wait_until("ticks over wss://", 30, || {
        metric(port, "feed_ticks_total").unwrap_or(0) > 0
    });
    let log = log_text(&app.dir);
    assert!(
        log.contains("Downloaded 183 instruments from Kite"),
        "no sync over https"
    );
    let _ = std::fs::remove_file(&ca);
}

#[test]
fn exhausted_reconnects_halt_new_entries_with_an_alert() {
    let sim = start_sim("09:20", 20.0);
    let app = start_aitrapp("gaveup", &sim, "pipeline:\n  topology: collapsed\n", &[]);
    let port = app.port;
    wait_until("ticks", 30, || {
        metric(port, "feed_ticks_total").unwrap_or(0) > 0
    });
    // The exchange goes away for good: every reconnect is refused.
    sim.stop();
    wait_until("the alert", 60, || {
        log_text(&app.dir).contains("gave up after")
    });
    wait_until("the halt", 10, || {
        http(port, "GET", "/state")
            .map(|(_, b)| b.contains("\"is_paused\":true"))
            .unwrap_or(false)
    });
}
