//! The day's journal at start: opened (or refused), the desk rebuilt from what an earlier
//! run of the day wrote, the paper broker's working orders put back, the journal thread
//! started; and at the end, the journal closed after the last record.

use super::*;
use crate::journal::{self, FsyncPolicy, JournalError, JournalThread, OpenJournal};
use crate::telemetry::journal::{kind, JournalSink};

/// The journal of a run, once started.
pub struct RunJournal {
    pub thread: JournalThread,
    pub path: PathBuf,
}

/// Opens today's journal. LIVE refuses to start without one; PAPER warns loudly and runs
/// without persistence when the directory cannot be written. Damage refuses both.
pub fn open_journal(
    cfg: &AppConfig,
    base: &Path,
    day: Date,
) -> Result<Option<OpenJournal>, AppError> {
    if !cfg.journal.enabled {
        log::warn!(target: "journal", "journal.enabled is false: positions, orders and P&L live only in memory and a crash forgets them");
        return Ok(None);
    }
    let dir = resolve_path(base, &cfg.journal.dir);
    let now_s = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    match journal::open_day_keeping(&dir, day.0, now_s, cfg.logging.audit_retention_days) {
        Ok(j) => {
            for a in &j.archived {
                log::info!(target: "journal", file = a.display().to_string().as_str();
                    "Journal of an earlier day archived to {}", a.display());
            }
            for p in &j.pruned {
                log::info!(target: "journal", file = p.display().to_string().as_str(), retention_days = cfg.logging.audit_retention_days;
                    "Archived journal {} deleted: older than logging.audit_retention_days ({})", p.display(), cfg.logging.audit_retention_days);
            }
            if j.torn_bytes > 0 {
                log::warn!(target: "journal", file = j.path.display().to_string().as_str(), bytes = j.torn_bytes;
                    "Journal {}: a half-written last record ({} bytes, from a crash mid-write) was cut off", j.path.display(), j.torn_bytes);
            }
            Ok(Some(j))
        }
        Err(e @ JournalError::Damaged { .. }) => Err(startup(e)),
        Err(e) if cfg.mode == Mode::Live => Err(startup(format!(
            "{e}: LIVE does not start without a journal (a crash would forget positions open at the broker)"
        ))),
        Err(e) => {
            log::error!(target: "journal", error = e.to_string().as_str();
                "ALERT: {e}: PAPER runs WITHOUT a journal; nothing of this session survives a crash");
            Ok(None)
        }
    }
}

/// LIVE, before anything touches the network: the journal directory can be written.
pub fn probe_journal_dir(cfg: &AppConfig, base: &Path) -> Result<(), AppError> {
    let dir = resolve_path(base, &cfg.journal.dir);
    let probe = dir.join(".write-probe");
    let ok = std::fs::create_dir_all(&dir)
        .and_then(|_| std::fs::write(&probe, b"ok"))
        .and_then(|_| std::fs::remove_file(&probe));
    ok.map_err(|e| {
        startup(format!(
            "journal directory {}: {e}: LIVE does not start without a journal (a crash would forget positions open at the broker)",
            dir.display()
        ))
    })
}

/// Rebuilds the desk from what an earlier run of the day journaled, and logs what it found.
pub fn rebuild_desk(risk: &mut RiskStage, j: &OpenJournal) -> Result<(), AppError> {
    if j.records.is_empty() {
        log::info!(target: "journal", file = j.path.display().to_string().as_str();
            "Journal {}: a new trading day", j.path.display());
        return Ok(());
    }
    let r = risk
        .restore(
            j.records
                .iter()
                .map(|r| (r.seq, r.kind, r.payload.as_slice())),
        )
        .map_err(|e| startup(format!("journal {}: {e}", j.path.display())))?;
    log::warn!(target: "journal", file = j.path.display().to_string().as_str(), records = r.records,
        open_positions = r.open_positions, working_orders = r.working_orders, trades = r.trades,
        trading_state = risk.state().as_str();
        "Recovered from journal {}: {} records; {} open position(s), {} working order(s), {} trade(s) today, trading {}",
        j.path.display(), r.records, r.open_positions, r.working_orders, r.trades, risk.state().as_str());
    Ok(())
}

