//! Loads and validates `configs/app.yaml`, then overlays `.env` and the environment.
//! Every problem is collected and reported at once, each naming its path and value; unknown
//! keys are rejected. After `load` succeeds the config is known to be valid.

pub mod schema;
pub mod wait;

pub use schema::*;
pub use wait::WaitStrategy;

use crate::clock::TimeOfDay;
use serde_yaml_ng::Value;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// One thing wrong with a config, located by its dotted path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub path: String,
    pub message: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub struct ConfigError {
    pub file: String,
    pub problems: Vec<Problem>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}: {} problem(s):", self.file, self.problems.len())?;
        for p in &self.problems {
            writeln!(f, "  {}: {}", p.path, p.message)?;
        }
        Ok(())
    }
}

/// Kite credentials and the control API key, from `.env` and the environment. Never logged:
/// `Debug` redacts them.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secrets {
    pub kite_api_key: Option<String>,
    pub kite_api_secret: Option<String>,
    pub kite_access_token: Option<String>,
    pub kite_user_id: Option<String>,
    pub api_secret_key: Option<String>,
}

impl Secrets {
    pub fn has_kite_credentials(&self) -> bool {
        self.kite_api_key.is_some() && self.kite_access_token.is_some()
    }
}

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = |o: &Option<String>| if o.is_some() { "<set>" } else { "<unset>" };
        f.debug_struct("Secrets")
            .field("kite_api_key", &r(&self.kite_api_key))
            .field("kite_api_secret", &r(&self.kite_api_secret))
            .field("kite_access_token", &r(&self.kite_access_token))
            .field("kite_user_id", &r(&self.kite_user_id))
            .field("api_secret_key", &r(&self.api_secret_key))
            .finish()
    }
}

/// Reads a `.env` file: `KEY=value` lines, optional `export `, quotes stripped, `#` comments.
pub fn parse_dotenv(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let l = line.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        let l = l.strip_prefix("export ").unwrap_or(l);
        if let Some((k, v)) = l.split_once('=') {
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|x| x.strip_suffix('"'))
                .or_else(|| v.strip_prefix('\'').and_then(|x| x.strip_suffix('\'')))
                .unwrap_or(v);
            out.insert(k.trim().to_string(), v.to_string());
        }
    }
    out
}

/// The environment as the app sees it: `.env` values, overridden by real environment variables.
#[derive(Clone, Debug, Default)]
pub struct Environment {
    vars: BTreeMap<String, String>,
}

/// Paths in a config are relative to the directory above configs/ (the project root), or to
/// the current directory when the config lives elsewhere.
pub fn base_dir(config: &Path) -> std::path::PathBuf {
    let parent = config.parent().unwrap_or(Path::new("."));
    if parent.file_name().map(|n| n == "configs").unwrap_or(false) {
        parent
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| ".".into())
    } else {
        ".".into()
    }
}

impl Environment {
    pub fn from_process(dotenv_path: &Path) -> Environment {
        let mut vars = std::fs::read_to_string(dotenv_path)
            .map(|t| parse_dotenv(&t))
            .unwrap_or_default();
        for key in [
            "KITE_API_KEY",
            "KITE_API_SECRET",
            "KITE_ACCESS_TOKEN",
            "KITE_USER_ID",
            "APP_MODE",
            "LOG_LEVEL",
            "API_SECRET_KEY",
        ] {
            if let Ok(v) = std::env::var(key) {
                vars.insert(key.to_string(), v);
            }
        }
        Environment { vars }
    }
    pub fn from_map(vars: BTreeMap<String, String>) -> Environment {
        Environment { vars }
    }
    pub fn get(&self, key: &str) -> Option<&str> {
        self.vars
            .get(key)
            .map(|s| s.as_str())
            .filter(|s| !s.trim().is_empty())
    }
    pub fn secrets(&self) -> Secrets {
        let g = |k: &str| self.get(k).map(str::to_string);
        Secrets {
            kite_api_key: g("KITE_API_KEY"),
            kite_api_secret: g("KITE_API_SECRET"),
            kite_access_token: g("KITE_ACCESS_TOKEN"),
            kite_user_id: g("KITE_USER_ID"),
            api_secret_key: g("API_SECRET_KEY"),
        }
    }
}

