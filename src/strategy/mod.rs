//! The strategy stage: builds 1-minute bars from ticks and runs the enabled strategies over the
//! trading universe, emitting entry signals. It holds no positions: risk decides everything.

pub mod bars;
pub mod orb;

use crate::domain::{Event, InstrumentMaster, Slot};
use bars::BarBuilder;
use orb::Orb;
use std::sync::Arc;

pub struct StrategyStage {
    master: Arc<InstrumentMaster>,
    /// Instruments the strategies may trade, by master index.
    universe: Vec<bool>,
    bars: Vec<BarBuilder>,
    orb: Option<Orb>,
}

impl StrategyStage {
    pub fn new(
        master: Arc<InstrumentMaster>,
        universe: Vec<bool>,
        orb: Option<Orb>,
    ) -> StrategyStage {
        let n = master.len();
        StrategyStage {
            master,
            universe,
            bars: vec![BarBuilder::default(); n],
            orb,
        }
    }

    /// Forwards the slot, then any signal it fired.
    pub fn on_slot(&mut self, slot: &Slot, out: &mut impl FnMut(Slot)) {
        out(*slot);
        let Event::Tick(t) = &slot.ev else { return };
        let Some(idx) = self.master.index_of(t.token) else {
            return;
        };
        if !self.universe[idx] || t.exchange_timestamp == 0 {
            return;
        }
        let ltp = t.last_price as i64;
        if let Some(bar) = self.bars[idx].on_price(t.exchange_timestamp, ltp, t.volume_traded) {
            if let Some(orb) = &mut self.orb {
                orb.on_bar(idx, &bar);
            }
        }
        if let Some(orb) = &mut self.orb {
            if let Some(sig) = orb.on_tick(idx, t.token, t.exchange_timestamp, ltp) {
                out(Slot {
                    ev: Event::Signal(sig),
                    recv_ns: slot.recv_ns,
                });
            }
        }
    }
}
