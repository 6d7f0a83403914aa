//! Positions and P&L, one slot per instrument. Money is integer paise; prices native units.

use crate::domain::{OrderId, Paise, Price, Qty, Side, StrategyId};

/// P&L in paise of `qty` units moving from `from` to `to` (native units with `divisor`).
pub fn pnl_paise(from: Price, to: Price, qty: i64, divisor: i64) -> Paise {
    Paise(((to.0 - from.0) as i128 * qty as i128 * 100 / divisor as i128) as i64)
}

#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct Position {
    /// Signed units: long > 0, short < 0.
    pub qty: i64,
    pub avg_price: Price,
    pub ltp: Price,
    pub realized: Paise,
    pub stop: Price,
    pub target: Price,
    pub strategy: Option<StrategyId>,
    /// Entry order sent and not yet done.
    pub pending_entry: Option<OrderId>,
    /// What the pending entry risks if it fills whole and the stop is hit (counted in heat
    /// until the entry is done, so signals before their fills cannot all pass).
    pub pending_risk: Paise,
    /// Units of the entry plan not sent yet: above the freeze quantity an entry goes one
    /// slice at a time, each once the one before filled whole.
    pub entry_rest: i64,
    /// Exit order sent and not yet done (the latest, when several work).
    pub pending_exit: Option<OrderId>,
    /// Units the working exit orders still have to close.
    pub exit_working: i64,
    pub divisor: i64,
    /// Entry price of the round trip in progress (for the trade record).
    pub entry_avg: Price,
    pub entry_qty: i64,
}

impl Position {
    pub fn is_open(&self) -> bool {
        self.qty != 0
    }
    pub fn unrealized(&self) -> Paise {
        if self.qty == 0 || self.ltp.0 == 0 {
            return Paise(0);
        }
        pnl_paise(self.avg_price, self.ltp, self.qty, self.divisor.max(1))
    }
    /// Money lost if the stop is hit from here (zero once the stop is past entry).
    pub fn open_risk(&self) -> Paise {
        if self.qty == 0 || self.stop.0 == 0 {
            return Paise(0);
        }
        Paise((-pnl_paise(self.avg_price, self.stop, self.qty, self.divisor.max(1)).0).max(0))
    }
    /// Risk for the heat limit: the open risk, or the planned risk of a pending entry
    /// when that is larger (a partial fill has the same stop, so it never risks more).
    pub fn heat_risk(&self) -> Paise {
        let open = self.open_risk();
        if self.pending_entry.is_some() {
            Paise(open.0.max(self.pending_risk.0))
        } else {
            open
        }
    }
    pub fn side(&self) -> Option<Side> {
        match self.qty {
            q if q > 0 => Some(Side::Buy),
            q if q < 0 => Some(Side::Sell),
            _ => None,
        }
    }

    /// Applies a fill; returns the realized P&L this fill produced.
    pub fn apply_fill(&mut self, side: Side, qty: Qty, price: Price) -> Paise {
        let signed = side.sign() * qty.0;
        let div = self.divisor.max(1);
        if self.qty == 0 || self.qty.signum() == signed.signum() {
            // Opening or adding: new volume-weighted average.
            let total = self.qty + signed;
            self.avg_price = Price(
                ((self.avg_price.0 as i128 * self.qty.abs() as i128
                    + price.0 as i128 * signed.abs() as i128)
                    / total.abs().max(1) as i128) as i64,
            );
            self.qty = total;
            self.entry_avg = self.avg_price;
            self.entry_qty = self.qty.abs();
            return Paise(0);
        }
        // Reducing (or flipping): realize on the closed part.
        let closing = signed.abs().min(self.qty.abs());
        let realized = pnl_paise(self.avg_price, price, closing * self.qty.signum(), div);
        self.realized = Paise(self.realized.0 + realized.0);
        let remaining = self.qty + signed;
        if remaining != 0 && remaining.signum() != self.qty.signum() {
            self.avg_price = price;
            self.entry_avg = price;
            self.entry_qty = remaining.abs();
        }
        self.qty = remaining;
        if self.qty == 0 {
            self.avg_price = Price(0);
        }
        realized
    }
}

/// A finished round trip, for reports and the determinism test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TradeRecord {
    pub token: u32,
    pub side: Side,
    pub qty: i64,
    pub entry: Price,
    pub exit: Price,
    pub pnl: Paise,
    /// The exit that closed it.
    pub exit_purpose: crate::domain::OrderPurpose,
    /// Every exit purpose that filled on the way (`OrderPurpose::bit`): TP1 then a trailing
    /// stop shows both.
    pub exit_reasons: u16,
    pub strategy: crate::domain::StrategyId,
    pub opened_ts: u32,
    pub closed_ts: u32,
    /// Every charge of the round trip (both sides, each executed order's brokerage).
    pub charges: super::charges::Charges,
    /// The trip's first filled entry order and the exit order that closed it (their tags
    /// are what the broker's order book and contract note show).
    pub entry_order: crate::domain::OrderId,
    pub exit_order: crate::domain::OrderId,
}

impl TradeRecord {
    /// P&L after charges.
    pub fn net_pnl(&self) -> Paise {
        Paise(self.pnl.0 - self.charges.total().0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pos() -> Position {
        Position {
            divisor: 100,
            ..Default::default()
        }
    }

    #[test]
    fn long_round_trip_realizes() {
        let mut p = pos();
        p.apply_fill(Side::Buy, Qty(50), Price(2_200_000));
        p.ltp = Price(2_201_000);
        assert_eq!(p.unrealized(), Paise(50 * 1000));
        let r = p.apply_fill(Side::Sell, Qty(50), Price(2_190_000));
        assert_eq!(r, Paise(-50 * 10_000));
        assert_eq!(p.qty, 0);
        assert_eq!(p.unrealized(), Paise(0));
    }

    #[test]
    fn short_and_partial_close() {
        let mut p = pos();
        p.apply_fill(Side::Sell, Qty(10), Price(1000));
        p.apply_fill(Side::Sell, Qty(10), Price(1100));
        assert_eq!(p.avg_price, Price(1050));
        let r = p.apply_fill(Side::Buy, Qty(5), Price(950));
        assert_eq!(r, Paise(500));
        assert_eq!(p.qty, -15);
        p.stop = Price(1100);
        assert_eq!(p.open_risk(), Paise(750));
    }

    #[test]
    fn currency_divisor_converts_to_paise() {
        // CDS: 1e7 units per rupee; 0.0025 rupee move on 1000 units = 2.5 rupees = 250 paise.
        assert_eq!(
            pnl_paise(Price(830_000_000), Price(830_025_000), 1000, 10_000_000),
            Paise(250)
        );
    }
}
