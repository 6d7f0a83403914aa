//! Wiring: config -> instruments -> stages -> rings and threads -> control API -> shutdown.

use crate::clock::{parse_holidays, today_ist, weekday, SessionCalendar, TimeOfDay};
use crate::config::{resolve_path, AppConfig, FeedSource, Mode, Secrets};
use crate::control::dashboard::Dashboard;
use crate::control::http::{ControlApi, Reloader};
use crate::control::logging::{self, HotLog};
use crate::domain::*;

use crate::exec::fill_model::PriceBand;
use crate::exec::kite::rest::{KiteOrder, RestConfig};
use crate::exec::kite::router::{self, KiteRouter, RouterSettings};
use crate::exec::kite::RateLimiter;
use crate::exec::paper::PaperRules;
use crate::exec::{mono_ns, InboxMsg, OrderStage};
use crate::feed::kite_ws::{self, KiteTicker, TickerConfig};
use crate::feed::record::RecordWriter;
use crate::feed::replay::ReplaySource;
use crate::feed::synthetic::{SyntheticMarket, SyntheticParams};
use crate::feed::{FrameSource, SourcePoll};
use crate::pipeline::sequencer::{ClockSource, Sequencer};
use crate::pipeline::{self, affinity, Stages, WaitStrategy};
use crate::risk::charges::ChargeSchedule;
use crate::risk::portfolio::TradeRecord;
use crate::risk::{RiskParams, RiskStage};
use crate::strategy::{ReloadAck, StrategySettings, StrategyStage, StrategyUpdate};
use crate::telemetry::journal::JournalSink;
use crate::telemetry::snapshot::{SnapshotReader, SnapshotWriter};
use crate::telemetry::Metrics;
use crate::universe::{build_universe, read_ban_list, ticker_tokens};
use crossbeam_channel::Receiver;
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

mod backup;
mod control;
pub mod doctor;
mod export;
mod history;
mod inputs;
mod kite;
mod live_switch;
mod record;
mod report;
mod session_market;
pub use report::SessionReport;
mod recording;
mod state;
mod threads;
pub use backup::{backup, restore};
pub use export::*;
pub use history::*;
pub use inputs::*;
pub use kite::*;
use kite::{kite_router, wait_for_ticker};
pub use record::*;
use session_market::{session_market, SessionMarket};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    Startup(String),
}

fn startup<E: std::fmt::Display>(e: E) -> AppError {
    AppError::Startup(e.to_string())
}

pub use crate::pipeline::sequencer::FeedEnd;

pub struct RunOptions {
    pub config: AppConfig,
    pub secrets: Secrets,
    /// Serve the HTTP control API (off in tests that do not need it).
    pub serve_http: bool,
    /// Set to stop the run; SIGINT/SIGTERM set it in the CLI.
    pub stop: Arc<AtomicBool>,
    /// Base directory for relative paths in the config.
    pub base_dir: PathBuf,
    /// The config file, re-read by POST /strategies/reload and /universe/reload
    /// (None: those endpoints answer 409).
    pub config_path: Option<PathBuf>,
}

/// The feed a session runs on: `auto` is the Kite ticker with Kite credentials, the synthetic
/// market without.
fn feed_source(cfg: &AppConfig, secrets: &Secrets) -> FeedSource {
    match cfg.feed.source {
        FeedSource::Auto if secrets.has_kite_credentials() => FeedSource::Kite,
        FeedSource::Auto => FeedSource::Synthetic,
        other => other,
    }
}

