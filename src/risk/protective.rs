//! The protective stop at the broker (DESIGN.md: the broker holds the last line of
//! defence). As soon as an entry fills, partly or wholly, an SL-M (or SL, its limit a band
//! beyond the trigger) rests at the broker for the quantity held; the engine's trailing and
//! breakeven moves modify its trigger, and it is re-placed before Kite's 25-modification
//! cap. A crash, a dead feed or a lost connection leaves every position with its stop.
//!
//! One invariant makes a stop fill racing an engine exit harmless: the quantity the working
//! orders could still close (the stop's open quantity plus the working exits) never exceeds
//! the position. An engine exit that does not fit cancels the stop first and waits for the
//! cancel to be final (a fill racing it is applied); only then is it sent, sized to what is
//! left. A position can so never be closed twice over and reversed. A resize (the entry
//! filled more, a partial exit filled) is a cancel and a re-place for the same reason.

use super::*;

/// Where a position's broker stop stands, read from its order in the OMS.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopOrderState {
    /// No stop order, or its order is final.
    Absent,
    /// Sent or resting at the broker: it may fill at any moment.
    Working,
    /// Cancel requested and not yet final: it may still fill.
    Cancelling,
}

/// What the position needs from its broker stop now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopNeed {
    /// No stop: flat, fully covered by working exits, no stop price, or being flattened.
    Nothing,
    /// An engine exit is waiting for the stop's quantity: it must go.
    Clear,
    /// A stop for `qty` units at `trigger`; `entry_filling`: the entry is still working, so
    /// a larger cover can wait a moment for its last fills (one resize, not one per fill).
    Cover {
        qty: i64,
        trigger: Price,
        entry_filling: bool,
    },
}

/// What to do about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopAction {
    None,
    Place {
        qty: i64,
        trigger: Price,
    },
    Cancel,
    ModifyTrigger(Price),
    /// Something is in flight or throttled: look again on the next update or second.
    Wait,
}

/// The `execution.protective_stop*` keys in hot-path units.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ProtectiveRules {
    pub enabled: bool,
    /// `StopMarket` (SL-M) or `StopLimit` (SL).
    pub order_type: OrderType,
    /// SL only: the limit this many basis points beyond the trigger.
    pub limit_band_bps: i64,
    /// Re-placed (cancel, then place) once it has been modified this many times.
    pub replace_after: u8,
    /// At most one trigger modification per this many seconds (Kite's order rate caps).
    pub modify_every_s: u32,
    /// When the engine sees its stop hit, it lets the broker's stop fill for this long
    /// before it cancels that stop and closes at market itself.
    pub grace_s: u32,
}

impl ProtectiveRules {
    pub fn from_config(e: &crate::config::ExecutionConfig) -> ProtectiveRules {
        ProtectiveRules {
            enabled: e.protective_stop,
            order_type: if e.protective_stop_order_type == "SL" {
                OrderType::StopLimit
            } else {
                OrderType::StopMarket
            },
            limit_band_bps: (e.protective_stop_limit_band_pct * 100.0).round() as i64,
            replace_after: e.protective_stop_replace_after,
            modify_every_s: e.protective_stop_modify_interval_s,
            grace_s: e.protective_stop_grace_s,
        }
    }
}

impl Default for ProtectiveRules {
    fn default() -> Self {
        ProtectiveRules {
            enabled: false,
            order_type: OrderType::StopMarket,
            limit_band_bps: 50,
            replace_after: 20,
            modify_every_s: 5,
            grace_s: 2,
        }
    }
}

/// One position's broker stop.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProtectiveStop {
    pub id: Option<OrderId>,
    /// The trigger the broker has (or was last asked for).
    pub trigger: Price,
    pub modifications: u8,
    pub last_modify_ts: u32,
    /// When this stop order was placed, and when its cancel was last sent.
    pub placed_ts: u32,
    pub cancel_sent_ts: u32,
    /// When the engine first saw its stop hit with this stop still working (0: not hit).
    pub hit_since: u32,
    /// Rejections in a row, and the second before which it is not placed again.
    pub rejects: u8,
    pub retry_at: u32,
}

/// Seconds a stop's cancel may stay unanswered before it is sent again.
pub const CANCEL_RESEND_S: u32 = 5;

