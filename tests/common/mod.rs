//! Helpers the integration tests share: the binary, a scratch project, loopback HTTP.
#![allow(dead_code)]

#[path = "../shipped/mod.rs"]
mod shipped;

use kite_sim::{Credentials, SimConfig};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_aitrapp")
}

pub fn temp_project(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("aitrapp-cli-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("configs")).unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for f in [
        "instruments.csv",
        "holidays_nse.txt",
        "fo_secban.csv",
        "charges.yaml",
        "freeze_qty.yaml",
    ] {
        std::fs::copy(root.join("configs").join(f), dir.join("configs").join(f)).unwrap();
    }
    dir
}

/// `aitrapp run --config configs/app.yaml` in `dir`, with no credentials or mode from the
/// caller's environment leaking in.
pub fn aitrapp_run(dir: &Path) -> Command {
    let mut c = Command::new(bin());
    c.current_dir(dir)
        .args(["run", "--config", "configs/app.yaml"])
        .env_remove("KITE_API_KEY")
        .env_remove("KITE_ACCESS_TOKEN")
        .env_remove("APP_MODE")
        .env_remove("API_SECRET_KEY")
        .stdin(Stdio::null());
    c
}

/// A `.env` with the simulator's default credentials.
pub fn write_sim_env(dir: &Path) {
    let c = Credentials::default();
    std::fs::write(
        dir.join(".env"),
        format!(
            "KITE_API_KEY={}\nKITE_ACCESS_TOKEN={}\n",
            c.api_key, c.access_token
        ),
    )
    .unwrap();
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn http(port: u16, method: &str, path: &str) -> Option<(u16, String)> {
    http_with(port, method, path, &[], "")
}

/// `http` with extra headers and a body.
pub fn http_with(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let extra: String = headers
        .iter()
        .map(|(k, v)| format!("{k}: {v}\r\n"))
        .collect();
    write!(s, "{method} {path} HTTP/1.1\r\nHost: localhost\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()).ok()?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).ok()?;
    let status = buf.split_whitespace().nth(1)?.parse().ok()?;
    let body = buf.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
    Some((status, body))
}

/// kite-sim in this process on free loopback ports, its market starting at `start` IST.
pub fn start_sim(start: &str, speed: f64) -> kite_sim::SimHandle {
    start_sim_with(start, speed, false)
}

/// `start_sim`, optionally serving wss:// and https:// with a self-signed certificate.
pub fn start_sim_with(start: &str, speed: f64, tls: bool) -> kite_sim::SimHandle {
    sim(start, speed, tls, None)
}

/// kite-sim playing a recording instead of the synthetic market.
pub fn start_sim_replay(recording: &Path) -> kite_sim::SimHandle {
    sim("09:20", 1.0, false, Some(recording.to_path_buf()))
}

/// `start_sim` on today's date (IST) instead of the pinned one, as a real Kite feed is: for
/// what is told apart by the day (today's recording).
pub fn start_sim_today(start: &str, speed: f64) -> kite_sim::SimHandle {
    sim_on(start, speed, false, None, "")
}

fn sim(start: &str, speed: f64, tls: bool, replay: Option<PathBuf>) -> kite_sim::SimHandle {
    sim_on(
        start,
        speed,
        tls,
        replay,
        &shipped::shipped_config().feed.synthetic.date,
    )
}

fn sim_on(
    start: &str,
    speed: f64,
    tls: bool,
    replay: Option<PathBuf>,
    date: &str,
) -> kite_sim::SimHandle {
    let mut app = shipped::shipped_config();
    app.feed.synthetic.date = date.into();
    app.feed.synthetic.start_time = start.into();
    app.feed.synthetic.speed = speed;
    kite_sim::start(SimConfig {
        rest_addr: "127.0.0.1:0".parse().unwrap(),
        ws_addr: "127.0.0.1:0".parse().unwrap(),
        credentials: Credentials::default(),
        app,
        base_dir: shipped::project_root(),
        replay,
        heartbeat_ms: 200,
        tls,
    })
    .unwrap()
}

/// Reads one metric from /metrics.
pub fn metric(port: u16, name: &str) -> Option<u64> {
    metric_as(port, name)
}

/// A metric's value as a float (seconds, and anything else not a whole number).
pub fn metric_f64(port: u16, name: &str) -> Option<f64> {
    metric_as(port, name)
}

fn metric_as<T: std::str::FromStr>(port: u16, name: &str) -> Option<T> {
    let (_, body) = http(port, "GET", "/metrics")?;
    let prefix = format!("aitrapp_{name} ");
    body.lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .and_then(|v| v.trim().parse().ok())
}

pub fn wait_until(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub struct Running {
    pub child: Child,
    pub dir: std::path::PathBuf,
    pub port: u16,
}

impl Running {
    /// `aitrapp run` in `dir` (its configs/app.yaml, API on `port`), stdout discarded,
    /// stderr to `stderr`; killed on drop, so a failing assertion never leaves a session
    /// running.
    pub fn start(dir: &Path, port: u16, stderr: Stdio) -> Running {
        Running {
            child: aitrapp_run(dir)
                .stdout(Stdio::null())
                .stderr(stderr)
                .spawn()
                .unwrap(),
            dir: dir.to_path_buf(),
            port,
        }
    }

    /// `start` with stderr discarded too.
    pub fn quiet(dir: &Path, port: u16) -> Running {
        Running::start(dir, port, Stdio::null())
    }

    /// kill -9, then the same command line again in the same directory, output discarded.
    pub fn restart(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        self.child = aitrapp_run(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// aitrapp on the simulator: credentials in .env, `feed.source: kite`, `extra_yaml` appended
/// to the config (top-level sections), `args` after `run --config configs/app.yaml`.
pub fn start_aitrapp(
    tag: &str,
    sim: &kite_sim::SimHandle,
    extra_yaml: &str,
    args: &[&str],
) -> Running {
    start_aitrapp_inner(tag, sim, extra_yaml, args, None)
}

/// `start_aitrapp` with `websocket.ca_file` set, for a simulator serving wss://.
pub fn start_aitrapp_with_ws_ca(
    tag: &str,
    sim: &kite_sim::SimHandle,
    extra_yaml: &str,
    ca: &Path,
) -> Running {
    start_aitrapp_inner(tag, sim, extra_yaml, &[], Some(ca))
}

fn start_aitrapp_inner(
    tag: &str,
    sim: &kite_sim::SimHandle,
    extra_yaml: &str,
    args: &[&str],
    ws_ca: Option<&Path>,
) -> Running {
    let dir = temp_project(tag);
    let port = free_port();
    let dash = free_port();
    // `REST` in the extra YAML stands for the simulator's REST root.
    let extra_yaml = if extra_yaml.contains("kite:") {
        extra_yaml.replace("REST", &sim.rest_root())
    } else {
        format!("{extra_yaml}kite:\n  api_root: {}\n", sim.rest_root())
    };
    std::fs::write(
        dir.join("configs/app.yaml"),
        format!(
            "control:\n  api_port: {port}\n  dashboard_port: {dash}\nfeed:\n  source: kite\n  session_clock: exchange\nwebsocket:\n  ws_root: {}\n  stale_after_ms: 1000\n  max_reconnect_attempts: 4\n  reconnect_backoff_base_ms: 50\n{}logging:\n  stderr: false\n{extra_yaml}",
            sim.ws_root(),
            ws_ca
                .map(|p| format!("  ca_file: {}\n", p.display()))
                .unwrap_or_default()
        ),
    )
    .unwrap();
    write_sim_env(&dir);
    let child = aitrapp_run(&dir)
        .args(args)
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

pub fn log_text(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("logs/aitrapp.log")).unwrap_or_default()
}

/// GET on the simulator's REST API with the default credentials; the envelope's `data`.
pub fn sim_get(sim: &kite_sim::SimHandle, path: &str) -> serde_json::Value {
    let c = Credentials::default();
    let mut s = TcpStream::connect(sim.rest_addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: token {}:{}\r\n{}: 1\r\nConnection: close\r\n\r\n",
        c.api_key, c.access_token, kite_sim::OBSERVER_HEADER
    )
    .unwrap();
    let mut buf = String::new();
    s.read_to_string(&mut buf).unwrap();
    let body = buf.split("\r\n\r\n").nth(1).unwrap_or("");
    let v: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    v["data"].clone()
}

/// A REST client for `api_root` with the simulator's credentials and its own default limiter.
pub fn kite_rest_client(
    api_root: String,
    timeout: Duration,
) -> aitrapp::exec::kite::rest::KiteRest {
    use aitrapp::exec::kite::{RateLimiter, RateLimits};
    let c = Credentials::default();
    aitrapp::exec::kite::rest::KiteRest::new(
        aitrapp::exec::kite::rest::RestConfig {
            api_root,
            api_key: c.api_key,
            access_token: c.access_token,
            timeout,
            ca_pem: None,
        },
        std::sync::Arc::new(RateLimiter::new(RateLimits::default())),
    )
    .unwrap()
}

/// Waits up to `limit` for `child` to exit (killing it and failing with `what` after that).
pub fn wait_exit(child: &mut Child, limit: Duration, what: &str) -> std::process::ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{what}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Every line of a JSON log, parsed (a line that is not JSON fails the test).
pub fn json_log(dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join("logs/aitrapp.log"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("every log line is JSON"))
        .collect()
}

/// Net quantity per instrument token of a positions list, non-zero only.
pub fn net_quantities(list: &serde_json::Value) -> std::collections::BTreeMap<u64, i64> {
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

/// SL-M orders of an order book waiting for their trigger, by token: (side, open quantity,
/// order id, tag).
pub fn resting_stops_of(
    orders: &[serde_json::Value],
) -> std::collections::BTreeMap<u64, (String, i64, String, String)> {
    orders
        .iter()
        .filter(|o| o["order_type"] == "SL-M" && o["status"] == "TRIGGER PENDING")
        .filter_map(|o| {
            Some((
                o["instrument_token"].as_u64()?,
                (
                    o["transaction_type"].as_str()?.to_string(),
                    o["quantity"].as_i64()? - o["filled_quantity"].as_i64().unwrap_or(0),
                    o["order_id"].as_str()?.to_string(),
                    o["tag"].as_str().unwrap_or("").to_string(),
                ),
            ))
        })
        .collect()
}

/// xorshift64*: the fuzz runs' source, deterministic so a failure names its seed.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    pub fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }
}
