//! Where orders go (POST /mode): PAPER or LIVE, switched only while the desk is flat, so no
//! position or working order is ever split across two brokers. The switch is journaled
//! (`recovery::journaled_mode` reads it back for a restart the same day).

use super::*;

impl RiskStage {
    /// Replies to `ControlCommand::SetMode` go here (the control thread).
    pub fn with_mode_replies(mut self, tx: Sender<ModeReport>) -> Self {
        self.mode_replies = Some(tx);
        self
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
        if outcome == ModeOutcome::Switched {
            self.log(HotEvent::ModeChanged {
                from: mode_name(self.params.live),
                to: mode_name(live),
            });
            self.params.live = live;
            self.journal_mode();
            emit(Event::Mode { live });
        }
        if let Some(tx) = &self.mode_replies {
            let _ = tx.try_send(ModeReport { request, outcome });
        }
    }
}
