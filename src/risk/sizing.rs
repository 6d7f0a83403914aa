//! Position sizing: risk a fixed percent of capital over the stop distance, in whole lots.

use crate::domain::{Instrument, Price, Qty};

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SizingRule {
    pub capital_paise: i64,
    pub per_trade_risk_pct: f64,
    /// F&O: at most this many lots.
    pub max_lots: u32,
    /// Lot-of-one instruments (cash equity): at most this notional.
    pub max_notional_paise: i64,
}

/// Why no quantity could be given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SizingRefusal {
    ZeroStopDistance,
    BelowOneLot,
}

impl SizingRefusal {
    pub fn as_str(self) -> &'static str {
        match self {
            SizingRefusal::ZeroStopDistance => "stop equals entry",
            SizingRefusal::BelowOneLot => "risk budget is below one lot",
        }
    }

    pub fn refusal(self) -> crate::domain::Refusal {
        match self {
            SizingRefusal::ZeroStopDistance => crate::domain::Refusal::StopEqualsEntry,
            SizingRefusal::BelowOneLot => crate::domain::Refusal::BelowOneLot,
        }
    }
}

impl SizingRule {
    /// Units to trade for an entry at `entry` with a stop at `stop`.
    pub fn size(&self, inst: &Instrument, entry: Price, stop: Price) -> Result<Qty, SizingRefusal> {
        let dist = (entry.0 - stop.0).unsigned_abs() as i128;
        if dist == 0 {
            return Err(SizingRefusal::ZeroStopDistance);
        }
        // Risk budget in paise; the stop distance in native units converts to paise per unit.
        let budget = (self.capital_paise as f64 * self.per_trade_risk_pct / 100.0).floor() as i128;
        let risk_per_unit_paise = dist * 100 / inst.divisor() as i128;
        if risk_per_unit_paise == 0 {
            return Err(SizingRefusal::ZeroStopDistance);
        }
        let units = budget / risk_per_unit_paise;
        let lot = inst.lot_size.max(1) as i128;
        let mut lots = units / lot;
        if inst.lot_size > 1 {
            lots = lots.min(self.max_lots as i128);
        } else {
            let price_paise = entry.0 as i128 * 100 / inst.divisor() as i128;
            if price_paise > 0 {
                lots = lots.min(self.max_notional_paise as i128 / price_paise);
            }
        }
        if lots <= 0 {
            return Err(SizingRefusal::BelowOneLot);
        }
        Ok(Qty((lots * lot) as i64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{InstrumentMaster, INSTRUMENTS_HEADER};

    fn nifty_fut(lot: u32) -> Instrument {
        let csv = format!("{INSTRUMENTS_HEADER}\n13355010,52168,NIFTY26DECFUT,NIFTY,0,2026-12-29,0,0.1,{lot},FUT,NFO-FUT,NFO\n");
        *InstrumentMaster::parse_csv(&csv, "t").unwrap().by_index(0)
    }

    fn rule() -> SizingRule {
        SizingRule {
            capital_paise: 1_000_000 * 100,
            per_trade_risk_pct: 0.5,
            max_lots: 3,
            max_notional_paise: 200_000 * 100,
        }
    }

    #[test]
    fn issue_example_gives_fifty() {
        // Capital 1,000,000, risk 0.5% = 5,000; entry 22000, stop 21900: 50 units = 1 lot of 50.
        let q = rule()
            .size(&nifty_fut(50), Price(2_200_000), Price(2_190_000))
            .unwrap();
        assert_eq!(q, Qty(50));
    }

    #[test]
    fn rounds_down_to_lots_and_caps() {
        // 5,000 / 10 = 500 units = 10 lots of 50, capped at 3 lots.
        assert_eq!(
            rule()
                .size(&nifty_fut(50), Price(2_200_000), Price(2_199_000))
                .unwrap(),
            Qty(150)
        );
        // 5,000 / 100 = 50 units < one lot of 65.
        assert_eq!(
            rule().size(&nifty_fut(65), Price(2_200_000), Price(2_190_000)),
            Err(SizingRefusal::BelowOneLot)
        );
        assert_eq!(
            rule().size(&nifty_fut(50), Price(2_200_000), Price(2_200_000)),
            Err(SizingRefusal::ZeroStopDistance)
        );
    }

    #[test]
    fn equities_are_capped_by_notional() {
        let csv = format!("{INSTRUMENTS_HEADER}\n408065,1594,INFY,INFOSYS,0,,0,0.1,1,EQ,NSE,NSE\n");
        let infy = *InstrumentMaster::parse_csv(&csv, "t").unwrap().by_index(0);
        // Risk says 5,000 / 1 = 5000 shares; notional cap 200,000 / 1500 = 133 shares.
        assert_eq!(
            rule().size(&infy, Price(150_000), Price(149_900)).unwrap(),
            Qty(133)
        );
    }
}
