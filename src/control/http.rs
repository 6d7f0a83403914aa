//! HTTP control API. GET /health /ready /state /positions /orders /risk /trades /metrics;
//! POST /pause /resume /flatten /mode /strategies/reload /universe/reload /journal/sync (a
//! backup's fsync). Mutating calls need `X-API-Key` when API_SECRET_KEY is set (missing 401, wrong
//! 403, compared in constant time); /ready answers 503 with its reasons. Unknown paths answer
//! 404 JSON, wrong methods 405 JSON.

use crate::config::{self, Environment};
use crate::control::server::{HttpServer, Method, Request, Response};
use crate::domain::{ControlCommand, FlattenReport, InstrumentMaster};
use crate::exec::InboxMsg;
use crate::strategy::{ReloadAck, StrategyUpdate};
use crate::telemetry::journal::SyncRequest;
use crate::telemetry::snapshot::{self, SnapshotReader};
use crate::telemetry::Metrics;
use crossbeam_channel::{Receiver, Sender};
use serde_json::json;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct ControlApi {
    pub inbox: Sender<InboxMsg>,
    pub flatten_replies: Receiver<FlattenReport>,
    pub snapshot: SnapshotReader,
    pub metrics: Arc<Metrics>,
    pub api_key: Option<String>,
    pub feed: String,
    pub started: Instant,
    next_request: u64,
    reloader: Option<Reloader>,
    trades: Option<TradesSource>,
    /// The journal thread's sync requests and the file it writes (`POST /journal/sync`).
    journal_sync: Option<(Sender<SyncRequest>, String)>,
    ready: ready::ReadyWatch,
    mode_replies: Option<Receiver<crate::domain::ModeReport>>,
    live_switch: Option<LiveSwitch>,
    /// orders_sent_total at the last one-second look (orders_last_second).
    orders_seen: u64,
    /// The day's alerts (GET /alerts).
    alerts: Option<crate::control::alerts::DayAlerts>,
    /// Whether the last look found the feed down while the market was open (FEED_DOWN once).
    feed_down: bool,
}

/// A trading day in, its journaled trades as JSON out (`GET /trades?date=`).
/// None: the session's trading day.
pub type TradesSource =
    Arc<dyn Fn(Option<crate::domain::Date>) -> Result<serde_json::Value, String> + Send + Sync>;

mod flatten;
use flatten::{close_position_token, working_orders};
mod mode;
pub use mode::{LiveSwitch, LIVE_CONFIRMATION};
mod ready;
pub(crate) mod request;
pub use request::MAX_BODY_BYTES;
mod reload;
use reload::DayWatch;
pub use reload::{Reloader, TurnoverSource};
mod state;
pub use state::shortcut;

/// What the X-API-Key header of a mutating call says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum KeyCheck {
    /// No key configured, or the right one.
    Ok,
    Missing,
    Wrong,
}

/// Equal bytes, in time that depends on the lengths only (no early exit on the first
/// differing byte, which would let a caller guess the key a byte at a time).
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = (a.len() ^ b.len()) as u64;
    for i in 0..a.len().max(b.len()) {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        diff |= (x ^ y) as u64;
    }
    diff == 0
}

pub(crate) type Reply = (u16, serde_json::Value);

/// The engine's reply to one request, skipping stale replies to earlier requests that timed
/// out; None when nothing matching arrives within `limit`.
fn reply_for<T>(rx: &Receiver<T>, limit: Duration, is_ours: impl Fn(&T) -> bool) -> Option<T> {
    let deadline = Instant::now() + limit;
    loop {
        match rx.recv_deadline(deadline) {
            Ok(r) if is_ours(&r) => return Some(r),
            Ok(_) => continue,
            Err(_) => return None,
        }
    }
}

impl ControlApi {
    pub fn new(
        inbox: Sender<InboxMsg>,
        flatten_replies: Receiver<FlattenReport>,
        snapshot: SnapshotReader,
        metrics: Arc<Metrics>,
        api_key: Option<String>,
        feed: String,
    ) -> ControlApi {
        ControlApi {
            inbox,
            flatten_replies,
            snapshot,
            metrics,
            api_key,
            feed,
            started: Instant::now(),
            next_request: 1,
            reloader: None,
            trades: None,
            journal_sync: None,
            ready: ready::ReadyWatch::new(Duration::from_secs(15), Instant::now()),
            mode_replies: None,
            live_switch: None,
            orders_seen: 0,
            alerts: None,
            feed_down: false,
        }
    }

    /// No tick for this long while the market is open makes /ready 503.
    pub fn with_feed_stale_after(mut self, d: Duration) -> Self {
        self.ready = ready::ReadyWatch::new(d, Instant::now());
        self
    }

    /// `POST /journal/sync` asks the journal thread for an fsynced length (backups).
    pub fn with_journal_sync(mut self, s: Option<(Sender<SyncRequest>, String)>) -> Self {
        self.journal_sync = s;
        self
    }

