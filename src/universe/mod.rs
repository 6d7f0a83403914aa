//! The trading universe: which instruments of the master the strategies may trade (config
//! filters, the F&O ban list) and what the ticker subscribes to. Built at start, on
//! `POST /universe/reload` and at the daily rollover; below the stages, so the wiring and the
//! control thread both call it.

use crate::config::AppConfig;
use crate::domain::{InstrumentMaster, InstrumentType, TickMode};
use std::path::Path;

pub mod ban_list;
pub mod listing;
pub use ban_list::BanList;

/// Which instruments the strategies may trade, by master index.
pub fn build_universe(master: &InstrumentMaster, cfg: &AppConfig, banned: &[String]) -> Vec<bool> {
    // A banned underlying gets no new positions: its derivatives leave the universe.
    let u = &cfg.universe;
    let o = &cfg.strategies.options_ranker;
    // OptionsRanker's chains are in the universe while it is enabled: it trades them.
    let ranker_chain = |i: &crate::domain::Instrument| {
        o.enabled && o.underlyings.iter().any(|x| x == i.name.as_str())
    };
    master
        .iter()
        .map(|i| {
            let kind_ok = match i.instrument_type {
                InstrumentType::Future => u.include_futures,
                InstrumentType::Equity => u.include_equities,
                InstrumentType::Call | InstrumentType::Put => u.include_options || ranker_chain(i),
                InstrumentType::Index => false,
            };
            let listed = u.symbols.is_empty()
                || u.symbols.iter().any(|s| s == i.tradingsymbol.as_str())
                || (i.instrument_type.is_option() && ranker_chain(i));
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

pub mod turnover;

/// The F&O ban list file (`universe.ban_list_file`); a missing file means no bans.
pub fn read_ban_list(path: &Path) -> Result<BanList, String> {
    BanList::read(path)
}

/// OptionsRanker's options: its underlyings' contracts expiring by `max_dte` days from today
/// (the chain it may trade), when it is enabled. Kite allows 3000 tokens per connection, so
/// only the first 2000 by expiry are kept (a warning says so).
fn ranker_options(cfg: &AppConfig, master: &InstrumentMaster) -> Vec<bool> {
    let o = &cfg.strategies.options_ranker;
    let mut keep = vec![false; master.len()];
    if !o.enabled {
        return keep;
    }
    let (y, m, d) = crate::clock::today_ist().ymd();
    let last = crate::clock::days_from_civil(y, m, d) + o.max_dte as i64;
    let mut chosen: Vec<(crate::domain::Date, usize)> = master
        .iter()
        .enumerate()
        .filter(|(_, i)| {
            i.instrument_type.is_option() && o.underlyings.iter().any(|u| u == i.name.as_str())
        })
        .filter_map(|(k, i)| {
            let e = i.expiry?;
            let (y, m, d) = e.ymd();
            (crate::clock::days_from_civil(y, m, d) <= last).then_some((e, k))
        })
        .collect();
    chosen.sort();
    if chosen.len() > 2000 {
        log::warn!(target: "universe", options = chosen.len();
            "OptionsRanker: {} options in its expiry window; subscribing the nearest 2000", chosen.len());
        chosen.truncate(2000);
    }
    for (_, k) in chosen {
        keep[k] = true;
    }
    keep
}

/// The ticker's subscriptions: the trading universe, the indices and OptionsRanker's chains,
/// in `websocket.mode`.
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
    let options = ranker_options(cfg, master);
    master
        .iter()
        .enumerate()
        .filter(|(i, inst)| {
            let chain = inst.instrument_type.is_option() && options[*i];
            (universe[*i] && (chain || !inst.instrument_type.is_option()))
                || inst.instrument_type == InstrumentType::Index
        })
        .map(|(_, inst)| (inst.token.0, mode))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::SessionCalendar;

    #[test]
    fn the_ranker_chains_stream_and_a_ban_takes_them_out() {
        let file = InstrumentMaster::load(Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/configs/instruments.csv"
        )))
        .unwrap();
        let cal = SessionCalendar::nse_hours();
        let today = crate::clock::today_ist();
        let m = crate::universe::listing::list_contracts(&file, today, &cal, 2, 10);
        let cfg = AppConfig::default();
        let all = ticker_tokens(&cfg, &m, &build_universe(&m, &cfg, &[]));
        let options = |t: &[(u32, TickMode)], name: &str| {
            t.iter()
                .filter(|(tok, _)| {
                    let i = m.get(crate::domain::Token(*tok)).unwrap();
                    i.instrument_type.is_option() && i.name.as_str() == name
                })
                .count()
        };
        // NIFTY's two weeklies are always inside 30 days.
        assert_eq!(options(&all, "NIFTY"), 2 * 21 * 2);
        assert!(options(&all, "BANKNIFTY") >= 42);
        let banned = ticker_tokens(&cfg, &m, &build_universe(&m, &cfg, &["BANKNIFTY".into()]));
        assert_eq!(options(&banned, "BANKNIFTY"), 0);
        assert_eq!(options(&banned, "NIFTY"), 2 * 21 * 2);
        let mut off = cfg.clone();
        off.strategies.options_ranker.enabled = false;
        let none = ticker_tokens(&off, &m, &build_universe(&m, &off, &[]));
        assert_eq!(options(&none, "NIFTY"), 0);
    }
}
