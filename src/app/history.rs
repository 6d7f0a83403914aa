//! What a run starts from besides the config: the contract listing of the synthetic session,
//! past candles (warm-up, ORB's range on a late start, previous-day turnover), the IV history
//! OptionsRanker's percentile is taken over, and the liquidity cut they feed. Wiring only:
//! each piece is built by its own module and handed to the stage that uses it.

use super::*;

/// The synthetic session's date: `feed.synthetic.date` (today when empty) moved forward to a
/// trading day.
pub fn synthetic_date(cfg: &AppConfig, calendar: &SessionCalendar) -> Result<Date, AppError> {
    let s = &cfg.feed.synthetic;
    let mut date = if s.date.is_empty() {
        today_ist()
    } else {
        Date::parse(&s.date).ok_or_else(|| startup(format!("feed.synthetic.date `{}`", s.date)))?
    };
    for _ in 0..10 {
        if calendar.is_trading_day(date) {
            break;
        }
        let (y, m, d) = date.ymd();
        let next = crate::clock::days_from_civil(y, m, d) + 1;
        let (y, m, d) = crate::clock::civil_from_days(next);
        date = Date(y as u32 * 10000 + m * 100 + d);
    }
    Ok(date)
}

/// The instruments file with the synthetic market's listing for its session date: expired
/// derivatives dropped, NIFTY and BANKNIFTY futures and option chains listed.
pub fn synthetic_listing(
    cfg: &AppConfig,
    file: &InstrumentMaster,
    calendar: &SessionCalendar,
) -> Result<InstrumentMaster, AppError> {
    let s = &cfg.feed.synthetic;
    let date = synthetic_date(cfg, calendar)?;
    Ok(crate::universe::listing::list_contracts(
        file,
        date,
        calendar,
        s.option_expiries as usize,
        s.option_strikes_from_atm,
    ))
}

/// OptionsRanker's IV history by underlying: `iv_history_file` when set, else (synthetic
/// market) the market's own past closes at the expiry it will trade.
pub fn iv_seed(
    cfg: &AppConfig,
    base: &Path,
    master: &InstrumentMaster,
    market: Option<&SyntheticMarket>,
    calendar: &SessionCalendar,
) -> Result<Vec<(String, Vec<f64>)>, AppError> {
    let o = &cfg.strategies.options_ranker;
    let mut out = Vec::new();
    if !o.iv_history_file.is_empty() {
        let path = resolve_path(base, &o.iv_history_file);
        let text = std::fs::read_to_string(&path).map_err(|e| {
            startup(format!(
                "strategies.options_ranker.iv_history_file {}: {e}",
                path.display()
            ))
        })?;
        let rows = crate::strategy::options::iv_history::parse_iv_history(
            &text,
            &path.display().to_string(),
        )
        .map_err(startup)?;
        for u in &o.underlyings {
            out.push((
                u.clone(),
                rows.iter().filter(|r| &r.0 == u).map(|r| r.1).collect(),
            ));
        }
    } else if let Some(m) = market {
        let today = m.date();
        let from = crate::clock::ist_epoch(today, calendar.open);
        for u in &o.underlyings {
            if let Some(years) = crate::strategy::options::traded_expiry_years(
                master,
                o,
                u,
                today,
                from,
                calendar.close,
            ) {
                out.push((u.clone(), m.iv_history(u, years)));
            }
        }
    }
    Ok(out)
}

/// LIVE: the last `indicators.warmup_days` sessions (at least one, for turnover) of minute
/// candles from Kite's historical API for the universe's futures and equities and the
/// indices, through the rate limiter. Without credentials, or on failure, nothing: the
/// indicators start cold and no liquidity cut is made, and the log says so.
#[allow(clippy::too_many_arguments)]
pub fn kite_history(
    cfg: &AppConfig,
    base: &Path,
    secrets: &Secrets,
    limiter: Arc<RateLimiter>,
    master: &InstrumentMaster,
    universe: &[bool],
    calendar: &SessionCalendar,
    today: Date,
) -> Vec<(crate::domain::Token, Vec<crate::domain::Candle>)> {
    let (Some(key), Some(token)) = (&secrets.kite_api_key, &secrets.kite_access_token) else {
        return Vec::new();
    };
    let rest = match kite_rest(cfg, base, key, token, limiter) {
        Ok(r) => r,
        Err(e) => {
            log::warn!(target: "strategy", "No historical candles ({e}): indicators start cold");
            return Vec::new();
        }
    };
    let sessions = calendar.previous_sessions(today, (cfg.indicators.warmup_days as usize).max(1));
    // Started after today's open: today's candles so far too (ORB's range, today's bars).
    let now = crate::clock::now_epoch();
    let to =
        if calendar.is_trading_day(today) && now > crate::clock::ist_epoch(today, calendar.open) {
            now.min(crate::clock::ist_epoch(today, calendar.close))
        } else {
            sessions
                .last()
                .map(|d| crate::clock::ist_epoch(*d, calendar.close))
                .unwrap_or(now)
        };
    let wanted: Vec<usize> = master
        .iter()
        .enumerate()
        .filter(|(k, i)| {
            (universe[*k] && !i.instrument_type.is_option())
                || i.instrument_type == crate::domain::InstrumentType::Index
        })
        .map(|(k, _)| k)
        .collect();
    crate::exec::kite::history::minute_history(&rest, master, &wanted, &sessions, calendar.open, to)
}

