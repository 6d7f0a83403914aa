//! Reconciliation with the broker (LIVE): the desk, rebuilt from its journal or running,
//! matched against the broker's book by tag before the first order and then every
//! `kite.reconcile_interval_s`.
//!
//! - Our order the desk knows: fills the broker has and the desk does not (filled while we
//!   were down) are applied through the ordinary fill path (positions, charges, stops), and
//!   an order that ended at the broker ends on the desk.
//! - An order with our tag the journal missed (its tail lost with the machine) is adopted
//!   under its own id: a stop order opposite a position becomes that position's broker stop,
//!   anything else an entry or an exit; the position it made gets a protective stop
//!   `kite.adopted_stop_pct` from its price. Ids then go on past it, so no tag is reused.
//! - A position no order of ours made is foreign: reported, counted in heat at
//!   `adopted_stop_pct` of its value, never traded.
//! - Whatever still disagrees (the desk's quantity against our orders' fills, or a foreign
//!   quantity on an instrument we hold) is drift: entries pause until a look finds none. While
//!   trading, a disagreement counts as drift only when two looks in a row see it, because the
//!   broker's positions and orders are two calls and a fill can land between them.

use super::*;
use oms::OrderRecord;

/// Placeholder ids the adoption of one order may fill in; past it the tag is not adopted.
const MAX_ID_GAP: u64 = 10_000;

/// What reconciliation remembers between looks.
#[derive(Clone, Debug, Default)]
pub struct ReconcileMemory {
    /// Disagreements of the last look: (instrument, desk, our fills, broker net).
    suspects: Vec<(usize, i64, i64, i64)>,
    /// Entries were paused for drift (lifted by a look that finds none).
    paused: bool,
    /// Per instrument: units at the broker that no order of ours made, and their price.
    foreign: Vec<(i64, Price)>,
}

impl ReconcileMemory {
    pub fn new(n: usize) -> ReconcileMemory {
        ReconcileMemory {
            foreign: vec![(0, Price(0)); n],
            ..Default::default()
        }
    }
}

