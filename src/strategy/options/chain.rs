//! One underlying's option chain as OptionsRanker reads it: expiries, strikes in order with
//! their call and put, the last quote of every option (touch, sizes, OI, volume), and the
//! liquidity test each leg must pass (`options_filters`). Built once at start from the
//! instrument master; a tick updates one quote in place.

use crate::clock::{days_from_civil, ist_epoch, TimeOfDay};
use crate::config::OptionsFilters;
use crate::domain::{Date, InstrumentMaster, InstrumentType, Tick};

/// The last book of one option, native units.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OptionQuote {
    pub bid: i64,
    pub ask: i64,
    pub bid_qty: u32,
    pub ask_qty: u32,
    pub oi: u32,
    pub volume: u32,
}

/// Why a quote is unusable: counted, and the option is skipped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QuoteFault {
    /// No bid or no ask (or never quoted).
    Missing,
    /// Bid at or above ask.
    Crossed,
}

impl OptionQuote {
    pub fn of(t: &Tick) -> OptionQuote {
        OptionQuote {
            bid: t.best_bid().unwrap_or(0).max(0) as i64,
            ask: t.best_ask().unwrap_or(0).max(0) as i64,
            bid_qty: t.buy[0].quantity,
            ask_qty: t.sell[0].quantity,
            oi: t.oi,
            volume: t.volume_traded,
        }
    }
    /// The mid in native units, if the book is two-sided and not crossed.
    pub fn mid(&self) -> Result<f64, QuoteFault> {
        if self.bid <= 0 || self.ask <= 0 {
            return Err(QuoteFault::Missing);
        }
        if self.bid >= self.ask {
            return Err(QuoteFault::Crossed);
        }
        Ok((self.bid + self.ask) as f64 / 2.0)
    }
    /// Spread over mid in percent.
    pub fn spread_pct(&self) -> f64 {
        match self.mid() {
            Ok(m) => (self.ask - self.bid) as f64 / m * 100.0,
            Err(_) => f64::INFINITY,
        }
    }
    /// 0..1 from spread, depth at the touch (in lots, full at 20), OI and volume against the
    /// floors (full at ten times); zero when a floor is not met.
    pub fn liquidity(&self, f: &OptionsFilters, lot: u32) -> f64 {
        let spread = self.spread_pct();
        if spread > f.max_spread_mid_pct
            || (self.oi as u64) < f.min_oi
            || (self.volume as u64) < f.min_last_traded_volume
        {
            return 0.0;
        }
        let unit = |x: f64| x.clamp(0.0, 1.0);
        let depth = self.bid_qty.min(self.ask_qty) as f64 / (20.0 * lot.max(1) as f64);
        let oi = self.oi as f64 / (10.0 * f.min_oi.max(1) as f64);
        let vol = self.volume as f64 / (10.0 * f.min_last_traded_volume.max(1) as f64);
        0.4 * unit(1.0 - spread / f.max_spread_mid_pct)
            + 0.2 * unit(depth)
            + 0.2 * unit(oi)
            + 0.2 * unit(vol)
    }
}

/// One strike: its call and put by master index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StrikeRow {
    pub strike: i64,
    pub call: Option<usize>,
    pub put: Option<usize>,
}

#[derive(Clone, Debug)]
pub struct ExpiryChain {
    pub expiry: Date,
    /// Epoch seconds of the expiry's close (15:30 IST).
    pub expiry_ts: i64,
    /// Ascending by strike.
    pub strikes: Vec<StrikeRow>,
}

impl ExpiryChain {
    /// Calendar days from `today` to expiry (0 on expiry day).
    pub fn dte(&self, today: Date) -> i64 {
        let d = |x: Date| {
            let (y, m, d) = x.ymd();
            days_from_civil(y, m, d)
        };
        d(self.expiry) - d(today)
    }
    /// The row whose strike is nearest `price` (the lower on a tie).
    pub fn nearest(&self, price: f64) -> Option<usize> {
        let mut best: Option<(usize, f64)> = None;
        for (i, r) in self.strikes.iter().enumerate() {
            let d = (r.strike as f64 - price).abs();
            if best.is_none_or(|(_, bd)| d < bd) {
                best = Some((i, d));
            }
        }
        best.map(|(i, _)| i)
    }
}

