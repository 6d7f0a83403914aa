//! The subcommands that look at things without trading: a recording decoded, the snapshot
//! printed, indicators over candles, the charges of a round trip.

use crate::{config_or_default, load_config};
use aitrapp::config::{self, base_dir, Environment};
use aitrapp::feed::codec::{decode_frame, tick_json};
use aitrapp::feed::record::RecordReader;
use aitrapp::telemetry::snapshot;
use anyhow::{Context, Result};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// `aitrapp indicators`: every candle with its indicator values, rupees, one JSON line each.
pub fn cmd_indicators(candles: &Path, config_path: &Path) -> Result<ExitCode> {
    use aitrapp::domain::candle::parse_candles;
    use aitrapp::strategy::indicators::{IndicatorPeriods, IndicatorSet};
    let cfg = match config_or_default(config_path) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    let text = std::fs::read_to_string(candles)
        .with_context(|| format!("reading {}", candles.display()))?;
    let bars = match parse_candles(&text, &candles.display().to_string(), 100) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    let mut set = IndicatorSet::new(&IndicatorPeriods::from(&cfg.indicators));
    let rupees = |x: Option<f64>| x.map(|v| (v / 100.0 * 1e6).round() / 1e6);
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for c in &bars {
        let v = set.update(c);
        // Written by hand to keep the documented field order.
        let num = |x: Option<f64>| x.map_or("null".to_string(), |v| format!("{v}"));
        let line = format!(
            "{{\"date\":\"{}\",\"ema_fast\":{},\"ema_slow\":{},\"atr\":{},\"rsi\":{},\"adx\":{},\"bb_upper\":{},\"bb_middle\":{},\"bb_lower\":{},\"vwap\":{},\"supertrend\":{}}}",
            aitrapp::clock::kite_time(c.start as i64),
            num(rupees(v.ema_fast)),
            num(rupees(v.ema_slow)),
            num(rupees(v.atr)),
            num(v.rsi.map(|x| (x * 1e6).round() / 1e6)),
            num(v.adx.and_then(|a| a.adx).map(|x| (x * 1e6).round() / 1e6)),
            num(rupees(v.bb.map(|b| b.upper))),
            num(rupees(v.bb.map(|b| b.middle))),
            num(rupees(v.bb.map(|b| b.lower))),
            num(rupees(v.vwap.map(|x| x.vwap))),
            num(rupees(v.supertrend.map(|x| x.value))),
        );
        if writeln!(out, "{line}").is_err() {
            break; // a closed pipe (| head) is not an error
        }
    }
    let _ = out.flush();
    Ok(ExitCode::SUCCESS)
}

/// Rupees as written ("1000", "135.5", "0.05") to paise, exactly; more than 2 decimals is an error.
fn parse_rupees(s: &str) -> Option<i64> {
    let (whole, frac) = s.trim().split_once('.').unwrap_or((s.trim(), ""));
    if whole.is_empty() || frac.len() > 2 || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let w: i64 = whole.parse().ok()?;
    let f: i64 = format!("{frac:0<2}").parse().ok()?;
    w.checked_mul(100)?.checked_add(f)
}

