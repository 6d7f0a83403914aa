//! Liquidity cut of the cash and F&O stocks: previous-day turnover (Σ close × volume of its
//! candles, rupees) ranks the universe's equities; only the best
//! `fo_stocks_liquidity_rank_top_n` stay, and none below `exclude_illiquid_threshold_turnover`.
//! Futures, options and indices are not ranked here. An equity with no turnover figure is
//! kept only when no figures exist at all (a feed with no history ranks nothing).

use crate::config::UniverseConfig;
use crate::domain::{Candle, InstrumentMaster, InstrumentType};

/// Rupees traded over candles in native units.
pub fn turnover_rupees(candles: &[Candle], divisor: i64) -> f64 {
    candles
        .iter()
        .map(|c| c.close as f64 / divisor.max(1) as f64 * c.volume as f64)
        .sum()
}

/// What the cut did, for the log line.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TurnoverCut {
    pub ranked: usize,
    pub below_threshold: Vec<String>,
    pub outside_top_n: Vec<String>,
}

/// Applies the cut to `universe` (by master index); `turnover` is rupees by master index
/// (`None`: unknown).
pub fn rank_by_turnover(
    master: &InstrumentMaster,
    cfg: &UniverseConfig,
    turnover: &[Option<f64>],
    universe: &mut [bool],
) -> TurnoverCut {
    let mut cut = TurnoverCut::default();
    if turnover.iter().all(|t| t.is_none()) {
        return cut;
    }
    let mut equities: Vec<(usize, f64)> = master
        .iter()
        .enumerate()
        .filter(|(k, i)| universe[*k] && i.instrument_type == InstrumentType::Equity)
        .map(|(k, _)| (k, turnover.get(k).copied().flatten().unwrap_or(0.0)))
        .collect();
    cut.ranked = equities.len();
    // Most traded first; equal turnover by master order, so the cut is deterministic.
    equities.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let top_n = if cfg.fo_stocks_liquidity_rank_top_n == 0 {
        usize::MAX
    } else {
        cfg.fo_stocks_liquidity_rank_top_n as usize
    };
    for (rank, (k, t)) in equities.into_iter().enumerate() {
        let sym = master.by_index(k).tradingsymbol.as_str().to_string();
        if t < cfg.exclude_illiquid_threshold_turnover {
            universe[k] = false;
            cut.below_threshold.push(sym);
        } else if rank >= top_n {
            universe[k] = false;
            cut.outside_top_n.push(sym);
        }
    }
    cut
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::INSTRUMENTS_HEADER;

    #[test]
    fn keeps_the_most_traded_above_the_threshold() {
        let csv = format!(
            "{INSTRUMENTS_HEADER}\n408065,1594,INFY,INFOSYS,0,,0,0.1,1,EQ,NSE,NSE\n779521,3045,SBIN,SBI,0,,0,0.05,1,EQ,NSE,NSE\n424961,1660,ITC,ITC,0,,0,0.05,1,EQ,NSE,NSE\n13355010,52168,NIFTY26DECFUT,NIFTY,0,2026-12-29,0,0.1,65,FUT,NFO-FUT,NFO\n"
        );
        let m = InstrumentMaster::parse_csv(&csv, "t").unwrap();
        let cfg = UniverseConfig {
            fo_stocks_liquidity_rank_top_n: 1,
            exclude_illiquid_threshold_turnover: 1e8,
            ..UniverseConfig::default()
        };
        let mut u = vec![true; 4];
        let t = [Some(5e9), Some(9e9), Some(5e7), None];
        let cut = rank_by_turnover(&m, &cfg, &t, &mut u);
        assert_eq!(
            u,
            vec![false, true, false, true],
            "SBIN kept, the future untouched"
        );
        assert_eq!(cut.below_threshold, vec!["ITC"]);
        assert_eq!(cut.outside_top_n, vec!["INFY"]);
        // No figures at all: nothing is cut.
        let mut u = vec![true; 4];
        rank_by_turnover(&m, &cfg, &[None; 4], &mut u);
        assert_eq!(u, vec![true; 4]);
        let c = Candle {
            start: 0,
            open: 100,
            high: 100,
            low: 100,
            close: 15_000,
            volume: 10,
        };
        assert_eq!(turnover_rupees(&[c, c], 100), 3000.0);
    }
}
