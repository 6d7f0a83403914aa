//! The kill switch (POST /flatten) and the daily loss stop: cancel every working order
//! (resting limits, MARKET orders resting under market protection, stops), close every
//! position at market, and keep at it each second until the book is flat. A position whose
//! exit is being cancelled gets its new exit only once the cancel is final, so a fill racing
//! the cancel can never add a second close and reverse it.

use super::*;

impl RiskStage {
    pub(super) fn cancel_open(
        &mut self,
        pred: impl Fn(&oms::OrderRecord) -> bool,
        emit: &mut impl FnMut(Event),
        count: &mut u32,
    ) {
        let ids: Vec<(OrderId, Token)> = self
            .oms
            .open_orders()
            .filter(|r| r.status != OrderStatus::PendingCancel && pred(r))
            .map(|r| (r.intent.id, r.intent.token))
            .collect();
        for (id, token) in ids {
            if self.oms.mark_pending_cancel(id) {
                if let Some(idx) = self.master.index_of(token) {
                    if self.stops[idx].id == Some(id) {
                        self.stops[idx].cancel_sent_ts = self.now_ts;
                    }
                }
                *count += 1;
                emit(Event::Cancel { id, token });
            }
        }
    }

    /// Working orders (sent and not terminal): live exposure until the broker says otherwise.
    pub fn working_orders(&self) -> u32 {
        self.oms.open_orders().count() as u32
    }

    /// While flattening: every position with quantity no working exit covers gets its close
    /// (each second, and at once when an exit ends unfilled); done when the book is flat.
    pub(super) fn continue_flatten(&mut self, emit: &mut impl FnMut(Event)) {
        let Some(purpose) = self.flattening else {
            return;
        };
        self.exit_all_spreads(purpose, emit);
        let mut open = false;
        for idx in 0..self.positions.len() {
            let p = self.positions[idx];
            if !p.is_open() {
                continue;
            }
            open = true;
            if self.spreads.leg_of[idx].is_none() && p.qty.abs() > p.exit_working {
                self.exit_position(idx, purpose, emit);
            }
        }
        if !open && self.oms.open_orders().next().is_none() {
            self.flattening = None;
        }
    }

    /// Cancels resting orders and closes every position at market. Returns (cancelled, closed).
    pub(super) fn close_everything(
        &mut self,
        purpose: OrderPurpose,
        emit: &mut impl FnMut(Event),
    ) -> (u32, u32, Paise) {
        let mut cancelled = 0;
        self.flattening = Some(purpose);
        self.cancel_open(|_| true, emit, &mut cancelled);
        self.exit_all_spreads(purpose, emit);
        let mut closed = 0;
        let mut exposure = 0i64;
        for idx in 0..self.positions.len() {
            let p = self.positions[idx];
            if !p.is_open() {
                continue;
            }
            closed += 1;
            exposure += portfolio::pnl_paise(Price(0), p.ltp, p.qty.abs(), p.divisor.max(1)).0;
            // Closes now unless an exit is working (being cancelled above: its close follows
            // when the cancel is final); a spread's legs are its machine's to close.
            if self.spreads.leg_of[idx].is_none() && p.exit_working == 0 {
                self.exit_position(idx, purpose, emit);
            }
        }
        (cancelled, closed, Paise(exposure))
    }
}
