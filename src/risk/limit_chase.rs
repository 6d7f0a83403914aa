//! Limit chase for LIMIT entries (`execution.entry_order_type: LIMIT`): an entry still
//! resting after `limit_timeout_sec` is re-priced one tick toward the market, up to
//! `limit_chase_ticks` times; after that it is cancelled, or, with `limit_chase_final:
//! MARKET`, what it has not filled is sent again as a MARKET order (under market
//! protection) once the cancel is final, while entries are still allowed.

use super::*;

/// The `execution.limit_*` keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChaseRules {
    pub ticks: u32,
    pub every_s: u32,
    /// After the last step: true converts the rest to MARKET, false cancels it.
    pub convert: bool,
}

impl ChaseRules {
    pub fn from_config(e: &crate::config::ExecutionConfig) -> ChaseRules {
        ChaseRules {
            ticks: e.limit_chase_ticks,
            every_s: e.limit_timeout_sec.max(1),
            convert: e.limit_chase_final == "MARKET",
        }
    }
}

/// One instrument's chased entry.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Chase {
    pub id: Option<OrderId>,
    pub price: Price,
    pub steps: u32,
    /// When it was placed or last re-priced.
    pub since: u32,
    /// Cancelled at the end of the chase, to be sent again at market.
    pub converting: bool,
}

impl RiskStage {
    pub(super) fn start_chase(&mut self, idx: usize, id: OrderId, price: Price) {
        self.chases[idx] = Chase {
            id: Some(id),
            price,
            steps: 0,
            since: self.now_ts,
            converting: false,
        };
    }

    /// Each second: every chased entry whose time is up steps a tick or ends.
    pub(super) fn chase_entries(&mut self, emit: &mut impl FnMut(Event)) {
        let rules = self.params.chase;
        for idx in 0..self.chases.len() {
            let c = self.chases[idx];
            let Some(id) = c.id else { continue };
            let working = self.oms.get(id).is_some_and(|r| {
                matches!(
                    r.status,
                    OrderStatus::PendingNew | OrderStatus::Open | OrderStatus::PartiallyFilled
                )
            });
            if !working || self.positions[idx].pending_entry != Some(id) {
                if !c.converting {
                    self.chases[idx].id = None;
                }
                continue;
            }
            if self.now_ts < c.since.saturating_add(rules.every_s) {
                continue;
            }
            let inst = *self.master.by_index(idx);
            let Some(side) = self.oms.get(id).map(|r| r.intent.side) else {
                continue;
            };
            if c.steps < rules.ticks {
                let price = Price(c.price.0 + side.sign() * inst.tick_size.0.max(1));
                self.chases[idx] = Chase {
                    price,
                    steps: c.steps + 1,
                    since: self.now_ts,
                    ..c
                };
                Metrics::add(&self.metrics.limit_chase_steps_total, 1);
                self.oms.note_modify(id, Qty(0), price, Price(0));
                emit(Event::Modify {
                    id,
                    token: inst.token,
                    qty: Qty(0),
                    price,
                    trigger: Price(0),
                });
            } else if self.oms.mark_pending_cancel(id) {
                self.chases[idx].converting = rules.convert;
                emit(Event::Cancel {
                    id,
                    token: inst.token,
                });
            }
        }
    }

    /// A chased entry's cancel is final: with `limit_chase_final: MARKET` its unfilled
    /// quantity goes again at market (entries still allowed). Returns the new order's id.
    pub(super) fn convert_chased(
        &mut self,
        idx: usize,
        rec: &oms::OrderRecord,
        emit: &mut impl FnMut(Event),
    ) -> Option<OrderId> {
        let c = std::mem::take(&mut self.chases[idx]);
        let rest = rec.intent.qty.0 - rec.filled.0;
        let allowed = self.state == TradingState::Active
            && self
                .calendar
                .entries_allowed_for(self.now_ts as i64, self.is_fo[idx]);
        if !c.converting || c.id != Some(rec.intent.id) || rest <= 0 || !allowed {
            return None;
        }
        Some(self.send(
            rec.intent.token,
            rec.intent.side,
            Qty(rest),
            OrderType::Market,
            Price(0),
            OrderPurpose::Entry,
            rec.intent.strategy,
            emit,
        ))
    }
}
