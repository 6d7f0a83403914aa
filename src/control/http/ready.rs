//! `GET /ready`: 200 when the engine can trade, else 503 with every reason it cannot: the
//! state not yet published, the market feed down or stale (no tick for
//! `monitoring.feed_stale_s` while the market is open), the journal failing its writes,
//! Kite refusing the access token, or (LIVE) the start's reconciliation with Kite not done.

use crate::telemetry::snapshot::SnapshotBody;
use crate::telemetry::Metrics;
use std::time::{Duration, Instant};

/// What /ready needs to remember between looks: when ticks last moved and whether the
/// journal's last writes failed. The control loop looks at least once a second.
#[derive(Clone, Copy, Debug)]
pub struct ReadyWatch {
    stale_after: Duration,
    ticks: u64,
    ticks_moved: Instant,
    journal_errors: u64,
    journal_bytes: u64,
    journal_failing: bool,
}

impl ReadyWatch {
    pub fn new(stale_after: Duration, now: Instant) -> ReadyWatch {
        ReadyWatch {
            stale_after,
            ticks: 0,
            ticks_moved: now,
            journal_errors: 0,
            journal_bytes: 0,
            journal_failing: false,
        }
    }

    pub fn observe(&mut self, m: &Metrics, now: Instant) {
        let ticks = Metrics::get(&m.feed_ticks_total);
        if ticks != self.ticks {
            self.ticks = ticks;
            self.ticks_moved = now;
        }
        let (errors, bytes) = (
            Metrics::get(&m.journal_write_errors_total),
            Metrics::get(&m.journal_bytes_total),
        );
        if errors != self.journal_errors {
            self.journal_failing = true;
        } else if bytes != self.journal_bytes {
            // Writes land again with no new error.
            self.journal_failing = false;
        }
        (self.journal_errors, self.journal_bytes) = (errors, bytes);
    }

    /// Why the market feed cannot be traded on, if it cannot: not connected, or connected
    /// with no tick for `stale_after` while the market is open.
    pub fn feed_problem(&self, b: &SnapshotBody, now: Instant) -> Option<String> {
        let quiet = now.saturating_duration_since(self.ticks_moved);
        if b.feed_connected != 1 {
            Some("the market feed is not connected".to_string())
        } else if b.market_open == 1 && quiet > self.stale_after {
            Some(format!(
                "the market feed is stale: no tick for {} s while the market is open (monitoring.feed_stale_s {})",
                quiet.as_secs(),
                self.stale_after.as_secs()
            ))
        } else {
            None
        }
    }

    /// Every reason the engine is not ready (empty: ready).
    pub fn reasons(&self, b: &SnapshotBody, m: &Metrics, live: bool, now: Instant) -> Vec<String> {
        let mut out = Vec::new();
        if b.published_unix_ms == 0 {
            out.push("the engine has not published its state yet".to_string());
        }
        out.extend(self.feed_problem(b, now));
        if self.journal_failing {
            out.push(
                "the journal cannot be written (aitrapp_journal_write_errors_total): state changes may not survive a crash"
                    .to_string(),
            );
        }
        if Metrics::get(&m.kite_token_refused_total) > 0 {
            out.push("Kite refused the access token: run `aitrapp login` and restart".to_string());
        }
        if live && Metrics::get(&m.reconcile_done) == 0 {
            out.push("reconciliation with Kite has not finished".to_string());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering::Relaxed;

    fn open_market() -> SnapshotBody {
        SnapshotBody {
            published_unix_ms: 1,
            feed_connected: 1,
            market_open: 1,
            ..SnapshotBody::default()
        }
    }

    #[test]
    fn a_stalled_feed_is_not_ready_until_ticks_move_again() {
        let t0 = Instant::now();
        let m = Metrics::default();
        let mut w = ReadyWatch::new(Duration::from_secs(10), t0);
        let b = open_market();
        m.feed_ticks_total.store(5, Relaxed);
        w.observe(&m, t0);
        assert!(w
            .reasons(&b, &m, false, t0 + Duration::from_secs(9))
            .is_empty());
        let at = t0 + Duration::from_secs(11);
        w.observe(&m, at);
        let r = w.reasons(&b, &m, false, at);
        assert_eq!(r.len(), 1, "{r:?}");
        assert!(r[0].contains("no tick for 11 s"), "{r:?}");
        // Outside market hours silence is normal.
        let closed = SnapshotBody {
            market_open: 0,
            ..b
        };
        assert!(w.reasons(&closed, &m, false, at).is_empty());
        // Healed.
        m.feed_ticks_total.store(6, Relaxed);
        w.observe(&m, at);
        assert!(w.reasons(&b, &m, false, at).is_empty());
    }

    #[test]
    fn journal_errors_token_refusals_and_live_reconciliation_are_reasons() {
        let t0 = Instant::now();
        let m = Metrics::default();
        let mut w = ReadyWatch::new(Duration::from_secs(10), t0);
        let b = open_market();
        m.journal_write_errors_total.store(1, Relaxed);
        w.observe(&m, t0);
        m.kite_token_refused_total.store(1, Relaxed);
        let r = w.reasons(&b, &m, true, t0);
        assert_eq!(r.len(), 3, "{r:?}");
        assert!(
            r[0].contains("journal") && r[1].contains("login") && r[2].contains("reconciliation")
        );
        // The journal writes again and reconciliation finishes; the token stays refused.
        m.journal_bytes_total.store(100, Relaxed);
        w.observe(&m, t0);
        m.reconcile_done.store(1, Relaxed);
        let r = w.reasons(&b, &m, true, t0);
        assert_eq!(r.len(), 1, "{r:?}");
        // And a feed that never connected says so.
        let down = SnapshotBody {
            feed_connected: 0,
            published_unix_ms: 0,
            ..b
        };
        assert_eq!(w.reasons(&down, &m, false, t0).len(), 3);
    }
}
