//! The order book of record (OMS): every order's status, moved only by one exhaustive
//! transition table. Owned by the risk thread.

pub use crate::domain::OrderStatus;
use crate::domain::{BrokerStatus, OrderId, OrderIntent, OrderUpdateKind, Price, Qty};

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

/// One table for every (status, update) pair, including the late and duplicated ones. Fills
/// are cumulative (`cum_qty`), so a repeated or stale fill adds nothing and a dropped one is
/// made up by the next.
pub fn transition(
    status: OrderStatus,
    qty: Qty,
    filled: Qty,
    update: OrderUpdateKind,
) -> Transition {
    use BrokerStatus as B;
    use OrderStatus::*;
    use OrderUpdateKind as U;
    let moved = |to| Transition::Moved {
        to,
        filled: Qty(0),
        price: Price(0),
    };
    match (status, update) {
        // Terminal stays terminal: late fills, acks and statuses change nothing.
        (Filled | Cancelled | Rejected, _) => Transition::Ignored,
        (
            PendingNew | Open | PartiallyFilled | PendingCancel,
            U::Fill {
                cum_qty,
                last_qty,
                last_price,
            },
        ) => {
            let add = Qty(cum_qty.0.min(qty.0) - filled.0);
            if add.0 <= 0 {
                return Transition::Ignored;
            }
            let _ = last_qty;
            let to = if filled.0 + add.0 >= qty.0 {
                Filled
            } else if status == PendingCancel {
                // A fill racing our cancel is applied; the cancel is still pending.
                PendingCancel
            } else {
                PartiallyFilled
            };
            Transition::Moved {
                to,
                filled: add,
                price: last_price,
            }
        }
        // Resting at the exchange.
        (PendingNew, U::Status(B::Open | B::TriggerPending)) => moved(Open),
        // Not at the exchange yet: live exposure all the same (an SL-M stuck in OPEN PENDING
        // has executed an hour later).
        (
            PendingNew,
            U::Status(
                B::Received
                | B::OpenPending
                | B::ModifyPending
                | B::Modified
                | B::NotModified
                | B::NotCancelled
                | B::Unknown,
            ),
        ) => Transition::Ignored,
        (
            Open | PartiallyFilled,
            U::Status(
                B::Received
                | B::OpenPending
                | B::Open
                | B::TriggerPending
                | B::ModifyPending
                | B::Modified
                | B::NotModified
                | B::NotCancelled
                | B::Unknown,
            ),
        ) => Transition::Ignored,
        // A cancel pending at the broker (ours, or one made in Kite's own screens).
        (PendingNew | Open | PartiallyFilled, U::Status(B::CancelPending)) => moved(PendingCancel),
        // The cancel was refused: the order works on.
        (PendingCancel, U::Status(B::NotCancelled)) => {
            moved(if filled.0 > 0 { PartiallyFilled } else { Open })
        }
        (
            PendingCancel,
            U::Status(
                B::Received
                | B::OpenPending
                | B::Open
                | B::TriggerPending
                | B::ModifyPending
                | B::Modified
                | B::NotModified
                | B::CancelPending
                | B::Unknown,
            ),
        ) => Transition::Ignored,
        (PendingNew | Open | PartiallyFilled | PendingCancel, U::Cancelled) => moved(Cancelled),
        // A reject after a partial fill keeps what filled; the rest is gone.
        (PendingNew | Open | PartiallyFilled | PendingCancel, U::Rejected(_)) => {
            moved(if filled.0 > 0 { Cancelled } else { Rejected })
        }
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
    /// A modification sent for a working order: its record carries the terms asked for
    /// (zero keeps a term), so the journal and a rebuild see the order as it now stands.
    pub fn note_modify(&mut self, id: OrderId, qty: Qty, price: Price, trigger: Price) {
        let Some(k) = id.0.checked_sub(self.first_id) else {
            return;
        };
        if let Some(r) = self.orders.get_mut(k as usize) {
            if qty.0 > 0 {
                r.intent.qty = qty;
            }
            if price.0 > 0 {
                r.intent.price = price;
            }
            if trigger.0 > 0 {
                r.intent.trigger = trigger;
            }
        }
    }

    /// The `k`-th order of the table (in id order).
    pub fn at(&self, k: usize) -> Option<&OrderRecord> {
        self.orders.get(k)
    }
    pub fn first_id(&self) -> u64 {
        self.first_id
    }
    /// Where ids start, from a journal; only while the table is empty (a rebuild's desk
    /// record comes before its orders, and a day roll empties the table first).
    pub fn set_first_id(&mut self, first: u64) {
        if self.orders.is_empty() {
            self.first_id = first.max(1);
        }
    }
    /// An order's record from a journal: a new order goes at the end (ids are dense), a
    /// known one is overwritten.
    pub fn restore(&mut self, r: OrderRecord) -> Result<(), String> {
        let k = r.intent.id.0.checked_sub(self.first_id).ok_or_else(|| {
            format!(
                "order {} before the table's first id {}",
                r.intent.id.0, self.first_id
            )
        })? as usize;
        match k.cmp(&self.orders.len()) {
            std::cmp::Ordering::Less => self.orders[k] = r,
            std::cmp::Ordering::Equal => self.orders.push(r),
            std::cmp::Ordering::Greater => {
                return Err(format!(
                    "order {} where order {} was due",
                    r.intent.id.0,
                    self.first_id + self.orders.len() as u64
                ))
            }
        }
        Ok(())
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
    use crate::domain::{OrderPurpose, OrderType, RejectReason, Side, StrategyId, Token};
    use proptest::prelude::*;
    use OrderStatus::*;

    /// A cumulative fill to `cum` units at 100.
    fn fill(cum: i64) -> OrderUpdateKind {
        OrderUpdateKind::Fill {
            cum_qty: Qty(cum),
            last_qty: Qty(cum),
            last_price: Price(100),
        }
    }
    fn status(s: BrokerStatus) -> OrderUpdateKind {
        OrderUpdateKind::Status(s)
    }
    const ALL_STATUSES: [BrokerStatus; 10] = BrokerStatus::ALL;
    const ALL_ORDER: [OrderStatus; 7] = OrderStatus::ALL;

    fn intent(id: u64) -> OrderIntent {
        OrderIntent {
            id: OrderId(id),
            token: Token(1),
            side: Side::Buy,
            qty: Qty(10),
            order_type: OrderType::Market,
            price: Price(0),
            trigger: Price(0),
            validity: crate::domain::Validity::Day,
            purpose: OrderPurpose::Entry,
            strategy: StrategyId::Orb,
            ts: 0,
        }
    }

    #[test]
    fn a_new_day_starts_an_empty_table_with_fresh_ids() {
        let mut oms = Oms::with_capacity(8, 1);
        oms.insert(intent(1));
        oms.insert(intent(2));
        oms.apply(OrderId(1), fill(10));
        assert!(!oms.roll_day(), "order 2 still works: the table stays");
        oms.apply(OrderId(2), OrderUpdateKind::Cancelled);
        assert!(oms.roll_day());
        assert!(oms.is_empty());
        assert_eq!(oms.next_id(), OrderId(3));
        assert!(oms.get(OrderId(1)).is_none());
        oms.insert(intent(3));
        assert_eq!(oms.get(OrderId(3)).unwrap().status, PendingNew);
        // An update for an order the table does not hold is not applied (risk counts it).
        assert!(oms.apply(OrderId(99), fill(1)).is_none());
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
            transition(Open, Qty(10), Qty(6), fill(12)),
            Transition::Moved {
                to: Filled,
                filled: Qty(4),
                price: Price(100)
            }
        );
        // A repeated fill adds nothing.
        assert_eq!(
            transition(PartiallyFilled, Qty(10), Qty(6), fill(6)),
            Transition::Ignored
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

    /// Every Kite status against every order status: terminal stays terminal, OPEN PENDING
    /// and the other not-yet-at-the-exchange statuses keep the order live, CANCEL PENDING is
    /// live until a terminal answer, NOT CANCELLED puts the order back to work, an unknown
    /// status changes nothing (working).
    #[test]
    fn every_broker_status_in_every_order_status() {
        for from in ALL_ORDER {
            for s in ALL_STATUSES {
                let filled = if from == PartiallyFilled {
                    Qty(4)
                } else {
                    Qty(0)
                };
                let t = transition(from, Qty(10), filled, status(s));
                let to = match t {
                    Transition::Moved { to, filled, .. } => {
                        assert_eq!(filled, Qty(0), "a status fills nothing");
                        to
                    }
                    Transition::Ignored => from,
                };
                if from.is_terminal() {
                    assert_eq!(to, from, "{from:?} + {s:?}");
                    continue;
                }
                assert!(
                    !to.is_terminal(),
                    "{from:?} + {s:?} -> {to:?}: statuses never end an order"
                );
                match s {
                    BrokerStatus::Open | BrokerStatus::TriggerPending if from == PendingNew => {
                        assert_eq!(to, Open)
                    }
                    BrokerStatus::CancelPending => assert_eq!(to, PendingCancel, "{from:?}"),
                    BrokerStatus::NotCancelled if from == PendingCancel => assert_eq!(to, Open),
                    _ => assert_eq!(to, from, "{from:?} + {s:?}"),
                }
            }
        }
    }

    #[derive(Clone, Copy, Debug)]
    enum Step {
        Fill(i64),
        Status(usize),
        CancelRequest,
        Cancelled,
        Rejected,
    }

    fn any_step() -> impl Strategy<Value = Step> {
        prop_oneof![
            4 => (1i64..=10).prop_map(Step::Fill),
            2 => (0usize..10).prop_map(Step::Status),
            1 => Just(Step::CancelRequest),
            1 => Just(Step::Cancelled),
            1 => Just(Step::Rejected),
        ]
    }

    /// Runs updates through one order; returns (final status, filled, sum of fill deltas).
    fn run(steps: &[Step]) -> (OrderStatus, i64, i64) {
        let mut oms = Oms::with_capacity(4, 1);
        oms.insert(intent(1));
        let mut sum = 0;
        let mut terminal_at: Option<OrderStatus> = None;
        for s in steps {
            let kind = match *s {
                Step::Fill(c) => fill(c),
                Step::Status(k) => status(ALL_STATUSES[k]),
                Step::CancelRequest => {
                    oms.mark_pending_cancel(OrderId(1));
                    continue;
                }
                Step::Cancelled => OrderUpdateKind::Cancelled,
                Step::Rejected => OrderUpdateKind::Rejected(RejectReason::Broker),
            };
            let (rec, t) = oms.apply(OrderId(1), kind).unwrap();
            if let Transition::Moved { filled, .. } = t {
                sum += filled.0;
            }
            if let Some(done) = terminal_at {
                assert_eq!(rec.status, done, "a terminal order stays terminal");
            }
            if rec.status.is_terminal() {
                terminal_at = Some(rec.status);
            }
            assert_eq!(rec.filled.0, sum, "position is the sum of fills");
            assert!(rec.filled.0 <= 10);
        }
        let r = oms.get(OrderId(1)).unwrap();
        (r.status, r.filled.0, sum)
    }

    proptest! {
        /// The broker's fills of one order (cumulative 1..=10), sent duplicated, reordered
        /// and with some dropped, end in the same position as the clean stream as long as the
        /// last cumulative fill arrives: it never counts a fill twice.
        #[test]
        fn duplicated_reordered_and_dropped_fills_keep_the_position(
            cums in proptest::collection::vec(1i64..=10, 1..12),
            order in proptest::collection::vec(0usize..100, 0..40),
        ) {
            let mut cums = cums;
            cums.sort();
            let last = *cums.last().unwrap();
            let clean: Vec<Step> = cums.iter().map(|&c| Step::Fill(c)).collect();
            // Any multiset of the clean fills (dups, drops, shuffles), then the last one.
            let mut noisy: Vec<Step> = order.iter().map(|&k| clean[k % clean.len()]).collect();
            noisy.push(Step::Fill(last));
            let (_, a, _) = run(&clean);
            let (_, b, sum) = run(&noisy);
            prop_assert_eq!(a, last);
            prop_assert_eq!(b, last);
            prop_assert_eq!(sum, last);
        }

        /// Any stream of fills, statuses, cancels and rejects: filled never exceeds the
        /// quantity, equals the sum of what was applied, terminal is final (`run` checks),
        /// and Filled means filled to the quantity.
        #[test]
        fn any_stream_keeps_the_invariants(steps in proptest::collection::vec(any_step(), 0..40)) {
            let (status, filled, sum) = run(&steps);
            prop_assert_eq!(filled, sum);
            prop_assert_eq!(status == Filled, filled == 10);
        }

        /// A fill that arrives after our cancel request (and before the broker's answer) is
        /// always applied.
        #[test]
        fn a_fill_after_a_cancel_request_is_applied(before in 0i64..9, more in 1i64..=10) {
            let mut steps = vec![];
            if before > 0 {
                steps.push(Step::Fill(before));
            }
            steps.push(Step::CancelRequest);
            let cum = (before + more).min(10);
            steps.push(Step::Fill(cum));
            let (status, filled, _) = run(&steps);
            prop_assert_eq!(filled, cum);
            prop_assert!(status == PendingCancel || status == Filled);
        }
    }
}