/// A rebuilt simulated session: its frames up to where the journal ended replayed into the
/// strategies (indicators, bars, opening ranges), the desk's last prices and the paper
/// broker's books, with no decision made again; the feed then carries on from the next frame.
pub fn catch_up(
    source: &mut dyn FrameSource,
    clock: ClockSource,
    strategy: &mut StrategyStage,
    risk: &mut RiskStage,
    order: &mut OrderStage,
) {
    let frames = risk.frames_done();
    if frames == 0 || !source.lockstep() {
        return;
    }
    let started = std::time::Instant::now();
    let mut ticks = 0u64;
    let done = crate::pipeline::sequencer::fast_forward(source, clock, frames, |slot| {
        strategy.on_slot(slot, &mut |_| {});
        if let Event::Tick(t) = &slot.ev {
            risk.note_last_price(t);
            order.on_slot(slot);
            ticks += 1;
        }
    });
    let resume = source
        .exchange_now()
        .map(|s| crate::clock::ist_time_of_day(s as i64).to_string())
        .unwrap_or_default();
    log::info!(target: "journal", frames = done, ticks = ticks, ms = started.elapsed().as_millis() as u64;
        "Strategies warmed up again from the {} ({done} frames, {ticks} ticks, {} ms): the session resumes at {resume}",
        source.describe(), started.elapsed().as_millis());
    if done < frames {
        log::warn!(target: "journal", frames = frames, replayed = done;
            "The source ended after {done} of the {frames} frames the journal had finished");
    }
}

/// Waits for the run to be stopped or its source to end. A stop with
/// `shutdown.flatten_on_stop` first runs the kill switch and waits (at most
/// `flatten_timeout_s`) for no position and no working order.
pub fn await_stop(
    cfg: &AppConfig,
    stop: &AtomicBool,
    feed: &std::thread::JoinHandle<FeedEnd>,
    metrics: &Metrics,
    inbox: &crossbeam_channel::Sender<InboxMsg>,
) {
    while !stop.load(Ordering::Relaxed) && !feed.is_finished() {
        std::thread::sleep(Duration::from_millis(20));
    }
    let open = || Metrics::get(&metrics.positions_open) + Metrics::get(&metrics.orders_working);
    if feed.is_finished() || !cfg.shutdown.flatten_on_stop || open() == 0 {
        return;
    }
    log::warn!(target: "app", positions = Metrics::get(&metrics.positions_open), orders = Metrics::get(&metrics.orders_working);
        "Stop asked for with {} position(s) and {} working order(s): shutdown.flatten_on_stop runs the kill switch first",
        Metrics::get(&metrics.positions_open), Metrics::get(&metrics.orders_working));
    let _ = inbox.send(InboxMsg::Control(ControlCommand::Flatten { request: 0 }));
    let deadline = std::time::Instant::now() + Duration::from_secs(cfg.shutdown.flatten_timeout_s);
    while open() > 0 && std::time::Instant::now() < deadline && !feed.is_finished() {
        std::thread::sleep(Duration::from_millis(50));
    }
    match open() {
        0 => log::info!(target: "app", "Flat before stopping: no position and no working order"),
        n => log::error!(target: "app", left = n;
            "ALERT: not flat after shutdown.flatten_timeout_s ({} s): stopping with {n} position(s) and working order(s)",
            cfg.shutdown.flatten_timeout_s),
    }
}

/// A stop that leaves positions open says so: a WARNING naming each with the stop the
/// broker holds for it, an alert, and a note in the journal. The next start carries on.
pub fn report_left_open(risk: &RiskStage, mode: Mode) {
    let left = risk.left_open();
    if left.is_empty() {
        return;
    }
    for p in &left {
        let side = if p.qty > 0 { "long" } else { "short" };
        let stop = match p.stop {
            Some((t, trigger, id)) => format!(
                "its protective stop {} {} at trigger {} (tag {}) stays at the broker",
                t.as_str(),
                p.qty.abs(),
                format_rupees(trigger.0, p.divisor),
                id.tag().as_str()
            ),
            None if p.spread_leg => {
                "a spread's leg: no broker stop by design, the bought leg caps the loss".to_string()
            }
            None => "NO protective stop is working at the broker".to_string(),
        };
        let line = format!(
            "Stopping with {} open: {side} {} at {}; {stop}",
            p.symbol,
            p.qty.abs(),
            format_rupees(p.avg.0, p.divisor)
        );
        log::warn!(target: "app", symbol = p.symbol.as_str(), qty = p.qty, mode = mode.as_str(); "{line}");
        risk.journal_note(&line);
    }
    log::error!(target: "app", positions = left.len(), mode = mode.as_str();
        "ALERT: {} position(s) left open at the broker ({}): the next start adopts them; set shutdown.flatten_on_stop to flatten first",
        left.len(), mode.as_str());
}

