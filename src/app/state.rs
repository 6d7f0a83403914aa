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
    match journal::open_day(&dir, day.0, now_s) {
        Ok(j) => {
            for a in &j.archived {
                log::info!(target: "journal", file = a.display().to_string().as_str();
                    "Journal of an earlier day archived to {}", a.display());
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
