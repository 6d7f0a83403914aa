//! Entries: a strategy's signal checked against the trading state, the session, the caps,
//! sizing and portfolio heat, then sent; and the one path every order of the stage leaves by
//! (the OMS records it, the metrics count it, the log names it).

use super::*;

impl RiskStage {
    pub(super) fn refuse(&mut self, s: &Signal, why: Refusal) {
        let reason = why.text(s.strategy);
        Metrics::add(&self.metrics.signals_refused_total, 1);
        Metrics::add(&self.metrics.signals_refused_by_reason[why.index()], 1);
        self.journal_decision(s, reason);
        self.log(HotEvent::SignalRefused {
            token: s.token,
            strategy: s.strategy,
            reason,
        });
    }

    pub(super) fn on_signal(&mut self, s: &Signal, emit: &mut impl FnMut(Event)) {
        Metrics::add(&self.metrics.signals_total, 1);
        self.log(HotEvent::Signal { signal: *s });
        match self.state {
            TradingState::Active => {}
            TradingState::Paused => return self.refuse(s, Refusal::Paused),
            TradingState::Halted => return self.refuse(s, Refusal::Halted),
        }
        let Some(idx) = self.master.index_of(s.token) else {
            return self.refuse(s, Refusal::UnknownInstrument);
        };
        if !self
            .calendar
            .entries_allowed_for(s.ts as i64, self.is_fo[idx])
        {
            return self.refuse(s, Refusal::OutsideSession);
        }
        let inst = *self.master.by_index(idx);
        if !inst.tradable() {
            return self.refuse(s, Refusal::NotTradable);
        }
        let p = &self.positions[idx];
        if p.is_open() || p.pending_entry.is_some() {
            return self.refuse(s, Refusal::InPosition);
        }
        if self.positions_held(None) >= self.params.max_positions {
            return self.refuse(s, Refusal::MaxPositions);
        }
        let by_strategy = self.positions_held(Some(s.strategy));
        let cap = s
            .strategy
            .index()
            .map_or(0, |i| self.params.strategy_max_positions[i]);
        if by_strategy >= cap {
            return self.refuse(s, Refusal::StrategyMaxPositions);
        }
        if let Some(sp) = s.spread {
            return self.enter_spread(s, sp, emit);
        }
        let planned = match self.params.sizing.size(&inst, s.entry, s.stop) {
            Ok(q) => q,
            Err(e) => return self.refuse(s, e.refusal()),
        };
        // The exchange refuses an order above the freeze quantity (a lot multiple): the plan
        // goes in slices of at most that many units.
        let qty = Qty(self.freeze_max[idx].map_or(planned.0, |m| planned.0.min(m)));
        let new_risk =
            portfolio::pnl_paise(s.entry, s.stop, planned.0 * s.side.sign(), inst.divisor())
                .0
                .abs();
        if self.heat_paise() + new_risk > self.params.heat_limit_paise {
            return self.refuse(s, Refusal::PortfolioHeat);
        }
        let (order_type, price) = self.entry_order(&inst, s.entry);
        let id = self.send(
            s.token,
            s.side,
            qty,
            order_type,
            price,
            OrderPurpose::Entry,
            s.strategy,
            emit,
        );
        if order_type == OrderType::Limit {
            self.start_chase(idx, id, price);
        }
        self.journal_decision(s, "");
        let p = &mut self.positions[idx];
        p.pending_entry = Some(id);
        p.entry_rest = planned.0 - qty.0;
        p.pending_risk = Paise(new_risk);
        p.stop = s.stop;
        p.target = s.target;
        p.strategy = Some(s.strategy);
    }

    /// The next slice of an entry planned above the freeze quantity, once the slice before
    /// it filled whole (Kite's iceberg orders work the same way, and one slice at a time
    /// keeps the account's order rate low): the same side, order type and price. None, and
    /// the plan ends, once trading stops, entries close for the session or an exit began.
    pub(super) fn send_entry_slice(
        &mut self,
        idx: usize,
        done: &oms::OrderRecord,
        rest: i64,
        emit: &mut impl FnMut(Event),
    ) -> Option<OrderId> {
        let p = self.positions[idx];
        let go = self.state == TradingState::Active
            && self
                .calendar
                .entries_allowed_for(self.now_ts as i64, self.is_fo[idx])
            && p.side() == Some(done.intent.side)
            && p.pending_exit.is_none()
            && p.exit_working == 0
            && self.deferred_exit[idx].is_none();
        if !go || rest <= 0 {
            return None;
        }
        let qty = self.freeze_max[idx].map_or(rest, |m| rest.min(m));
        let i = done.intent;
        let id = self.send(
            i.token,
            i.side,
            Qty(qty),
            i.order_type,
            i.price,
            OrderPurpose::Entry,
            i.strategy,
            emit,
        );
        if i.order_type == OrderType::Limit {
            self.start_chase(idx, id, i.price);
        }
        self.positions[idx].entry_rest = rest - qty;
        Some(id)
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn send(
        &mut self,
        token: Token,
        side: Side,
        qty: Qty,
        order_type: OrderType,
        price: Price,
        purpose: OrderPurpose,
        strategy: StrategyId,
        emit: &mut impl FnMut(Event),
    ) -> OrderId {
        let intent = OrderIntent {
            id: self.oms.next_id(),
            token,
            side,
            qty,
            order_type,
            price,
            trigger: Price(0),
            validity: Validity::Day,
            purpose,
            strategy,
            ts: self.now_ts,
        };
        if purpose != OrderPurpose::Entry {
            if let Some(idx) = self.master.index_of(token) {
                self.positions[idx].exit_working += qty.0;
            }
        }
        self.dispatch(intent, emit)
    }

    /// Records an order in the OMS, counts and logs it, and hands it to the order stage.
    pub(super) fn dispatch(
        &mut self,
        intent: OrderIntent,
        emit: &mut impl FnMut(Event),
    ) -> OrderId {
        self.oms.insert(intent);
        let OrderIntent {
            token,
            side,
            qty,
            order_type,
            price,
            purpose,
            ..
        } = intent;
        Metrics::add(&self.metrics.orders_sent_total, 1);
        self.log(HotEvent::OrderSent {
            id: intent.id,
            token,
            side,
            qty,
            order_type,
            price,
            purpose,
        });
        emit(Event::Intent(intent));
        intent.id
    }
}