/// Runs a whole session: starts every thread, waits for stop or source end, shuts down cleanly.
pub fn run(opts: RunOptions) -> Result<SessionReport, AppError> {
    let base = &opts.base_dir;
    log::info!(target: "app", "Starting AITRAPP");
    // A restart the same day goes on where POST /mode sent orders (LIVE's checks apply).
    let switched = live_switch::journaled_config(&opts.config, base, &opts.secrets);
    let cfg = switched.as_ref().unwrap_or(&opts.config);
    log::info!(target: "app", mode = cfg.mode.as_str(); "Mode: {}", cfg.mode.as_str());

    if opts.serve_http
        && opts.secrets.api_secret_key.is_none()
        && !crate::control::is_loopback(&cfg.control.bind)
    {
        return Err(startup(format!(
            "control.bind is {} but API_SECRET_KEY is not set: anyone who can reach that address could pause, flatten or close positions. Set API_SECRET_KEY in .env, or bind to 127.0.0.1",
            cfg.control.bind
        )));
    }
    log::info!(target: "app", "Loading strategies...");
    let calendar = session_calendar(cfg, base)?;
    // LIVE trades today: refuse before anything touches the network when the holiday file
    // cannot say whether today is a trading day.
    if cfg.mode == Mode::Live {
        refuse_uncovered_year(cfg, &calendar, today_ist())?;
        // Nor without a journal it can write.
        state::probe_journal_dir(cfg, base)?;
    }
    let charges = load_charges(cfg, base)?;
    {
        let today = today_ist();
        let t = charges.table_or_oldest(today);
        log::info!(target: "app", file = cfg.risk.charges_file.as_str(), table_from = t.from.to_string().as_str();
            "Charges: {} dated table(s) from {}; today's fills charged by the table from {}",
            charges.tables.len(), cfg.risk.charges_file, t.from);
    }
    log_strategies(cfg);

    // Source selection.
    let source_kind = feed_source(cfg, &opts.secrets);
    if cfg.feed.source == FeedSource::Auto {
        match source_kind {
            FeedSource::Kite => {
                log::info!(target: "feed", "Kite credentials found: using the Kite WebSocket ticker")
            }
            _ => {
                log::info!(target: "feed", "No Kite credentials: using the built-in synthetic market")
            }
        }
    }
    // One rate limiter for every Kite REST caller in this process (sync, orders, tracker).
    let limiter = Arc::new(RateLimiter::new(cfg.kite.rate_limits));
    let SessionMarket {
        master,
        universe,
        market,
        history,
        turnover,
        turnover_source,
        session_day,
    } = session_market(cfg, base, &opts.secrets, source_kind, &limiter, &calendar)?;

    if cfg.mode == Mode::Live && source_kind != FeedSource::Kite {
        return Err(startup(
            "LIVE mode trades on the Kite feed: feed.source must be auto or kite, with KITE_API_KEY and KITE_ACCESS_TOKEN set",
        ));
    }
    // LIVE: the ticker's order updates go to the order tracker.
    let (kite_updates_tx, kite_updates_rx) = crossbeam_channel::bounded::<KiteOrder>(4096);
    // Built before the threads: the ticker needs the metrics, hot log and inbox.
    let metrics = session_metrics(cfg);
    let (hot, hot_rx) = HotLog::new(cfg.logging.hot_queue, metrics.clone());
    let (inbox_tx, inbox_rx) = crossbeam_channel::bounded::<InboxMsg>(65_536);
    let iv_seed = iv_seed(cfg, base, &master, market.as_ref(), &calendar)?;
    let mut warmup = if cfg.indicators.warmup_days > 0 {
        history
    } else {
        Vec::new()
    };
    let mut source: Box<dyn FrameSource> = match (source_kind, market) {
        (FeedSource::Synthetic | FeedSource::Auto, Some(m)) => Box::new(m),
        (FeedSource::Synthetic | FeedSource::Auto, None) => {
            return Err(startup("no synthetic market"))
        }
        (FeedSource::Kite, _) => {
            let ticker = kite_ticker(
                cfg,
                base,
                &opts.secrets,
                ticker_tokens(cfg, &master, &universe),
                metrics.clone(),
                hot.clone(),
                inbox_tx.clone(),
            )?;
            // PAPER too: a switch to LIVE (POST /mode) tracks its orders from them.
            Box::new(ticker.with_order_updates(kite_updates_tx))
        }
        (FeedSource::Replay, _) => {
            let p = resolve_path(base, cfg.feed.replay_path.as_deref().unwrap_or_default());
            Box::new(ReplaySource::open(&p, cfg.feed.replay_speed).map_err(startup)?)
        }
    };
    let live_feed = source_kind == FeedSource::Kite;
    // Universe reloads move the ticker's subscriptions through the feed thread.
    let (subs_tx, subs_rx) = crossbeam_channel::bounded::<Vec<(u32, TickMode)>>(4);

    let plan = threads::thread_plan(cfg)?;

    // LIVE keeps its IV history: each day's closing ATM IV goes to iv_history_file.
    let iv_file = &cfg.strategies.options_ranker.iv_history_file;
    let iv_history =
        (cfg.mode == Mode::Live && !iv_file.is_empty()).then(|| resolve_path(base, iv_file));
    // Alerts first: the logger thread raises them from hot events.
    let http_stop = Arc::new(AtomicBool::new(false));
    let (day_alerts, alert_threads) = match opts.serve_http {
        true => control::start_alerts(cfg, &opts.secrets, base, metrics.clone())?.unzip(),
        false => (None, None),
    };
    let logger =
        logging::spawn_logger_thread(hot_rx, master.clone(), iv_history).map_err(startup)?;

    let snapshot_path = resolve_path(base, &cfg.control.snapshot_path);
    let writer = SnapshotWriter::create(&snapshot_path).map_err(startup)?;
    let (flatten_tx, flatten_rx) = crossbeam_channel::bounded::<FlattenReport>(16);
    let barrier_done = Arc::new(AtomicU64::new(0));

    // LIVE: REST client (session checked now, not at the first order), io workers, tracker.
    let router_stop = Arc::new(AtomicBool::new(false));
    let (mode_tx, mode_rx) = crossbeam_channel::bounded::<ModeReport>(4);
    let (reconcile_risk, mut reconcile_thread) = match source_kind {
        FeedSource::Kite => kite::reconcile_channels(cfg).unzip(),
        _ => (None, None),
    };
    let (mut live_router, mut io_threads) = if cfg.mode == Mode::Live {
        let mut live = kite_router(
            cfg,
            base,
            &opts.secrets,
            limiter.clone(),
            inbox_tx.clone(),
            kite_updates_rx.clone(),
            router_stop.clone(),
            metrics.clone(),
            &master,
        )?;
        let threads = std::mem::take(&mut live.threads);
        (Some(live), threads)
    } else {
        (None, Vec::new())
    };
    // PAPER on the Kite feed can go LIVE by POST /mode; its threads are joined at the end.
    let handoff: crate::exec::mode::LiveHandoff = Default::default();
    let switch_threads: Arc<std::sync::Mutex<Vec<std::thread::JoinHandle<()>>>> =
        Default::default();
    let live_switch = (cfg.mode == Mode::Paper && source_kind == FeedSource::Kite).then(|| {
        live_switch::live_switch(live_switch::LiveSwitchParts {
            cfg: cfg.clone(),
            base: base.to_path_buf(),
            secrets: opts.secrets.clone(),
            limiter: limiter.clone(),
            inbox: inbox_tx.clone(),
            updates: kite_updates_rx.clone(),
            stop: router_stop.clone(),
            metrics: metrics.clone(),
            master: master.clone(),
            calendar: calendar.clone(),
            handoff: handoff.clone(),
            threads: switch_threads.clone(),
            reconciler: reconcile_thread.take(),
        })
    });
    drop(kite_updates_rx);

    let (reload_tx, reload_rx) = crossbeam_channel::bounded::<StrategyUpdate>(4);
    let (reload_ack_tx, reload_ack_rx) = crossbeam_channel::bounded::<ReloadAck>(4);
    // Every strategy is built, enabled or not, so /strategies/reload can switch one on.
    let mut strategy = StrategyStage::new(
        master.clone(),
        universe,
        StrategySettings::from_config(cfg, calendar.open, calendar.close),
    )
    .with_reloads(reload_rx, reload_ack_tx)
    .with_metrics(metrics.clone());
    apply_iv_seed(cfg, &iv_seed, &mut strategy);
    // A live feed restarted the same day: today's own recording warms up better than
    // today's minute candles.
    let recording = if live_feed {
        recording::todays_recording(cfg, base, session_day)?
    } else {
        None
    };
    if recording.is_some() {
        recording::drop_todays_candles(&mut warmup, session_day);
    }
    apply_warmup(cfg, &warmup, &mut strategy, session_day);
    drop(warmup);
    let journal_file = state::open_journal(cfg, base, session_day)?;
    if journal_file.is_some() {
        export::archive_exports(cfg, base, session_day);
    }
    let mut risk = RiskStage::new(
        RiskParams::from_config(cfg),
        calendar.clone(),
        master.clone(),
        metrics.clone(),
    )
    .with_charges(charges)
    .with_freeze(Arc::new(load_freeze(cfg, base)?))
    .with_first_order_id(first_order_id(cfg.mode))
    .with_snapshot(writer)
    .with_hot_log(hot.clone())
    .with_flatten_replies(flatten_tx)
    .with_mode_replies(mode_tx);
    if let Some((books, reports)) = reconcile_risk {
        risk = risk.with_reconciliation(books, reports);
    }
    let mut order = {
        let stage = OrderStage::new(
            master.clone(),
            paper_rules(cfg, base)?,
            inbox_tx.clone(),
            metrics.clone(),
            barrier_done.clone(),
        );
        match &mut live_router {
            Some(live) => stage
                .with_kite(
                    live.router.clone(),
                    &cfg.execution.product,
                    cfg.execution.market_protection,
                    &cfg.execution.exchange_algo_id,
                )
                .with_bands(std::mem::take(&mut live.bands)),
            None => stage.with_live_handoff(handoff),
        }
    };
    let clock_source = match source_kind {
        FeedSource::Kite if cfg.feed.session_clock == "exchange" => ClockSource::EventTime,
        FeedSource::Kite => ClockSource::Wall,
        FeedSource::Replay => ClockSource::EventTime,
        FeedSource::Synthetic | FeedSource::Auto => ClockSource::Source,
    };
    let (journal_sink, journal_rx) = JournalSink::new(cfg.journal.queue, metrics.clone());
    let lockstep = source.lockstep();
    let run_journal = match journal_file {
        Some(j) => {
            state::rebuild_desk(&mut risk, &j)?;
            state::catch_up(
                source.as_mut(),
                clock_source,
                &mut strategy,
                &mut risk,
                &mut order,
            );
            let n = order.resume_orders(&risk.fills_so_far(), &risk.working_intents());
            if n > 0 {
                log::info!(target: "journal", orders = n;
                    "{n} working order(s) from the journal are back at the paper broker");
            }
            let rj = state::start_journal(cfg, j, journal_rx, &journal_sink, metrics.clone())?;
            risk = risk.with_journal(journal_sink, cfg.journal.audit_all_decisions, lockstep);
            metrics.journal_enabled.store(1, Ordering::Relaxed);
            Some(rj)
        }
        None => None,
    };
    if let Some(rec) = &recording {
        recording::warm_from_recording(rec, &mut strategy, &mut risk)?;
    }
    if let Some(live) = &live_router {
        kite::reconcile_at_start(
            &live.rest,
            &live.router,
            &master,
            &mut risk,
            &mut order,
            &metrics,
        )?;
        if let Some(ends) = reconcile_thread.take() {
            io_threads.push(kite::start_reconciler(
                cfg,
                live,
                master.clone(),
                inbox_tx.clone(),
                router_stop.clone(),
                ends,
            )?);
        }
    }
    if let Some(h) = state::spawn_disk_watch(
        cfg,
        base,
        metrics.clone(),
        inbox_tx.clone(),
        router_stop.clone(),
    )
    .map_err(startup)?
    {
        io_threads.push(h);
    }
    let stages = Stages {
        strategy: strategy.with_hot_log(hot.clone()),
        risk,
        order,
    };

    let recorder = recording::open_recorder(cfg, base, recording.is_some())?;

    let (tx_a, rx_a) = pipeline::ring(cfg.pipeline.ring_size, plan.wait, metrics.clone(), |m| {
        &m.ring_a_full_total
    });
    let consumers = pipeline::spawn_consumers(
        cfg.pipeline.topology,
        rx_a,
        stages,
        &plan,
        cfg.pipeline.ring_size,
        metrics.clone(),
    );

    // Control API.
    let http = if opts.serve_http {
        control::start(control::ControlInputs {
            cfg,
            secrets: &opts.secrets,
            snapshot_path: &snapshot_path,
            inbox: inbox_tx.clone(),
            flatten_replies: flatten_rx,
            mode_replies: mode_rx,
            live_switch,
            metrics: metrics.clone(),
            feed: source.describe(),
            journal_sync: run_journal
                .as_ref()
                .map(|j| (j.thread.sync.clone(), j.path.display().to_string())),
            trades: run_journal.as_ref().map(|_| {
                let (c, b) = (cfg.clone(), base.to_path_buf());
                Arc::new(move |day: Option<Date>| {
                    trades_json(&c, &b, day.unwrap_or(session_day)).map_err(|e| e.to_string())
                }) as crate::control::http::TradesSource
            }),
            reloader: opts.config_path.clone().map(|path| Reloader {
                config_path: path,
                base_dir: base.to_path_buf(),
                master: master.clone(),
                updates: reload_tx,
                acks: reload_ack_rx,
                subscriptions: live_feed.then(|| subs_tx.clone()),
                turnover: Arc::new(turnover.clone()),
                turnover_source: turnover_source.clone(),
                fixed: (
                    cfg.websocket.aggregation_windows.clone(),
                    cfg.websocket.bar_history,
                    cfg.indicators.clone(),
                ),
            }),
            alerts: day_alerts,
            stop: http_stop.clone(),
        })?
    } else {
        drop(flatten_rx);
        Vec::new()
    };
    let shutdown_inbox = inbox_tx.clone();
    drop(inbox_tx);

    let description = source.describe();
    // The feed stops when the run does, or, with shutdown.flatten_on_stop, once the book is
    // flat after a stop was asked for.
    let feed_stop = Arc::new(AtomicBool::new(false));
    let stop_feed = feed_stop.clone();
    let sequencer = Sequencer {
        source,
        ring: tx_a,
        inbox: inbox_rx,
        barrier_done,
        stop: feed_stop,
        wait: plan.wait,
        metrics: metrics.clone(),
        hot: hot.clone(),
        recorder,
        subscriptions: subs_rx,
        clock_source,
    };
    let feed = threads::spawn_feed(sequencer, &plan)?;
    match source_kind {
        FeedSource::Kite => wait_for_ticker(&metrics, cfg, &description, &opts.stop),
        FeedSource::Replay => {
            log::info!(target: "feed", source = description.as_str(); "Replay started ({description})")
        }
        FeedSource::Synthetic | FeedSource::Auto => {
            log::info!(target: "feed", source = description.as_str(); "Synthetic market started ({description})")
        }
    }
    log::info!(target: "app", "AITRAPP started successfully");
    crate::control::systemd::notify("READY=1");
    let systemd_stop = Arc::new(AtomicBool::new(false));
    let systemd_thread = crate::control::systemd::start(
        metrics.clone(),
        crate::control::systemd::running_threads(
            cfg.pipeline.topology == crate::config::Topology::Collapsed,
        ),
        systemd_stop.clone(),
    );

    state::await_stop(cfg, &opts.stop, &feed, &metrics, &shutdown_inbox);
    crate::control::systemd::notify("STOPPING=1");
    systemd_stop.store(true, Ordering::Relaxed);
    if let Some(t) = systemd_thread {
        let _ = t.join();
    }
    stop_feed.store(true, Ordering::Relaxed);
    drop(shutdown_inbox);
    let end = feed.join().map_err(|_| startup("feed thread panicked"))?;
    log::info!(target: "app", reason = format!("{end:?}").as_str(); "Shutting down: draining the pipeline");
    let mut stages = consumers.join().map_err(startup)?;
    stages.risk.publish();
    stages.risk.journal_flush();
    state::report_left_open(&stages.risk, cfg.mode);
    http_stop.store(true, Ordering::Relaxed);
    for h in http {
        let _ = h.join();
    }
    router_stop.store(true, Ordering::Relaxed);
    io_threads.extend(
        switch_threads
            .lock()
            .map(|mut t| std::mem::take(&mut *t))
            .unwrap_or_default(),
    );
    for h in io_threads {
        let _ = h.join();
    }
    let report = SessionReport::of(end, &stages, &metrics);
    let last_day = stages.risk.day().unwrap_or(session_day).max(session_day);
    drop(stages);
    if let Some(j) = run_journal {
        j.close();
        export::write_day_exports(cfg, base, session_day, last_day);
    }
    drop(hot);
    let _ = logger.join();
    if let Some(t) = alert_threads {
        control::finish_alerts(t, cfg);
    }
    report.log_summary();
    log::info!(target: "app", "AITRAPP stopped");
    log::logger().flush();
    std::thread::sleep(Duration::from_millis(1));
    Ok(report)
}

