//! Range and consistency checks over a parsed config, all at once: each problem is named by
//! its path and value, and a file with any problem is refused whole.

use super::{parse_level, AppConfig, FeedSource, Problem, Topology, WaitStrategy};
use crate::clock::TimeOfDay;

fn check(problems: &mut Vec<Problem>, ok: bool, path: &str, msg: impl FnOnce() -> String) {
    if !ok {
        problems.push(Problem {
            path: path.into(),
            message: msg(),
        });
    }
}

fn check_time(problems: &mut Vec<Problem>, path: &str, s: &str) -> Option<TimeOfDay> {
    let t = TimeOfDay::parse(s);
    check(problems, t.is_some(), path, || {
        format!("must be HH:MM (got `{s}`)")
    });
    t
}

/// Range and cross-field checks on a well-typed config.
pub fn validate(c: &AppConfig, p: &mut Vec<Problem>) {
    check(p, c.timezone == "Asia/Kolkata", "timezone", || {
        format!("NSE trades in Asia/Kolkata (got `{}`)", c.timezone)
    });
    let r = &c.risk;
    check(
        p,
        r.capital.is_finite() && r.capital > 0.0,
        "risk.capital",
        || format!("must be > 0 rupees (got {})", r.capital),
    );
    check(
        p,
        r.per_trade_risk_pct > 0.0 && r.per_trade_risk_pct <= 5.0,
        "risk.per_trade_risk_pct",
        || {
            format!(
                "must be > 0 and <= 5 percent (got {})",
                r.per_trade_risk_pct
            )
        },
    );
    check(
        p,
        r.max_portfolio_heat_pct > 0.0 && r.max_portfolio_heat_pct <= 100.0,
        "risk.max_portfolio_heat_pct",
        || {
            format!(
                "must be > 0 and <= 100 percent (got {})",
                r.max_portfolio_heat_pct
            )
        },
    );
    check(
        p,
        r.daily_loss_stop_pct < 0.0 && r.daily_loss_stop_pct >= -100.0,
        "risk.daily_loss_stop_pct",
        || {
            format!(
                "must be negative, a percent of capital, e.g. -2.5 (got {})",
                r.daily_loss_stop_pct
            )
        },
    );
    check(
        p,
        r.max_position_size_multiplier >= 1,
        "risk.max_position_size_multiplier",
        || {
            format!(
                "must be at least 1 lot (got {})",
                r.max_position_size_multiplier
            )
        },
    );
    check(
        p,
        r.max_position_notional_pct > 0.0 && r.max_position_notional_pct <= 100.0,
        "risk.max_position_notional_pct",
        || {
            format!(
                "must be > 0 and <= 100 percent (got {})",
                r.max_position_notional_pct
            )
        },
    );
    check(p, r.max_positions >= 1, "risk.max_positions", || {
        format!("must be at least 1 (got {})", r.max_positions)
    });

    validate_strategies(c, p);
    let m = &c.market;
    let pre = check_time(p, "market.pre_open_time", &m.pre_open_time);
    let open = check_time(p, "market.open_time", &m.open_time);
    let close = check_time(p, "market.close_time", &m.close_time);
    let sq = check_time(p, "market.eod_squareoff_time", &m.eod_squareoff_time);
    if let (Some(pre), Some(open), Some(close)) = (pre, open, close) {
        check(p, pre <= open && open < close, "market.open_time", || {
            format!("must satisfy pre_open <= open < close (got {pre} / {open} / {close})")
        });
    }
    if let (Some(open), Some(close), Some(sq)) = (open, close, sq) {
        check(
            p,
            open < sq && sq <= close,
            "market.eod_squareoff_time",
            || format!("must be after open {open} and not after close {close} (got {sq})"),
        );
    }

    let e = &c.execution;
    check(
        p,
        e.slippage_bps >= 0.0 && e.slippage_bps <= 500.0,
        "execution.slippage_bps",
        || format!("must be 0..=500 (got {})", e.slippage_bps),
    );
    check(
        p,
        ["MIS", "NRML", "CNC"].contains(&e.product.as_str()),
        "execution.product",
        || format!("must be MIS, NRML or CNC (got `{}`)", e.product),
    );

    check(
        p,
        e.market_protection == -1.0 || (e.market_protection > 0.0 && e.market_protection <= 100.0),
        "execution.market_protection",
        || {
            format!(
                "must be -1 (automatic) or a percentage in (0, 100] (got {}); Kite rejects 0",
                e.market_protection
            )
        },
    );
    check(
        p,
        ["ltp", "quote", "full"].contains(&c.websocket.mode.as_str()),
        "websocket.mode",
        || format!("must be ltp, quote or full (got `{}`)", c.websocket.mode),
    );
    check(
        p,
        c.websocket.stale_after_ms >= 500,
        "websocket.stale_after_ms",
        || format!("must be at least 500 (got {})", c.websocket.stale_after_ms),
    );
    let k = &c.kite;
    check(
        p,
        k.api_root.starts_with("https://") || k.api_root.starts_with("http://"),
        "kite.api_root",
        || format!("must start with https:// or http:// (got `{}`)", k.api_root),
    );
    check(
        p,
        (100..=60_000).contains(&k.request_timeout_ms),
        "kite.request_timeout_ms",
        || format!("must be 100..=60000 (got {})", k.request_timeout_ms),
    );
    check(
        p,
        (1..=16).contains(&k.io_workers),
        "kite.io_workers",
        || format!("must be 1..=16 (got {})", k.io_workers),
    );
    let r = &k.rate_limits;
    check(
        p,
        [
            r.orders_per_second,
            r.orders_per_minute,
            r.orders_per_day,
            r.quotes_per_second,
            r.historical_per_second,
            r.others_per_second,
        ]
        .iter()
        .all(|&n| n >= 1),
        "kite.rate_limits",
        || "every limit must be at least 1".to_string(),
    );
    let w = &c.websocket;
    check(
        p,
        w.ws_root.starts_with("ws://") || w.ws_root.starts_with("wss://"),
        "websocket.ws_root",
        || format!("must start with ws:// or wss:// (got `{}`)", w.ws_root),
    );
    check(
        p,
        (100..=60_000).contains(&w.connect_timeout_ms),
        "websocket.connect_timeout_ms",
        || format!("must be 100..=60000 (got {})", w.connect_timeout_ms),
    );
    check(
        p,
        w.reconnect_backoff_base_ms >= 1
            && w.reconnect_backoff_base_ms <= w.reconnect_backoff_max_ms,
        "websocket.reconnect_backoff_base_ms",
        || {
            format!(
                "must be >= 1 and <= reconnect_backoff_max_ms (got {} and {})",
                w.reconnect_backoff_base_ms, w.reconnect_backoff_max_ms
            )
        },
    );

    let l = &c.logging;
    check(p, parse_level(&l.level).is_some(), "logging.level", || {
        format!(
            "must be DEBUG, INFO, WARNING, ERROR or CRITICAL (got `{}`)",
            l.level
        )
    });
    check(p, l.max_bytes >= 4096, "logging.max_bytes", || {
        format!("must be at least 4096 (got {})", l.max_bytes)
    });
    check(p, l.hot_queue >= 16, "logging.hot_queue", || {
        format!("must be at least 16 (got {})", l.hot_queue)
    });

    let pl = &c.pipeline;
    if let Err(msg) = WaitStrategy::parse(&pl.wait) {
        p.push(Problem {
            path: "pipeline.wait".into(),
            message: msg,
        });
    }
    check(
        p,
        pl.ring_size.is_power_of_two() && pl.ring_size >= 64,
        "pipeline.ring_size",
        || format!("must be a power of two >= 64 (got {})", pl.ring_size),
    );
    let threads = match pl.topology {
        Topology::Pipeline => 4,
        Topology::Collapsed => 2,
    };
    check(
        p,
        pl.cpus.is_empty() || pl.cpus.len() == threads,
        "pipeline.cpus",
        || {
            format!(
                "must be empty or list {threads} CPUs for the {:?} topology (got {:?})",
                pl.topology, pl.cpus
            )
        },
    );

    let f = &c.feed;
    check(
        p,
        f.replay_speed.is_finite() && f.replay_speed >= 0.0,
        "feed.replay_speed",
        || {
            format!(
                "must be >= 0 (0 = as fast as possible) (got {})",
                f.replay_speed
            )
        },
    );
    check(
        p,
        f.source != FeedSource::Replay || f.replay_path.as_deref().is_some_and(|s| !s.is_empty()),
        "feed.replay_path",
        || "must name a recorded file when feed.source is replay".to_string(),
    );
    let s = &c.feed.synthetic;
    check(
        p,
        s.speed.is_finite() && s.speed >= 0.0,
        "feed.synthetic.speed",
        || format!("must be >= 0 (0 = as fast as possible) (got {})", s.speed),
    );
    check_time(p, "feed.synthetic.start_time", &s.start_time);
    check(
        p,
        s.date.is_empty() || crate::domain::Date::parse(&s.date).is_some(),
        "feed.synthetic.date",
        || format!("must be yyyy-mm-dd or empty (got `{}`)", s.date),
    );
    check(
        p,
        (50..=60_000).contains(&s.tick_interval_ms),
        "feed.synthetic.tick_interval_ms",
        || format!("must be 50..=60000 (got {})", s.tick_interval_ms),
    );

    let ctl = &c.control;
    check(
        p,
        ctl.bind.parse::<std::net::IpAddr>().is_ok(),
        "control.bind",
        || format!("must be an IP address (got `{}`)", ctl.bind),
    );
    check(
        p,
        ctl.api_port != ctl.dashboard_port || ctl.api_port == 0,
        "control.dashboard_port",
        || format!("must differ from control.api_port (both {})", ctl.api_port),
    );
    check(
        p,
        !ctl.snapshot_path.is_empty(),
        "control.snapshot_path",
        || "must not be empty".into(),
    );
}

