//! The `strategies`, `indicators` and `ranking` sections: what `POST /strategies/reload`
//! re-reads (bar sizes and indicator periods excepted: those need a restart).

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct StrategiesConfig {
    pub orb: OrbConfig,
    pub trend_pullback: TrendPullbackConfig,
    pub vwap_reversion: VwapReversionConfig,
    pub options_ranker: OptionsRankerConfig,
}

impl StrategiesConfig {
    /// Each strategy's position cap by `StrategyId::index`; a disabled strategy gets 0.
    pub fn max_positions(&self) -> [u32; 4] {
        let cap = |enabled: bool, n: u32| if enabled { n } else { 0 };
        [
            cap(self.orb.enabled, self.orb.max_positions),
            cap(
                self.trend_pullback.enabled,
                self.trend_pullback.max_positions,
            ),
            cap(
                self.vwap_reversion.enabled,
                self.vwap_reversion.max_positions,
            ),
            cap(
                self.options_ranker.enabled,
                self.options_ranker.max_positions,
            ),
        ]
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct OrbConfig {
    pub enabled: bool,
    /// Minutes from the open that make the opening range.
    pub window_min: u32,
    /// Consecutive ticks beyond the range needed to confirm a breakout.
    pub breakout_confirmation_ticks: u32,
    /// Target distance as a multiple of the stop distance.
    pub rr_min: f64,
    /// Concurrent ORB positions at most.
    pub max_positions: u32,
    /// Trading symbols this strategy may trade; empty: the whole universe.
    pub instruments: Vec<String>,
}

impl Default for OrbConfig {
    fn default() -> Self {
        OrbConfig {
            enabled: true,
            window_min: 15,
            breakout_confirmation_ticks: 3,
            rr_min: 2.0,
            max_positions: 3,
            instruments: Vec::new(),
        }
    }
}

/// Where TrendPullback puts its stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PullbackStop {
    /// Beyond the pullback's swing low (long) or high (short).
    Swing,
    /// The slow EMA minus (long) or plus (short) one ATR.
    SlowEma,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TrendPullbackConfig {
    pub enabled: bool,
    /// Bar size it trades on; one of websocket.aggregation_windows.
    pub timeframe_min: u32,
    /// Trend filter: fast EMA above (long) or below (short) the slow EMA.
    pub ema_fast: u32,
    pub ema_slow: u32,
    /// The trend must be this strong (ADX).
    pub min_adx: f64,
    /// A pullback bar reaches within this many ATRs of the fast EMA.
    pub pullback_atr_mult: f64,
    /// Bars back to look for the swing extreme behind the stop.
    pub swing_lookback: u32,
    pub stop: PullbackStop,
    pub rr_min: f64,
    /// Bars to wait on an instrument after a signal.
    pub cooldown_bars: u32,
    pub max_positions: u32,
    pub instruments: Vec<String>,
}

impl Default for TrendPullbackConfig {
    fn default() -> Self {
        TrendPullbackConfig {
            enabled: true,
            timeframe_min: 5,
            ema_fast: 34,
            ema_slow: 89,
            min_adx: 20.0,
            pullback_atr_mult: 0.5,
            swing_lookback: 5,
            stop: PullbackStop::Swing,
            rr_min: 2.0,
            cooldown_bars: 6,
            max_positions: 2,
            instruments: Vec::new(),
        }
    }
}

/// Where VWAPReversion takes profit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReversionTarget {
    /// The session VWAP at entry.
    Vwap,
    /// rr_min times the risk.
    Rr,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct VwapReversionConfig {
    pub enabled: bool,
    pub timeframe_min: u32,
    /// The band: session VWAP ± this many volume-weighted σ.
    pub vwap_band_mult: f64,
    /// Ranging regime only: ADX below this.
    pub max_adx: f64,
    pub target: ReversionTarget,
    pub rr_min: f64,
    /// Bars of the session needed before the band is trusted.
    pub min_session_bars: u32,
    pub cooldown_bars: u32,
    pub max_positions: u32,
    pub instruments: Vec<String>,
}

impl Default for VwapReversionConfig {
    fn default() -> Self {
        VwapReversionConfig {
            enabled: true,
            timeframe_min: 5,
            vwap_band_mult: 2.0,
            max_adx: 20.0,
            target: ReversionTarget::Vwap,
            rr_min: 1.5,
            min_session_bars: 6,
            cooldown_bars: 6,
            max_positions: 2,
            instruments: Vec::new(),
        }
    }
}

/// What OptionsRanker trades.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OptionsStrategyType {
    /// Buy the nearer strike in the trend's direction, sell one further out (cheap IV).
    DebitSpread,
    /// Sell an out-of-the-money strike against the trend, buy one further out (rich IV).
    CreditSpread,
    /// Buy one option in the trend's direction.
    Directional,
}

/// The liquidity floor every leg must pass (the runbook's `options_filters`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct OptionsFilters {
    /// Bid-ask spread as a percent of the mid, at most.
    pub max_spread_mid_pct: f64,
    /// Open interest (contracts' units), at least.
    pub min_oi: u64,
    /// Volume traded today (units), at least.
    pub min_last_traded_volume: u64,
}

