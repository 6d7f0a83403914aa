//! What a session trades on, before any thread starts: the instrument master (synced from
//! Kite, or the synthetic listing), the tradable universe after the ban list and the
//! turnover cut, the synthetic market when that is the feed, and the past candles the
//! strategies warm up on.

use super::*;

pub(super) struct SessionMarket {
    pub master: Arc<InstrumentMaster>,
    /// Tradable, by instrument index.
    pub universe: Vec<bool>,
    pub market: Option<SyntheticMarket>,
    pub history: Vec<(Token, Vec<Candle>)>,
    /// The previous day's turnover by instrument index (the liquidity cut's input).
    pub turnover: Vec<Option<f64>>,
    /// LIVE: measures a new trading day's previous day afresh (control's rollover).
    pub turnover_source: Option<crate::control::http::TurnoverSource>,
    pub session_day: Date,
}

pub(super) fn session_market(
    cfg: &AppConfig,
    base: &Path,
    secrets: &Secrets,
    source_kind: FeedSource,
    limiter: &Arc<RateLimiter>,
    calendar: &SessionCalendar,
) -> Result<SessionMarket, AppError> {
    log::info!(target: "app", "Syncing instruments...");
    let instruments_path = if source_kind == FeedSource::Kite && cfg.kite.sync_instruments {
        match sync_instruments(cfg, base, secrets, limiter.clone()) {
            Ok(p) => p,
            Err(e) if cfg.mode == Mode::Live => return Err(e),
            Err(e) => {
                log::warn!(target: "app", error = e.to_string().as_str();
                    "Instrument sync failed ({e}); using {}", cfg.universe.instruments_file);
                resolve_path(base, &cfg.universe.instruments_file)
            }
        }
    } else {
        resolve_path(base, &cfg.universe.instruments_file)
    };
    let file_master = InstrumentMaster::load(&instruments_path).map_err(startup)?;
    log::info!(target: "app", count = file_master.len(), file = instruments_path.display().to_string().as_str();
        "Loaded {} instruments from {}", file_master.len(), instruments_path.display());
    let synthetic_feed = matches!(source_kind, FeedSource::Synthetic | FeedSource::Auto);
    let master = Arc::new(if synthetic_feed {
        let listed = synthetic_listing(cfg, &file_master, calendar)?;
        let options = listed
            .iter()
            .filter(|i| i.instrument_type.is_option())
            .count();
        log::info!(target: "app", count = listed.len(), options = options;
            "Synthetic listing for the session: {} instruments ({options} options)", listed.len());
        listed
    } else {
        file_master
    });

    log::info!(target: "app", "Building universe...");
    let banned =
        read_ban_list(&resolve_path(base, &cfg.universe.ban_list_file)).map_err(startup)?;
    let session_day = if synthetic_feed {
        synthetic_date(cfg, calendar)?
    } else {
        today_ist()
    };
    // PAPER (LIVE was checked above): the session day may be outside the file's years.
    if let Err(why) = refuse_uncovered_year(cfg, calendar, session_day) {
        log::warn!(target: "app", file = cfg.market.holidays_file.as_str(); "{why}");
    }
    if let Some(why) = banned.staleness(session_day) {
        if cfg.mode == Mode::Live {
            log::warn!(target: "universe", "{why}");
        } else {
            log::info!(target: "universe", "{why}");
        }
    }
    let market = if synthetic_feed {
        Some(synthetic_market(cfg, &master, calendar)?)
    } else {
        None
    };
    let mut universe = build_universe(&master, cfg, &banned.symbols);
    // Past candles: the warm-up and the previous day's turnover for the liquidity cut.
    let history = match &market {
        Some(m) => m.history_candles((cfg.indicators.warmup_days as usize).max(1)),
        None if source_kind == FeedSource::Kite => kite_history(
            cfg,
            base,
            secrets,
            limiter.clone(),
            &master,
            &universe,
            calendar,
            session_day,
        ),
        None => Vec::new(),
    };
    let turnover = previous_day_turnover(&master, &history);
    // LIVE: a new trading day measures the day before it afresh (control's rollover).
    let turnover_source: Option<crate::control::http::TurnoverSource> =
        if source_kind == FeedSource::Kite && secrets.has_kite_credentials() {
            let (c, b, sec, lim, m, cal) = (
                cfg.clone(),
                base.to_path_buf(),
                secrets.clone(),
                limiter.clone(),
                master.clone(),
                calendar.clone(),
            );
            Some(Arc::new(move |day: Date| {
                let banned = read_ban_list(&resolve_path(&b, &c.universe.ban_list_file))
                    .map(|l| l.symbols)
                    .unwrap_or_default();
                let universe = build_universe(&m, &c, &banned);
                let mut one = c.clone();
                one.indicators.warmup_days = 1;
                let h = kite_history(&one, &b, &sec, lim.clone(), &m, &universe, &cal, day);
                previous_day_turnover(&m, &h)
            }))
        } else {
            None
        };
    apply_turnover_cut(cfg, &master, &turnover, &mut universe);
    let tradable = universe.iter().filter(|&&u| u).count();
    log::info!(target: "app", instruments = tradable, banned = banned.symbols.len(); "Universe: {tradable} tradable instruments ({} banned)", banned.symbols.len());
    if tradable == 0 {
        return Err(startup(
            "the universe is empty: check universe.* in the config and the instruments file",
        ));
    }

    Ok(SessionMarket {
        master,
        universe,
        market,
        history,
        turnover,
        turnover_source,
        session_day,
    })
}