impl RiskStage {
    /// Matches the desk to the broker's book; `first`: the look before the first order (the
    /// market is not moving the book under it, so a disagreement is drift at once).
    pub fn reconcile(
        &mut self,
        book: &BrokerBook,
        first: bool,
        emit: &mut impl FnMut(Event),
    ) -> ReconcileReport {
        let mut r = ReconcileReport::default();
        let ours_min = book.orders.iter().filter_map(|o| o.ours).min();
        if let (true, Some(min)) = (self.oms.is_empty(), ours_min) {
            // A journal with no order (lost whole): ids start at the broker's oldest of ours.
            if min.0 < self.oms.first_id() {
                self.oms.set_first_id(min.0);
            }
        }
        // First every order of ours the journal missed takes its id on the desk, so no order
        // sent while the rest is applied can reuse a tag the broker already has. Orders the
        // desk cannot take (outside its ids) count as foreign.
        let mut outside: Vec<OrderId> = Vec::new();
        let mut adopted: Vec<OrderId> = Vec::new();
        let mut before = vec![0i64; self.positions.len()];
        for o in &book.orders {
            let (Some(id), Some(idx)) = (o.ours, self.master.index_of(o.token)) else {
                continue;
            };
            let held = before[idx];
            if self.oms.get(id).is_none() {
                if id.0 < self.oms.first_id() || id.0 - self.oms.next_id().0 > MAX_ID_GAP {
                    outside.push(id);
                    r.details.push(format!(
                        "order {} ({}) carries our tag but lies outside the journal's order ids: not adopted",
                        o.tag, o.broker_id
                    ));
                    continue;
                }
                self.adopt(idx, id, o, held);
                adopted.push(id);
            }
            before[idx] += o.signed_filled();
        }
        // Then what the broker did with each is applied, oldest first.
        for o in &book.orders {
            let (Some(id), Some(idx)) = (o.ours, self.master.index_of(o.token)) else {
                continue;
            };
            if outside.contains(&id) {
                continue;
            }
            r.orders_checked += 1;
            let was_open = self.positions[idx].is_open();
            let adopted_entry = adopted.contains(&id)
                && self
                    .oms
                    .get(id)
                    .is_some_and(|x| x.intent.purpose == OrderPurpose::Entry);
            if adopted_entry && (!was_open || self.positions[idx].stop.0 == 0) {
                let stop = self.adopted_stop(idx, o.side, o.avg_price.0.max(o.price.0));
                self.positions[idx].stop = stop;
            }
            self.reconcile_known(idx, id, o, &mut r, emit);
            if adopted.contains(&id) {
                self.report_adopted(idx, id, o, was_open, &mut r);
            }
        }
        // Working orders of the desk the broker does not have.
        let open: Vec<OrderRecord> = self
            .oms
            .open_orders()
            .filter(|x| x.intent.qty.0 > 0 && book.order_by_tag(x.intent.id).is_none())
            .copied()
            .collect();
        for x in open.iter().filter(|_| first) {
            let sym = self
                .master
                .index_of(x.intent.token)
                .map_or("?", |i| self.master.by_index(i).tradingsymbol.as_str());
            if x.status == OrderStatus::PendingNew {
                // Sent, no answer, then the crash: Kite never took it. A stop or an exit is
                // placed again; an entry is not (the order stage ends it on the desk).
                r.orders_unsent += 1;
                let what = if x.intent.purpose == crate::domain::OrderPurpose::Entry {
                    "an entry, not sent again after the downtime"
                } else {
                    "placed again"
                };
                r.details.push(format!(
                    "{sym}: order {} was sent but never reached Kite: {what}",
                    x.intent.id.tag().as_str()
                ));
            } else {
                r.drift.push((x.intent.token, Symbol::new(sym)));
                r.details.push(format!(
                    "{sym}: order {} is working on the desk and Kite acknowledged it, but Kite's book does not have it",
                    x.intent.id.tag().as_str()
                ));
            }
        }
        self.match_positions(book, &outside, first, &mut r);
        let m = &self.metrics;
        Metrics::add(&m.reconcile_runs_total, 1);
        Metrics::add(&m.reconcile_fills_applied_total, r.fills_applied as u64);
        Metrics::add(&m.reconcile_adopted_total, r.orders_adopted as u64);
        use std::sync::atomic::Ordering::Relaxed;
        m.reconcile_drift_instruments
            .store(r.drift.len() as u64, Relaxed);
        m.reconcile_foreign_positions
            .store(r.foreign.len() as u64, Relaxed);
        m.foreign_exposure_paise
            .store(self.foreign_exposure().0 as u64, Relaxed);
        if !r.drift.is_empty() {
            if self.state == TradingState::Active {
                self.set_state(
                    TradingState::Paused,
                    "reconciliation drift: the broker and the journal disagree",
                );
            }
            self.reconcile.paused = true;
        } else if std::mem::take(&mut self.reconcile.paused) && self.state == TradingState::Paused {
            self.set_state(TradingState::Active, "reconciliation drift resolved");
        }
        if self.journal.is_some() {
            self.journal_changes(None, true);
        }
        self.publish();
        r
    }

    /// One of our orders the desk knows: what the broker did with it while we were not
    /// looking is applied.
    fn reconcile_known(
        &mut self,
        idx: usize,
        id: OrderId,
        o: &BrokerOrder,
        r: &mut ReconcileReport,
        emit: &mut impl FnMut(Event),
    ) {
        let Some(rec) = self.oms.get(id).copied() else {
            return;
        };
        let sym = self.master.by_index(idx).tradingsymbol;
        if o.filled > rec.filled.0 {
            let delta = o.filled - rec.filled.0;
            let value = o.avg_price.0 as i128 * o.filled as i128;
            let px = ((value - rec.filled_value) / delta as i128) as i64;
            let px = if px > 0 { px } else { o.avg_price.0 };
            self.apply_broker(
                id,
                o.token,
                OrderUpdateKind::Fill {
                    cum_qty: Qty(o.filled),
                    last_qty: Qty(delta),
                    last_price: Price(px),
                },
                emit,
            );
            r.fills_applied += 1;
            r.details.push(format!(
                "{sym}: order {} filled {delta} more at the broker (now {} of {}): applied",
                o.tag, o.filled, o.qty
            ));
        }
        self.settle(idx, id, o, r, emit);
        let now = self.oms.get(id).map(|x| x.status);
        if now.is_some_and(|s| s.is_terminal()) && o.is_working() {
            r.drift.push((o.token, sym));
            r.details.push(format!(
                "{sym}: order {} ({}) is final on the desk but working at the broker",
                o.tag, o.broker_id
            ));
        }
    }

