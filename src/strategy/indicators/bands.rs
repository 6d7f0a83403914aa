//! Bands around a mean: Bollinger (population σ) and the session VWAP with its σ band.

use super::{Candle, Sma};
use crate::clock::ist_date;
use crate::domain::Date;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BollingerValue {
    pub upper: f64,
    pub middle: f64,
    pub lower: f64,
    pub std_dev: f64,
}

/// Bollinger bands: SMA(n) ± mult × population σ of the same closes.
#[derive(Clone, Debug)]
pub struct Bollinger {
    sma: Sma,
    mult: f64,
}

impl Bollinger {
    pub fn new(n: usize, mult: f64) -> Bollinger {
        Bollinger {
            sma: Sma::new(n),
            mult,
        }
    }
    #[cfg(test)]
    pub(super) fn capacity(&self) -> usize {
        self.sma.capacity()
    }

    pub fn update(&mut self, close: i64) -> Option<BollingerValue> {
        let middle = self.sma.update(close)?;
        let sd = self.sma.std_dev()?;
        Some(BollingerValue {
            upper: middle + self.mult * sd,
            middle,
            lower: middle - self.mult * sd,
            std_dev: sd,
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct VwapValue {
    pub vwap: f64,
    /// Volume-weighted standard deviation of typical price around the VWAP.
    pub std_dev: f64,
}

/// Session VWAP of typical price, reset at the first bar of each IST day. Sums are kept
/// relative to the session's first typical price so σ does not lose precision.
#[derive(Clone, Copy, Debug, Default)]
pub struct SessionVwap {
    day: Date,
    origin: f64,
    volume: f64,
    sum_pv: f64,
    sum_p2v: f64,
}

impl SessionVwap {
    pub fn update(&mut self, c: &Candle) -> Option<VwapValue> {
        let tp = (c.high + c.low + c.close) as f64 / 3.0;
        let day = ist_date(c.start as i64);
        if day != self.day {
            *self = SessionVwap {
                day,
                origin: tp,
                ..SessionVwap::default()
            };
        }
        let v = c.volume as f64;
        let x = tp - self.origin;
        self.volume += v;
        self.sum_pv += x * v;
        self.sum_p2v += x * x * v;
        self.value()
    }

    /// None while the session has traded no volume (an index has none).
    pub fn value(&self) -> Option<VwapValue> {
        if self.volume <= 0.0 {
            return None;
        }
        let mean = self.sum_pv / self.volume;
        let var = (self.sum_p2v / self.volume - mean * mean).max(0.0);
        Some(VwapValue {
            vwap: self.origin + mean,
            std_dev: var.sqrt(),
        })
    }
}
