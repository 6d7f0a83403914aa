//! The order book of record (OMS): every order's status, moved only by one exhaustive
//! transition table. Owned by the risk thread.

pub use crate::domain::OrderStatus;
use crate::domain::{OrderId, OrderIntent, OrderUpdateKind, Price, Qty};

/// What the OMS wants the caller to know about an applied update.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transition {
    /// Status moved; `filled` is the quantity this update added.
    Moved {
        to: OrderStatus,
        filled: Qty,
        price: Price,
    },
    /// Harmless repeat (duplicate cancel ack, update for a finished order): ignored.
    Ignored,
}

/// One table for every (status, update) pair, including the late and duplicated ones.
pub fn transition(
    status: OrderStatus,
    qty: Qty,
    filled: Qty,
    update: OrderUpdateKind,
) -> Transition {
    use OrderStatus::*;
    use OrderUpdateKind as U;
    match (status, update) {
        (PendingNew | Open | PartiallyFilled | PendingCancel, U::Fill { qty: q, price }) => {
            let add = Qty(q.0.min(qty.0 - filled.0).max(0));
            if add.0 == 0 {
                return Transition::Ignored;
            }
            let to = if filled.0 + add.0 >= qty.0 {
                Filled
            } else if status == PendingCancel {
                PendingCancel
            } else {
                PartiallyFilled
            };
            Transition::Moved {
                to,
                filled: add,
                price,
            }
        }
        (PendingNew, U::Open) => Transition::Moved {
            to: Open,
            filled: Qty(0),
            price: Price(0),
        },
        (Open | PartiallyFilled | PendingCancel, U::Open) => Transition::Ignored,
        (PendingNew | Open | PartiallyFilled | PendingCancel, U::Cancelled) => Transition::Moved {
            to: Cancelled,
            filled: Qty(0),
            price: Price(0),
        },
        (PendingNew | Open | PendingCancel, U::Rejected(_)) => Transition::Moved {
            to: Rejected,
            filled: Qty(0),
            price: Price(0),
        },
        // A reject after a partial fill keeps what filled; the rest is gone.
        (PartiallyFilled, U::Rejected(_)) => Transition::Moved {
            to: Cancelled,
            filled: Qty(0),
            price: Price(0),
        },
        (Filled | Cancelled | Rejected, _) => Transition::Ignored,
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OrderRecord {
    pub intent: OrderIntent,
    pub status: OrderStatus,
    pub filled: Qty,
    /// Volume-weighted fill price, native units.
    pub avg_fill: Price,
    /// Sum of price x qty over the fills, native units: the order's value, exact (brokerage
    /// is charged on it per executed order).
    pub filled_value: i128,
}

/// Orders of the day by id (ids are dense, so a Vec indexed by id).
#[derive(Debug, Default)]
pub struct Oms {
    orders: Vec<OrderRecord>,
    first_id: u64,
}

impl Oms {
    pub fn with_capacity(n: usize, first_id: u64) -> Oms {
        Oms {
            orders: Vec::with_capacity(n),
            first_id,
        }
    }
    pub fn next_id(&self) -> OrderId {
        OrderId(self.first_id + self.orders.len() as u64)
    }
    pub fn insert(&mut self, intent: OrderIntent) {
        debug_assert_eq!(intent.id, self.next_id());
        self.orders.push(OrderRecord {
            intent,
            status: OrderStatus::PendingNew,
            filled: Qty(0),
            avg_fill: Price(0),
            filled_value: 0,
        });
    }
    pub fn get(&self, id: OrderId) -> Option<&OrderRecord> {
        id.0.checked_sub(self.first_id)
            .and_then(|i| self.orders.get(i as usize))
    }
    pub fn apply(
        &mut self,
        id: OrderId,
        kind: OrderUpdateKind,
    ) -> Option<(OrderRecord, Transition)> {
        let idx = id.0.checked_sub(self.first_id)? as usize;
        let rec = self.orders.get_mut(idx)?;
        let t = transition(rec.status, rec.intent.qty, rec.filled, kind);
        if let Transition::Moved { to, filled, price } = t {
            if filled.0 > 0 {
                let total = rec.filled.0 + filled.0;
                let notional = rec.avg_fill.0 as i128 * rec.filled.0 as i128
                    + price.0 as i128 * filled.0 as i128;
                rec.avg_fill = Price((notional / total.max(1) as i128) as i64);
                rec.filled = Qty(total);
                rec.filled_value += price.0 as i128 * filled.0 as i128;
            }
            rec.status = to;
        }
        Some((*rec, t))
    }
    /// A new trading day: yesterday's orders leave the table (ids go on from where they
    /// were, so no tag repeats). Kept whole while any order is still working, so a late
    /// update always finds its order; returns whether the table was cleared.
    pub fn roll_day(&mut self) -> bool {
        if self.open_orders().next().is_some() {
            return false;
        }
        self.first_id = self.next_id().0;
        self.orders.clear();
        true
    }

    pub fn mark_pending_cancel(&mut self, id: OrderId) -> bool {
        let Some(idx) = id.0.checked_sub(self.first_id) else {
            return false;
        };
        match self.orders.get_mut(idx as usize) {
            Some(r)
                if matches!(
                    r.status,
                    OrderStatus::PendingNew | OrderStatus::Open | OrderStatus::PartiallyFilled
                ) =>
            {
                r.status = OrderStatus::PendingCancel;
                true
            }
            _ => false,
        }
    }
    pub fn iter(&self) -> impl Iterator<Item = &OrderRecord> {
        self.orders.iter()
    }
    pub fn len(&self) -> usize {
        self.orders.len()
    }
    pub fn is_empty(&self) -> bool {
        self.orders.is_empty()
    }
    pub fn open_orders(&self) -> impl Iterator<Item = &OrderRecord> {
        self.orders.iter().filter(|o| !o.status.is_terminal())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::RejectReason;
    use proptest::prelude::*;
    use OrderStatus::*;

    fn fill(q: i64) -> OrderUpdateKind {
        OrderUpdateKind::Fill {
            qty: Qty(q),
            price: Price(100),
        }
    }

    #[test]
    fn a_new_day_starts_an_empty_table_with_fresh_ids() {
        let mut oms = Oms::with_capacity(8, 1);
        let intent = |id| OrderIntent {
            id,
            token: crate::domain::Token(1),
            side: crate::domain::Side::Buy,
            qty: Qty(10),
            order_type: crate::domain::OrderType::Market,
            price: Price(0),
            purpose: crate::domain::OrderPurpose::Entry,
            strategy: crate::domain::StrategyId::Orb,
            ts: 0,
        };
        oms.insert(intent(oms.next_id()));
        oms.insert(intent(oms.next_id()));
        oms.apply(OrderId(1), fill(10));
        assert!(!oms.roll_day(), "order 2 still works: the table stays");
        oms.apply(OrderId(2), OrderUpdateKind::Cancelled);
        assert!(oms.roll_day());
        assert!(oms.is_empty());
        assert_eq!(oms.next_id(), OrderId(3));
        assert!(oms.get(OrderId(1)).is_none());
        oms.insert(intent(oms.next_id()));
        assert_eq!(oms.get(OrderId(3)).unwrap().status, PendingNew);
    }

    #[test]
    fn table_covers_the_ugly_cases() {
        // Fill after a cancel request still counts.
        assert!(matches!(
            transition(PendingCancel, Qty(10), Qty(0), fill(10)),
            Transition::Moved { to: Filled, .. }
        ));
        // Cancel ack for a filled order is ignored.
        assert_eq!(
            transition(Filled, Qty(10), Qty(10), OrderUpdateKind::Cancelled),
            Transition::Ignored
        );
        // Over-fill is clipped to the order quantity.
        assert_eq!(
            transition(Open, Qty(10), Qty(6), fill(10)),
            Transition::Moved {
                to: Filled,
                filled: Qty(4),
                price: Price(100)
            }
        );
        assert!(matches!(
            transition(
                PendingNew,
                Qty(10),
                Qty(0),
                OrderUpdateKind::Rejected(RejectReason::Broker)
            ),
            Transition::Moved { to: Rejected, .. }
        ));
    }

    fn any_update() -> impl Strategy<Value = OrderUpdateKind> {
        prop_oneof![
            (1i64..20).prop_map(fill),
            Just(OrderUpdateKind::Open),
            Just(OrderUpdateKind::Cancelled),
            Just(OrderUpdateKind::Rejected(RejectReason::Broker)),
        ]
    }

    proptest! {
        #[test]
        fn filled_never_exceeds_qty_and_terminal_is_final(updates in proptest::collection::vec(any_update(), 0..30)) {
            let mut status = PendingNew;
            let mut filled = Qty(0);
            let qty = Qty(10);
            for u in updates {
                let was_terminal = status.is_terminal();
                match transition(status, qty, filled, u) {
                    Transition::Moved { to, filled: add, .. } => {
                        prop_assert!(!was_terminal);
                        filled = Qty(filled.0 + add.0);
                        status = to;
                    }
                    Transition::Ignored => {}
                }
                prop_assert!(filled.0 <= qty.0);
                prop_assert_eq!(status == Filled, filled == qty);
            }
        }
    }
}
