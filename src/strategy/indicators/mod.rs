//! Technical indicators, incremental: each takes one finished bar in O(1) and allocates
//! nothing after construction (windowed ones preallocate their window). Prices go in as the
//! instrument's native integer units and come out as `f64` in the same units; `None` means
//! not warmed up yet.
//!
//! Seeding follows TA-Lib, so values match TA-Lib and the platforms built on it bar for bar:
//! - EMA(n): the first value is the simple mean of the first n closes (at bar n-1), then
//!   `k = 2 / (n + 1)`.
//! - Wilder averages (ATR, RSI, ADX): the first value is the simple mean of the first n
//!   inputs, then `avg = (avg * (n - 1) + x) / n`. Inputs that need a previous close (true
//!   range, close change, directional movement) start at the second bar, so ATR(n) and RSI(n)
//!   first appear at bar n, +DI/-DI at bar n and ADX(n) at bar 2n-1. As in TA-Lib, the
//!   directional movement and true range behind ±DI start from the sum of the first n-1
//!   values, and RSI is 0 while there has been neither a gain nor a loss.
//! - Bollinger bands: SMA(n) ± k × the population standard deviation of the same n closes.
//! - Session VWAP: typical price (H+L+C)/3 weighted by volume, reset when a bar starts a new
//!   IST trading day; its band is the volume-weighted standard deviation of typical price.
//! - Supertrend: bands hl2 ± mult × ATR(n) (the ATR above), ratcheted as TradingView's
//!   `ta.supertrend` does, starting on the upper band (down trend) on the first ATR bar.

mod averages;
mod bands;
mod supertrend;
mod wilder;

pub use averages::{Ema, Sma};
pub use bands::{Bollinger, BollingerValue, SessionVwap, VwapValue};
pub use supertrend::{Supertrend, SupertrendValue};
pub use wilder::{Adx, AdxValue, Atr, Rsi};

pub use crate::domain::Candle;

/// Indicator periods, from the config (`strategies.indicators`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct IndicatorPeriods {
    pub ema_fast: usize,
    pub ema_slow: usize,
    pub atr: usize,
    pub rsi: usize,
    pub adx: usize,
    pub bb_period: usize,
    pub bb_mult: f64,
    pub supertrend_period: usize,
    pub supertrend_mult: f64,
}

impl Default for IndicatorPeriods {
    fn default() -> Self {
        IndicatorPeriods {
            ema_fast: 34,
            ema_slow: 89,
            atr: 14,
            rsi: 14,
            adx: 14,
            bb_period: 20,
            bb_mult: 2.0,
            supertrend_period: 10,
            supertrend_mult: 3.0,
        }
    }
}

impl From<&crate::config::IndicatorsConfig> for IndicatorPeriods {
    fn from(i: &crate::config::IndicatorsConfig) -> Self {
        IndicatorPeriods {
            ema_fast: i.ema_fast as usize,
            ema_slow: i.ema_slow as usize,
            atr: i.atr_period as usize,
            rsi: i.rsi_period as usize,
            adx: i.adx_period as usize,
            bb_period: i.bb_period as usize,
            bb_mult: i.bb_std,
            supertrend_period: i.supertrend_period as usize,
            supertrend_mult: i.supertrend_mult,
        }
    }
}

/// Every indicator's latest value after a bar.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct IndicatorValues {
    pub ema_fast: Option<f64>,
    pub ema_slow: Option<f64>,
    pub atr: Option<f64>,
    pub rsi: Option<f64>,
    pub adx: Option<AdxValue>,
    pub bb: Option<BollingerValue>,
    pub vwap: Option<VwapValue>,
    pub supertrend: Option<SupertrendValue>,
}

/// The full set for one instrument and bar size; what strategies read.
#[derive(Clone, Debug)]
pub struct IndicatorSet {
    ema_fast: Ema,
    ema_slow: Ema,
    atr: Atr,
    rsi: Rsi,
    adx: Adx,
    bb: Bollinger,
    vwap: SessionVwap,
    supertrend: Supertrend,
    values: IndicatorValues,
}

impl IndicatorSet {
    pub fn new(p: &IndicatorPeriods) -> IndicatorSet {
        IndicatorSet {
            ema_fast: Ema::new(p.ema_fast),
            ema_slow: Ema::new(p.ema_slow),
            atr: Atr::new(p.atr),
            rsi: Rsi::new(p.rsi),
            adx: Adx::new(p.adx),
            bb: Bollinger::new(p.bb_period, p.bb_mult),
            vwap: SessionVwap::default(),
            supertrend: Supertrend::new(p.supertrend_period, p.supertrend_mult),
            values: IndicatorValues::default(),
        }
    }

    /// Takes one finished bar; returns every value after it.
    pub fn update(&mut self, c: &Candle) -> IndicatorValues {
        self.values = IndicatorValues {
            ema_fast: self.ema_fast.update(c.close as f64),
            ema_slow: self.ema_slow.update(c.close as f64),
            atr: self.atr.update(c),
            rsi: self.rsi.update(c.close as f64),
            adx: self.adx.update(c),
            bb: self.bb.update(c.close),
            vwap: self.vwap.update(c),
            supertrend: self.supertrend.update(c),
        };
        self.values
    }

    pub fn values(&self) -> &IndicatorValues {
        &self.values
    }

    #[cfg(test)]
    fn bb_capacity(&self) -> usize {
        self.bb.capacity()
    }
}

/// True range of a bar after `prev_close` (TA-Lib: needs the previous close).
#[inline]
pub(crate) fn true_range(c: &Candle, prev_close: i64) -> f64 {
    let hl = c.high - c.low;
    let hc = (c.high - prev_close).abs();
    let lc = (c.low - prev_close).abs();
    hl.max(hc).max(lc) as f64
}

#[cfg(test)]
mod tests;
