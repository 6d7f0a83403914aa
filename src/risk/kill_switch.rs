//! The kill switch (POST /flatten) and everything else that closes the whole book: cancel
//! the working orders, close every position at market.

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
            // Market orders fill at once on the paper broker; only resting orders need a cancel.
            if self.oms.get(id).map(|r| r.intent.order_type) == Some(OrderType::Limit)
                && self.oms.mark_pending_cancel(id)
            {
                *count += 1;
                emit(Event::Cancel { id, token });
            }
        }
    }

    /// Cancels resting orders and closes every position at market. Returns (cancelled, closed).
    pub(super) fn close_everything(
        &mut self,
        purpose: OrderPurpose,
        emit: &mut impl FnMut(Event),
    ) -> (u32, u32, Paise) {
        let mut cancelled = 0;
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
            // Whatever working exits do not already cover closes now (a spread's legs are
            // its machine's to close).
            if self.spreads.leg_of[idx].is_none() && p.qty.abs() > p.exit_working {
                self.exit_position(idx, purpose, emit);
            }
        }
        (cancelled, closed, Paise(exposure))
    }
}
