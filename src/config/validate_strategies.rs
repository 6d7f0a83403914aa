//! Checks of the sections `POST /strategies/reload` re-reads: bar sizes, every strategy,
//! indicator periods and the ranking. Every problem is collected, each naming its path.

use super::validate::{check, positive};
use super::{AppConfig, Problem};

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
    validate_options_ranker(c, p);
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
    check(p, i.warmup_days <= 30, "indicators.warmup_days", || {
        format!("must be 0..=30 sessions (got {})", i.warmup_days)
    });
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

fn validate_options_ranker(c: &AppConfig, p: &mut Vec<Problem>) {
    let o = &c.strategies.options_ranker;
    let w = &c.websocket;
    let op = "strategies.options_ranker";
    check(
        p,
        w.aggregation_windows.contains(&o.timeframe_min),
        &format!("{op}.timeframe_min"),
        || {
            format!(
                "must be one of websocket.aggregation_windows {:?} (got {})",
                w.aggregation_windows, o.timeframe_min
            )
        },
    );
    check(
        p,
        !o.enabled || !o.underlyings.is_empty(),
        &format!("{op}.underlyings"),
        || "must name at least one underlying (e.g. NIFTY) when enabled".into(),
    );
    check(
        p,
        o.min_dte <= o.max_dte && o.max_dte <= 120,
        &format!("{op}.max_dte"),
        || {
            format!(
                "must be >= min_dte and <= 120 days (got min_dte {}, max_dte {})",
                o.min_dte, o.max_dte
            )
        },
    );
    check(
        p,
        (1..=30).contains(&o.strikes_from_atm),
        &format!("{op}.strikes_from_atm"),
        || format!("must be 1..=30 strikes (got {})", o.strikes_from_atm),
    );
    check(
        p,
        (1..=10).contains(&o.max_width_strikes),
        &format!("{op}.max_width_strikes"),
        || format!("must be 1..=10 strikes (got {})", o.max_width_strikes),
    );
    check(
        p,
        o.ivp_max.is_finite() && o.ivp_max > 0.0 && o.ivp_max <= 100.0,
        &format!("{op}.ivp_max"),
        || format!("must be > 0 and <= 100 percent (got {})", o.ivp_max),
    );
    check(
        p,
        o.ivp_min.is_finite() && o.ivp_min >= 0.0 && o.ivp_min < o.ivp_max,
        &format!("{op}.ivp_min"),
        || {
            format!(
                "must be >= 0 and below ivp_max {} (got {})",
                o.ivp_max, o.ivp_min
            )
        },
    );
    check(
        p,
        (1..=2000).contains(&o.iv_lookback_days),
        &format!("{op}.iv_lookback_days"),
        || format!("must be 1..=2000 days (got {})", o.iv_lookback_days),
    );
    check(
        p,
        o.min_iv_history >= 1 && o.min_iv_history <= o.iv_lookback_days,
        &format!("{op}.min_iv_history"),
        || format!("must be 1..=iv_lookback_days (got {})", o.min_iv_history),
    );
    check(p, positive(o.rr_min), &format!("{op}.rr_min"), || {
        format!("must be > 0 (got {})", o.rr_min)
    });
    check(
        p,
        o.risk_free_rate.is_finite() && (0.0..0.5).contains(&o.risk_free_rate),
        &format!("{op}.risk_free_rate"),
        || format!("must be 0..0.5 (got {})", o.risk_free_rate),
    );
    for (name, x) in [
        ("spread_stop_fraction", o.spread_stop_fraction),
        ("spread_target_fraction", o.spread_target_fraction),
    ] {
        check(p, positive(x) && x <= 1.0, &format!("{op}.{name}"), || {
            format!("must be > 0 and <= 1 (got {x})")
        });
    }
    check(
        p,
        positive(o.directional_stop_pct) && o.directional_stop_pct < 100.0,
        &format!("{op}.directional_stop_pct"),
        || format!("must be > 0 and < 100 (got {})", o.directional_stop_pct),
    );
    check(
        p,
        o.cooldown_bars <= 375,
        &format!("{op}.cooldown_bars"),
        || format!("must be 0..=375 bars (got {})", o.cooldown_bars),
    );
    check(
        p,
        o.max_positions >= 1,
        &format!("{op}.max_positions"),
        || format!("must be at least 1 (got {})", o.max_positions),
    );
    let f = &o.options_filters;
    check(
        p,
        positive(f.max_spread_mid_pct) && f.max_spread_mid_pct <= 50.0,
        &format!("{op}.options_filters.max_spread_mid_pct"),
        || format!("must be > 0 and <= 50 (got {})", f.max_spread_mid_pct),
    );
}
