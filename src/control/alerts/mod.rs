//! The alert thread: drains the queue `telemetry::alerts::raise` fills, keeps the day's
//! alerts for the dashboard (GET /alerts), drops repeats within `alerts.dedupe_window_s`,
//! holds each channel to `alerts.max_per_minute`, and hands each message to that channel's
//! own worker, which retries with doubling backoff. Nothing here runs on a trading thread
//! and every hand-off is a bounded `try_send`: a channel that is down or hangs costs its own
//! worker time, never an order.

pub mod channels;
pub mod events;

use crate::config::operator::AlertsConfig;
use crate::telemetry::alerts::{Alert, AlertKind};
use crate::telemetry::Metrics;
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub use channels::{AlertChannel, Channels, Configured};

/// The day's alerts kept for GET /alerts (newest last).
const DAY_ALERTS_KEPT: usize = 500;
/// Messages waiting for one channel's worker.
const CHANNEL_QUEUE: usize = 64;

/// One alert as the dashboard lists it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct AlertRecord {
    pub time: String,
    pub unix_ms: u64,
    pub kind: &'static str,
    pub text: String,
    /// The channels it was handed to (empty: alerts off, filtered out, or a repeat).
    pub sent_to: Vec<&'static str>,
    pub note: Option<&'static str>,
}

/// The day's alerts, shared between the alert thread and the control API.
#[derive(Clone, Default)]
pub struct DayAlerts(Arc<Mutex<VecDeque<AlertRecord>>>);

impl DayAlerts {
    pub fn json(&self) -> serde_json::Value {
        let list: Vec<AlertRecord> = self
            .0
            .lock()
            .map(|l| l.iter().cloned().collect())
            .unwrap_or_default();
        serde_json::json!({"count": list.len(), "alerts": list})
    }

    fn push(&self, r: AlertRecord) {
        let Ok(mut l) = self.0.lock() else { return };
        // A new trading day starts a new list.
        let day = |ms: u64| crate::clock::ist_date((ms / 1000) as i64);
        if l.back()
            .is_some_and(|last| day(last.unix_ms) != day(r.unix_ms))
        {
            l.clear();
        }
        if l.len() == DAY_ALERTS_KEPT {
            l.pop_front();
        }
        l.push_back(r);
    }
}

/// The text a channel sends for one alert.
pub fn message(kind: AlertKind, text: &str) -> String {
    format!("aitrapp [{}] {text}", kind.as_str())
}

struct Outlet {
    name: &'static str,
    events: Vec<AlertKind>,
    tx: Sender<String>,
    sent: VecDeque<u64>,
}

/// Sends `text` on `channel`, retrying `retries` times with backoff doubling from `backoff`;
/// gives up early when `give_up` is set. The error is the last attempt's.
pub fn deliver(
    channel: &dyn AlertChannel,
    text: &str,
    retries: u32,
    backoff: Duration,
    give_up: &AtomicBool,
) -> Result<u32, String> {
    let mut wait = backoff;
    let mut attempt = 1;
    loop {
        match channel.send(text) {
            Ok(()) => return Ok(attempt),
            Err(e) if attempt > retries || give_up.load(Ordering::Relaxed) => return Err(e),
            Err(e) => {
                // The backoff ends early when the shutdown's drain time runs out.
                let until = Instant::now() + wait;
                while Instant::now() < until {
                    if give_up.load(Ordering::Relaxed) {
                        return Err(e);
                    }
                    std::thread::sleep((until - Instant::now()).min(Duration::from_millis(20)));
                }
                wait = wait.saturating_mul(2).min(Duration::from_secs(60));
                attempt += 1;
            }
        }
    }
}

/// One channel's worker: sends what the alert thread hands it until the alert thread is
/// gone and the queue is empty; once `give_up` is set what is left is counted, not sent.
fn worker(
    channel: Box<dyn AlertChannel>,
    rx: Receiver<String>,
    cfg: AlertsConfig,
    metrics: Arc<Metrics>,
    give_up: Arc<AtomicBool>,
) {
    let name = channel.name();
    let backoff = Duration::from_millis(cfg.retry_backoff_ms);
    loop {
        let text = match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(text) => text,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => return,
        };
        if give_up.load(Ordering::Relaxed) {
            Metrics::add(&metrics.alerts_failed_total, 1);
            log::warn!(target: "alerts", channel = name;
                "Alert to {name} not sent: shutting down and alerts.shutdown_drain_ms ({} ms) ran out", cfg.shutdown_drain_ms);
            continue;
        }
        match deliver(channel.as_ref(), &text, cfg.retries, backoff, &give_up) {
            Ok(attempts) => {
                Metrics::add(&metrics.alerts_sent_total, 1);
                log::info!(target: "alerts", channel = name, attempts = attempts; "Alert sent to {name}");
            }
            Err(e) => {
                Metrics::add(&metrics.alerts_failed_total, 1);
                log::warn!(target: "alerts", channel = name, error = e.as_str();
                    "Alert to {name} failed after {} attempt(s): {e}", cfg.retries + 1);
            }
        }
    }
}

