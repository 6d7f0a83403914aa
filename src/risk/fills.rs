//! Fills and order updates: the OMS moves the order, the position takes the fill, the round
//! trip is charged, and a finished round trip becomes a trade record.

use super::*;

impl RiskStage {
    /// Charges a fill to its instrument's round trip; the day's charges move with it.
    pub(super) fn charge_fill(
        &mut self,
        idx: usize,
        side: Side,
        qty: Qty,
        price: Price,
        value_before: i128,
    ) {
        let date = ist_date(self.now_ts as i64);
        let seg = self.charge_seg[idx];
        let divisor = self.positions[idx].divisor.max(1);
        let trip = &mut self.trips[idx];
        let table = self
            .charges
            .table_or_oldest(if trip.date.0 == 0 { date } else { trip.date });
        trip.on_fill(table, seg, side, qty, price, value_before, divisor, date);
        let now = trip.charges(&self.charges, table, seg, divisor);
        let before = std::mem::replace(&mut self.trip_charges[idx], now);
        self.charges_today.add(&now);
        self.charges_today.sub(&before);
    }

    pub(super) fn on_order_update(&mut self, u: &OrderUpdate, emit: &mut impl FnMut(Event)) {
        let value_before = self.oms.get(u.id).map_or(0, |r| r.filled_value);
        let Some((rec, t)) = self.oms.apply(u.id, u.kind) else {
            // Not ours, or from before the day's rollover: counted and logged, never applied.
            Metrics::add(&self.metrics.orders_unknown_updates_total, 1);
            self.log(HotEvent::UnknownOrderUpdate {
                id: u.id,
                token: u.token,
            });
            return;
        };
        let Transition::Moved { to, filled, price } = t else {
            return;
        };
        let Some(idx) = self.master.index_of(rec.intent.token) else {
            return;
        };
        let purpose = rec.intent.purpose;
        let protective = self.is_protective(idx, u.id);
        match u.kind {
            OrderUpdateKind::Fill { .. } => Metrics::add(&self.metrics.orders_filled_total, 1),
            OrderUpdateKind::Rejected(reason) => {
                Metrics::add(&self.metrics.orders_rejected_total, 1);
                self.log(HotEvent::OrderRejected {
                    id: u.id,
                    token: u.token,
                    reason,
                });
                if purpose != OrderPurpose::Entry && !protective {
                    // Never re-sent on every tick: back off 1, 2, 4 .. 30 s and raise an alert.
                    let n = self.exit_rejects[idx].saturating_add(1);
                    self.exit_rejects[idx] = n;
                    let wait = 1u32 << (n - 1).min(5);
                    let wait = wait.min(30);
                    self.exit_retry_at[idx] = self.now_ts.saturating_add(wait);
                    Metrics::add(&self.metrics.exits_rejected_total, 1);
                    self.log(HotEvent::ExitRejected {
                        id: u.id,
                        token: u.token,
                        purpose,
                        attempt: n as u32,
                        retry_in_s: wait,
                    });
                }
            }
            OrderUpdateKind::Cancelled => {
                Metrics::add(&self.metrics.orders_cancelled_total, 1);
                self.log(HotEvent::OrderCancelled {
                    id: u.id,
                    token: u.token,
                });
            }
            OrderUpdateKind::Status(_) => {}
        }
        if filled.0 > 0 {
            self.log(HotEvent::OrderFilled {
                id: u.id,
                token: u.token,
                side: rec.intent.side,
                qty: filled,
                price,
                purpose,
                strategy: rec.intent.strategy,
            });
            let was_open = self.positions[idx].is_open();
            if !was_open {
                self.realized_at_open[idx] = self.positions[idx].realized;
            }
            let entry_side = self.positions[idx].side();
            self.charge_fill(idx, rec.intent.side, filled, price, value_before);
            self.positions[idx].apply_fill(rec.intent.side, filled, price);
            let p = self.positions[idx];
            let xs = &mut self.exit_state[idx];
            // The broker stop fills as STOP_LOSS, or as TRAILING_STOP once trailed.
            let reason = if protective && xs.trailed && p.stop != p.avg_price {
                OrderPurpose::TrailingStop
            } else {
                purpose
            };
            if purpose == OrderPurpose::Entry {
                if !was_open && p.is_open() {
                    *xs = exits::ExitState {
                        initial_stop: p.stop,
                        opened_ts: self.now_ts,
                        best: price,
                        entry_qty: p.qty.abs(),
                        ..Default::default()
                    };
                }
                xs.entry_qty = xs.entry_qty.max(p.qty.abs());
            } else {
                xs.reasons |= reason.bit();
                xs.exit_value += price.0 as i128 * filled.0 as i128;
                xs.exit_qty += filled.0;
                if !protective {
                    self.exit_rejects[idx] = 0;
                    let w = &mut self.positions[idx].exit_working;
                    *w = (*w - filled.0).max(0);
                }
            }
            if was_open && !p.is_open() {
                let xs = std::mem::take(&mut self.exit_state[idx]);
                let pnl = Paise(p.realized.0 - self.realized_at_open[idx].0);
                let charges = std::mem::take(&mut self.trip_charges[idx]);
                self.trips[idx] = TripCosts::default();
                let token = rec.intent.token.0;
                // The trip's entry: its first filled entry order after this instrument's
                // previous trade closed (found in the day's OMS, which a rebuild restores).
                let prev_exit = self
                    .trades
                    .iter()
                    .rev()
                    .find(|t| t.token == token)
                    .map_or(0, |t| t.exit_order.0);
                let entry_order = self
                    .oms
                    .iter()
                    .filter(|o| {
                        o.intent.token.0 == token
                            && o.intent.purpose == OrderPurpose::Entry
                            && o.filled.0 > 0
                            && o.intent.id.0 > prev_exit
                    })
                    .map(|o| o.intent.id)
                    .min()
                    .unwrap_or(OrderId(0));
                let trade = TradeRecord {
                    entry_order,
                    exit_order: u.id,
                    charges,
                    token: rec.intent.token.0,
                    side: entry_side.unwrap_or(Side::Buy),
                    qty: p.entry_qty,
                    entry: p.entry_avg,
                    // The volume-weighted price of every exit fill of the trip.
                    exit: if xs.exit_qty > 0 {
                        Price((xs.exit_value / xs.exit_qty as i128) as i64)
                    } else {
                        price
                    },
                    pnl,
                    exit_purpose: reason,
                    exit_reasons: xs.reasons,
                    strategy: p.strategy.unwrap_or(StrategyId::Risk),
                    opened_ts: xs.opened_ts,
                    closed_ts: self.now_ts,
                };
                self.trades.push(trade);
                Metrics::add(&self.metrics.trades_closed_total, 1);
                // Won or lost after charges; a trade that nets exactly zero is neither.
                match trade.net_pnl().0.signum() {
                    1 => self.wins += 1,
                    -1 => self.losses += 1,
                    _ => {}
                }
                self.log(HotEvent::PositionClosed {
                    token: rec.intent.token,
                    qty: Qty(p.entry_qty),
                    entry: p.entry_avg,
                    exit: price,
                    pnl,
                    charges: charges.total(),
                    purpose: reason,
                });
                let p = &mut self.positions[idx];
                p.stop = Price(0);
                p.target = Price(0);
                p.strategy = None;
            }
        }
        if to.is_terminal() {
            if protective {
                self.on_stop_final(idx, to == OrderStatus::Rejected);
            }
            let converted = if to == OrderStatus::Cancelled && purpose == OrderPurpose::Entry {
                self.convert_chased(idx, &rec, emit)
            } else {
                None
            };
            // A slice of a larger entry filled whole: the next one goes.
            let p = &mut self.positions[idx];
            let rest = if p.pending_entry == Some(u.id)
                && converted.is_none()
                && to == OrderStatus::Filled
            {
                std::mem::take(&mut p.entry_rest)
            } else {
                0
            };
            let next = if rest > 0 {
                self.send_entry_slice(idx, &rec, rest, emit)
            } else {
                None
            };
            let p = &mut self.positions[idx];
            if !protective && purpose != OrderPurpose::Entry {
                // What a cancelled or rejected exit did not close is no longer being closed.
                let unfilled = rec.intent.qty.0 - rec.filled.0;
                p.exit_working = (p.exit_working - unfilled).max(0);
                // An IOC exit's unfilled rest goes again a second later (targets excepted:
                // a partial target is a smaller profit taken, not a close to finish).
                let ioc_rest = rec.intent.validity == Validity::Ioc
                    && to == OrderStatus::Cancelled
                    && unfilled > 0
                    && p.is_open()
                    && !matches!(
                        purpose,
                        OrderPurpose::TakeProfit1 | OrderPurpose::TakeProfit2
                    );
                if ioc_rest {
                    let d = &mut self.deferred_exit[idx];
                    *d = Some(match *d {
                        Some((q_p, q)) if q > unfilled => (q_p, q),
                        _ => (purpose, unfilled),
                    });
                    self.exit_retry_at[idx] = self.now_ts.saturating_add(1);
                }
            }
            if let (Some(new), true) = (converted.or(next), p.pending_entry == Some(u.id)) {
                // The chase ended at market (the same plan, the rest of the slice), or the
                // next slice went.
                p.pending_entry = Some(new);
            } else if p.pending_entry == Some(u.id) {
                p.pending_entry = None;
                p.entry_rest = 0;
                p.pending_risk = Paise(0);
                if !p.is_open() {
                    p.stop = Price(0);
                    p.target = Price(0);
                    p.strategy = None;
                }
            }
            if p.pending_exit == Some(u.id) {
                p.pending_exit = None;
            }
        }
        // An entry that fills while we may not hold positions (paused by the kill switch,
        // halted, or past square-off) is closed at once.
        let leg = self.spreads.leg_of[idx].is_some();
        if leg {
            self.on_leg_update(idx, u.id, to.is_terminal(), emit);
        }
        // Spreads' legs follow the spread's machine, which square-off and flatten drive.
        let p = self.positions[idx];
        if !leg && purpose == OrderPurpose::Entry && p.is_open() && p.pending_exit.is_none() {
            let due = self
                .calendar
                .is_squareoff_due_for(self.now_ts as i64, self.is_fo[idx]);
            let allowed = self.state == TradingState::Active && !due;
            if !allowed {
                let why = if due {
                    OrderPurpose::SquareOff
                } else {
                    OrderPurpose::Flatten
                };
                self.exit_position(idx, why, emit);
            }
        }
        if !leg {
            // A stop's cancel went final: the exit that waited for it goes; then the broker
            // stop follows the position (placed after an entry fill, resized, re-placed).
            self.resume_deferred_exit(idx, emit);
            self.ensure_stop(idx, emit);
        }
        if self.flattening.is_some() && to.is_terminal() {
            // An exit that ended unfilled (cancelled for the kill switch, rejected) is
            // replaced now, not a second later.
            self.continue_flatten(emit);
        }
        if matches!(u.kind, OrderUpdateKind::Fill { .. }) && self.check_daily_loss(emit) {
            return;
        }
        self.publish();
    }
}
