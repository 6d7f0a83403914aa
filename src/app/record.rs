//! `aitrapp record`: the Kite ticker written to a file in the record format.

use super::*;

/// What `aitrapp record` should capture.
pub struct RecordOptions {
    pub config: AppConfig,
    pub secrets: Secrets,
    pub base_dir: PathBuf,
    pub out: PathBuf,
    /// Instrument tokens; empty means the universe plus the indices.
    pub tokens: Vec<u32>,
    /// Overrides websocket.mode.
    pub mode: Option<TickMode>,
    /// Stop after this long; None runs until `stop`.
    pub duration: Option<Duration>,
    pub stop: Arc<AtomicBool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordSummary {
    pub frames: u64,
    pub bytes: u64,
    pub reconnects: u64,
}

/// Records the Kite ticker to a file in the record format, with a progress line every 5 s.
/// The file is flushed on stop, duration, SIGINT or SIGTERM; frames are written as received.
pub fn record(opts: RecordOptions) -> Result<RecordSummary, AppError> {
    let cfg = &opts.config;
    let base = &opts.base_dir;
    let master = InstrumentMaster::load(&resolve_path(base, &cfg.universe.instruments_file))
        .map_err(startup)?;
    let banned =
        read_ban_list(&resolve_path(base, &cfg.universe.ban_list_file)).map_err(startup)?;
    let mut tokens = ticker_tokens(cfg, &master, &build_universe(&master, cfg, &banned.symbols));
    if !opts.tokens.is_empty() {
        let mode = tokens.first().map(|t| t.1).unwrap_or(TickMode::Full);
        tokens = opts.tokens.iter().map(|&t| (t, mode)).collect();
    }
    if let Some(m) = opts.mode {
        tokens.iter_mut().for_each(|t| t.1 = m);
    }
    let metrics = Arc::new(Metrics::default());
    let (hot, hot_rx) = HotLog::new(cfg.logging.hot_queue, metrics.clone());
    let logger = logging::spawn_logger_thread(hot_rx, Arc::new(master), None).map_err(startup)?;
    let (inbox_tx, _inbox_rx) = crossbeam_channel::bounded::<InboxMsg>(16);
    let n_tokens = tokens.len();
    let mut ticker = kite_ticker(
        cfg,
        base,
        &opts.secrets,
        tokens,
        metrics.clone(),
        hot.clone(),
        inbox_tx,
    )?;
    if let Some(dir) = opts.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| startup(format!("{}: {e}", dir.display())))?;
    }
    let file =
        File::create(&opts.out).map_err(|e| startup(format!("{}: {e}", opts.out.display())))?;
    let mut rec = RecordWriter::new(BufWriter::new(file));
    log::info!(target: "feed", file = opts.out.display().to_string().as_str(), tokens = n_tokens;
        "Recording {n_tokens} tokens from {} to {}", cfg.websocket.ws_root, opts.out.display());
    let started = std::time::Instant::now();
    let mut last_report = started;
    let mut buf = Vec::with_capacity(1 << 16);
    let (mut frames, mut bytes) = (0u64, 0u64);
    while !opts.stop.load(Ordering::Relaxed) && opts.duration.is_none_or(|d| started.elapsed() < d)
    {
        match ticker.poll(&mut buf) {
            SourcePoll::Frame => {
                rec.write_frame(mono_ns(), &buf)
                    .map_err(|e| startup(format!("writing {}: {e}", opts.out.display())))?;
                frames += 1;
                bytes += buf.len() as u64;
            }
            SourcePoll::Idle => std::thread::sleep(Duration::from_micros(100)),
            SourcePoll::End => break,
        }
        if last_report.elapsed() >= Duration::from_secs(5) {
            last_report = std::time::Instant::now();
            log::info!(target: "feed", frames = frames, bytes = bytes; "Recording: {frames} frames, {bytes} bytes, {} s", started.elapsed().as_secs());
        }
    }
    rec.flush()
        .map_err(|e| startup(format!("writing {}: {e}", opts.out.display())))?;
    let summary = RecordSummary {
        frames,
        bytes,
        reconnects: Metrics::get(&metrics.ws_reconnects_total),
    };
    drop(ticker);
    drop(hot);
    let _ = logger.join();
    log::info!(target: "feed", frames = frames, bytes = bytes; "Recorded {frames} frames ({bytes} bytes) to {}", opts.out.display());
    Ok(summary)
}
