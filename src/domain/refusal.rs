//! Why risk refused a signal: the text the log and the audit trail carry, and a short label
//! from a fixed set for the `aitrapp_signals_refused_total{reason=...}` metric (bounded
//! cardinality: one series a reason, never one a symbol or an order).

use super::StrategyId;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    Paused,
    Halted,
    UnknownInstrument,
    OutsideSession,
    NotTradable,
    InPosition,
    MaxPositions,
    /// The signal's strategy is at its own `max_positions`.
    StrategyMaxPositions,
    StopEqualsEntry,
    BelowOneLot,
    PortfolioHeat,
    SpreadLegInPosition,
    SpreadUnbounded,
}

impl Refusal {
    pub const ALL: [Refusal; 13] = [
        Refusal::Paused,
        Refusal::Halted,
        Refusal::UnknownInstrument,
        Refusal::OutsideSession,
        Refusal::NotTradable,
        Refusal::InPosition,
        Refusal::MaxPositions,
        Refusal::StrategyMaxPositions,
        Refusal::StopEqualsEntry,
        Refusal::BelowOneLot,
        Refusal::PortfolioHeat,
        Refusal::SpreadLegInPosition,
        Refusal::SpreadUnbounded,
    ];
    pub const COUNT: usize = Refusal::ALL.len();

    /// Position in `ALL` (the metric's slot).
    pub fn index(self) -> usize {
        self as usize
    }

    /// The metric label.
    pub fn label(self) -> &'static str {
        match self {
            Refusal::Paused => "paused",
            Refusal::Halted => "halted",
            Refusal::UnknownInstrument => "unknown_instrument",
            Refusal::OutsideSession => "outside_session",
            Refusal::NotTradable => "not_tradable",
            Refusal::InPosition => "in_position",
            Refusal::MaxPositions => "max_positions",
            Refusal::StrategyMaxPositions => "strategy_max_positions",
            Refusal::StopEqualsEntry => "stop_equals_entry",
            Refusal::BelowOneLot => "below_one_lot",
            Refusal::PortfolioHeat => "portfolio_heat",
            Refusal::SpreadLegInPosition => "spread_leg_in_position",
            Refusal::SpreadUnbounded => "spread_unbounded",
        }
    }

    /// What the log and the audit trail say, naming the setting where one decides it.
    pub fn text(self, strategy: StrategyId) -> &'static str {
        match self {
            Refusal::Paused => "trading is paused",
            Refusal::Halted => "halted: daily loss limit hit",
            Refusal::UnknownInstrument => "unknown instrument",
            Refusal::OutsideSession => "outside the continuous session or within market.no_entries_before_squareoff_min of square-off",
            Refusal::NotTradable => "instrument is not tradable",
            Refusal::InPosition => "already in a position on this instrument",
            Refusal::MaxPositions => "risk.max_positions reached",
            Refusal::StrategyMaxPositions => match strategy {
                StrategyId::Orb => "strategies.orb.max_positions reached",
                StrategyId::TrendPullback => "strategies.trend_pullback.max_positions reached",
                StrategyId::VwapReversion => "strategies.vwap_reversion.max_positions reached",
                StrategyId::OptionsRanker => "strategies.options_ranker.max_positions reached",
                StrategyId::Risk => "not a trading strategy",
            },
            Refusal::StopEqualsEntry => "stop equals entry",
            Refusal::BelowOneLot => "risk budget is below one lot",
            Refusal::PortfolioHeat => "portfolio heat limit (risk.max_portfolio_heat_pct)",
            Refusal::SpreadLegInPosition => "already in a position on a leg of this spread",
            Refusal::SpreadUnbounded => "spread has no max loss or no max profit",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_refusal_has_its_own_slot_and_label() {
        let labels: std::collections::BTreeSet<_> =
            Refusal::ALL.iter().map(|r| r.label()).collect();
        assert_eq!(labels.len(), Refusal::COUNT);
        for (k, r) in Refusal::ALL.iter().enumerate() {
            assert_eq!(r.index(), k);
            assert!(r
                .label()
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b == b'_'));
        }
    }
}