impl Default for OptionsFilters {
    fn default() -> Self {
        OptionsFilters {
            max_spread_mid_pct: 1.0,
            min_oi: 50_000,
            min_last_traded_volume: 1_000,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct OptionsRankerConfig {
    pub enabled: bool,
    /// Underlyings by their derivatives' name; each needs its index in the instruments file.
    pub underlyings: Vec<String>,
    /// Bar size of the underlying index that decides direction and when to look.
    pub timeframe_min: u32,
    pub strategy_type: OptionsStrategyType,
    /// Calendar days to expiry: the first expiry inside min_dte..=max_dte is traded.
    pub min_dte: u32,
    pub max_dte: u32,
    /// Strikes either side of the money considered for legs.
    pub strikes_from_atm: u32,
    /// Widest spread, in strikes, between the two legs.
    pub max_width_strikes: u32,
    /// Trade only while the ATM IV's percentile over the lookback is inside this range.
    pub ivp_min: f64,
    pub ivp_max: f64,
    /// Days of closing ATM IV the percentile is taken over.
    pub iv_lookback_days: u32,
    /// Days of history needed before any percentile is trusted.
    pub min_iv_history: u32,
    /// `date,underlying,atm_iv` of past closes (LIVE); empty: PAPER seeds from the synthetic
    /// market, LIVE waits until it has min_iv_history days.
    pub iv_history_file: String,
    /// Max profit / max loss of the spread (DIRECTIONAL: target distance / stop distance).
    pub rr_min: f64,
    /// For Black-76 discounting and parity forwards (a model input, not a market fact).
    pub risk_free_rate: f64,
    /// A spread is closed when it has lost this fraction of its max loss...
    pub spread_stop_fraction: f64,
    /// ...or made this fraction of its max profit.
    pub spread_target_fraction: f64,
    /// DIRECTIONAL: stop this percent of the premium below entry.
    pub directional_stop_pct: f64,
    pub cooldown_bars: u32,
    pub max_positions: u32,
    /// Option trading symbols it may trade; empty: every listed option of the underlyings.
    pub instruments: Vec<String>,
    pub options_filters: OptionsFilters,
}

impl Default for OptionsRankerConfig {
    fn default() -> Self {
        OptionsRankerConfig {
            enabled: true,
            underlyings: vec!["NIFTY".into(), "BANKNIFTY".into()],
            timeframe_min: 5,
            strategy_type: OptionsStrategyType::DebitSpread,
            min_dte: 1,
            max_dte: 30,
            strikes_from_atm: 6,
            max_width_strikes: 4,
            ivp_min: 0.0,
            ivp_max: 70.0,
            iv_lookback_days: 252,
            min_iv_history: 20,
            iv_history_file: String::new(),
            rr_min: 1.5,
            risk_free_rate: 0.065,
            spread_stop_fraction: 0.5,
            spread_target_fraction: 0.6,
            directional_stop_pct: 30.0,
            cooldown_bars: 6,
            max_positions: 1,
            instruments: Vec::new(),
            options_filters: OptionsFilters::default(),
        }
    }
}

/// Indicator periods for every instrument and bar size (and `aitrapp indicators`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct IndicatorsConfig {
    pub ema_fast: u32,
    pub ema_slow: u32,
    pub atr_period: u32,
    pub rsi_period: u32,
    pub adx_period: u32,
    pub bb_period: u32,
    pub bb_std: f64,
    pub supertrend_period: u32,
    pub supertrend_mult: f64,
    /// Past sessions of one-minute candles replayed at start so indicators are warm at the
    /// open (PAPER: the synthetic market's history). 0: start cold.
    pub warmup_days: u32,
}

impl Default for IndicatorsConfig {
    fn default() -> Self {
        IndicatorsConfig {
            ema_fast: 34,
            ema_slow: 89,
            atr_period: 14,
            rsi_period: 14,
            adx_period: 14,
            bb_period: 20,
            bb_std: 2.0,
            supertrend_period: 10,
            supertrend_mult: 3.0,
            warmup_days: 3,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RankingWeights {
    pub momentum: f64,
    pub trend: f64,
    pub liquidity: f64,
    pub regime: f64,
    pub rr: f64,
}

impl Default for RankingWeights {
    fn default() -> Self {
        RankingWeights {
            momentum: 0.25,
            trend: 0.25,
            liquidity: 0.20,
            regime: 0.15,
            rr: 0.15,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RankingPenalties {
    /// Taken off the score when the spread is wider than `max_spread_bps`.
    pub illiquid: f64,
    /// Taken off a trend entry more than `far_from_vwap_sigma` σ from the session VWAP.
    pub far_from_vwap: f64,
}

impl Default for RankingPenalties {
    fn default() -> Self {
        RankingPenalties {
            illiquid: 0.2,
            far_from_vwap: 0.1,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RankingConfig {
    /// Off: every signal goes to risk, still scored and logged.
    pub enabled: bool,
    /// Signals per bar (minute) that go on to risk, best score first.
    pub top_n: u32,
    pub weights: RankingWeights,
    pub penalties: RankingPenalties,
    pub max_spread_bps: f64,
    pub far_from_vwap_sigma: f64,
    /// Bars back the momentum score measures over.
    pub momentum_bars: u32,
}

impl Default for RankingConfig {
    fn default() -> Self {
        RankingConfig {
            enabled: true,
            top_n: 5,
            weights: RankingWeights::default(),
            penalties: RankingPenalties::default(),
            max_spread_bps: 15.0,
            far_from_vwap_sigma: 2.5,
            momentum_bars: 5,
        }
    }
}
