//! Today's frame recording (`feed.record`) at a restart on a live feed: the strategies are
//! warmed up again from it (every tick of the day so far, through the same decoder and
//! session clock), which beats Kite's minute candles (ticks, not bars); the recording then
//! goes on in the same file. A recording of another day is moved aside, never mixed in.

use super::*;
use crate::feed::codec::decode_frame;
use crate::feed::record::RecordReader;

/// A recording of today found at start, cut to its last whole frame.
pub struct TodaysRecording {
    pub path: PathBuf,
    pub frames: u64,
}

/// Looks at `feed.record`: today's is cut to its last whole frame (a crash mid-write) and
/// returned; another day's is renamed `FILE.prev`; none or empty: None.
pub fn todays_recording(
    cfg: &AppConfig,
    base: &Path,
    day: Date,
) -> Result<Option<TodaysRecording>, AppError> {
    let Some(p) = &cfg.feed.record else {
        return Ok(None);
    };
    let path = resolve_path(base, p);
    let Ok(data) = std::fs::read(&path) else {
        return Ok(None);
    };
    // Whose day it is: its newest exchange time (the first frames can carry yesterday's
    // closes).
    let (mut good, mut frames, mut last) = (0usize, 0u64, None);
    let mut newest = 0u32;
    for r in RecordReader::new(&data) {
        let Ok((_, frame)) = r else { break };
        good += 12 + frame.len();
        frames += 1;
        let _ = decode_frame(frame, |t| newest = newest.max(t.exchange_timestamp));
    }
    if newest > 0 {
        last = Some(crate::clock::ist_date(newest as i64));
    }
    if last != Some(day) {
        if !data.is_empty() {
            let aside = path.with_extension("prev");
            std::fs::rename(&path, &aside)
                .map_err(|e| startup(format!("feed.record {}: {e}", path.display())))?;
            log::info!(target: "feed", file = aside.display().to_string().as_str();
                "The recording {} is not of {day}: moved to {}", path.display(), aside.display());
        }
        return Ok(None);
    }
    if good < data.len() {
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .and_then(|f| f.set_len(good as u64).map(|_| f));
        f.map_err(|e| startup(format!("feed.record {}: {e}", path.display())))?;
        log::warn!(target: "feed", file = path.display().to_string().as_str(), bytes = data.len() - good;
            "Recording {}: a half-written last frame ({} bytes) was cut off", path.display(), data.len() - good);
    }
    Ok(Some(TodaysRecording { path, frames }))
}

/// Replays today's recording into the strategies and the desk's last prices (no decision
/// is made again: signals are dropped) and says so.
pub fn warm_from_recording(
    rec: &TodaysRecording,
    strategy: &mut StrategyStage,
    risk: &mut RiskStage,
) -> Result<(), AppError> {
    let started = std::time::Instant::now();
    let mut source = ReplaySource::open(&rec.path, 0.0).map_err(startup)?;
    let mut ticks = 0u64;
    let frames = crate::pipeline::sequencer::fast_forward(
        &mut source,
        ClockSource::EventTime,
        u64::MAX,
        |slot| {
            strategy.on_slot(slot, &mut |_| {});
            if let Event::Tick(t) = &slot.ev {
                risk.note_last_price(t);
                ticks += 1;
            }
        },
    );
    log::info!(target: "strategy", file = rec.path.display().to_string().as_str(), frames = frames, ticks = ticks,
        ms = started.elapsed().as_millis() as u64;
        "Strategies warmed up again from today's recording {} ({frames} of its {} frames, {ticks} ticks, {} ms); today's historical candles are not used",
        rec.path.display(), rec.frames, started.elapsed().as_millis());
    Ok(())
}

/// Today's candles left out of the warm-up when today's recording replaces them.
pub fn drop_todays_candles(
    history: &mut [(crate::domain::Token, Vec<crate::domain::Candle>)],
    day: Date,
) {
    let midnight = crate::clock::ist_epoch(day, TimeOfDay::hm(0, 0)) as u32;
    for (_, c) in history.iter_mut() {
        c.retain(|c| c.start < midnight);
    }
}

/// The `feed.record` file's writer: today's recording goes on (`resume`), anything else
/// starts a new file.
pub fn open_recorder(
    cfg: &AppConfig,
    base: &Path,
    resume: bool,
) -> Result<Option<RecordWriter<BufWriter<File>>>, AppError> {
    Ok(match &cfg.feed.record {
        Some(p) => {
            let path = resolve_path(base, p);
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(startup)?;
            }
            let f = if resume {
                std::fs::OpenOptions::new().append(true).open(&path)
            } else {
                File::create(&path)
            }
            .map_err(|e| startup(format!("feed.record {}: {e}", path.display())))?;
            log::info!(target: "feed", file = path.display().to_string().as_str(); "Recording frames to {}", path.display());
            Some(RecordWriter::new(BufWriter::new(f)))
        }
        None => None,
    })
}
