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
use crossbeam_channel::{Receiver, Sender};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

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
/// gives up early when `stop` is set. The error is the last attempt's.
pub fn deliver(
    channel: &dyn AlertChannel,
    text: &str,
    retries: u32,
    backoff: Duration,
    stop: &AtomicBool,
) -> Result<u32, String> {
    let mut wait = backoff;
    let mut attempt = 1;
    loop {
        match channel.send(text) {
            Ok(()) => return Ok(attempt),
            Err(e) if attempt > retries || stop.load(Ordering::Relaxed) => return Err(e),
            Err(_) => {
                std::thread::sleep(wait);
                wait = wait.saturating_mul(2).min(Duration::from_secs(60));
                attempt += 1;
            }
        }
    }
}

fn worker(
    channel: Box<dyn AlertChannel>,
    rx: Receiver<String>,
    cfg: AlertsConfig,
    metrics: Arc<Metrics>,
    stop: Arc<AtomicBool>,
) {
    let name = channel.name();
    let backoff = Duration::from_millis(cfg.retry_backoff_ms);
    while !stop.load(Ordering::Relaxed) {
        let Ok(text) = rx.recv_timeout(Duration::from_millis(200)) else {
            continue;
        };
        match deliver(channel.as_ref(), &text, cfg.retries, backoff, &stop) {
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

/// Starts the alert thread and one worker per channel (none when `cfg.enabled` is off:
/// alerts are then only listed).
pub fn spawn(
    rx: Receiver<Alert>,
    channels: Vec<Configured>,
    cfg: &AlertsConfig,
    metrics: Arc<Metrics>,
    stop: Arc<AtomicBool>,
) -> std::io::Result<(DayAlerts, Vec<JoinHandle<()>>)> {
    let day = DayAlerts::default();
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
        let (cfg, metrics, stop) = (cfg.clone(), metrics.clone(), stop.clone());
        threads.push(
            std::thread::Builder::new()
                .name(format!("aitrapp-alert-{}", c.channel.name()))
                .spawn(move || worker(c.channel, wrx, cfg, metrics, stop))?,
        );
    }
    let (list, cfg) = (day.clone(), cfg.clone());
    threads.push(
        std::thread::Builder::new()
            .name("aitrapp-alerts".into())
            .spawn(move || route(rx, outlets, list, cfg, metrics, stop))?,
    );
    Ok((day, threads))
}

fn route(
    rx: Receiver<Alert>,
    mut outlets: Vec<Outlet>,
    day: DayAlerts,
    cfg: AlertsConfig,
    metrics: Arc<Metrics>,
    stop: Arc<AtomicBool>,
) {
    let window_ms = cfg.dedupe_window_s * 1000;
    let mut seen: HashMap<(AlertKind, String), u64> = HashMap::new();
    while !stop.load(Ordering::Relaxed) {
        let Ok(a) = rx.recv_timeout(Duration::from_millis(200)) else {
            continue;
        };
        let now = a.unix_ms;
        seen.retain(|_, at| now.saturating_sub(*at) < window_ms);
        let key = (a.kind, a.text.clone());
        let mut record = AlertRecord {
            time: crate::clock::ist_time_of_day((now / 1000) as i64).to_string(),
            unix_ms: now,
            kind: a.kind.as_str(),
            text: a.text.clone(),
            sent_to: Vec::new(),
            note: None,
        };
        if seen.contains_key(&key) {
            Metrics::add(&metrics.alerts_deduplicated_total, 1);
            record.note = Some("repeat within alerts.dedupe_window_s: not sent again");
            day.push(record);
            continue;
        }
        seen.insert(key, now);
        let text = message(a.kind, &a.text);
        for o in outlets.iter_mut().filter(|o| o.events.contains(&a.kind)) {
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
        day.push(record);
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
        let stop = Arc::new(AtomicBool::new(false));
        let channel = Configured {
            channel: Box::new(Recorder(got.clone())),
            events: vec![AlertKind::KillSwitch, AlertKind::OrderRejected],
        };
        let (day, threads) = spawn(rx, vec![channel], &cfg, metrics.clone(), stop.clone()).unwrap();
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
        stop.store(true, Ordering::SeqCst);
        for t in threads {
            t.join().unwrap();
        }
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
}