fn path_string(path: &serde_path_to_error::Path) -> String {
    let s = path.to_string();
    if s == "." {
        "(root)".into()
    } else {
        s
    }
}

fn short(v: &Value) -> String {
    let s = serde_yaml_ng::to_string(v).unwrap_or_default();
    let s = s.trim();
    if s.len() > 60 {
        format!("{}...", &s[..60])
    } else {
        s.to_string()
    }
}

/// Navigates to the node at `path` and removes it, so a retry takes the field's default.
/// Returns the removed value.
fn remove_at(root: &mut Value, path: &serde_path_to_error::Path) -> Option<Value> {
    use serde_path_to_error::Segment;
    let segs: Vec<&Segment> = path.iter().collect();
    let (last, parents) = segs.split_last()?;
    let mut node = root;
    for s in parents {
        node = match s {
            Segment::Map { key } => node.as_mapping_mut()?.get_mut(key.as_str())?,
            Segment::Seq { index } => node.as_sequence_mut()?.get_mut(*index)?,
            _ => return None,
        };
    }
    match last {
        Segment::Map { key } => node.as_mapping_mut()?.remove(key.as_str()),
        Segment::Seq { index } => {
            let seq = node.as_sequence_mut()?;
            (*index < seq.len()).then(|| seq.remove(*index))
        }
        _ => None,
    }
}

/// Deserializes with every type error and unknown key collected, not just the first.
fn deserialize_all(mut value: Value, problems: &mut Vec<Problem>) -> AppConfig {
    // Each failed attempt removes the offending node, so this ends within the node count.
    for _ in 0..256 {
        let mut unknown = Vec::new();
        let mut on_unknown = |p: serde_ignored::Path| unknown.push(p.to_string());
        let de = serde_ignored::Deserializer::new(value.clone(), &mut on_unknown);
        let res = serde_path_to_error::deserialize::<_, AppConfig>(de);
        match res {
            Ok(cfg) => {
                for u in unknown {
                    problems.push(Problem {
                        path: u,
                        message: "unknown key".into(),
                    });
                }
                return cfg;
            }
            Err(e) => {
                let path = e.path().clone();
                let inner = e.into_inner().to_string();
                let removed = remove_at(&mut value, &path);
                let msg = match &removed {
                    Some(v) => format!("{inner} (got `{}`)", short(v)),
                    None => inner,
                };
                problems.push(Problem {
                    path: path_string(&path),
                    message: msg,
                });
                if removed.is_none() {
                    break;
                }
            }
        }
    }
    AppConfig::default()
}

/// Parses a config text (no environment overlay). `file` names it in errors.
pub fn parse(text: &str, file: &str) -> Result<AppConfig, ConfigError> {
    let fail = |problems| ConfigError {
        file: file.to_string(),
        problems,
    };
    let value: Value = serde_yaml_ng::from_str(text).map_err(|e| {
        let loc = e
            .location()
            .map(|l| format!("line {} column {}", l.line(), l.column()));
        fail(vec![Problem {
            path: loc.unwrap_or_else(|| "(yaml)".into()),
            message: format!("not valid YAML: {e}"),
        }])
    })?;
    let value = if value.is_null() {
        Value::Mapping(Default::default())
    } else {
        value
    };
    let mut problems = Vec::new();
    let cfg = deserialize_all(value, &mut problems);
    validate(&cfg, &mut problems);
    if problems.is_empty() {
        Ok(cfg)
    } else {
        Err(fail(problems))
    }
}

/// Loads a config file and applies the environment overlay (APP_MODE, LOG_LEVEL).
pub fn load(path: &Path, env: &Environment) -> Result<AppConfig, ConfigError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        file: file.clone(),
        problems: vec![Problem {
            path: "(file)".into(),
            message: format!("cannot read: {e}"),
        }],
    })?;
    let mut cfg = parse(&text, &file)?;
    let mut problems = Vec::new();
    if let Some(m) = env.get("APP_MODE") {
        match m.to_ascii_uppercase().as_str() {
            "PAPER" => cfg.mode = Mode::Paper,
            "LIVE" => cfg.mode = Mode::Live,
            _ => problems.push(Problem {
                path: "APP_MODE (environment)".into(),
                message: format!("must be PAPER or LIVE (got `{m}`)"),
            }),
        }
    }
    if let Some(l) = env.get("LOG_LEVEL") {
        if parse_level(l).is_none() {
            problems.push(Problem {
                path: "LOG_LEVEL (environment)".into(),
                message: format!("must be DEBUG, INFO, WARNING, ERROR or CRITICAL (got `{l}`)"),
            });
        } else {
            cfg.logging.level = l.to_string();
        }
    }
    if problems.is_empty() {
        Ok(cfg)
    } else {
        Err(ConfigError { file, problems })
    }
}

