//! `aitrapp export`: the trades of one day or a range, from the journals (today's and the
//! archive's), as CSV for tax records and analysis. Every rupee is the journal's paise.

use super::*;
use crate::journal;
use crate::journal::retention;
use crate::risk::recovery::{decode_trade, JournaledTrade};
use crate::telemetry::journal::kind;

pub const CSV_HEADER: &str = "date,symbol,exchange,segment,side,quantity,entry_time,entry_price,exit_time,exit_price,gross_pnl,brokerage,stt,exchange_txn,sebi_fee,stamp_duty,gst,total_charges,net_pnl,strategy,exit_reason,entry_order_id,entry_tag,exit_order_id,exit_tag";

/// The journaled trades of trading days `from..=to`, in the order they closed.
pub fn journaled_trades(
    cfg: &AppConfig,
    base: &Path,
    from: Date,
    to: Date,
) -> Result<Vec<JournaledTrade>, AppError> {
    let dir = resolve_path(base, &cfg.journal.dir);
    let mut out = Vec::new();
    for (day, path) in journal::day_files(&dir) {
        if day < from.0 || day > to.0 {
            continue;
        }
        for r in journal::read_day_file(&path).map_err(startup)? {
            if r.kind == kind::TRADE {
                out.push(
                    decode_trade(&r.payload).map_err(|e| {
                        startup(format!("{}: record {}: {e}", path.display(), r.seq))
                    })?,
                );
            }
        }
    }
    Ok(out)
}

fn time_of(ts: u32) -> String {
    format!(
        "{} {}",
        crate::clock::ist_date(ts as i64),
        crate::clock::ist_time_of_day(ts as i64)
    )
}

/// One CSV line (no newline) of a trade.
pub fn csv_line(t: &JournaledTrade) -> String {
    let r = &t.trade;
    let c = &r.charges;
    let rs = |p: Paise| format_rupees(p.0, 100);
    let px = |p: Price| format_rupees(p.0, t.divisor);
    [
        crate::clock::ist_date(r.closed_ts as i64).to_string(),
        t.symbol.clone(),
        t.exchange.clone(),
        t.instrument_type.clone(),
        r.side.as_str().to_string(),
        r.qty.to_string(),
        time_of(r.opened_ts),
        px(r.entry),
        time_of(r.closed_ts),
        px(r.exit),
        rs(r.pnl),
        rs(c.brokerage),
        rs(c.stt),
        rs(c.exchange_txn),
        rs(c.sebi_fee),
        rs(c.stamp_duty),
        rs(c.gst),
        rs(c.total()),
        rs(r.net_pnl()),
        r.strategy.as_str().to_string(),
        r.exit_purpose.as_str().to_string(),
        r.entry_order.0.to_string(),
        r.entry_order.tag().as_str().to_string(),
        r.exit_order.0.to_string(),
        r.exit_order.tag().as_str().to_string(),
    ]
    .join(",")
}

/// At start: trade exports of other days than `today` in `journal.exports_dir` move to its
/// `archive/`, compressed, and archived ones older than `logging.audit_retention_days` go.
/// An error is logged, never fatal: the exports are copies of what the journals hold.
pub fn archive_exports(cfg: &AppConfig, base: &Path, today: Date) {
    if cfg.journal.exports_dir.is_empty() {
        return;
    }
    let dir = resolve_path(base, &cfg.journal.exports_dir);
    if !dir.is_dir() {
        return;
    }
    match retention::archive_other_days(&dir, retention::EXPORT, today.0) {
        Ok(done) => {
            for a in done {
                log::info!(target: "journal", file = a.display().to_string().as_str();
                    "Trade export of an earlier day archived to {}", a.display());
            }
        }
        Err((path, e)) => {
            log::error!(target: "journal", file = path.display().to_string().as_str(), error = e.to_string().as_str();
                "ALERT: archiving the trade exports stopped at {}: {e}", path.display())
        }
    }
    let days = cfg.logging.audit_retention_days;
    for p in retention::prune_archive(&dir, retention::EXPORT, today.0, days) {
        log::info!(target: "journal", file = p.display().to_string().as_str(), retention_days = days;
            "Archived trade export {} deleted: older than logging.audit_retention_days ({days})", p.display());
    }
}

