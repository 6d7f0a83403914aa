//! The risk stage's limits, read once from the config: sizing, heat, the daily loss stop,
//! position caps, exit and order rules.

use super::{exits, limit_chase, protective};
use crate::config::{AppConfig, EntryOrderType, Mode};
use crate::domain::STRATEGY_COUNT;
use crate::risk::sizing::SizingRule;
use std::time::Duration;

#[derive(Clone, Debug)]
pub struct RiskParams {
    pub sizing: SizingRule,
    pub heat_limit_paise: i64,
    /// Negative: daily P&L at or below this closes everything and halts.
    pub daily_loss_limit_paise: i64,
    pub max_positions: u32,
    /// Position caps per strategy, by `StrategyId::index` (0: the strategy may not trade).
    pub strategy_max_positions: [u32; STRATEGY_COUNT],
    pub exits: exits::ExitRules,
    pub entry_order_type: EntryOrderType,
    pub live: bool,
    pub snapshot_interval: Duration,
    /// Discount rate for option deltas (strategies.options_ranker.risk_free_rate).
    pub options_rate: f64,
    pub protective: protective::ProtectiveRules,
    pub chase: limit_chase::ChaseRules,
    /// `execution.ioc_for_exits`: engine exits as LIMIT IOC this many bps through the last
    /// price (None: MARKET under market protection).
    pub ioc_exit_band_bps: Option<i64>,
    /// `kite.adopted_stop_pct`: an adopted position's stop distance, foreign positions' heat.
    pub adopted_stop_bps: i64,
}

impl RiskParams {
    pub fn from_config(c: &AppConfig) -> RiskParams {
        let capital = (c.risk.capital * 100.0).round() as i64;
        RiskParams {
            sizing: SizingRule {
                capital_paise: capital,
                per_trade_risk_pct: c.risk.per_trade_risk_pct,
                max_lots: c.risk.max_position_size_multiplier,
                max_notional_paise: (capital as f64 * c.risk.max_position_notional_pct / 100.0)
                    as i64,
            },
            heat_limit_paise: (capital as f64 * c.risk.max_portfolio_heat_pct / 100.0) as i64,
            daily_loss_limit_paise: (capital as f64 * c.risk.daily_loss_stop_pct / 100.0) as i64,
            max_positions: c.risk.max_positions,
            strategy_max_positions: c.strategies.max_positions(),
            exits: exits::ExitRules::from_config(&c.exits),
            entry_order_type: c.execution.entry_order_type,
            live: c.mode == Mode::Live,
            snapshot_interval: Duration::from_millis(c.monitoring.snapshot_interval_ms),
            options_rate: c.strategies.options_ranker.risk_free_rate,
            protective: protective::ProtectiveRules::from_config(&c.execution),
            chase: limit_chase::ChaseRules::from_config(&c.execution),
            ioc_exit_band_bps: c
                .execution
                .ioc_for_exits
                .then(|| (c.execution.ioc_exit_band_pct * 100.0).round() as i64),
            adopted_stop_bps: (c.kite.adopted_stop_pct * 100.0).round() as i64,
        }
    }
}