/// The decision, one exhaustive match over (state, need).
pub fn plan(
    state: StopOrderState,
    need: StopNeed,
    s: &ProtectiveStop,
    open_qty: i64,
    rules: &ProtectiveRules,
    now: u32,
) -> StopAction {
    match (state, need) {
        (StopOrderState::Absent, StopNeed::Nothing | StopNeed::Clear) => StopAction::None,
        (StopOrderState::Absent, StopNeed::Cover { qty, trigger, .. }) => {
            if now < s.retry_at {
                StopAction::Wait
            } else {
                StopAction::Place { qty, trigger }
            }
        }
        (StopOrderState::Working, StopNeed::Nothing | StopNeed::Clear) => StopAction::Cancel,
        (
            StopOrderState::Working,
            StopNeed::Cover {
                qty,
                trigger,
                entry_filling,
            },
        ) => {
            if open_qty < qty && entry_filling && now < s.placed_ts.saturating_add(rules.grace_s) {
                StopAction::Wait
            } else if open_qty != qty {
                // Resized by cancel and re-place: never two stops at once.
                StopAction::Cancel
            } else if trigger == s.trigger {
                StopAction::None
            } else if s.modifications >= rules.replace_after {
                StopAction::Cancel
            } else if now < s.last_modify_ts.saturating_add(rules.modify_every_s) {
                StopAction::Wait
            } else {
                StopAction::ModifyTrigger(trigger)
            }
        }
        // A cancel lost on the way (an io queue refused it, the broker never answered) is
        // sent again: an exit may be waiting on it.
        (StopOrderState::Cancelling, _) => {
            if now >= s.cancel_sent_ts.saturating_add(CANCEL_RESEND_S) {
                StopAction::Cancel
            } else {
                StopAction::Wait
            }
        }
    }
}

impl RiskStage {
    /// Whether instrument `idx` carries a broker stop (spreads' legs run their own exits).
    fn protects(&self, idx: usize) -> bool {
        self.params.protective.enabled && self.spreads.leg_of[idx].is_none()
    }

    pub(super) fn stop_state(&self, idx: usize) -> StopOrderState {
        let Some(rec) = self.stops[idx].id.and_then(|id| self.oms.get(id)) else {
            return StopOrderState::Absent;
        };
        match rec.status {
            OrderStatus::PendingNew | OrderStatus::Open | OrderStatus::PartiallyFilled => {
                StopOrderState::Working
            }
            OrderStatus::PendingCancel => StopOrderState::Cancelling,
            OrderStatus::Filled | OrderStatus::Cancelled | OrderStatus::Rejected => {
                StopOrderState::Absent
            }
        }
    }

    /// Units the broker stop could still close (0 when it is final or absent).
    pub(super) fn stop_open_qty(&self, idx: usize) -> i64 {
        match self.stop_state(idx) {
            StopOrderState::Absent => 0,
            StopOrderState::Working | StopOrderState::Cancelling => self.stops[idx]
                .id
                .and_then(|id| self.oms.get(id))
                .map_or(0, |r| r.intent.qty.0 - r.filled.0),
        }
    }

    /// True when `id` is a position's broker stop.
    pub(super) fn is_protective(&self, idx: usize, id: OrderId) -> bool {
        self.stops[idx].id == Some(id)
    }

    /// Whether an engine exit of `qty` fits beside the broker stop; if not, the stop is
    /// cancelled and the exit waits for that to be final (`resume_deferred_exit`).
    pub(super) fn exit_fits(
        &mut self,
        idx: usize,
        qty: i64,
        purpose: OrderPurpose,
        emit: &mut impl FnMut(Event),
    ) -> bool {
        let p = self.positions[idx];
        let room = p.qty.abs() - p.exit_working - self.stop_open_qty(idx);
        if qty <= room {
            return true;
        }
        let d = &mut self.deferred_exit[idx];
        *d = Some(match *d {
            // A stronger reason asked for more: the larger close wins.
            Some((_, q)) if q > qty => (purpose, q),
            _ => (purpose, qty),
        });
        self.ensure_stop(idx, emit);
        false
    }

    /// An exit that waited for the stop's cancel: sent now if the stop is final, sized to
    /// what the position still holds.
    pub(super) fn resume_deferred_exit(&mut self, idx: usize, emit: &mut impl FnMut(Event)) {
        // An IOC remainder waits a second (exit_retry_at) so a thin book is not hammered.
        if self.stop_state(idx) != StopOrderState::Absent || self.now_ts < self.exit_retry_at[idx] {
            return;
        }
        let Some((purpose, qty)) = self.deferred_exit[idx].take() else {
            return;
        };
        let p = self.positions[idx];
        let qty = qty.min(p.qty.abs() - p.exit_working);
        if p.is_open() && qty > 0 {
            self.exit_qty(idx, qty, purpose, emit);
        }
    }

