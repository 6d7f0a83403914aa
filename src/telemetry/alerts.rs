//! Operator alerts as any thread raises them: a kind the channels filter on and one line
//! of text. `raise` never blocks: it puts the alert on a bounded queue the alert thread
//! (control::alerts) drains, and a full queue drops the alert and counts it. Before the
//! queue is installed (tools, tests) alerts go nowhere.

use crossbeam_channel::{Receiver, Sender};
use std::sync::OnceLock;

/// What happened, in the runbook's names (the channels' `events:` filters).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AlertKind {
    PositionOpened,
    PositionClosed,
    StopHit,
    DailyLossStop,
    KillSwitch,
    FeedDown,
    TokenExpired,
    ReconcileDrift,
    OrderRejected,
    /// `aitrapp alert-test`.
    Test,
}

impl AlertKind {
    pub const ALL: [AlertKind; 10] = [
        AlertKind::PositionOpened,
        AlertKind::PositionClosed,
        AlertKind::StopHit,
        AlertKind::DailyLossStop,
        AlertKind::KillSwitch,
        AlertKind::FeedDown,
        AlertKind::TokenExpired,
        AlertKind::ReconcileDrift,
        AlertKind::OrderRejected,
        AlertKind::Test,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::PositionOpened => "POSITION_OPENED",
            AlertKind::PositionClosed => "POSITION_CLOSED",
            AlertKind::StopHit => "STOP_HIT",
            AlertKind::DailyLossStop => "DAILY_LOSS_STOP",
            AlertKind::KillSwitch => "KILL_SWITCH",
            AlertKind::FeedDown => "FEED_DOWN",
            AlertKind::TokenExpired => "TOKEN_EXPIRED",
            AlertKind::ReconcileDrift => "RECONCILE_DRIFT",
            AlertKind::OrderRejected => "ORDER_REJECTED",
            AlertKind::Test => "TEST",
        }
    }

    pub fn parse(s: &str) -> Option<AlertKind> {
        AlertKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Alert {
    pub kind: AlertKind,
    pub text: String,
    pub unix_ms: u64,
}

struct Queue {
    tx: Sender<Alert>,
    metrics: std::sync::Arc<crate::telemetry::Metrics>,
}

static QUEUE: OnceLock<Queue> = OnceLock::new();

/// Installs the process's alert queue (once); the receiver goes to the alert thread.
pub fn install(
    capacity: usize,
    metrics: std::sync::Arc<crate::telemetry::Metrics>,
) -> Option<Receiver<Alert>> {
    let (tx, rx) = crossbeam_channel::bounded(capacity.max(1));
    QUEUE.set(Queue { tx, metrics }).ok().map(|_| rx)
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Hands an alert to the alert thread without waiting.
pub fn raise(kind: AlertKind, text: impl Into<String>) {
    let Some(q) = QUEUE.get() else {
        return;
    };
    let alert = Alert {
        kind,
        text: text.into(),
        unix_ms: now_ms(),
    };
    crate::telemetry::Metrics::add(&q.metrics.alerts_raised_total, 1);
    if q.tx.try_send(alert).is_err() {
        crate::telemetry::Metrics::add(&q.metrics.alerts_dropped_total, 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_parses_back_from_its_name() {
        for k in AlertKind::ALL {
            assert_eq!(AlertKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(AlertKind::parse("position_opened"), None);
        // The config accepts exactly the kinds a channel can be sent.
        let names: Vec<String> = AlertKind::ALL[..9]
            .iter()
            .map(|k| k.as_str().to_string())
            .collect();
        assert_eq!(crate::config::operator::all_events(), names);
    }
}
