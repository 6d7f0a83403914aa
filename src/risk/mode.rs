//! Where orders go (POST /mode): PAPER or LIVE, switched only while the desk is flat, so no
//! position or working order is ever split across two brokers. The switch is journaled, and a
//! restart the same day starts in the last mode the journal holds.

use super::*;
use crate::telemetry::journal::kind;

impl RiskStage {
    /// Replies to `ControlCommand::SetMode` go here (the control thread).
    pub fn with_mode_replies(mut self, tx: Sender<ModeReport>) -> Self {
        self.mode_replies = Some(tx);
        self
    }

    /// True while orders go to Kite.
    pub fn is_live(&self) -> bool {
        self.params.live
    }

    pub(super) fn set_mode(&mut self, request: u64, live: bool, emit: &mut impl FnMut(Event)) {
        let positions = self.open_positions() as u32;
        let orders = self.working_orders();
        let outcome = if live == self.params.live {
            ModeOutcome::Unchanged
        } else if positions > 0 || orders > 0 {
            ModeOutcome::NotFlat { positions, orders }
        } else {
            ModeOutcome::Switched
        };
        let name = |l: bool| if l { "LIVE" } else { "PAPER" };
        if outcome == ModeOutcome::Switched {
            self.log(HotEvent::ModeChanged {
                from: name(self.params.live),
                to: name(live),
            });
            self.params.live = live;
            self.journal_mode();
            emit(Event::Mode { live });
        }
        if let Some(tx) = &self.mode_replies {
            let _ = tx.try_send(ModeReport {
                request,
                live: self.params.live,
                outcome,
            });
        }
    }
}

/// The last mode a day's journal records (true: LIVE), None when it holds no switch: what a
/// restart the same day starts in instead of the configured mode.
pub fn journaled_mode<'a>(records: impl IntoIterator<Item = (u8, &'a [u8])>) -> Option<bool> {
    let mut mode = None;
    for (k, payload) in records {
        if k == kind::MODE && payload.len() >= 5 {
            mode = Some(payload[4] == 1);
        }
    }
    mode
}
