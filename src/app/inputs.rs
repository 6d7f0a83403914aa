//! What a run is built from before any thread starts: the session calendar and its holiday
//! file, the charge and freeze tables, the paper exchange's rules, the synthetic market, and
//! the stages built offline for benches and the allocation test.

use super::*;

pub fn session_calendar(cfg: &AppConfig, base: &Path) -> Result<SessionCalendar, AppError> {
    let m = &cfg.market;
    let t = |s: &str| TimeOfDay::parse(s).ok_or_else(|| startup(format!("bad time `{s}`")));
    let holidays_path = resolve_path(base, &m.holidays_file);
    let holidays: std::collections::BTreeSet<Date> = match std::fs::read_to_string(&holidays_path) {
        Ok(text) => parse_holidays(&text, &holidays_path.display().to_string()).map_err(startup)?,
        Err(e) => {
            log::warn!(target: "app", file = holidays_path.display().to_string().as_str();
                "Holiday file {} not readable ({e}); assuming no holidays", holidays_path.display());
            Default::default()
        }
    };
    Ok(SessionCalendar {
        pre_open: t(&m.pre_open_time)?,
        open: t(&m.open_time)?,
        close: t(&m.close_time)?,
        squareoff: t(&m.eod_squareoff_time)?,
        squareoff_fo: t(&m.fo_squareoff_time)?,
        squareoff_enabled: m.eod_squareoff_enabled,
        no_entries_before_squareoff_min: m.no_entries_before_squareoff_min,
        holiday_years: holidays.iter().map(|d| d.ymd().0).collect(),
        holidays,
    })
}

/// A weekday in a year the holiday file does not list may be a holiday nobody wrote down.
pub(super) fn refuse_uncovered_year(
    cfg: &AppConfig,
    calendar: &SessionCalendar,
    day: Date,
) -> Result<(), AppError> {
    if weekday(day) >= 5 || calendar.covers(day) {
        return Ok(());
    }
    Err(startup(format!(
        "{}{}: no holidays listed for {} (the file covers {:?}): cannot tell whether {day} is a trading day; add NSE's holiday list for that year",
        if cfg.mode == Mode::Live { "LIVE refused: " } else { "" },
        cfg.market.holidays_file,
        day.ymd().0,
        calendar.holiday_years
    )))
}

/// What `check-config` checks beyond the config itself: the files it names (charge tables,
/// holidays) parse. Each problem is one line naming the file.
pub fn check_files(cfg: &AppConfig, base: &Path) -> Vec<String> {
    let mut out = Vec::new();
    if let Err(e) = load_charges(cfg, base) {
        out.push(e.to_string());
    }
    if let Err(e) = session_calendar(cfg, base) {
        out.push(e.to_string());
    }
    if let Err(e) = load_freeze(cfg, base) {
        out.push(e.to_string());
    }
    out
}

/// The dated charge tables of `risk.charges_file`; a bad table refuses the start, every
/// problem listed.
pub fn load_charges(cfg: &AppConfig, base: &Path) -> Result<Arc<ChargeSchedule>, AppError> {
    let path = resolve_path(base, &cfg.risk.charges_file);
    ChargeSchedule::load(&path)
        .map(Arc::new)
        .map_err(|e| startup(e.to_string().trim_end()))
}

pub fn load_freeze(cfg: &AppConfig, base: &Path) -> Result<FreezeSchedule, AppError> {
    let path = resolve_path(base, &cfg.execution.freeze_qty_file);
    FreezeSchedule::load(&path).map_err(|e| startup(e.to_string().trim_end()))
}

/// The paper exchange's rules from `execution:` (and the freeze file).
pub fn paper_rules(cfg: &AppConfig, base: &Path) -> Result<PaperRules, AppError> {
    let e = &cfg.execution;
    let margin = e.paper_margin_rupees.unwrap_or(cfg.risk.capital);
    Ok(PaperRules {
        latency_ns: e.paper_latency_ms * 1_000_000,
        no_depth_slippage_bps: e.slippage_bps,
        price_band_pct: e.paper_price_band_pct,
        margin_paise: (margin * 100.0).round() as i64,
        margin_bps: (e.margin_pct * 100.0).round() as i64,
        market_protection: e.market_protection,
        freeze: Some(load_freeze(cfg, base)?),
    })
}

/// The synthetic market from `feed.synthetic`, on its date (today when empty) moved forward
/// to a trading day. Also the market behind tools/kite-sim.
pub fn synthetic_market(
    cfg: &AppConfig,
    master: &InstrumentMaster,
    calendar: &SessionCalendar,
) -> Result<SyntheticMarket, AppError> {
    let s = &cfg.feed.synthetic;
    let date = synthetic_date(cfg, calendar)?;
    let start = TimeOfDay::parse(&s.start_time)
        .ok_or_else(|| startup(format!("feed.synthetic.start_time `{}`", s.start_time)))?;
    Ok(SyntheticMarket::new(
        master,
        &s.instruments,
        calendar.clone(),
        SyntheticParams {
            seed: s.seed,
            speed: s.speed,
            date,
            start,
            step_ms: s.tick_interval_ms,
            exit_at_close: s.exit_at_close,
        },
    ))
}

/// Builds the three stages and a synthetic market from a config, with no threads, logger or
/// HTTP: for benches and the allocation test, which drive the stages directly.
pub fn build_offline(
    cfg: &AppConfig,
    base: &Path,
    inbox: crossbeam_channel::Sender<InboxMsg>,
    metrics: Arc<Metrics>,
    barrier_done: Arc<AtomicU64>,
) -> Result<(Stages, SyntheticMarket), AppError> {
    let calendar = session_calendar(cfg, base)?;
    let s = &cfg.feed.synthetic;
    let date = Date::parse(&s.date).unwrap_or(Date(20261125));
    let file = InstrumentMaster::load(&resolve_path(base, &cfg.universe.instruments_file))
        .map_err(startup)?;
    let master = Arc::new(crate::universe::listing::list_contracts(
        &file,
        date,
        &calendar,
        s.option_expiries as usize,
        s.option_strikes_from_atm,
    ));
    let universe = build_universe(&master, cfg, &[]);
    let start = TimeOfDay::parse(&s.start_time).unwrap_or(TimeOfDay::hm(9, 13));
    let market = SyntheticMarket::new(
        &master,
        &s.instruments,
        calendar.clone(),
        SyntheticParams {
            seed: s.seed,
            speed: 0.0,
            date,
            start,
            step_ms: s.tick_interval_ms,
            exit_at_close: true,
        },
    );
    let mut strategy = StrategyStage::new(
        master.clone(),
        universe,
        StrategySettings::from_config(cfg, calendar.open, calendar.close),
    )
    .with_metrics(metrics.clone());
    let seed = iv_seed(cfg, base, &master, Some(&market), &calendar)?;
    apply_iv_seed(cfg, &seed, &mut strategy);
    apply_warmup(
        cfg,
        &market.history_candles(cfg.indicators.warmup_days as usize),
        &mut strategy,
        date,
    );
    let stages = Stages {
        strategy,
        risk: RiskStage::new(
            RiskParams::from_config(cfg),
            calendar,
            master.clone(),
            metrics.clone(),
        )
        .with_charges(load_charges(cfg, base)?)
        .with_freeze(Arc::new(load_freeze(cfg, base)?)),
        order: OrderStage::new(
            master,
            paper_rules(cfg, base)?,
            inbox,
            metrics,
            barrier_done,
        ),
    };
    Ok((stages, market))
}