    /// Brings the broker stop in line with the position: place, resize, move, or cancel.
    pub(super) fn ensure_stop(&mut self, idx: usize, emit: &mut impl FnMut(Event)) {
        if !self.protects(idx) {
            return;
        }
        let p = self.positions[idx];
        let want = p.qty.abs() - p.exit_working;
        let need = if self.deferred_exit[idx].is_some() {
            StopNeed::Clear
        } else if !p.is_open() || want <= 0 || p.stop.0 <= 0 || self.flattening.is_some() {
            StopNeed::Nothing
        } else {
            StopNeed::Cover {
                // Entries are capped at the freeze quantity, so one stop order covers them.
                qty: self.freeze_max[idx].map_or(want, |m| want.min(m)),
                trigger: p.stop,
                entry_filling: p.pending_entry.is_some(),
            }
        };
        let state = self.stop_state(idx);
        let open = self.stop_open_qty(idx);
        let action = plan(
            state,
            need,
            &self.stops[idx],
            open,
            &self.params.protective,
            self.now_ts,
        );
        let token = self.master.by_index(idx).token;
        match action {
            StopAction::None | StopAction::Wait => {}
            StopAction::Place { qty, trigger } => {
                // Stops wait for the continuous session (pre-open takes none).
                if !self.phase.accepts(self.params.protective.order_type) {
                    return;
                }
                let Some(side) = p.side() else { return };
                self.place_stop(idx, side.opposite(), qty, trigger, emit);
            }
            StopAction::Cancel => {
                if let Some(id) = self.stops[idx].id {
                    let again = state == StopOrderState::Cancelling;
                    if self.oms.mark_pending_cancel(id) || again {
                        self.stops[idx].cancel_sent_ts = self.now_ts;
                        self.log(HotEvent::ProtectiveStop {
                            token,
                            action: "cancel",
                            qty: Qty(open),
                            trigger: self.stops[idx].trigger,
                        });
                        emit(Event::Cancel { id, token });
                    }
                }
            }
            StopAction::ModifyTrigger(trigger) => {
                let Some(id) = self.stops[idx].id else { return };
                let s = &mut self.stops[idx];
                s.trigger = trigger;
                s.modifications += 1;
                s.last_modify_ts = self.now_ts;
                let price = self.stop_limit(idx, p.side().map(Side::opposite), trigger);
                self.oms.note_modify(id, Qty(0), price, trigger);
                self.log(HotEvent::ProtectiveStop {
                    token,
                    action: "move",
                    qty: Qty(open),
                    trigger,
                });
                emit(Event::Modify {
                    id,
                    token,
                    qty: Qty(0),
                    price,
                    trigger,
                });
            }
        }
    }

    /// SL only: the limit a band beyond the trigger (a sell stop's limit is below it), on
    /// the tick grid; zero for SL-M.
    fn stop_limit(&self, idx: usize, side: Option<Side>, trigger: Price) -> Price {
        let r = &self.params.protective;
        if r.order_type != OrderType::StopLimit {
            return Price(0);
        }
        let Some(side) = side else {
            return Price(0);
        };
        let tick = self.master.by_index(idx).tick_size.0.max(1);
        let band = trigger.0 * r.limit_band_bps / 10_000;
        let raw = trigger.0 + side.sign() * band;
        Price(round_against(raw, side, tick).max(tick))
    }

    fn place_stop(
        &mut self,
        idx: usize,
        side: Side,
        qty: i64,
        trigger: Price,
        emit: &mut impl FnMut(Event),
    ) {
        let token = self.master.by_index(idx).token;
        let order_type = self.params.protective.order_type;
        let intent = OrderIntent {
            id: self.oms.next_id(),
            token,
            side,
            qty: Qty(qty),
            order_type,
            price: self.stop_limit(idx, Some(side), trigger),
            trigger,
            validity: Validity::Day,
            purpose: OrderPurpose::StopLoss,
            strategy: StrategyId::Risk,
            ts: self.now_ts,
        };
        let s = &mut self.stops[idx];
        *s = ProtectiveStop {
            id: Some(intent.id),
            trigger,
            placed_ts: self.now_ts,
            rejects: s.rejects,
            ..ProtectiveStop::default()
        };
        self.log(HotEvent::ProtectiveStop {
            token,
            action: "place",
            qty: Qty(qty),
            trigger,
        });
        self.dispatch(intent, emit);
    }

    /// A broker stop's update reached a final state: a rejection backs off (1, 2, 4 .. 30 s)
    /// with an alert, anything else clears the way for what waited on it.
    pub(super) fn on_stop_final(&mut self, idx: usize, rejected: bool) {
        let s = &mut self.stops[idx];
        if rejected {
            s.rejects = s.rejects.saturating_add(1);
            let wait = (1u32 << (s.rejects - 1).min(5)).min(30);
            s.retry_at = self.now_ts.saturating_add(wait);
            let (id, attempt) = (s.id, s.rejects as u32);
            Metrics::add(&self.metrics.exits_rejected_total, 1);
            if let Some(id) = id {
                self.log(HotEvent::ExitRejected {
                    id,
                    token: self.master.by_index(idx).token,
                    purpose: OrderPurpose::StopLoss,
                    attempt,
                    retry_in_s: wait,
                });
            }
        } else {
            s.rejects = 0;
        }
        self.stops[idx].id = None;
        self.stops[idx].hit_since = 0;
    }

    /// The engine's own stop rule fired: with the broker's stop still working, give it
    /// `grace_s` to fill before the engine closes at market (cancelling it first). True when
    /// the engine should wait.
    pub(super) fn broker_stop_has_it(&mut self, idx: usize) -> bool {
        if !self.protects(idx) || self.stop_state(idx) != StopOrderState::Working {
            return false;
        }
        let s = &mut self.stops[idx];
        if s.hit_since == 0 {
            s.hit_since = self.now_ts.max(1);
        }
        self.now_ts < s.hit_since.saturating_add(self.params.protective.grace_s)
    }
}