/// One line saying which strategies run, on which bars.
fn log_strategies(cfg: &AppConfig) {
    let st = &cfg.strategies;
    let on = |b: bool| if b { "enabled" } else { "disabled" };
    log::info!(target: "app", orb = st.orb.enabled, trend_pullback = st.trend_pullback.enabled, vwap_reversion = st.vwap_reversion.enabled,
        options_ranker = st.options_ranker.enabled,
        bar_minutes = format!("{:?}", cfg.websocket.aggregation_windows).as_str(), ranking_top_n = cfg.ranking.top_n;
        "Strategies: orb={}, trend_pullback={}, vwap_reversion={}, options_ranker={}; bars {:?} min; ranking top {}",
        on(st.orb.enabled), on(st.trend_pullback.enabled), on(st.vwap_reversion.enabled), on(st.options_ranker.enabled),
        cfg.websocket.aggregation_windows, cfg.ranking.top_n);
}

/// The session's first order id. LIVE: milliseconds since the epoch, unique across restarts
/// while the tags stay <= 11 characters; PAPER starts at 1.
fn first_order_id(mode: Mode) -> u64 {
    match mode {
        Mode::Live => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(1),
        Mode::Paper => 1,
    }
}

/// The session's metrics, with the order caps they are read against.
fn session_metrics(cfg: &AppConfig) -> Arc<Metrics> {
    let metrics = Arc::new(Metrics::default());
    let caps = &cfg.kite.rate_limits;
    let per_second = caps.orders_per_second as u64;
    let per_day = caps.orders_per_day as u64;
    metrics
        .orders_per_second_limit
        .store(per_second, Ordering::Relaxed);
    metrics
        .orders_per_day_limit
        .store(per_day, Ordering::Relaxed);
    metrics
}