#[allow(clippy::too_many_arguments)]
pub fn cmd_charges(
    segment: &str,
    buy: &str,
    sell: &str,
    qty: i64,
    date: Option<String>,
    json: bool,
    file: Option<PathBuf>,
    config_path: &Path,
) -> Result<ExitCode> {
    use aitrapp::domain::{format_rupees, Date, Price, Qty};
    use aitrapp::risk::charges::{ChargeSchedule, ChargeSegment};
    let bad = |m: String| {
        eprintln!("error: {m}");
        Ok(ExitCode::from(2))
    };
    let Some(seg) = ChargeSegment::parse(segment) else {
        return bad(format!(
            "--segment must be intraday, futures or options (got `{segment}`)"
        ));
    };
    let (Some(b), Some(s)) = (parse_rupees(buy), parse_rupees(sell)) else {
        return bad(format!(
            "--buy and --sell must be rupees with at most 2 decimals (got `{buy}`, `{sell}`)"
        ));
    };
    if qty <= 0 {
        return bad(format!(
            "--qty must be a positive number of units (got {qty})"
        ));
    }
    let day = match date.as_deref() {
        None => aitrapp::clock::today_ist(),
        Some(d) => match Date::parse(d) {
            Some(d) => d,
            None => return bad(format!("--date must be yyyy-mm-dd (got `{d}`)")),
        },
    };
    let path = match file {
        Some(f) => f,
        None => {
            let cfg = match config_or_default(config_path) {
                Ok(c) => c,
                Err(code) => return Ok(code),
            };
            config::resolve_path(&base_dir(config_path), &cfg.risk.charges_file)
        }
    };
    let sched = match ChargeSchedule::load(&path) {
        Ok(s) => s,
        Err(e) => {
            eprint!("{e}");
            return Ok(ExitCode::from(2));
        }
    };
    let Some(t) = sched.round_trip(seg, Price(b), Price(s), Qty(qty), day) else {
        return bad(format!("{}: no rate table covers {day}", path.display()));
    };
    let total = t.charges.total();
    let mut rows: Vec<(&str, i64)> = t.charges.lines().iter().map(|(k, v)| (*k, v.0)).collect();
    rows.push(("total", total.0));
    rows.push(("gross_pnl", t.gross_pnl.0));
    rows.push(("net_pnl", t.net_pnl.0));
    rows.push(("points_to_breakeven", t.points_to_breakeven.0));
    let from = sched
        .table_for(day)
        .map(|t| t.from.to_string())
        .unwrap_or_default();
    if json {
        let mut m = serde_json::Map::new();
        for (k, v) in &rows {
            m.insert((*k).into(), serde_json::json!(*v as f64 / 100.0));
        }
        m.insert("segment".into(), serde_json::json!(seg.as_str()));
        m.insert("date".into(), serde_json::json!(day.to_string()));
        m.insert("rate_table_from".into(), serde_json::json!(from));
        println!("{}", serde_json::Value::Object(m));
    } else {
        println!(
            "{} round trip: buy {} sell {} qty {qty} on {day} (rates from {from})",
            seg.as_str(),
            format_rupees(b, 100),
            format_rupees(s, 100)
        );
        for (k, v) in rows {
            println!("{k:<20} {:>14}", format_rupees(v, 100));
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn cmd_decode(file: &Path) -> Result<ExitCode> {
    let data = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let (mut frames, mut bad) = (0u64, 0u64);
    for item in RecordReader::new(&data) {
        let (_ts, frame) = match item {
            Ok(f) => f,
            Err(e) => {
                eprintln!("{}: {e}", file.display());
                bad += 1;
                break;
            }
        };
        frames += 1;
        let mut write_err = None;
        if let Err(e) = decode_frame(frame, |t| {
            if let Err(e) = writeln!(out, "{}", tick_json(t)) {
                write_err = Some(e);
            }
        }) {
            bad += 1;
            eprintln!("{}: frame {frames}: skipped: {e}", file.display());
        }
        if write_err.is_some() {
            return Ok(ExitCode::SUCCESS); // stdout closed (e.g. piped into head)
        }
    }
    out.flush().ok();
    eprintln!("{frames} frame(s), {bad} malformed");
    Ok(if bad > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

pub fn cmd_snapshot(config_path: &Path, path: Option<PathBuf>) -> Result<ExitCode> {
    let path = match path {
        Some(p) => p,
        None => {
            let base = base_dir(config_path);
            let cfg = match load_config(config_path, &Environment::default()) {
                Ok(c) => c,
                Err(code) => return Ok(code),
            };
            aitrapp::config::resolve_path(&base, &cfg.control.snapshot_path)
        }
    };
    let body = snapshot::read(&path)?;
    // A closed stdout (piped into head) is not an error worth a panic.
    let _ = writeln!(
        std::io::stdout(),
        "{}",
        serde_json::to_string_pretty(&snapshot::full_json(&body))?
    );
    Ok(ExitCode::SUCCESS)
}
