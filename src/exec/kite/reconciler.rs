//! The running reconciliation (LIVE): every `kite.reconcile_interval_s` a thread reads the
//! account's book at Kite, hands it to the risk stage (the book through its channel, a
//! `ControlCommand::Reconcile` through the inbox, so the desk is matched between two events
//! and never under one), waits for the report, logs it, and tracks any order reconciliation
//! adopted. The look before the first order is made by the start itself, with the same
//! reading and the same report.

use super::broker_book::read_broker_book;
use super::rest::KiteRest;
use super::router::KiteRouter;
use crate::domain::{
    format_rupees, BrokerBook, ControlCommand, InboxMsg, InstrumentMaster, ReconcileReport,
};
use crossbeam_channel::{Receiver, Sender};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub struct Reconciler {
    pub rest: Arc<KiteRest>,
    pub master: Arc<InstrumentMaster>,
    pub router: KiteRouter,
    pub inbox: Sender<InboxMsg>,
    pub books: Sender<BrokerBook>,
    pub reports: Receiver<ReconcileReport>,
    pub every: Duration,
}

impl Reconciler {
    pub fn spawn(self, stop: Arc<AtomicBool>) -> std::io::Result<JoinHandle<()>> {
        std::thread::Builder::new()
            .name("aitrapp-reconcile".into())
            .spawn(move || {
                let mut last = Instant::now();
                let mut foreign = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(100));
                    if last.elapsed() < self.every {
                        continue;
                    }
                    last = Instant::now();
                    self.look(&mut foreign);
                }
            })
    }

    /// One look; `foreign`: the foreign positions last reported (each is warned about when
    /// it appears or changes, not on every look).
    fn look(&self, foreign: &mut Vec<(u32, i64)>) {
        let (book, _) = match read_broker_book(&self.rest, &self.master) {
            Ok(b) => b,
            Err(e) => {
                log::warn!(target: "reconcile", error = e.to_string().as_str();
                    "Reconciliation skipped: Kite's book could not be read ({e}); trying again in {} s", self.every.as_secs());
                return;
            }
        };
        while self.reports.try_recv().is_ok() {}
        if self.books.try_send(book.clone()).is_err()
            || self
                .inbox
                .send_timeout(
                    InboxMsg::Control(ControlCommand::Reconcile),
                    Duration::from_secs(2),
                )
                .is_err()
        {
            return;
        }
        match self.reports.recv_timeout(Duration::from_secs(10)) {
            Ok(report) => {
                track_adopted(&self.router, &self.master, &report, &book);
                let now: Vec<(u32, i64)> =
                    report.foreign.iter().map(|f| (f.token.0, f.qty)).collect();
                log_report(&report, false, now != *foreign);
                *foreign = now;
            }
            Err(_) => log::warn!(target: "reconcile",
                "Reconciliation: the risk stage did not answer within 10 s"),
        }
    }
}

/// Orders reconciliation adopted that still work at Kite: the router follows them from now.
pub fn track_adopted(
    router: &KiteRouter,
    master: &InstrumentMaster,
    report: &ReconcileReport,
    book: &BrokerBook,
) {
    for id in &report.adopted_working {
        if let Some(o) = book.order_by_tag(*id) {
            if let Some(idx) = master.index_of(o.token) {
                router.track(*id, master.by_index(idx).divisor(), o);
            }
        }
    }
}

/// The report as one line with its counts (a warning when something needed doing, an
/// ALERT on drift), and each item at debug level.
pub fn log_report(r: &ReconcileReport, first: bool, foreign_changed: bool) {
    let when = if first {
        "before the first order"
    } else {
        "running"
    };
    for d in &r.details {
        log::debug!(target: "reconcile", "Reconciliation detail: {d}");
    }
    for f in r.foreign.iter().filter(|_| foreign_changed) {
        log::warn!(target: "reconcile", symbol = f.symbol.as_str(), qty = f.qty;
            "Foreign position at Kite: {} {} at {} (no order of ours made it): reported, counted in heat, never traded",
            f.symbol, f.qty, format_rupees(f.avg_price.0, f.divisor));
    }
    let line = format!("Reconciliation with Kite ({when}): {}", r.summary());
    let acted = r.fills_applied + r.orders_settled + r.orders_adopted + r.orders_unsent > 0;
    if !r.drift.is_empty() {
        let names: Vec<&str> = r.drift.iter().map(|(_, s)| s.as_str()).collect();
        log::error!(target: "reconcile", drift = r.drift.len(), fills_applied = r.fills_applied, adopted = r.orders_adopted, foreign = r.foreign.len();
            "ALERT: {line}; DRIFT on {}: entries paused until the broker and the journal agree (details at debug level)", names.join(", "));
        crate::telemetry::alerts::raise(
            crate::telemetry::alerts::AlertKind::ReconcileDrift,
            format!(
                "{line}; drift on {}: entries paused until the broker and the journal agree",
                names.join(", ")
            ),
        );
    } else if acted || foreign_changed {
        log::warn!(target: "reconcile", fills_applied = r.fills_applied, adopted = r.orders_adopted, foreign = r.foreign.len(); "{line}");
    } else {
        log::info!(target: "reconcile", orders = r.orders_checked; "{line}");
    }
}
