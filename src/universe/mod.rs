//! The trading universe: which instruments of the master the strategies may trade (config
//! filters, the F&O ban list) and what the ticker subscribes to. Built at start, on
//! `POST /universe/reload` and at the daily rollover; below the stages, so the wiring and the
//! control thread both call it.

use crate::config::AppConfig;
use crate::domain::{InstrumentMaster, InstrumentType, TickMode};
use std::path::Path;

/// Which instruments the strategies may trade, by master index.
pub fn build_universe(master: &InstrumentMaster, cfg: &AppConfig, banned: &[String]) -> Vec<bool> {
    let u = &cfg.universe;
    master
        .iter()
        .map(|i| {
            let kind_ok = match i.instrument_type {
                InstrumentType::Future => u.include_futures,
                InstrumentType::Equity => u.include_equities,
                InstrumentType::Call | InstrumentType::Put => u.include_options,
                InstrumentType::Index => false,
            };
            let listed =
                u.symbols.is_empty() || u.symbols.iter().any(|s| s == i.tradingsymbol.as_str());
            let underlying = if i.is_derivative() {
                i.name.as_str()
            } else {
                i.tradingsymbol.as_str()
            };
            let is_banned = i.is_derivative() && banned.iter().any(|b| b == underlying);
            kind_ok && listed && !is_banned && i.tradable()
        })
        .collect()
}

/// The F&O ban list: one underlying per line, `#` comments. A missing file means no bans.
pub fn read_ban_list(path: &Path) -> Result<Vec<String>, String> {
    match std::fs::read_to_string(path) {
        Ok(t) => Ok(t
            .lines()
            .map(|l| l.split('#').next().unwrap_or("").trim().to_string())
            .filter(|l| !l.is_empty())
            .collect()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(format!("cannot read ban list {}: {e}", path.display())),
    }
}

/// The ticker's subscriptions: the trading universe plus the indices, in `websocket.mode`.
pub fn ticker_tokens(
    cfg: &AppConfig,
    master: &InstrumentMaster,
    universe: &[bool],
) -> Vec<(u32, TickMode)> {
    let mode = match cfg.websocket.mode.as_str() {
        "ltp" => TickMode::Ltp,
        "quote" => TickMode::Quote,
        _ => TickMode::Full,
    };
    master
        .iter()
        .enumerate()
        .filter(|(i, inst)| universe[*i] || inst.instrument_type == InstrumentType::Index)
        .map(|(_, inst)| (inst.token.0, mode))
        .collect()
}