/// Rupees each instrument traded on the last session in `history`, by master index.
pub fn previous_day_turnover(
    master: &InstrumentMaster,
    history: &[(crate::domain::Token, Vec<crate::domain::Candle>)],
) -> Vec<Option<f64>> {
    let mut out = vec![None; master.len()];
    let last_day = history
        .iter()
        .filter_map(|(_, c)| c.last())
        .map(|c| crate::clock::ist_date(c.start as i64))
        .max();
    let Some(day) = last_day else { return out };
    for (token, candles) in history {
        let Some(k) = master.index_of(*token) else {
            continue;
        };
        let on_day: Vec<crate::domain::Candle> = candles
            .iter()
            .filter(|c| crate::clock::ist_date(c.start as i64) == day)
            .copied()
            .collect();
        if !on_day.is_empty() {
            out[k] = Some(crate::universe::turnover::turnover_rupees(
                &on_day,
                master.by_index(k).divisor(),
            ));
        }
    }
    out
}

/// The liquidity cut on the universe's equities, logged when it removes anything.
pub fn apply_turnover_cut(
    cfg: &AppConfig,
    master: &InstrumentMaster,
    turnover: &[Option<f64>],
    universe: &mut [bool],
) {
    let cut =
        crate::universe::turnover::rank_by_turnover(master, &cfg.universe, turnover, universe);
    if cut.ranked == 0 {
        return;
    }
    let kept = cut.ranked - cut.below_threshold.len() - cut.outside_top_n.len();
    log::info!(target: "universe", ranked = cut.ranked, kept = kept, below_threshold = cut.below_threshold.join(",").as_str(),
        outside_top_n = cut.outside_top_n.join(",").as_str();
        "Liquidity cut: {kept} of {} equities kept by previous-day turnover (below {:.0} rupees: {:?}; outside the top {}: {:?})",
        cut.ranked, cfg.universe.exclude_illiquid_threshold_turnover, cut.below_threshold,
        cfg.universe.fo_stocks_liquidity_rank_top_n, cut.outside_top_n);
}

/// Replays the warm-up candles through the strategy stage and says how much it took
/// (and whether today's candles gave ORB its opening range).
pub fn apply_warmup(
    cfg: &AppConfig,
    history: &[(crate::domain::Token, Vec<crate::domain::Candle>)],
    stage: &mut StrategyStage,
    today: Date,
) {
    if history.is_empty() {
        return;
    }
    let mut instruments = 0;
    let mut candles = 0;
    for (token, c) in history {
        let used = stage.warm_up(*token, c, today);
        instruments += (used > 0) as usize;
        candles += used;
    }
    log::info!(target: "strategy", instruments = instruments, candles = candles, days = cfg.indicators.warmup_days;
        "Warmed up {instruments} instruments on {} sessions of history ({candles} one-minute candles)", cfg.indicators.warmup_days);
    let midnight = crate::clock::ist_epoch(today, TimeOfDay::hm(0, 0)) as u32;
    let of_today = history
        .iter()
        .filter(|(_, c)| c.last().is_some_and(|c| c.start >= midnight))
        .count();
    if of_today > 0 {
        log::info!(target: "strategy", instruments = of_today;
            "ORB: today's opening range from historical candles ({of_today} instruments), not skipped");
    }
}

/// Gives the strategy stage its IV history and says what each chain has.
pub fn apply_iv_seed(cfg: &AppConfig, seed: &[(String, Vec<f64>)], stage: &mut StrategyStage) {
    let o = &cfg.strategies.options_ranker;
    for (u, days) in seed {
        stage.seed_iv_history(u, days);
    }
    if !o.enabled {
        return;
    }
    for chain in stage.option_chains() {
        let days = stage.iv_history_len(&chain.underlying);
        if days < o.min_iv_history as usize {
            log::warn!(target: "strategy", underlying = chain.underlying.as_str(), days = days;
                "OptionsRanker: {} has {days} days of IV history (needs {}): no {} trades until it has",
                chain.underlying, o.min_iv_history, chain.underlying);
        } else {
            log::info!(target: "strategy", underlying = chain.underlying.as_str(), days = days, expiries = chain.expiries.len();
                "OptionsRanker: {} chain with {} expiries, {days} days of IV history", chain.underlying, chain.expiries.len());
        }
    }
}