/// At a stop: each day from `from` to `to` that has trades gets its export in
/// `journal.exports_dir` (`trades-YYYY-MM-DD.csv`, as `aitrapp export --date` writes it).
pub fn write_day_exports(cfg: &AppConfig, base: &Path, from: Date, to: Date) {
    if cfg.journal.exports_dir.is_empty() || !cfg.journal.enabled {
        return;
    }
    let dir = resolve_path(base, &cfg.journal.exports_dir);
    let mut day = from;
    while day <= to {
        let path = dir.join(retention::EXPORT.name(day.0));
        let written = std::fs::create_dir_all(&dir)
            .map_err(|e| startup(format!("{}: {e}", dir.display())))
            .and_then(|_| {
                let d = day.to_string();
                export_trades(cfg, base, Some(&d), None, None, Some(&path))
            });
        match written {
            Ok(n) => {
                log::info!(target: "journal", file = path.display().to_string().as_str(), trades = n;
                "Trades of {day} exported for tax records to {} ({n} trades)", path.display())
            }
            Err(e) => {
                log::error!(target: "journal", file = path.display().to_string().as_str(), error = e.to_string().as_str();
                "ALERT: the trade export of {day} was not written ({e}); `aitrapp export --date {day}` writes it from the journal")
            }
        }
        day = crate::clock::ist_date(
            crate::clock::ist_epoch(day, crate::clock::TimeOfDay::hm(12, 0)) + 86_400,
        );
    }
}

/// `GET /trades?date=`: a day's trades as JSON, with the export's columns as field names
/// (money and quantities as numbers, exactly the CSV's figures).
pub fn trades_json(cfg: &AppConfig, base: &Path, day: Date) -> Result<serde_json::Value, AppError> {
    let trades = journaled_trades(cfg, base, day, day)?;
    let names: Vec<&str> = CSV_HEADER.split(',').collect();
    let rows: Vec<serde_json::Value> = trades
        .iter()
        .map(|t| {
            let line = csv_line(t);
            let mut o = serde_json::Map::new();
            for (name, v) in names.iter().zip(line.split(',')) {
                let text = matches!(*name, "symbol" | "entry_tag" | "exit_tag");
                let value = match (v.parse::<i64>(), v.parse::<f64>()) {
                    (Ok(n), _) if !text => serde_json::json!(n),
                    (_, Ok(n)) if !text => serde_json::json!(n),
                    _ => serde_json::json!(v),
                };
                o.insert(name.to_string(), value);
            }
            serde_json::Value::Object(o)
        })
        .collect();
    let net: i64 = trades.iter().map(|t| t.trade.net_pnl().0).sum();
    let gross: i64 = trades.iter().map(|t| t.trade.pnl.0).sum();
    Ok(serde_json::json!({
        "date": day.to_string(),
        "count": rows.len(),
        "gross_pnl": gross as f64 / 100.0,
        "net_pnl": net as f64 / 100.0,
        "trades": rows,
    }))
}

/// `aitrapp export`: `date`, or `from`..`to` (yyyy-mm-dd; default today, IST), as CSV into
/// `out` (stdout when None). Returns how many trades it wrote.
pub fn export_trades(
    cfg: &AppConfig,
    base: &Path,
    date: Option<&str>,
    from: Option<&str>,
    to: Option<&str>,
    out: Option<&Path>,
) -> Result<usize, AppError> {
    let parse = |what: &str, s: &str| {
        Date::parse(s).ok_or_else(|| startup(format!("--{what} must be yyyy-mm-dd (got `{s}`)")))
    };
    let today = crate::clock::today_ist();
    let (from, to) = match (date, from, to) {
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
            return Err(startup("give --date, or --from and --to, not both"))
        }
        (Some(d), None, None) => {
            let d = parse("date", d)?;
            (d, d)
        }
        (None, f, t) => (
            f.map(|s| parse("from", s)).transpose()?.unwrap_or(today),
            t.map(|s| parse("to", s)).transpose()?.unwrap_or(today),
        ),
    };
    if from > to {
        return Err(startup(format!("--from {from} is after --to {to}")));
    }
    let trades = journaled_trades(cfg, base, from, to)?;
    let mut text = String::with_capacity(128 * (trades.len() + 1));
    text.push_str(CSV_HEADER);
    text.push('\n');
    for t in &trades {
        text.push_str(&csv_line(t));
        text.push('\n');
    }
    match out {
        Some(p) => {
            // Written whole, then moved into place: never a half file under the name.
            let tmp = p.with_extension("csv.part");
            std::fs::write(&tmp, &text)
                .and_then(|_| std::fs::rename(&tmp, p))
                .map_err(|e| startup(format!("{}: {e}", p.display())))?;
        }
        None => {
            use std::io::Write as _;
            let _ = std::io::stdout().write_all(text.as_bytes());
        }
    }
    Ok(trades.len())
}