/// The alert thread and the channel workers of a run. They outlive the trading threads
/// (the last fills and the logger raise alerts during shutdown); `finish` sends what is
/// queued and ends them within a bound.
pub struct AlertThreads {
    finishing: Arc<AtomicBool>,
    give_up: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    metrics: Arc<Metrics>,
}

/// What `AlertThreads::finish` got done.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Drained {
    /// Messages the channels accepted while finishing.
    pub sent: u64,
    /// Messages refused, never answered, or left when the drain time ran out.
    pub not_sent: u64,
    /// Workers still inside a send when the bound passed (left to the process's exit).
    pub still_sending: usize,
}

impl AlertThreads {
    /// Stops taking new alerts, routes the ones queued, lets each worker send its queue and
    /// waits for them all, but never past `within`: then retries stop, what is left is
    /// counted, and a worker stuck in a send (bounded by alerts.timeout_ms) is left behind.
    pub fn finish(self, within: Duration) -> Drained {
        let (sent0, failed0) = (
            Metrics::get(&self.metrics.alerts_sent_total),
            Metrics::get(&self.metrics.alerts_failed_total),
        );
        self.finishing.store(true, Ordering::Relaxed);
        // True once every thread has ended; false when `bound` passed first.
        let all_done_within = |bound: Duration| {
            let until = Instant::now() + bound;
            loop {
                if self.threads.iter().all(|t| t.is_finished()) {
                    return true;
                }
                if Instant::now() >= until {
                    return false;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        };
        if !all_done_within(within) {
            // Workers now drop what they hold; give them a moment to count it.
            self.give_up.store(true, Ordering::Relaxed);
            all_done_within(Duration::from_millis(300));
        }
        let mut still_sending = 0;
        for t in self.threads {
            if t.is_finished() {
                let _ = t.join();
            } else {
                still_sending += 1;
            }
        }
        Drained {
            sent: Metrics::get(&self.metrics.alerts_sent_total) - sent0,
            not_sent: Metrics::get(&self.metrics.alerts_failed_total) - failed0,
            still_sending,
        }
    }
}

/// Starts the alert thread and one worker per channel (none when `cfg.enabled` is off:
/// alerts are then only listed). They run until `AlertThreads::finish`.
pub fn spawn(
    rx: Receiver<Alert>,
    channels: Vec<Configured>,
    cfg: &AlertsConfig,
    metrics: Arc<Metrics>,
) -> std::io::Result<(DayAlerts, AlertThreads)> {
    let day = DayAlerts::default();
    let finishing = Arc::new(AtomicBool::new(false));
    let give_up = Arc::new(AtomicBool::new(false));
    let mut threads = Vec::new();
    let mut outlets = Vec::new();
    for c in channels.into_iter().filter(|_| cfg.enabled) {
        let (tx, wrx) = crossbeam_channel::bounded(CHANNEL_QUEUE);
        outlets.push(Outlet {
            name: c.channel.name(),
            events: c.events.clone(),
            tx,
            sent: VecDeque::new(),
        });
        let (cfg, metrics, give_up) = (cfg.clone(), metrics.clone(), give_up.clone());
        threads.push(
            std::thread::Builder::new()
                .name(format!("aitrapp-alert-{}", c.channel.name()))
                .spawn(move || worker(c.channel, wrx, cfg, metrics, give_up))?,
        );
    }
    let router = Router {
        outlets,
        day: day.clone(),
        seen: HashMap::new(),
        cfg: cfg.clone(),
        metrics: metrics.clone(),
    };
    let until = finishing.clone();
    threads.push(
        std::thread::Builder::new()
            .name("aitrapp-alerts".into())
            .spawn(move || router.run(rx, &until))?,
    );
    Ok((
        day,
        AlertThreads {
            finishing,
            give_up,
            threads,
            metrics,
        },
    ))
}

/// The alert thread's state: where each kind goes, what was sent lately, the day's list.
struct Router {
    outlets: Vec<Outlet>,
    day: DayAlerts,
    seen: HashMap<(AlertKind, String), u64>,
    cfg: AlertsConfig,
    metrics: Arc<Metrics>,
}

impl Router {
    /// Routes alerts until `finishing` is set and the queue is empty; dropping the outlets
    /// then ends each worker once it has sent its own queue.
    fn run(mut self, rx: Receiver<Alert>, finishing: &AtomicBool) {
        loop {
            let next = if finishing.load(Ordering::Relaxed) {
                rx.try_recv().ok()
            } else {
                match rx.recv_timeout(Duration::from_millis(200)) {
                    Ok(a) => Some(a),
                    Err(RecvTimeoutError::Timeout) => continue,
                    Err(RecvTimeoutError::Disconnected) => None,
                }
            };
            match next {
                Some(a) => self.route(a),
                None => return,
            }
        }
    }

    fn route(&mut self, a: Alert) {
        let (cfg, metrics) = (&self.cfg, &self.metrics);
        let window_ms = cfg.dedupe_window_s * 1000;
        let now = a.unix_ms;
        self.seen
            .retain(|_, at| now.saturating_sub(*at) < window_ms);
        let key = (a.kind, a.text.clone());
        let mut record = AlertRecord {
            time: crate::clock::ist_time_of_day((now / 1000) as i64).to_string(),
            unix_ms: now,
            kind: a.kind.as_str(),
            text: a.text.clone(),
            sent_to: Vec::new(),
            note: None,
        };
        if self.seen.contains_key(&key) {
            Metrics::add(&metrics.alerts_deduplicated_total, 1);
            record.note = Some("repeat within alerts.dedupe_window_s: not sent again");
            self.day.push(record);
            return;
        }
        self.seen.insert(key, now);
        let text = message(a.kind, &a.text);
        for o in self
            .outlets
            .iter_mut()
            .filter(|o| o.events.contains(&a.kind))
        {
            while o
                .sent
                .front()
                .is_some_and(|t| now.saturating_sub(*t) >= 60_000)
            {
                o.sent.pop_front();
            }
            if o.sent.len() >= cfg.max_per_minute as usize {
                Metrics::add(&metrics.alerts_dropped_total, 1);
                log::warn!(target: "alerts", channel = o.name, kind = a.kind.as_str();
                    "Alert not sent to {}: over alerts.max_per_minute ({})", o.name, cfg.max_per_minute);
                record.note = Some("over alerts.max_per_minute on a channel");
                continue;
            }
            match o.tx.try_send(text.clone()) {
                Ok(()) => {
                    o.sent.push_back(now);
                    record.sent_to.push(o.name);
                }
                Err(_) => {
                    Metrics::add(&metrics.alerts_dropped_total, 1);
                    log::warn!(target: "alerts", channel = o.name; "Alert not sent to {}: its queue is full (the channel is slow or down)", o.name);
                    record.note = Some("a channel's queue was full");
                }
            }
        }
        self.day.push(record);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU32;

    struct Flaky {
        fail_first: u32,
        calls: Arc<AtomicU32>,
    }

    impl AlertChannel for Flaky {
        fn name(&self) -> &'static str {
            "flaky"
        }
        fn send(&self, _: &str) -> Result<(), String> {
            let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
            if n <= self.fail_first {
                Err(format!("down (call {n})"))
            } else {
                Ok(())
            }
        }
    }

    #[test]
    fn a_failed_send_is_retried_and_gives_up_after_the_retries() {
        let calls = Arc::new(AtomicU32::new(0));
        let stop = AtomicBool::new(false);
        let c = Flaky {
            fail_first: 2,
            calls: calls.clone(),
        };
        assert_eq!(deliver(&c, "x", 3, Duration::from_millis(1), &stop), Ok(3));
        let c = Flaky {
            fail_first: 10,
            calls: Arc::new(AtomicU32::new(0)),
        };
        assert_eq!(
            deliver(&c, "x", 2, Duration::from_millis(1), &stop),
            Err("down (call 3)".to_string())
        );
    }

    struct Recorder(Arc<Mutex<Vec<String>>>);

    impl AlertChannel for Recorder {
        fn name(&self) -> &'static str {
            "recorder"
        }
        fn send(&self, text: &str) -> Result<(), String> {
            self.0.lock().unwrap().push(text.to_string());
            Ok(())
        }
    }

    #[test]
    fn repeats_are_sent_once_filters_apply_and_the_rate_is_capped() {
        let got = Arc::new(Mutex::new(Vec::new()));
        let cfg = AlertsConfig {
            enabled: true,
            max_per_minute: 3,
            ..AlertsConfig::default()
        };
        let (tx, rx) = crossbeam_channel::bounded(16);
        let metrics = Arc::new(Metrics::default());
        let channel = Configured {
            channel: Box::new(Recorder(got.clone())),
            events: vec![AlertKind::KillSwitch, AlertKind::OrderRejected],
        };
        let (day, threads) = spawn(rx, vec![channel], &cfg, metrics.clone()).unwrap();
        let at = |kind, text: &str, ms| Alert {
            kind,
            text: text.into(),
            unix_ms: 1_764_000_000_000 + ms,
        };
        tx.send(at(AlertKind::KillSwitch, "flat", 0)).unwrap();
        tx.send(at(AlertKind::KillSwitch, "flat", 10)).unwrap(); // a repeat
        tx.send(at(AlertKind::PositionOpened, "RELIANCE", 20))
            .unwrap(); // not this channel's
        for (i, s) in ["a", "b", "c"].iter().enumerate() {
            tx.send(at(AlertKind::OrderRejected, s, 30 + i as u64))
                .unwrap();
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while day.json()["count"] != 6 || got.lock().unwrap().len() < 3 {
            assert!(std::time::Instant::now() < deadline, "{}", day.json());
            std::thread::sleep(Duration::from_millis(10));
        }
        std::thread::sleep(Duration::from_millis(300));
        let drained = threads.finish(Duration::from_secs(5));
        assert_eq!(drained.still_sending, 0, "{drained:?}");
        let sent = got.lock().unwrap().clone();
        assert_eq!(
            sent,
            vec![
                "aitrapp [KILL_SWITCH] flat",
                "aitrapp [ORDER_REJECTED] a",
                "aitrapp [ORDER_REJECTED] b"
            ]
        );
        assert_eq!(Metrics::get(&metrics.alerts_deduplicated_total), 1);
        assert_eq!(
            Metrics::get(&metrics.alerts_dropped_total),
            1,
            "the 4th in a minute"
        );
        let listed = day.json();
        assert_eq!(listed["alerts"][2]["kind"], "POSITION_OPENED", "{listed}");
        assert_eq!(listed["alerts"][2]["sent_to"], serde_json::json!([]));
    }

    /// A channel that takes `each` per send and records what it was sent.
    struct Slow {
        each: Duration,
        got: Arc<Mutex<Vec<String>>>,
    }

    impl AlertChannel for Slow {
        fn name(&self) -> &'static str {
            "slow"
        }
        fn send(&self, text: &str) -> Result<(), String> {
            std::thread::sleep(self.each);
            self.got.lock().unwrap().push(text.to_string());
            Ok(())
        }
    }

    fn slow_run(each: Duration, n: usize) -> (Arc<Mutex<Vec<String>>>, AlertThreads, Arc<Metrics>) {
        let got = Arc::new(Mutex::new(Vec::new()));
        let cfg = AlertsConfig {
            enabled: true,
            ..AlertsConfig::default()
        };
        let (tx, rx) = crossbeam_channel::bounded(16);
        let metrics = Arc::new(Metrics::default());
        let channel = Configured {
            channel: Box::new(Slow {
                each,
                got: got.clone(),
            }),
            events: vec![AlertKind::PositionClosed],
        };
        let (_, threads) = spawn(rx, vec![channel], &cfg, metrics.clone()).unwrap();
        for i in 0..n {
            tx.send(Alert {
                kind: AlertKind::PositionClosed,
                text: format!("close {i}"),
                unix_ms: 1_764_000_000_000 + i as u64,
            })
            .unwrap();
        }
        (got, threads, metrics)
    }

    #[test]
    fn finishing_sends_every_alert_still_queued_before_the_threads_end() {
        // Raised just before the shutdown: still in the alert thread's queue or a worker's.
        let (got, threads, _) = slow_run(Duration::from_millis(150), 5);
        let drained = threads.finish(Duration::from_secs(10));
        assert_eq!(
            drained,
            Drained {
                sent: 5,
                not_sent: 0,
                still_sending: 0
            }
        );
        let got = got.lock().unwrap();
        assert_eq!(got.len(), 5, "{got:?}");
        assert_eq!(got[4], "aitrapp [POSITION_CLOSED] close 4");
    }

    #[test]
    fn a_hanging_channel_holds_the_finish_only_for_its_bound_and_what_is_left_is_counted() {
        // Each send hangs for 1.5 s (as a channel that never answers does until
        // alerts.timeout_ms); the drain may take 0.5 s.
        let (got, threads, metrics) = slow_run(Duration::from_millis(1500), 3);
        let t0 = Instant::now();
        let drained = threads.finish(Duration::from_millis(500));
        let took = t0.elapsed();
        assert!(took < Duration::from_millis(1400), "finish took {took:?}");
        assert_eq!(
            drained,
            Drained {
                sent: 0,
                not_sent: 0,
                still_sending: 1
            }
        );
        // The send in progress ends on its own; the two behind it are dropped and counted.
        let deadline = Instant::now() + Duration::from_secs(10);
        while Metrics::get(&metrics.alerts_failed_total) < 2 {
            assert!(Instant::now() < deadline, "the two left were never counted");
            std::thread::sleep(Duration::from_millis(10));
        }
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(got.lock().unwrap().len(), 1);
        assert_eq!(Metrics::get(&metrics.alerts_failed_total), 2);
        assert_eq!(Metrics::get(&metrics.alerts_sent_total), 1);
    }
}