    /// Where `GET /trades` reads a day's trades (the journals).
    pub fn with_trades(mut self, t: Option<TradesSource>) -> Self {
        self.trades = t;
        self
    }

    /// Where `GET /alerts` reads the day's alerts.
    pub fn with_alerts(mut self, a: Option<crate::control::alerts::DayAlerts>) -> Self {
        self.alerts = a;
        self
    }

    pub fn with_reloads(mut self, r: Option<Reloader>) -> Self {
        self.reloader = r;
        self
    }

    /// Serves until `stop` is set. Polls so shutdown is prompt. Once a second it looks at
    /// the engine's exchange date: when the trading day rolls over, the universe is rebuilt
    /// as `POST /universe/reload` would (ban list re-read, subscriptions moved).
    pub fn serve(mut self, server: HttpServer, stop: Arc<AtomicBool>) {
        crate::control::server::yield_to_hot_threads();
        let mut day = DayWatch::default();
        let mut looked = Instant::now();
        let (fresh_tx, fresh_rx) =
            crossbeam_channel::bounded::<(crate::domain::Date, Vec<Option<f64>>)>(2);
        while !stop.load(Ordering::Relaxed) {
            if looked.elapsed() >= Duration::from_secs(1) {
                looked = Instant::now();
                let sent = Metrics::get(&self.metrics.orders_sent_total);
                let last = sent.saturating_sub(self.orders_seen);
                self.metrics
                    .orders_last_second
                    .store(last, Ordering::Relaxed);
                self.orders_seen = sent;
                let snap = self.snapshot.read().ok();
                if let Some(b) = &snap {
                    self.watch_feed(b);
                }
                let ts = snap.map(|b| b.exchange_ts).unwrap_or(0);
                if let Some(d) = day.rolled(ts) {
                    match self
                        .reloader
                        .as_ref()
                        .and_then(|r| r.turnover_source.clone())
                    {
                        Some(source) => {
                            log::info!(target: "control", date = d.to_string().as_str();
                                "Daily rollover to {d}: measuring the previous day's turnover before the universe is rebuilt");
                            let tx = fresh_tx.clone();
                            let _ = std::thread::Builder::new()
                                .name("aitrapp-turnover".into())
                                .spawn(move || {
                                    let _ = tx.send((d, source(d)));
                                });
                        }
                        None if self.reloader.is_some() => self.rollover(d),
                        None => {}
                    }
                }
            }
            if let Ok((d, turnover)) = fresh_rx.try_recv() {
                if let Some(r) = &mut self.reloader {
                    r.turnover = Arc::new(turnover);
                }
                self.rollover(d);
            }
            self.ready.observe(&self.metrics, Instant::now());
            if let Some(req) = server.recv_timeout(Duration::from_millis(100)) {
                self.handle(req);
            }
        }
    }

    fn handle(&mut self, req: Request) {
        let method = req.method().clone();
        let path = request::endpoint(req.url()).to_string();
        let key = match &self.api_key {
            None => KeyCheck::Ok,
            Some(k) => match req.header("X-API-Key") {
                None => KeyCheck::Missing,
                Some(h) if constant_time_eq(h.as_bytes(), k.as_bytes()) => KeyCheck::Ok,
                Some(_) => KeyCheck::Wrong,
            },
        };
        if path == "/trades" && method == Method::Get {
            let query = req.url().split_once('?').map_or("", |(_, q)| q);
            let (status, body) = self.trades(query);
            req.respond(Response::json(status, &body));
            return;
        }
        if path == "/metrics" && method == Method::Get {
            req.respond(state::metrics_page(&self.metrics));
            return;
        }
        let body = if method == Method::Post {
            request::json_body(&req)
        } else {
            Ok(None)
        };
        let url = req.url().to_string();
        let (status, body) = self.route(&method, &path, key, &url, body);
        if method != Method::Get {
            log::info!(target: "control", method = method.as_str(), path = path.as_str(), status = status; "{} {} -> {}", method, path, status);
        }
        req.respond(Response::json(status, &body));
    }

    fn route(
        &mut self,
        method: &Method,
        path: &str,
        key: KeyCheck,
        url: &str,
        body: Result<Option<serde_json::Value>, Reply>,
    ) -> Reply {
        const GETS: [&str; 7] = [
            "/health",
            "/alerts",
            "/ready",
            "/state",
            "/positions",
            "/orders",
            "/risk",
        ];
        const POSTS: [&str; 7] = [
            "/mode",
            "/journal/sync",
            "/pause",
            "/resume",
            "/flatten",
            "/strategies/reload",
            "/universe/reload",
        ];
        let known_get = GETS.contains(&path);
        let known_post = POSTS.contains(&path) || close_position_token(path).is_some();
        match (method, known_get, known_post) {
            (Method::Get, true, _) => self.get(path),
            (Method::Post, _, true) if key == KeyCheck::Missing => (
                401,
                json!({"error": "this call needs the X-API-Key header (API_SECRET_KEY is set)"}),
            ),
            (Method::Post, _, true) if key == KeyCheck::Wrong => {
                (403, json!({"error": "wrong X-API-Key"}))
            }
            (Method::Post, _, true) => match body {
                Ok(body) => self.post(path, url, body),
                Err(reply) => reply,
            },
            (_, true, _) => (
                405,
                json!({"error": format!("{path} takes GET"), "allowed": ["GET"]}),
            ),
            (_, _, true) => (
                405,
                json!({"error": format!("{path} takes POST"), "allowed": ["POST"]}),
            ),
            _ => (404, json!({"error": format!("no such endpoint: {path}")})),
        }
    }