/// An underlying's index, its futures and its options by expiry.
#[derive(Clone, Debug)]
pub struct OptionChain {
    /// The derivatives' `name` (NIFTY).
    pub underlying: String,
    /// Master index of the index (NIFTY 50), whose bars give direction.
    pub index: usize,
    /// Master index of the nearest future: the forward when parity cannot give one.
    pub future: Option<usize>,
    pub lot: u32,
    /// Ascending by expiry.
    pub expiries: Vec<ExpiryChain>,
}

/// The index a derivatives name trades on (Kite's names for NSE's indices).
pub fn index_symbol(underlying: &str) -> &str {
    match underlying {
        "NIFTY" => "NIFTY 50",
        "BANKNIFTY" => "NIFTY BANK",
        "FINNIFTY" => "NIFTY FIN SERVICE",
        "MIDCPNIFTY" => "NIFTY MID SELECT",
        "NIFTYNXT50" => "NIFTY NEXT 50",
        other => other,
    }
}

impl OptionChain {
    /// The chain of `underlying` from the master; `None` without its index or options.
    pub fn build(
        master: &InstrumentMaster,
        underlying: &str,
        close: TimeOfDay,
    ) -> Option<OptionChain> {
        let index_name = index_symbol(underlying);
        let index = master.iter().position(|i| {
            i.instrument_type == InstrumentType::Index && i.tradingsymbol.as_str() == index_name
        })?;
        let future = master
            .iter()
            .enumerate()
            .filter(|(_, i)| {
                i.instrument_type == InstrumentType::Future && i.name.as_str() == underlying
            })
            .min_by_key(|(_, i)| i.expiry)
            .map(|(k, _)| k);
        let mut expiries: Vec<ExpiryChain> = Vec::new();
        let mut lot = 0;
        for (k, i) in master.iter().enumerate() {
            if !i.instrument_type.is_option() || i.name.as_str() != underlying {
                continue;
            }
            let Some(expiry) = i.expiry else { continue };
            lot = i.lot_size;
            let e = match expiries.iter_mut().position(|e| e.expiry == expiry) {
                Some(p) => &mut expiries[p],
                None => {
                    expiries.push(ExpiryChain {
                        expiry,
                        expiry_ts: ist_epoch(expiry, close),
                        strikes: Vec::new(),
                    });
                    expiries.last_mut()?
                }
            };
            let row = match e.strikes.iter_mut().position(|r| r.strike == i.strike.0) {
                Some(p) => &mut e.strikes[p],
                None => {
                    e.strikes.push(StrikeRow {
                        strike: i.strike.0,
                        call: None,
                        put: None,
                    });
                    e.strikes.last_mut()?
                }
            };
            if i.instrument_type == InstrumentType::Call {
                row.call = Some(k);
            } else {
                row.put = Some(k);
            }
        }
        if expiries.is_empty() {
            return None;
        }
        expiries.sort_by_key(|e| e.expiry);
        for e in &mut expiries {
            e.strikes.sort_by_key(|r| r.strike);
        }
        Some(OptionChain {
            underlying: underlying.to_string(),
            index,
            future,
            lot,
            expiries,
        })
    }

    /// The first expiry with min_dte <= DTE <= max_dte.
    pub fn expiry_for(&self, today: Date, min_dte: u32, max_dte: u32) -> Option<&ExpiryChain> {
        self.expiries.iter().find(|e| {
            let d = e.dte(today);
            d >= min_dte as i64 && d <= max_dte as i64
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faulty_quotes_have_no_mid_and_no_liquidity() {
        let f = OptionsFilters::default();
        let good = OptionQuote {
            bid: 10_000,
            ask: 10_020,
            bid_qty: 650,
            ask_qty: 650,
            oi: 500_000,
            volume: 100_000,
        };
        assert_eq!(good.mid(), Ok(10_010.0));
        assert!(good.liquidity(&f, 65) > 0.5);
        let crossed = OptionQuote {
            bid: 10_020,
            ask: 10_000,
            ..good
        };
        assert_eq!(crossed.mid(), Err(QuoteFault::Crossed));
        assert_eq!(crossed.liquidity(&f, 65), 0.0);
        let missing = OptionQuote { ask: 0, ..good };
        assert_eq!(missing.mid(), Err(QuoteFault::Missing));
        assert_eq!(OptionQuote::default().mid(), Err(QuoteFault::Missing));
        let wide = OptionQuote {
            ask: 10_500,
            ..good
        };
        assert_eq!(wide.liquidity(&f, 65), 0.0);
        let thin = OptionQuote { oi: 10, ..good };
        assert_eq!(thin.liquidity(&f, 65), 0.0);
    }
}