    /// The broker's word on an order's end (or its acknowledgement) goes onto the desk.
    fn settle(
        &mut self,
        idx: usize,
        id: OrderId,
        o: &BrokerOrder,
        r: &mut ReconcileReport,
        emit: &mut impl FnMut(Event),
    ) {
        let Some(rec) = self.oms.get(id).copied() else {
            return;
        };
        if rec.status.is_terminal() {
            return;
        }
        let kind = match o.state {
            BrokerOrderState::Working(s) if rec.status == OrderStatus::PendingNew => {
                OrderUpdateKind::Status(s)
            }
            BrokerOrderState::Working(_) => return,
            BrokerOrderState::Cancelled | BrokerOrderState::Filled => OrderUpdateKind::Cancelled,
            BrokerOrderState::Rejected => OrderUpdateKind::Rejected(RejectReason::Broker),
        };
        self.apply_broker(id, o.token, kind, emit);
        if !o.is_working() {
            r.orders_settled += 1;
            r.details.push(format!(
                "{}: order {} is {:?} at the broker: settled on the desk",
                self.master.by_index(idx).tradingsymbol,
                o.tag,
                o.state
            ));
        }
    }

    fn apply_broker(
        &mut self,
        id: OrderId,
        token: Token,
        kind: OrderUpdateKind,
        emit: &mut impl FnMut(Event),
    ) {
        let u = OrderUpdate {
            id,
            token,
            kind,
            ts: self.now_ts,
        };
        self.on_order_update(&u, emit);
    }

    /// An order with our tag the journal did not have: taken onto the desk under its id.
    /// Our stop orders are only ever protective stops: one becomes its position's broker
    /// stop. Any other order is an entry, or an exit when it trades against what our earlier
    /// orders at the broker (`held`) left open.
    fn adopt(&mut self, idx: usize, id: OrderId, o: &BrokerOrder, held: i64) {
        // Ids are dense: the ones the lost tail held and the broker never saw are filled in
        // as rejected nothings, so the next order's tag is past every tag at the broker.
        while self.oms.next_id() < id {
            let hole = OrderIntent {
                id: self.oms.next_id(),
                token: o.token,
                side: Side::Buy,
                qty: Qty(0),
                order_type: OrderType::Market,
                price: Price(0),
                trigger: Price(0),
                validity: Validity::Day,
                purpose: OrderPurpose::Entry,
                strategy: StrategyId::Risk,
                ts: self.now_ts,
            };
            self.oms.insert(hole);
            self.oms
                .apply(hole.id, OrderUpdateKind::Rejected(RejectReason::Broker));
        }
        let closes = held != 0 && (held > 0) != (o.side == Side::Buy);
        let purpose = if o.order_type.is_stop() {
            OrderPurpose::StopLoss
        } else if closes {
            OrderPurpose::Manual
        } else {
            OrderPurpose::Entry
        };
        self.oms.insert(OrderIntent {
            id,
            token: o.token,
            side: o.side,
            qty: Qty(o.qty),
            order_type: o.order_type,
            price: o.price,
            trigger: o.trigger,
            validity: o.validity,
            purpose,
            strategy: StrategyId::Risk,
            ts: self.now_ts,
        });
        match purpose {
            OrderPurpose::StopLoss => {
                if self.stop_state(idx) == protective::StopOrderState::Absent {
                    self.stops[idx] = protective::ProtectiveStop {
                        id: Some(id),
                        trigger: o.trigger,
                        placed_ts: self.now_ts,
                        ..Default::default()
                    };
                }
            }
            OrderPurpose::Entry => {
                // Its stop is set when its fill is applied (an earlier fill may close the
                // position and clear the stop before then).
                if o.is_working() {
                    self.positions[idx].pending_entry = Some(id);
                }
            }
            _ => {
                if o.is_working() {
                    let pos = &mut self.positions[idx];
                    pos.exit_working += o.qty - o.filled;
                    pos.pending_exit = Some(id);
                }
            }
        }
    }

    fn report_adopted(
        &mut self,
        idx: usize,
        id: OrderId,
        o: &BrokerOrder,
        was_open: bool,
        r: &mut ReconcileReport,
    ) {
        r.orders_adopted += 1;
        if o.is_working() {
            r.adopted_working.push(id);
        }
        let sym = self.master.by_index(idx).tradingsymbol;
        let p = self.positions[idx];
        if !was_open && p.is_open() {
            r.positions_adopted += 1;
            r.details.push(format!(
                "{sym}: position {} at {} adopted from order {} (not in the journal); protective stop at {}",
                p.qty,
                format_rupees(p.avg_price.0, p.divisor),
                o.tag,
                format_rupees(p.stop.0, p.divisor)
            ));
        } else {
            let purpose = self.oms.get(id).map_or("?", |x| x.intent.purpose.as_str());
            r.details.push(format!(
                "{sym}: order {} ({}, {:?}) adopted as {purpose} (not in the journal)",
                o.tag, o.broker_id, o.state
            ));
        }
    }