    /// FEED_DOWN once when the feed goes down or stale while the market is open.
    fn watch_feed(&mut self, b: &snapshot::SnapshotBody) {
        let problem = self
            .ready
            .feed_problem(b, Instant::now())
            .filter(|_| b.market_open == 1);
        let down = problem.is_some();
        if let (Some(why), false) = (problem, self.feed_down) {
            crate::telemetry::alerts::raise(
                crate::telemetry::alerts::AlertKind::FeedDown,
                format!("Market feed down while the market is open: {why}"),
            );
        }
        self.feed_down = down;
    }

    fn read(&self) -> Result<Box<snapshot::SnapshotBody>, Reply> {
        self.snapshot
            .read()
            .map_err(|e| (503, json!({"error": format!("state unavailable: {e}")})))
    }

    fn get(&self, path: &str) -> Reply {
        if path == "/alerts" {
            return match &self.alerts {
                Some(a) => (200, a.json()),
                None => (200, json!({"count": 0, "alerts": []})),
            };
        }
        if path == "/health" {
            return (
                200,
                json!({
                    "status": "ok",
                    "mode": mode::mode_name(self.routes_live()),
                    "feed": self.feed,
                    "uptime_s": self.started.elapsed().as_secs(),
                    "ticks": Metrics::get(&self.metrics.feed_ticks_total),
                    // Says whether, never what: the dashboard asks for a key only when one is set.
                    "api_key_required": self.api_key.is_some(),
                }),
            );
        }
        let b = match self.read() {
            Ok(b) => b,
            Err(r) => return r,
        };
        match path {
            "/ready" => {
                let reasons =
                    self.ready
                        .reasons(&b, &self.metrics, self.routes_live(), Instant::now());
                let ready = reasons.is_empty();
                let journal = Metrics::get(&self.metrics.journal_enabled) == 1;
                let mut body = json!({"ready": ready, "feed_connected": b.feed_connected == 1, "journal": journal, "reasons": reasons});
                if !journal {
                    body["warning"] = json!("no journal: positions, orders and P&L of this session do not survive a crash");
                }
                (if ready { 200 } else { 503 }, body)
            }
            _ => match state::snapshot_view(path, &b, &self.metrics) {
                Some(v) => (200, v),
                None => (404, json!({"error": format!("no such endpoint: {path}")})),
            },
        }
    }

    fn submit(&self, c: ControlCommand) -> Result<(), Reply> {
        self.inbox
            .send_timeout(InboxMsg::Control(c), Duration::from_secs(2))
            .map_err(|_| {
                (
                    503,
                    json!({"error": "engine is not accepting commands (shutting down or stalled)"}),
                )
            })
    }

    /// Waits until the snapshot satisfies `done`, up to `limit`.
    fn wait_for(
        &self,
        limit: Duration,
        done: impl Fn(&snapshot::SnapshotBody) -> bool,
    ) -> Option<Box<snapshot::SnapshotBody>> {
        let deadline = Instant::now() + limit;
        loop {
            if let Ok(b) = self.snapshot.read() {
                if done(&b) {
                    return Some(b);
                }
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    fn post(&mut self, path: &str, url: &str, body: Option<serde_json::Value>) -> Reply {
        let t0 = Instant::now();
        match path {
            "/pause" | "/resume" => {
                let (cmd, want_paused) = if path == "/pause" {
                    (ControlCommand::Pause, true)
                } else {
                    (ControlCommand::Resume, false)
                };
                if let Err(r) = self.submit(cmd) {
                    return r;
                }
                match self.wait_for(Duration::from_secs(2), |b| {
                    (b.trading_state != 0) == want_paused
                }) {
                    Some(b) => (
                        200,
                        json!({"status": snapshot::state_name(b.trading_state), "is_paused": b.trading_state != 0}),
                    ),
                    None => {
                        let state = self
                            .snapshot
                            .read()
                            .map(|b| snapshot::state_name(b.trading_state))
                            .unwrap_or("UNKNOWN");
                        (
                            409,
                            json!({"error": format!("state is still {state}; see the log for why"), "status": state}),
                        )
                    }
                }
            }
            "/flatten" => self.flatten(url, body, t0),
            "/strategies/reload" | "/universe/reload" => self.reload(path, t0),
            "/journal/sync" => self.journal_sync(),
            "/mode" => self.switch_mode(body),
            _ => match close_position_token(path) {
                Some(token) => self.close_position(token, t0),
                None => (404, json!({"error": format!("no such endpoint: {path}")})),
            },
        }
    }
}