pub fn parse_level(s: &str) -> Option<log::LevelFilter> {
    match s.trim().to_ascii_uppercase().as_str() {
        "TRACE" => Some(log::LevelFilter::Trace),
        "DEBUG" => Some(log::LevelFilter::Debug),
        "INFO" => Some(log::LevelFilter::Info),
        "WARNING" | "WARN" => Some(log::LevelFilter::Warn),
        "ERROR" | "CRITICAL" => Some(log::LevelFilter::Error),
        "OFF" => Some(log::LevelFilter::Off),
        _ => None,
    }
}

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

/// A path from the config, relative to the base directory unless absolute.
pub fn resolve_path(base: &Path, p: &str) -> PathBuf {
    let path = Path::new(p);
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        base.join(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_config_is_valid() {
        let text =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/configs/app.yaml"))
                .unwrap();
        let cfg = parse(&text, "configs/app.yaml").unwrap();
        assert_eq!(cfg.mode, Mode::Paper);
        assert_eq!(cfg.risk.per_trade_risk_pct, 0.5);
        assert_eq!(cfg.control.api_port, 8000);
    }

    #[test]
    fn empty_config_uses_defaults() {
        assert_eq!(parse("", "x").unwrap(), AppConfig::default());
    }

    #[test]
    fn three_mistakes_are_all_listed() {
        let text = "mode: PAPER\nrisk:\n  per_trade_risk_pct: lots\n  max_positions: 0\nmarket:\n  eod_squareoff_tme: \"15:25\"\n";
        let e = parse(text, "bad.yaml").unwrap_err();
        assert_eq!(e.problems.len(), 3, "{e}");
        let s = e.to_string();
        assert!(
            s.contains("risk.per_trade_risk_pct") && s.contains("lots"),
            "{s}"
        );
        assert!(
            s.contains("risk.max_positions") && s.contains("got 0"),
            "{s}"
        );
        assert!(
            s.contains("market.eod_squareoff_tme") && s.contains("unknown key"),
            "{s}"
        );
    }

    #[test]
    fn two_type_errors_in_one_section_are_both_listed() {
        let e = parse("risk:\n  capital: much\n  max_positions: many\n", "x").unwrap_err();
        let paths: Vec<_> = e.problems.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(paths, ["risk.capital", "risk.max_positions"]);
    }

    #[test]
    fn bad_enum_and_bad_time() {
        let e = parse(
            "mode: YOLO\nmarket:\n  eod_squareoff_time: \"16:00\"\n",
            "x",
        )
        .unwrap_err();
        let s = e.to_string();
        assert!(s.contains("mode") && s.contains("YOLO"), "{s}");
        assert!(s.contains("market.eod_squareoff_time"), "{s}");
    }

    #[test]
    fn yaml_syntax_error_has_location() {
        let e = parse("risk: [unclosed\n", "x").unwrap_err();
        assert!(e.problems[0].path.contains("line"), "{e}");
    }

    #[test]
    fn env_overlay_and_secrets_redacted() {
        let dir = std::env::temp_dir().join(format!("aitrapp-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("app.yaml");
        std::fs::write(&f, "mode: PAPER\n").unwrap();
        let env = Environment::from_map(parse_dotenv(
            "export APP_MODE=live\nLOG_LEVEL='DEBUG'\nKITE_API_KEY=\"k\"\nKITE_ACCESS_TOKEN=tok123\n# c\n",
        ));
        let cfg = load(&f, &env).unwrap();
        assert_eq!(cfg.mode, Mode::Live);
        assert_eq!(cfg.logging.level, "DEBUG");
        let s = env.secrets();
        assert!(s.has_kite_credentials());
        assert!(!format!("{s:?}").contains("tok123"));
        let bad = Environment::from_map(parse_dotenv("APP_MODE=maybe\n"));
        assert!(load(&f, &bad).unwrap_err().to_string().contains("APP_MODE"));
    }
}