    /// A stop `kite.adopted_stop_pct` from `price` against a position opened by `side`, on
    /// the tick grid and never past the price.
    fn adopted_stop(&self, idx: usize, side: Side, price: i64) -> Price {
        let tick = self.master.by_index(idx).tick_size.0.max(1);
        let away = (price as i128 * self.params.adopted_stop_bps as i128 / 10_000) as i64;
        let away = away.max(tick);
        // The stop closes the position: it is rounded as an order on the other side is.
        let raw = price - side.sign() * away;
        Price(round_against(raw, side.opposite(), tick).max(tick))
    }

    /// Net positions against what our orders' fills explain: foreign positions and drift.
    fn match_positions(
        &mut self,
        book: &BrokerBook,
        outside: &[OrderId],
        first: bool,
        r: &mut ReconcileReport,
    ) {
        let n = self.positions.len();
        let mut ours = vec![0i64; n];
        let mut net = vec![0i64; n];
        let mut net_avg = vec![Price(0); n];
        for o in &book.orders {
            let (Some(id), Some(idx)) = (o.ours, self.master.index_of(o.token)) else {
                continue;
            };
            if outside.contains(&id) {
                continue;
            }
            // The desk may be a fill ahead of the broker's book (read a moment ago).
            let filled = self
                .oms
                .get(id)
                .map_or(o.filled, |x| x.filled.0.max(o.filled));
            ours[idx] += filled * o.side.sign();
        }
        for p in &book.positions {
            if let Some(idx) = self.master.index_of(p.token) {
                net[idx] += p.qty;
                net_avg[idx] = p.avg_price;
            }
        }
        let mut suspects = Vec::new();
        for idx in 0..n {
            let desk = self.positions[idx].qty;
            let foreign = net[idx] - ours[idx];
            if desk != ours[idx] || (foreign != 0 && desk != 0) {
                suspects.push((idx, desk, ours[idx], net[idx]));
            }
            self.reconcile.foreign[idx] = (foreign, net_avg[idx]);
            if foreign != 0 && desk == 0 && desk == ours[idx] {
                let inst = self.master.by_index(idx);
                r.foreign.push(ForeignPosition {
                    token: inst.token,
                    symbol: inst.tradingsymbol,
                    qty: foreign,
                    avg_price: net_avg[idx],
                    divisor: inst.divisor(),
                });
                r.details.push(format!(
                    "{}: {foreign} at {} at the broker that no order of ours made: foreign, left alone (counted in heat)",
                    inst.tradingsymbol,
                    format_rupees(net_avg[idx].0, inst.divisor())
                ));
            }
        }
        for &(idx, desk, our, broker) in &suspects {
            if first || self.reconcile.suspects.contains(&(idx, desk, our, broker)) {
                let inst = self.master.by_index(idx);
                r.drift.push((inst.token, inst.tradingsymbol));
                r.details.push(format!(
                    "{}: DRIFT: the desk holds {desk}, our orders at the broker filled {our}, the broker's net position is {broker}",
                    inst.tradingsymbol
                ));
            }
        }
        r.drift.sort_by_key(|(t, _)| t.0);
        r.drift.dedup();
        self.reconcile.suspects = suspects;
    }

    /// Positions at the broker that are not ours, at their last (or average) price.
    pub fn foreign_exposure(&self) -> Paise {
        Paise(
            self.reconcile
                .foreign
                .iter()
                .enumerate()
                .filter(|(_, (q, _))| *q != 0)
                .map(|(i, &(q, avg))| {
                    let p = &self.positions[i];
                    let px = if p.ltp.0 > 0 { p.ltp } else { avg };
                    portfolio::pnl_paise(Price(0), px, q.abs(), p.divisor.max(1)).0
                })
                .sum(),
        )
    }

    /// Heat of the foreign positions: each could lose `adopted_stop_pct` of its value as
    /// well as any of ours.
    pub(super) fn foreign_heat(&self) -> i64 {
        (self.foreign_exposure().0 as i128 * self.params.adopted_stop_bps as i128 / 10_000) as i64
    }
}
