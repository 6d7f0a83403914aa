//! What the broker holds for the account (orders and net positions), in our units, and
//! what a reconciliation of it against the desk found. The LIVE order side reads Kite into
//! a `BrokerBook`; the risk stage matches it to its journal-rebuilt desk by tag.

use super::{BrokerStatus, OrderId, OrderType, Price, Side, Symbol, Token, Validity};

/// Where one broker order stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BrokerOrderState {
    Working(BrokerStatus),
    Filled,
    Cancelled,
    Rejected,
}

/// One order of the day's broker book.
#[derive(Clone, Debug, PartialEq)]
pub struct BrokerOrder {
    /// The broker's order id.
    pub broker_id: String,
    /// Our order id, when the order's tag is one of ours ("AT" + base 36).
    pub ours: Option<OrderId>,
    /// The tag as the broker has it (empty: none).
    pub tag: String,
    pub token: Token,
    pub side: Side,
    pub qty: i64,
    pub filled: i64,
    /// Volume-weighted fill price, native units.
    pub avg_price: Price,
    pub order_type: OrderType,
    pub price: Price,
    pub trigger: Price,
    pub validity: Validity,
    pub state: BrokerOrderState,
}

impl BrokerOrder {
    pub fn is_working(&self) -> bool {
        matches!(self.state, BrokerOrderState::Working(_))
    }
    /// Units bought (+) or sold (-) by its fills.
    pub fn signed_filled(&self) -> i64 {
        match self.side {
            Side::Buy => self.filled,
            Side::Sell => -self.filled,
        }
    }
}

/// A net position at the broker (all products), native units.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BrokerPosition {
    pub token: Token,
    pub qty: i64,
    pub avg_price: Price,
}

/// The broker's book for the account at one moment.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BrokerBook {
    pub orders: Vec<BrokerOrder>,
    pub positions: Vec<BrokerPosition>,
}

impl BrokerBook {
    pub fn order_by_tag(&self, id: OrderId) -> Option<&BrokerOrder> {
        self.orders.iter().find(|o| o.ours == Some(id))
    }
}

/// A position at the broker that no order of ours made: reported and counted in exposure,
/// never traded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ForeignPosition {
    pub token: Token,
    pub symbol: Symbol,
    pub qty: i64,
    pub avg_price: Price,
    pub divisor: i64,
}

/// What one reconciliation did and found. `details` are the per-item lines (debug level).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ReconcileReport {
    /// Our orders the broker had, and those that matched the desk with nothing to do.
    pub orders_checked: u32,
    /// Fills the broker had that the desk did not (filled while we were down).
    pub fills_applied: u32,
    /// Our orders that ended at the broker (cancelled, rejected, filled) while the desk
    /// still had them working.
    pub orders_settled: u32,
    /// Orders with our tag the journal did not have, taken onto the desk.
    pub orders_adopted: u32,
    /// Positions those adopted orders made (each gets a protective stop).
    pub positions_adopted: u32,
    /// Working orders the desk had that never reached the broker (sent again).
    pub orders_unsent: u32,
    pub foreign: Vec<ForeignPosition>,
    /// Instruments where the desk and the broker disagree after all of the above.
    pub drift: Vec<(Token, Symbol)>,
    /// Adopted orders still working at the broker: the order side tracks them from now.
    pub adopted_working: Vec<OrderId>,
    pub details: Vec<String>,
}

impl ReconcileReport {
    /// The one-line summary the log carries.
    pub fn summary(&self) -> String {
        format!(
            "{} order(s) checked, {} fill(s) applied, {} settled, {} adopted ({} position(s)), {} unsent, {} foreign position(s), {} drift",
            self.orders_checked,
            self.fills_applied,
            self.orders_settled,
            self.orders_adopted,
            self.positions_adopted,
            self.orders_unsent,
            self.foreign.len(),
            self.drift.len()
        )
    }
}

impl OrderId {
    /// The order id a client tag names, when the tag is one of ours.
    pub fn from_tag(tag: &str) -> Option<OrderId> {
        let digits = tag.strip_prefix("AT")?;
        if digits.is_empty() || digits.len() > 13 {
            return None;
        }
        let mut n: u64 = 0;
        for c in digits.bytes() {
            let d = match c {
                b'0'..=b'9' => c - b'0',
                b'A'..=b'Z' => c - b'A' + 10,
                _ => return None,
            } as u64;
            n = n.checked_mul(36)?.checked_add(d)?;
        }
        // One spelling per id: no leading zero.
        (OrderId(n).tag().as_str() == tag).then_some(OrderId(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_read_back_to_their_ids_and_nothing_else_does() {
        for n in [0u64, 1, 35, 36, 1_764_000_000_000, 99_999_999_999_999] {
            assert_eq!(
                OrderId::from_tag(OrderId(n).tag().as_str()),
                Some(OrderId(n))
            );
        }
        for t in [
            "",
            "AT",
            "at10",
            "AT01",
            "XX10",
            "AT1-2",
            "autoslice",
            "ATZZZZZZZZZZZZZZ",
        ] {
            assert_eq!(OrderId::from_tag(t), None, "{t}");
        }
    }
}
