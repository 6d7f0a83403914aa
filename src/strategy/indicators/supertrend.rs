//! Supertrend: an ATR band that flips sides when the close crosses it.

use super::{Atr, Candle};

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SupertrendValue {
    pub value: f64,
    /// True while the close is above the line (the line is the lower band).
    pub up: bool,
}

/// hl2 ± mult × ATR(n), ratcheted as TradingView's `ta.supertrend`.
#[derive(Clone, Copy, Debug)]
pub struct Supertrend {
    atr: Atr,
    mult: f64,
    prev: Option<(f64, f64, i64, bool)>, // (final upper, final lower, close, up)
}

impl Supertrend {
    pub fn new(n: usize, mult: f64) -> Supertrend {
        Supertrend {
            atr: Atr::new(n),
            mult,
            prev: None,
        }
    }

    pub fn update(&mut self, c: &Candle) -> Option<SupertrendValue> {
        let atr = self.atr.update(c)?;
        let hl2 = (c.high + c.low) as f64 / 2.0;
        let mut upper = hl2 + self.mult * atr;
        let mut lower = hl2 - self.mult * atr;
        let up = match self.prev {
            None => false,
            Some((pu, pl, pc, was_up)) => {
                if !(lower > pl || (pc as f64) < pl) {
                    lower = pl;
                }
                if !(upper < pu || (pc as f64) > pu) {
                    upper = pu;
                }
                if was_up {
                    (c.close as f64) >= lower
                } else {
                    (c.close as f64) > upper
                }
            }
        };
        self.prev = Some((upper, lower, c.close, up));
        Some(SupertrendValue {
            value: if up { lower } else { upper },
            up,
        })
    }
}
