//! The Kite WebSocket ticker against tools/kite-sim on loopback: aitrapp runs as an operator
//! would start it (PAPER, credentials in .env, `feed.source: kite`), and the simulator drops,
//! stalls and corrupts the feed and expires the token on demand.

mod common;
use common::{bin, free_port, http, temp_project};
use kite_sim::{Credentials, SimConfig};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

fn start_sim() -> kite_sim::SimHandle {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("configs/app.yaml")).unwrap();
    let mut app = aitrapp::config::parse(&text, "app.yaml").unwrap();
    app.feed.synthetic.start_time = "09:20".into();
    app.feed.synthetic.date = "2026-11-25".into();
    app.feed.synthetic.speed = 20.0;
    kite_sim::start(SimConfig {
        rest_addr: "127.0.0.1:0".parse().unwrap(),
        ws_addr: "127.0.0.1:0".parse().unwrap(),
        credentials: Credentials::default(),
        app,
        base_dir: root.to_path_buf(),
        replay: None,
        heartbeat_ms: 200,
    })
    .unwrap()
}

/// Reads one metric from /metrics.
fn metric(port: u16, name: &str) -> Option<u64> {
    let (_, body) = http(port, "GET", "/metrics")?;
    let prefix = format!("aitrapp_{name} ");
    body.lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .and_then(|v| v.trim().parse().ok())
}

fn wait_until(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

struct Running {
    child: Child,
    dir: std::path::PathBuf,
    port: u16,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_aitrapp(tag: &str, sim: &kite_sim::SimHandle) -> Running {
    let dir = temp_project(tag);
    let port = free_port();
    let dash = free_port();
    std::fs::write(
        dir.join("configs/app.yaml"),
        format!(
            "control:\n  api_port: {port}\n  dashboard_port: {dash}\nfeed:\n  source: kite\nwebsocket:\n  ws_root: {}\n  stale_after_ms: 1000\n  max_reconnect_attempts: 50\nlogging:\n  stderr: false\n",
            sim.ws_root()
        ),
    )
    .unwrap();
    let c = Credentials::default();
    std::fs::write(
        dir.join(".env"),
        format!(
            "KITE_API_KEY={}\nKITE_ACCESS_TOKEN={}\n",
            c.api_key, c.access_token
        ),
    )
    .unwrap();
    let child = Command::new(bin())
        .current_dir(&dir)
        .args(["run", "--config", "configs/app.yaml"])
        .env_remove("KITE_API_KEY")
        .env_remove("KITE_ACCESS_TOKEN")
        .env_remove("APP_MODE")
        .env_remove("API_SECRET_KEY")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let r = Running { child, dir, port };
    wait_until("the control API", 30, || {
        http(port, "GET", "/health").is_some()
    });
    r
}

fn log_text(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("logs/aitrapp.log")).unwrap_or_default()
}

#[test]
fn ticker_survives_drops_stalls_and_bad_frames() {
    let sim = start_sim();
    let app = start_aitrapp("ws", &sim);
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
    let sim = start_sim();
    let app = start_aitrapp("token", &sim);
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