fn positive(x: f64) -> bool {
    x.is_finite() && x > 0.0
}

/// The strategies, indicators and ranking sections: what `POST /strategies/reload` re-reads.
pub fn validate_strategies(c: &AppConfig, p: &mut Vec<Problem>) {
    let w = &c.websocket;
    check(
        p,
        !w.aggregation_windows.is_empty()
            && w.aggregation_windows.len() <= 4
            && w.aggregation_windows.iter().all(|m| (1..=375).contains(m)),
        "websocket.aggregation_windows",
        || {
            format!(
                "must list 1 to 4 bar sizes of 1..=375 minutes (got {:?})",
                w.aggregation_windows
            )
        },
    );
    check(
        p,
        (10..=10_000).contains(&w.bar_history),
        "websocket.bar_history",
        || format!("must be 10..=10000 bars (got {})", w.bar_history),
    );
    let o = &c.strategies.orb;
    check(
        p,
        (1..=375).contains(&o.window_min),
        "strategies.orb.window_min",
        || format!("must be 1..=375 minutes (got {})", o.window_min),
    );
    check(
        p,
        o.breakout_confirmation_ticks >= 1,
        "strategies.orb.breakout_confirmation_ticks",
        || format!("must be at least 1 (got {})", o.breakout_confirmation_ticks),
    );
    check(p, positive(o.rr_min), "strategies.orb.rr_min", || {
        format!("must be > 0 (got {})", o.rr_min)
    });
    check(
        p,
        o.max_positions >= 1,
        "strategies.orb.max_positions",
        || format!("must be at least 1 (got {})", o.max_positions),
    );
    let has_window = |m: u32| w.aggregation_windows.contains(&m);
    let t = &c.strategies.trend_pullback;
    let tp = "strategies.trend_pullback";
    check(
        p,
        has_window(t.timeframe_min),
        &format!("{tp}.timeframe_min"),
        || {
            format!(
                "must be one of websocket.aggregation_windows {:?} (got {})",
                w.aggregation_windows, t.timeframe_min
            )
        },
    );
    check(
        p,
        t.ema_fast >= 2 && t.ema_fast < t.ema_slow && t.ema_slow <= 500,
        &format!("{tp}.ema_fast"),
        || {
            format!(
                "needs 2 <= ema_fast < ema_slow <= 500 (got {} / {})",
                t.ema_fast, t.ema_slow
            )
        },
    );
    check(
        p,
        t.min_adx.is_finite() && (0.0..100.0).contains(&t.min_adx),
        &format!("{tp}.min_adx"),
        || format!("must be 0..100 (got {})", t.min_adx),
    );
    check(
        p,
        positive(t.pullback_atr_mult) && t.pullback_atr_mult <= 5.0,
        &format!("{tp}.pullback_atr_mult"),
        || format!("must be > 0 and <= 5 (got {})", t.pullback_atr_mult),
    );
    check(
        p,
        (1..=50).contains(&t.swing_lookback),
        &format!("{tp}.swing_lookback"),
        || format!("must be 1..=50 bars (got {})", t.swing_lookback),
    );
    check(p, positive(t.rr_min), &format!("{tp}.rr_min"), || {
        format!("must be > 0 (got {})", t.rr_min)
    });
    check(
        p,
        t.cooldown_bars <= 375,
        &format!("{tp}.cooldown_bars"),
        || format!("must be 0..=375 bars (got {})", t.cooldown_bars),
    );
    check(
        p,
        t.max_positions >= 1,
        &format!("{tp}.max_positions"),
        || format!("must be at least 1 (got {})", t.max_positions),
    );
    let v = &c.strategies.vwap_reversion;
    let vr = "strategies.vwap_reversion";
    check(
        p,
        has_window(v.timeframe_min),
        &format!("{vr}.timeframe_min"),
        || {
            format!(
                "must be one of websocket.aggregation_windows {:?} (got {})",
                w.aggregation_windows, v.timeframe_min
            )
        },
    );
    check(
        p,
        positive(v.vwap_band_mult) && v.vwap_band_mult <= 6.0,
        &format!("{vr}.vwap_band_mult"),
        || format!("must be > 0 and <= 6 (got {})", v.vwap_band_mult),
    );
    check(
        p,
        positive(v.max_adx) && v.max_adx < 100.0,
        &format!("{vr}.max_adx"),
        || format!("must be > 0 and < 100 (got {})", v.max_adx),
    );
    check(p, positive(v.rr_min), &format!("{vr}.rr_min"), || {
        format!("must be > 0 (got {})", v.rr_min)
    });
    check(
        p,
        v.min_session_bars <= 375,
        &format!("{vr}.min_session_bars"),
        || format!("must be 0..=375 bars (got {})", v.min_session_bars),
    );
    check(
        p,
        v.cooldown_bars <= 375,
        &format!("{vr}.cooldown_bars"),
        || format!("must be 0..=375 bars (got {})", v.cooldown_bars),
    );
    check(
        p,
        v.max_positions >= 1,
        &format!("{vr}.max_positions"),
        || format!("must be at least 1 (got {})", v.max_positions),
    );
    let i = &c.indicators;
    for (name, n) in [
        ("ema_fast", i.ema_fast),
        ("ema_slow", i.ema_slow),
        ("atr_period", i.atr_period),
        ("rsi_period", i.rsi_period),
        ("adx_period", i.adx_period),
        ("bb_period", i.bb_period),
        ("supertrend_period", i.supertrend_period),
    ] {
        check(
            p,
            (1..=500).contains(&n),
            &format!("indicators.{name}"),
            || format!("must be 1..=500 bars (got {n})"),
        );
    }
    check(
        p,
        positive(i.bb_std) && i.bb_std <= 10.0,
        "indicators.bb_std",
        || format!("must be > 0 and <= 10 (got {})", i.bb_std),
    );
    check(
        p,
        positive(i.supertrend_mult) && i.supertrend_mult <= 20.0,
        "indicators.supertrend_mult",
        || format!("must be > 0 and <= 20 (got {})", i.supertrend_mult),
    );
    let r = &c.ranking;
    check(p, (1..=100).contains(&r.top_n), "ranking.top_n", || {
        format!("must be 1..=100 (got {})", r.top_n)
    });
    let wt = &r.weights;
    for (name, x) in [
        ("momentum", wt.momentum),
        ("trend", wt.trend),
        ("liquidity", wt.liquidity),
        ("regime", wt.regime),
        ("rr", wt.rr),
    ] {
        check(
            p,
            x.is_finite() && (0.0..=1.0).contains(&x),
            &format!("ranking.weights.{name}"),
            || format!("must be 0..=1 (got {x})"),
        );
    }
    let sum = wt.momentum + wt.trend + wt.liquidity + wt.regime + wt.rr;
    check(p, (sum - 1.0).abs() < 1e-6, "ranking.weights", || {
        format!("must add up to 1.0 (got {sum})")
    });
    for (name, x) in [
        ("illiquid", r.penalties.illiquid),
        ("far_from_vwap", r.penalties.far_from_vwap),
    ] {
        check(
            p,
            x.is_finite() && (0.0..=1.0).contains(&x),
            &format!("ranking.penalties.{name}"),
            || format!("must be 0..=1 (got {x})"),
        );
    }
    check(
        p,
        positive(r.max_spread_bps),
        "ranking.max_spread_bps",
        || format!("must be > 0 (got {})", r.max_spread_bps),
    );
    check(
        p,
        positive(r.far_from_vwap_sigma),
        "ranking.far_from_vwap_sigma",
        || format!("must be > 0 (got {})", r.far_from_vwap_sigma),
    );
    check(
        p,
        (1..=100).contains(&r.momentum_bars),
        "ranking.momentum_bars",
        || format!("must be 1..=100 (got {})", r.momentum_bars),
    );
}