/// Free bytes for an unprivileged writer on the filesystem holding `path`.
pub fn free_bytes(path: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    let mut s: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a NUL-terminated path and `s` a writable statvfs for the call.
    (unsafe { libc::statvfs(c.as_ptr(), &mut s) } == 0)
        .then(|| s.f_bavail as u64 * s.f_frsize as u64)
}

/// Watches the journal's disk every `monitoring.disk_check_interval_s`: below
/// `min_free_disk_gb` it raises an ALERT and pauses new entries (once per fall; exits still
/// run and the journal keeps writing), and says when the space is back.
pub fn spawn_disk_watch(
    cfg: &AppConfig,
    base: &Path,
    metrics: Arc<Metrics>,
    inbox: crossbeam_channel::Sender<InboxMsg>,
    stop: Arc<AtomicBool>,
) -> std::io::Result<Option<std::thread::JoinHandle<()>>> {
    let m = &cfg.monitoring;
    if m.min_free_disk_gb <= 0.0 {
        return Ok(None);
    }
    let dir = resolve_path(base, &cfg.journal.dir);
    let min = (m.min_free_disk_gb * 1e9) as u64;
    let every = Duration::from_secs(m.disk_check_interval_s.max(1));
    let gb = m.min_free_disk_gb;
    std::thread::Builder::new()
        .name("aitrapp-disk".into())
        .spawn(move || {
            let mut low = false;
            let mut next = std::time::Instant::now();
            while !stop.load(Ordering::Relaxed) {
                if std::time::Instant::now() >= next {
                    next += every;
                    let at = if dir.exists() { dir.as_path() } else { Path::new(".") };
                    if let Some(free) = free_bytes(at) {
                        metrics.free_disk_bytes.store(free, Ordering::Relaxed);
                        let free_gb = free as f64 / 1e9;
                        if free < min && !low {
                            low = true;
                            log::error!(target: "app", free_gb = free_gb, min_gb = gb, dir = dir.display().to_string().as_str();
                                "ALERT: free disk {free_gb:.1} GB on the journal's filesystem ({}) is below monitoring.min_free_disk_gb ({gb} GB): new entries paused", dir.display());
                            let _ = inbox.send_timeout(
                                InboxMsg::Control(ControlCommand::HaltEntries {
                                    reason: HaltReason::DiskLow,
                                }),
                                Duration::from_secs(2),
                            );
                        } else if free >= min && low {
                            low = false;
                            log::warn!(target: "app", free_gb = free_gb;
                                "Free disk back to {free_gb:.1} GB: entries stay paused until POST /resume");
                        }
                    }
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        })
        .map(Some)
}

/// Starts the journal thread on the opened file and journals this run's start.
pub fn start_journal(
    cfg: &AppConfig,
    j: OpenJournal,
    rx: crossbeam_channel::Receiver<crate::telemetry::journal::JournalEntry>,
    sink: &JournalSink,
    metrics: Arc<Metrics>,
) -> Result<RunJournal, AppError> {
    let policy = FsyncPolicy::parse(&cfg.journal.fsync, cfg.journal.fsync_interval_ms)
        .unwrap_or(FsyncPolicy::Every(Duration::from_millis(50)));
    let path = j.path.clone();
    let thread = j.start(rx, policy, metrics).map_err(startup)?;
    let mode = cfg.mode.as_str();
    sink.put(kind::SESSION, |w| {
        w.u32(std::process::id());
        w.bytes(mode.as_bytes());
    });
    Ok(RunJournal { thread, path })
}

impl RunJournal {
    /// Waits for the journal thread to write and fsync the last record (every sink must be
    /// gone by then).
    pub fn close(self) {
        let _ = self.thread.handle.join();
        log::info!(target: "journal", file = self.path.display().to_string().as_str();
            "Journal {} closed", self.path.display());
    }
}
