//! Two-leg option spreads as one position. A spread signal is sized by its max loss and
//! checked as one unit (one position against the caps, its max loss in the heat). The bought
//! leg goes first and the sold leg only once it has filled, so the short is never naked;
//! exits send both legs at once, the short's buy-back first. Stops and targets are on the
//! spread's value (bought leg's LTP less sold leg's). Each leg is still an ordinary position
//! in the book, so fills, P&L and trades stay per instrument.

use super::RiskStage;
use crate::config::EntryOrderType;
use crate::domain::*;
use crate::telemetry::hot_log::HotEvent;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpreadState {
    /// The bought leg is out; the sold leg waits for its fill.
    BuyLegPending,
    /// The bought leg filled; the sold leg is out.
    SellLegPending,
    Open,
    /// Closing: every leg held is being closed.
    Exiting,
    Closed,
}

impl SpreadState {
    pub fn is_live(self) -> bool {
        self != SpreadState::Closed
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpreadEvent {
    /// The bought leg's entry order is done, with this much filled.
    BuyLegDone { filled: Qty },
    /// The sold leg's entry order is done.
    SellLegDone { filled: Qty, wanted: Qty },
    /// Stop, target, square-off, flatten or the daily loss stop.
    Exit,
    /// No leg is held and no order of the spread is working.
    Flat,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpreadAction {
    Nothing,
    SendSellLeg(Qty),
    /// Close every leg held (the short first).
    CloseLegs,
}

/// The spread's state machine: one exhaustive match over (state, event).
pub fn step(state: SpreadState, ev: SpreadEvent) -> (SpreadState, SpreadAction) {
    use SpreadAction::*;
    use SpreadEvent::*;
    use SpreadState::*;
    match (state, ev) {
        (BuyLegPending, BuyLegDone { filled }) if filled.0 > 0 => {
            (SellLegPending, SendSellLeg(filled))
        }
        (BuyLegPending, BuyLegDone { .. }) => (Closed, Nothing),
        (BuyLegPending, Exit) => (Exiting, CloseLegs),
        (BuyLegPending, SellLegDone { .. } | Flat) => (BuyLegPending, Nothing),
        (SellLegPending, SellLegDone { filled, wanted }) if filled == wanted => (Open, Nothing),
        // Part or none of the short filled: the legs no longer match, so close what is held.
        (SellLegPending, SellLegDone { .. }) => (Exiting, CloseLegs),
        (SellLegPending, Exit) => (Exiting, CloseLegs),
        (SellLegPending, BuyLegDone { .. } | Flat) => (SellLegPending, Nothing),
        (Open, Exit) => (Exiting, CloseLegs),
        (Open, Flat) => (Closed, Nothing),
        (Open, BuyLegDone { .. } | SellLegDone { .. }) => (Open, Nothing),
        // A leg that fills while closing is closed too.
        (Exiting, BuyLegDone { filled }) if filled.0 > 0 => (Exiting, CloseLegs),
        (Exiting, SellLegDone { filled, .. }) if filled.0 > 0 => (Exiting, CloseLegs),
        (Exiting, BuyLegDone { .. } | SellLegDone { .. } | Exit) => (Exiting, Nothing),
        (Exiting, Flat) => (Closed, Nothing),
        (Closed, _) => (Closed, Nothing),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpreadPosition {
    pub id: u32,
    pub kind: SpreadKind,
    pub strategy: StrategyId,
    /// Master indices of the legs.
    pub buy: usize,
    pub sell: usize,
    pub qty: Qty,
    /// On the spread's value, per unit, native units.
    pub stop: Price,
    pub target: Price,
    pub max_loss: Price,
    pub sell_price: Price,
    pub state: SpreadState,
    pub buy_entry: Option<OrderId>,
    pub sell_entry: Option<OrderId>,
    /// Why it is closing (for the legs' exit orders).
    pub exit_purpose: OrderPurpose,
}

impl SpreadPosition {
    /// Paise it can lose from entry (max loss times quantity): its heat.
    pub fn heat_paise(&self, divisor: i64) -> i64 {
        (self.max_loss.0 as i128 * self.qty.0 as i128 * 100 / divisor.max(1) as i128) as i64
    }
}

/// Spreads live or closed today; the legs' master indices point back to them.
#[derive(Clone, Debug)]
pub struct SpreadBook {
    pub spreads: Vec<SpreadPosition>,
    /// Master index -> index in `spreads` of the live spread it is a leg of.
    pub leg_of: Vec<Option<u32>>,
    next_id: u32,
}

impl SpreadBook {
    pub fn new(instruments: usize) -> SpreadBook {
        SpreadBook {
            spreads: Vec::with_capacity(256),
            leg_of: vec![None; instruments],
            next_id: 1,
        }
    }
    pub fn next_id(&self) -> u32 {
        self.next_id
    }
    pub fn set_next_id(&mut self, id: u32) {
        self.next_id = id.max(1);
    }
    pub fn live(&self) -> impl Iterator<Item = &SpreadPosition> {
        self.spreads.iter().filter(|s| s.state.is_live())
    }
    pub fn of_leg(&self, idx: usize) -> Option<usize> {
        self.leg_of[idx].map(|s| s as usize)
    }
}

impl RiskStage {
    /// A spread signal that passed the state, session and cap checks.
    pub(super) fn enter_spread(
        &mut self,
        s: &Signal,
        sp: SpreadSpec,
        emit: &mut impl FnMut(Event),
    ) {
        let (Some(buy), Some(sell)) = (
            self.master.index_of(s.token),
            self.master.index_of(sp.sell_token),
        ) else {
            return self.refuse(s, Refusal::UnknownInstrument);
        };
        let (bi, si) = (*self.master.by_index(buy), *self.master.by_index(sell));
        if !bi.tradable() || !si.tradable() {
            return self.refuse(s, Refusal::NotTradable);
        }
        let busy = |p: &super::portfolio::Position| p.is_open() || p.pending_entry.is_some();
        if buy == sell || busy(&self.positions[buy]) || busy(&self.positions[sell]) {
            return self.refuse(s, Refusal::SpreadLegInPosition);
        }
        if sp.max_loss.0 <= 0 || sp.max_profit.0 <= 0 {
            return self.refuse(s, Refusal::SpreadUnbounded);
        }
        // Sized by the max loss: the per-trade budget over max loss per unit, in lots.
        let qty = match self.params.sizing.size(&bi, sp.max_loss, Price(0)) {
            Ok(q) => q,
            Err(e) => return self.refuse(s, e.refusal()),
        };
        let new_risk =
            (sp.max_loss.0 as i128 * qty.0 as i128 * 100 / bi.divisor().max(1) as i128) as i64;
        if self.heat_paise() + new_risk > self.params.heat_limit_paise {
            return self.refuse(s, Refusal::PortfolioHeat);
        }
        let (order_type, price) = self.entry_order(&bi, sp.buy_price);
        let id = self.send(
            s.token,
            Side::Buy,
            qty,
            order_type,
            price,
            OrderPurpose::Entry,
            s.strategy,
            emit,
        );
        self.positions[buy].pending_entry = Some(id);
        self.positions[buy].strategy = Some(s.strategy);
        self.positions[sell].strategy = Some(s.strategy);
        let book = &mut self.spreads;
        let slot = book.spreads.len() as u32;
        let spread = SpreadPosition {
            id: book.next_id,
            kind: sp.kind,
            strategy: s.strategy,
            buy,
            sell,
            qty,
            stop: s.stop,
            target: s.target,
            max_loss: sp.max_loss,
            sell_price: sp.sell_price,
            state: SpreadState::BuyLegPending,
            buy_entry: Some(id),
            sell_entry: None,
            exit_purpose: OrderPurpose::Flatten,
        };
        book.next_id += 1;
        // Closed spreads' slots are reused so the book never grows past its live count.
        let at = match book.spreads.iter().position(|x| !x.state.is_live()) {
            Some(free) => {
                book.spreads[free] = spread;
                free as u32
            }
            None => {
                book.spreads.push(spread);
                slot
            }
        };
        book.leg_of[buy] = Some(at);
        book.leg_of[sell] = Some(at);
    }

    /// An entry's order type and price (`execution.entry_order_type`): MARKET, or LIMIT at
    /// `price` on the tick grid.
    pub(super) fn entry_order(&self, inst: &Instrument, price: Price) -> (OrderType, Price) {
        match self.params.entry_order_type {
            EntryOrderType::Market => (OrderType::Market, Price(0)),
            EntryOrderType::Limit => (OrderType::Limit, inst.round_to_tick(price)),
        }
    }

    /// Drives spread `k` with `ev` and carries out what the machine says.
    pub(super) fn spread_event(
        &mut self,
        k: usize,
        ev: SpreadEvent,
        purpose: OrderPurpose,
        emit: &mut impl FnMut(Event),
    ) {
        let sp = self.spreads.spreads[k];
        let (to, action) = step(sp.state, ev);
        self.spreads.spreads[k].state = to;
        if ev == SpreadEvent::Exit && sp.state != SpreadState::Exiting {
            self.spreads.spreads[k].exit_purpose = purpose;
        }
        match action {
            SpreadAction::Nothing => {}
            SpreadAction::SendSellLeg(qty) => {
                let inst = *self.master.by_index(sp.sell);
                // MARKET, or LIMIT at the bid the signal priced the short leg at.
                let (order_type, price) = self.entry_order(&inst, sp.sell_price);
                let id = self.send(
                    inst.token,
                    Side::Sell,
                    qty,
                    order_type,
                    price,
                    OrderPurpose::Entry,
                    sp.strategy,
                    emit,
                );
                self.spreads.spreads[k].sell_entry = Some(id);
                self.spreads.spreads[k].qty = qty;
                self.positions[sp.sell].pending_entry = Some(id);
            }
            SpreadAction::CloseLegs => {
                let why = self.spreads.spreads[k].exit_purpose;
                // The short's buy-back first, then the long.
                for leg in [sp.sell, sp.buy] {
                    let p = self.positions[leg];
                    if p.is_open() && p.pending_exit.is_none() {
                        self.exit_position(leg, why, emit);
                    }
                }
            }
        }
        if to == SpreadState::Closed {
            for leg in [sp.buy, sp.sell] {
                self.spreads.leg_of[leg] = None;
                let p = &mut self.positions[leg];
                if !p.is_open() && p.pending_entry.is_none() {
                    p.strategy = None;
                }
            }
            self.log(HotEvent::SpreadClosed {
                id: sp.id,
                buy: self.master.by_index(sp.buy).token,
                sell: self.master.by_index(sp.sell).token,
                purpose: self.spreads.spreads[k].exit_purpose,
            });
        }
    }

    /// An order of a leg moved: feeds the spread what it means.
    pub(super) fn on_leg_update(
        &mut self,
        idx: usize,
        id: OrderId,
        terminal: bool,
        emit: &mut impl FnMut(Event),
    ) {
        let Some(k) = self.spreads.of_leg(idx) else {
            return;
        };
        let sp = self.spreads.spreads[k];
        if terminal {
            let filled = self.oms.get(id).map(|r| r.filled).unwrap_or_default();
            if sp.buy_entry == Some(id) {
                self.spread_event(k, SpreadEvent::BuyLegDone { filled }, sp.exit_purpose, emit);
            } else if sp.sell_entry == Some(id) {
                self.spread_event(
                    k,
                    SpreadEvent::SellLegDone {
                        filled,
                        wanted: sp.qty,
                    },
                    sp.exit_purpose,
                    emit,
                );
            }
        }
        let sp = self.spreads.spreads[k];
        let quiet = |p: &super::portfolio::Position| {
            !p.is_open() && p.pending_entry.is_none() && p.pending_exit.is_none()
        };
        if matches!(sp.state, SpreadState::Open | SpreadState::Exiting)
            && quiet(&self.positions[sp.buy])
            && quiet(&self.positions[sp.sell])
        {
            self.spread_event(k, SpreadEvent::Flat, sp.exit_purpose, emit);
        }
    }

    /// A leg's price moved: the spread's stop and target on its value.
    pub(super) fn check_spread_exit(&mut self, idx: usize, emit: &mut impl FnMut(Event)) {
        let Some(k) = self.spreads.of_leg(idx) else {
            return;
        };
        let sp = self.spreads.spreads[k];
        if sp.state != SpreadState::Open {
            return;
        }
        let (b, s) = (self.positions[sp.buy].ltp, self.positions[sp.sell].ltp);
        if b.0 <= 0 || s.0 <= 0 {
            return;
        }
        let value = Price(b.0 - s.0);
        if self.params.exits.stop_loss && value <= sp.stop {
            self.spread_event(k, SpreadEvent::Exit, OrderPurpose::StopLoss, emit);
        } else if self.params.exits.take_profit && value >= sp.target {
            self.spread_event(k, SpreadEvent::Exit, OrderPurpose::TakeProfit2, emit);
        }
    }

    /// Square-off, flatten and the loss stop close spreads as spreads (short leg first).
    pub(super) fn exit_all_spreads(&mut self, purpose: OrderPurpose, emit: &mut impl FnMut(Event)) {
        for k in 0..self.spreads.spreads.len() {
            if self.spreads.spreads[k].state.is_live() {
                self.spread_event(k, SpreadEvent::Exit, purpose, emit);
            }
        }
    }

    /// Open risk for the heat limit: single positions' stop risk (or pending entries' planned
    /// risk) plus every live spread's max loss.
    pub(super) fn heat_paise(&self) -> i64 {
        let singles: i64 = self
            .positions
            .iter()
            .enumerate()
            .filter(|(i, _)| self.spreads.leg_of[*i].is_none())
            .map(|(_, p)| p.heat_risk().0)
            .sum();
        let spreads: i64 = self
            .spreads
            .live()
            .map(|s| s.heat_paise(self.positions[s.buy].divisor))
            .sum();
        singles + spreads + self.foreign_heat()
    }

    /// Positions against the caps: a spread counts once, whatever its legs.
    pub(super) fn positions_held(&self, strategy: Option<StrategyId>) -> u32 {
        let singles = self
            .positions
            .iter()
            .enumerate()
            .filter(|(i, p)| {
                self.spreads.leg_of[*i].is_none()
                    && (p.is_open() || p.pending_entry.is_some())
                    && (strategy.is_none() || p.strategy == strategy)
            })
            .count();
        let spreads = self
            .spreads
            .live()
            .filter(|s| strategy.is_none() || Some(s.strategy) == strategy)
            .count();
        (singles + spreads) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use SpreadEvent::*;
    use SpreadState::*;

    #[test]
    fn the_short_waits_for_the_long_and_a_mismatch_closes_both() {
        assert_eq!(
            step(BuyLegPending, BuyLegDone { filled: Qty(130) }),
            (SellLegPending, SpreadAction::SendSellLeg(Qty(130)))
        );
        assert_eq!(
            step(BuyLegPending, BuyLegDone { filled: Qty(0) }),
            (Closed, SpreadAction::Nothing)
        );
        assert_eq!(
            step(
                SellLegPending,
                SellLegDone {
                    filled: Qty(130),
                    wanted: Qty(130)
                }
            ),
            (Open, SpreadAction::Nothing)
        );
        assert_eq!(
            step(
                SellLegPending,
                SellLegDone {
                    filled: Qty(65),
                    wanted: Qty(130)
                }
            ),
            (Exiting, SpreadAction::CloseLegs)
        );
        assert_eq!(step(Open, Exit), (Exiting, SpreadAction::CloseLegs));
        assert_eq!(step(Exiting, Exit), (Exiting, SpreadAction::Nothing));
        assert_eq!(step(Exiting, Flat), (Closed, SpreadAction::Nothing));
        // A bought leg that fills after the exit began is closed as well.
        assert_eq!(
            step(Exiting, BuyLegDone { filled: Qty(65) }),
            (Exiting, SpreadAction::CloseLegs)
        );
        assert_eq!(step(Closed, Exit), (Closed, SpreadAction::Nothing));
    }
}
