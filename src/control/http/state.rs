//! The control API's views of the state under the desk: the journaled trades of a day
//! (`GET /trades`), the journal's fsync for a backup (`POST /journal/sync`), the snapshot's
//! views with LIVE reconciliation as `/state` shows it, and the connection threads' shortcut
//! to them.

use super::{ControlApi, Reply};
use crate::control::server::{Head, Response, Shortcut};
use crate::telemetry::journal::SyncRequest;
use crate::telemetry::snapshot::{self, SnapshotBody, SnapshotReader};
use crate::telemetry::Metrics;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

impl ControlApi {
    /// `GET /trades?date=YYYY-MM-DD` (default the session's day): that day's trades from the
    /// journal, as `aitrapp export` writes them.
    pub(super) fn trades(&self, query: &str) -> Reply {
        let date = query
            .split('&')
            .find_map(|kv| kv.strip_prefix("date="))
            .filter(|d| !d.is_empty());
        let day = match date {
            None => None,
            Some(d) => match crate::domain::Date::parse(d) {
                Some(day) => Some(day),
                None => {
                    return (
                        400,
                        json!({"error": format!("date must be YYYY-MM-DD (got `{d}`)")}),
                    )
                }
            },
        };
        match &self.trades {
            None => (
                503,
                json!({"error": "no journal: trades are not kept in this session"}),
            ),
            Some(source) => match source(day) {
                Ok(v) => (200, v),
                Err(e) => (500, json!({"error": e})),
            },
        }
    }

    /// Everything journaled so far written and fsynced: the file and its length then. A
    /// backup copies exactly that many bytes, so it never holds a half-written record.
    pub(super) fn journal_sync(&self) -> Reply {
        let Some((tx, file)) = &self.journal_sync else {
            return (
                503,
                json!({"error": "no journal in this session: nothing to back up from the engine"}),
            );
        };
        let (reply_tx, reply_rx) = crossbeam_channel::bounded(1);
        if tx
            .send_timeout(SyncRequest(reply_tx), Duration::from_secs(5))
            .is_err()
        {
            return (
                503,
                json!({"error": "the journal thread is not taking requests"}),
            );
        }
        match reply_rx.recv_timeout(Duration::from_secs(10)) {
            Ok(bytes) => (200, json!({"file": file, "bytes": bytes})),
            Err(_) => (
                504,
                json!({"error": "the journal thread did not sync within 10 s"}),
            ),
        }
    }
}

/// LIVE reconciliation with Kite as the metrics have it: drift pauses entries.
fn reconciliation(m: &Metrics) -> serde_json::Value {
    let drift = Metrics::get(&m.reconcile_drift_instruments);
    json!({
        "done": Metrics::get(&m.reconcile_done) == 1,
        "runs": Metrics::get(&m.reconcile_runs_total),
        "drift_instruments": drift,
        "drift": drift > 0,
        "foreign_positions": Metrics::get(&m.reconcile_foreign_positions),
        "foreign_exposure": Metrics::get(&m.foreign_exposure_paise) as i64 as f64 / 100.0,
        "fills_applied": Metrics::get(&m.reconcile_fills_applied_total),
        "orders_adopted": Metrics::get(&m.reconcile_adopted_total),
    })
}

/// The snapshot's view at `path` (`/state` with reconciliation), None for any other path.
pub(super) fn snapshot_view(
    path: &str,
    b: &SnapshotBody,
    m: &Metrics,
) -> Option<serde_json::Value> {
    let view = snapshot::json_view(path)?;
    let mut v = view(b);
    if path == "/state" {
        v["reconciliation"] = reconciliation(m);
    }
    Some(v)
}

/// `GET /metrics`: Prometheus' text exposition format.
pub(super) fn metrics_page(m: &Metrics) -> Response {
    let mut body = String::with_capacity(32 * 1024);
    m.render(&mut body);
    Response::new(200, "text/plain; version=0.0.4", body)
}

/// The reads a connection thread answers itself: the snapshot's views and /metrics. They
/// need only the snapshot's mapping and the metrics' atomics, so a dashboard or a monitor
/// polling them costs no hand-off to the serving thread and never waits behind a flatten.
pub fn shortcut(reader: SnapshotReader, metrics: Arc<Metrics>) -> Shortcut {
    Arc::new(move |head: &Head| {
        let path = super::request::endpoint(&head.target);
        if path == "/metrics" {
            return Some(metrics_page(&metrics));
        }
        snapshot::json_view(path)?;
        Some(match reader.read() {
            Ok(b) => {
                let v = snapshot_view(path, &b, &metrics)?;
                Response::json(200, &v)
            }
            Err(e) => Response::json(503, &json!({"error": format!("state unavailable: {e}")})),
        })
    })
}
