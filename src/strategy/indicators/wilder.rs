//! Wilder's smoothed indicators (ATR, RSI, ADX with ±DI), seeded as TA-Lib seeds them.

use super::{true_range, Candle};

/// Wilder smoothing seeded by the simple mean of the first n inputs.
#[derive(Clone, Copy, Debug)]
struct WilderMean {
    n: usize,
    seen: usize,
    value: f64,
}

impl WilderMean {
    fn new(n: usize) -> WilderMean {
        WilderMean {
            n: n.max(1),
            seen: 0,
            value: 0.0,
        }
    }
    fn update(&mut self, x: f64) -> Option<f64> {
        self.seen += 1;
        let n = self.n as f64;
        if self.seen <= self.n {
            self.value += x;
            if self.seen < self.n {
                return None;
            }
            self.value /= n;
        } else {
            self.value = (self.value * (n - 1.0) + x) / n;
        }
        Some(self.value)
    }
}

/// Average true range (Wilder). True range needs a previous close, so bar 0 only seeds it.
#[derive(Clone, Copy, Debug)]
pub struct Atr {
    mean: WilderMean,
    prev_close: Option<i64>,
}

impl Atr {
    pub fn new(n: usize) -> Atr {
        Atr {
            mean: WilderMean::new(n),
            prev_close: None,
        }
    }
    pub fn update(&mut self, c: &Candle) -> Option<f64> {
        let value = self
            .prev_close
            .and_then(|pc| self.mean.update(true_range(c, pc)));
        self.prev_close = Some(c.close);
        value
    }
}

/// Relative strength index (Wilder).
#[derive(Clone, Copy, Debug)]
pub struct Rsi {
    gain: WilderMean,
    loss: WilderMean,
    prev: Option<f64>,
}

impl Rsi {
    pub fn new(n: usize) -> Rsi {
        Rsi {
            gain: WilderMean::new(n),
            loss: WilderMean::new(n),
            prev: None,
        }
    }
    pub fn update(&mut self, close: f64) -> Option<f64> {
        let prev = self.prev.replace(close)?;
        let d = close - prev;
        let g = self.gain.update(d.max(0.0));
        let l = self.loss.update((-d).max(0.0));
        let (g, l) = (g?, l?);
        Some(if g + l > 0.0 {
            100.0 * g / (g + l)
        } else {
            0.0
        })
    }
}

/// ADX with its directional indicators.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdxValue {
    pub plus_di: f64,
    pub minus_di: f64,
    /// None until 2n-1 bars.
    pub adx: Option<f64>,
}

/// Average directional index (Wilder), TA-Lib's recurrence.
#[derive(Clone, Copy, Debug)]
pub struct Adx {
    n: usize,
    seen: usize,
    prev: Option<Candle>,
    plus_dm: f64,
    minus_dm: f64,
    tr: f64,
    dx: WilderMean,
}

impl Adx {
    pub fn new(n: usize) -> Adx {
        let n = n.max(1);
        Adx {
            n,
            seen: 0,
            prev: None,
            plus_dm: 0.0,
            minus_dm: 0.0,
            tr: 0.0,
            dx: WilderMean::new(n),
        }
    }

    pub fn update(&mut self, c: &Candle) -> Option<AdxValue> {
        let p = self.prev.replace(*c)?;
        self.seen += 1;
        let up = (c.high - p.high) as f64;
        let down = (p.low - c.low) as f64;
        let (pdm, mdm) = if down > 0.0 && up < down {
            (0.0, down)
        } else if up > 0.0 && up > down {
            (up, 0.0)
        } else {
            (0.0, 0.0)
        };
        let tr = true_range(c, p.close);
        let n = self.n as f64;
        if self.seen < self.n {
            // TA-Lib seeds the smoothed sums with the first n-1 raw values.
            self.plus_dm += pdm;
            self.minus_dm += mdm;
            self.tr += tr;
            return None;
        }
        self.plus_dm += pdm - self.plus_dm / n;
        self.minus_dm += mdm - self.minus_dm / n;
        self.tr += tr - self.tr / n;
        let (plus_di, minus_di) = if self.tr > 0.0 {
            (
                100.0 * self.plus_dm / self.tr,
                100.0 * self.minus_dm / self.tr,
            )
        } else {
            (0.0, 0.0)
        };
        let sum = plus_di + minus_di;
        let dx = if sum > 0.0 {
            100.0 * (plus_di - minus_di).abs() / sum
        } else {
            0.0
        };
        let adx = self.dx.update(dx);
        Some(AdxValue {
            plus_di,
            minus_di,
            adx,
        })
    }
}
