//! A PAPER session on the Kite feed going LIVE by POST /mode: the checks a LIVE start makes
//! (the config as LIVE validates it, the holiday file covers today, the journal is written,
//! the Kite session is valid, Kite's book is flat as the desk is), then the router and the
//! running reconciliation, left in the handoff the order stage takes them from.

use super::kite::{self as live, LiveOrderPath, ReconcilerEnds};
use super::*;
use crate::control::http::LiveSwitch;
use crate::exec::kite::broker_book::read_broker_book;
use crate::exec::mode::{LiveBroker, LiveHandoff};
use std::sync::Mutex;
use std::thread::JoinHandle;

/// What the switch is built from.
pub(super) struct LiveSwitchParts {
    pub cfg: AppConfig,
    pub base: PathBuf,
    pub secrets: Secrets,
    pub limiter: Arc<RateLimiter>,
    pub inbox: crossbeam_channel::Sender<InboxMsg>,
    /// The ticker's order updates (the router's tracker reads them once LIVE).
    pub updates: Receiver<KiteOrder>,
    pub stop: Arc<AtomicBool>,
    pub metrics: Arc<Metrics>,
    pub master: Arc<InstrumentMaster>,
    pub calendar: SessionCalendar,
    pub handoff: LiveHandoff,
    /// Threads it starts, joined at the end of the run.
    pub threads: Arc<Mutex<Vec<JoinHandle<()>>>>,
    pub reconciler: Option<ReconcilerEnds>,
}

pub(super) fn live_switch(p: LiveSwitchParts) -> LiveSwitch {
    let built: Mutex<Option<LiveOrderPath>> = Mutex::new(None);
    let reconciler = Mutex::new(p.reconciler);
    Arc::new(move || {
        let mut live_cfg = p.cfg.clone();
        live_cfg.mode = Mode::Live;
        let mut problems = Vec::new();
        crate::config::validate(&live_cfg, &mut problems);
        if let Some(pr) = problems.first() {
            return Err(format!(
                "the config does not pass LIVE's checks: {}: {}",
                pr.path, pr.message
            ));
        }
        refuse_uncovered_year(&live_cfg, &p.calendar, today_ist()).map_err(|e| e.to_string())?;
        state::probe_journal_dir(&live_cfg, &p.base).map_err(|e| e.to_string())?;
        if Metrics::get(&p.metrics.journal_enabled) != 1 {
            return Err(
                "this session writes no journal, and LIVE does not trade without one".into(),
            );
        }
        let mut slot = built
            .lock()
            .map_err(|_| "the switch panicked before".to_string())?;
        // Session check, circuit limits, io workers and tracker; kept for a retry.
        let path = match slot.take() {
            Some(path) => path,
            None => live::kite_router(
                &live_cfg,
                &p.base,
                &p.secrets,
                p.limiter.clone(),
                p.inbox.clone(),
                p.updates.clone(),
                p.stop.clone(),
                p.metrics.clone(),
                &p.master,
            )
            .map_err(|e| e.to_string())?,
        };
        let flat = read_broker_book(&path.rest, &p.master)
            .map_err(|e| format!("Kite's orders and positions could not be read ({e})"))
            .and_then(|(book, _)| {
                let positions = book.positions.iter().filter(|x| x.qty != 0).count();
                let orders = book.orders.iter().filter(|o| o.is_working()).count();
                if positions + orders == 0 {
                    return Ok(());
                }
                Err(format!(
                    "Kite's account holds {positions} open position(s) and {orders} working order(s) while the desk is flat: square them off at Kite first, or start in LIVE to reconcile them"
                ))
            });
        if let Err(why) = flat {
            *slot = Some(path);
            return Err(why);
        }
        let mut threads = p
            .threads
            .lock()
            .map_err(|_| "thread list poisoned".to_string())?;
        if let Some(ends) = reconciler.lock().ok().and_then(|mut r| r.take()) {
            let t = live::start_reconciler(
                &live_cfg,
                &path,
                p.master.clone(),
                p.inbox.clone(),
                p.stop.clone(),
                ends,
            )
            .map_err(|e| e.to_string())?;
            threads.push(t);
        }
        p.metrics.reconcile_done.store(1, Ordering::Relaxed);
        let bands = path.bands.iter().filter(|b| b.is_some()).count();
        let e = &live_cfg.execution;
        let mut h = p
            .handoff
            .lock()
            .map_err(|_| "handoff poisoned".to_string())?;
        *h = Some(LiveBroker {
            router: path.router,
            product: e.product.clone(),
            market_protection: e.market_protection,
            algo_id: (!e.exchange_algo_id.is_empty()).then(|| e.exchange_algo_id.clone()),
            bands: path.bands,
        });
        threads.extend(path.threads);
        Ok(format!(
            "config valid for LIVE, journal writable, Kite session valid, Kite's book flat, circuit limits for {bands} instruments"
        ))
    })
}

/// The config with today's journaled mode, when that differs from the configured one.
pub(super) fn journaled_config(
    cfg: &AppConfig,
    base: &Path,
    secrets: &Secrets,
) -> Option<AppConfig> {
    let m = journaled_mode_today(cfg, base, secrets).filter(|&m| m != cfg.mode)?;
    log::warn!(target: "app", configured = cfg.mode.as_str(), journaled = m.as_str();
        "Mode {} from today's journal (switched by POST /mode), not the configured {}", m.as_str(), cfg.mode.as_str());
    let mut c = cfg.clone();
    c.mode = m;
    Some(c)
}

/// The mode today's journal last recorded, when the session trades on the Kite feed (the
/// only feed LIVE runs on): a restart after POST /mode carries on where orders went.
fn journaled_mode_today(cfg: &AppConfig, base: &Path, secrets: &Secrets) -> Option<Mode> {
    if feed_source(cfg, secrets) != FeedSource::Kite || !cfg.journal.enabled {
        return None;
    }
    let dir = resolve_path(base, &cfg.journal.dir);
    let path = crate::journal::day_path(&dir, today_ist().0);
    let records = crate::journal::read_day_file(&path).ok()?;
    let live = crate::risk::recovery::journaled_mode(
        records.iter().map(|r| (r.kind, r.payload.as_slice())),
    )?;
    Some(if live { Mode::Live } else { Mode::Paper })
}
