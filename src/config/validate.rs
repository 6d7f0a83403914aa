//! Range and consistency checks over a parsed config, all at once: each problem is named by
//! its path and value, and a file with any problem is refused whole.

use super::{
    parse_level, validate_strategies, AppConfig, FeedSource, Problem, Topology, WaitStrategy,
};
use crate::clock::TimeOfDay;

pub(super) fn check(
    problems: &mut Vec<Problem>,
    ok: bool,
    path: &str,
    msg: impl FnOnce() -> String,
) {
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
    check(
        p,
        c.universe.exclude_illiquid_threshold_turnover.is_finite()
            && c.universe.exclude_illiquid_threshold_turnover >= 0.0,
        "universe.exclude_illiquid_threshold_turnover",
        || {
            format!(
                "must be >= 0 rupees (got {})",
                c.universe.exclude_illiquid_threshold_turnover
            )
        },
    );
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
    let a = &c.alerts;
    let known = crate::config::operator::all_events();
    for (channel, events) in [
        ("telegram", &a.telegram.events),
        ("slack", &a.slack.events),
        ("email", &a.email.events),
    ] {
        for e in events {
            check(
                p,
                known.contains(e),
                &format!("alerts.{channel}.events"),
                || format!("unknown event `{e}` (one of {})", known.join(", ")),
            );
        }
    }
    check(
        p,
        matches!(a.email.security.as_str(), "starttls" | "tls" | "none"),
        "alerts.email.security",
        || format!("must be starttls, tls or none (got `{}`)", a.email.security),
    );
    check(p, a.queue > 0, "alerts.queue", || {
        "must be at least 1".into()
    });
    let k = &c.kite;
    check(
        p,
        k.adopted_stop_pct > 0.0 && k.adopted_stop_pct < 100.0,
        "kite.adopted_stop_pct",
        || format!("must be > 0 and < 100 percent (got {})", k.adopted_stop_pct),
    );
    check(
        p,
        c.monitoring.min_free_disk_gb >= 0.0 && c.monitoring.min_free_disk_gb.is_finite(),
        "monitoring.min_free_disk_gb",
        || {
            format!(
                "must be 0 (off) or more gigabytes (got {})",
                c.monitoring.min_free_disk_gb
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
    let sq_fo = check_time(p, "market.fo_squareoff_time", &m.fo_squareoff_time);
    let cut_eq = check_time(
        p,
        "market.broker_squareoff_equity",
        &m.broker_squareoff_equity,
    );
    let cut_fo = check_time(p, "market.broker_squareoff_fo", &m.broker_squareoff_fo);
    for (key, sq, cut, seg) in [
        ("market.eod_squareoff_time", sq, cut_eq, "equity MIS"),
        ("market.fo_squareoff_time", sq_fo, cut_fo, "F&O"),
    ] {
        if let (Some(open), Some(close), Some(sq)) = (open, close, sq) {
            check(p, open < sq && sq <= close, key, || {
                format!("must be after open {open} and not after close {close} (got {sq})")
            });
        }
        // The broker squares off itself at its cut-off and charges Rs 50 + GST an order:
        // ours must be on the book before it.
        if let (Some(sq), Some(cut)) = (sq, cut) {
            if m.eod_squareoff_enabled {
                check(p, sq < cut, key, || {
                    format!("must be before the broker's {seg} square-off at {cut} (got {sq})")
                });
            }
        }
    }
    if let (Some(sq), Some(open)) = (sq.min(sq_fo), open) {
        let buffer = m.no_entries_before_squareoff_min * 60;
        check(
            p,
            buffer < sq.0.saturating_sub(open.0),
            "market.no_entries_before_squareoff_min",
            || {
                format!(
                    "leaves no time to enter between the open {open} and square-off {sq} (got {})",
                    m.no_entries_before_squareoff_min
                )
            },
        );
    }

    let x = &c.exits;
    for (key, v, lo, hi) in [
        ("exits.trail_atr_mult", x.trail_atr_mult, 0.1, 20.0),
        ("exits.tp1_rr", x.tp1_rr, 0.1, 50.0),
        ("exits.tp2_rr", x.tp2_rr, 0.1, 50.0),
        ("exits.tp1_partial_pct", x.tp1_partial_pct, 1.0, 100.0),
        ("exits.tp2_partial_pct", x.tp2_partial_pct, 1.0, 100.0),
        ("exits.vol_spike_mult", x.vol_spike_mult, 1.0, 50.0),
        ("exits.mae_stop_pct", x.mae_stop_pct, 0.01, 50.0),
    ] {
        check(p, v.is_finite() && (lo..=hi).contains(&v), key, || {
            format!("must be {lo}..={hi} (got {v})")
        });
    }
    if x.take_profit_enabled {
        check(p, x.tp2_rr > x.tp1_rr, "exits.tp2_rr", || {
            format!("must be above tp1_rr {} (got {})", x.tp1_rr, x.tp2_rr)
        });
    }
    check(
        p,
        !x.time_stop_enabled || (1..=375).contains(&x.time_stop_min),
        "exits.time_stop_min",
        || format!("must be 1..=375 minutes (got {})", x.time_stop_min),
    );

    let e = &c.execution;
    check(
        p,
        e.slippage_bps >= 0.0 && e.slippage_bps <= 500.0,
        "execution.slippage_bps",
        || format!("must be 0..=500 (got {})", e.slippage_bps),
    );
    check(
        p,
        e.ioc_exit_band_pct > 0.0 && e.ioc_exit_band_pct <= 20.0,
        "execution.ioc_exit_band_pct",
        || format!("must be in (0, 20] (got {})", e.ioc_exit_band_pct),
    );
    check(
        p,
        ["CANCEL", "MARKET"].contains(&e.limit_chase_final.as_str()),
        "execution.limit_chase_final",
        || format!("must be CANCEL or MARKET (got `{}`)", e.limit_chase_final),
    );
    check(
        p,
        ["SL-M", "SL"].contains(&e.protective_stop_order_type.as_str()),
        "execution.protective_stop_order_type",
        || {
            format!(
                "must be SL-M or SL (got `{}`)",
                e.protective_stop_order_type
            )
        },
    );
    check(
        p,
        (1..=24).contains(&e.protective_stop_replace_after),
        "execution.protective_stop_replace_after",
        || {
            format!(
                "must be 1..=24: Kite refuses a 26th modification (got {})",
                e.protective_stop_replace_after
            )
        },
    );
    check(
        p,
        e.protective_stop_limit_band_pct > 0.0 && e.protective_stop_limit_band_pct <= 20.0,
        "execution.protective_stop_limit_band_pct",
        || {
            format!(
                "must be in (0, 20] (got {})",
                e.protective_stop_limit_band_pct
            )
        },
    );
    check(
        p,
        (0.0..=100.0).contains(&e.margin_pct) && e.paper_price_band_pct >= 0.0,
        "execution.margin_pct",
        || format!("must be 0..=100 (got {})", e.margin_pct),
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

    let j = &c.journal;
    check(
        p,
        matches!(j.fsync.as_str(), "always" | "interval" | "never"),
        "journal.fsync",
        || format!("must be always, interval or never (got `{}`)", j.fsync),
    );
    check(p, j.queue >= 64, "journal.queue", || {
        format!("must be at least 64 (got {})", j.queue)
    });
    check(p, !j.dir.trim().is_empty(), "journal.dir", || {
        "must name a directory".into()
    });
    check(
        p,
        j.enabled || c.mode != super::Mode::Live,
        "journal.enabled",
        || "LIVE keeps a journal: a crash must never forget positions open at the broker".into(),
    );

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
    check(
        p,
        pl.hot_slice_us == 0 || (100..=100_000).contains(&pl.hot_slice_us),
        "pipeline.hot_slice_us",
        || {
            format!("must be 0 (the kernel's default) or 100..=100000 us, the range the kernel takes (got {})", pl.hot_slice_us)
        },
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
    let loopback = [
        "http://127.0.0.1",
        "https://127.0.0.1",
        "http://localhost",
        "https://localhost",
    ]
    .iter()
    .any(|r| c.kite.api_root.starts_with(r));
    check(
        p,
        f.session_clock == "wall"
            || (f.session_clock == "exchange" && (c.mode != super::Mode::Live || loopback)),
        "feed.session_clock",
        || {
            format!(
                "must be wall, or exchange against kite-sim on loopback (got `{}`): a silent Kite feed would stop the exchange clock and with it the square-off",
                f.session_clock
            )
        },
    );
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

pub(super) fn positive(x: f64) -> bool {
    x.is_finite() && x > 0.0
}
