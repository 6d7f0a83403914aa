//! The strategy stage: builds 1-minute bars from ticks and runs the enabled strategies over the
//! trading universe, emitting entry signals. It holds no positions: risk decides everything.

pub mod bars;
pub mod orb;

use crate::config::OrbConfig;
use crate::domain::{ControlCommand, Event, InstrumentMaster, Slot};
use bars::BarBuilder;
use crossbeam_channel::{Receiver, Sender};
use orb::Orb;
use std::sync::Arc;

/// What a reload hands the strategy stage. It travels beside the ring (a universe is not a
/// Copy slot); the sequenced `ControlCommand` that follows it says when to apply it.
#[derive(Clone, Debug)]
pub enum StrategyUpdate {
    Strategies { request: u64, orb: OrbConfig },
    Universe { request: u64, universe: Vec<bool> },
}

impl StrategyUpdate {
    fn request(&self) -> u64 {
        match self {
            StrategyUpdate::Strategies { request, .. }
            | StrategyUpdate::Universe { request, .. } => *request,
        }
    }
}

/// The strategy stage's answer to a reload, for the control thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReloadAck {
    pub request: u64,
    /// Instruments the strategies may trade after the reload.
    pub tradable: u32,
    pub orb_enabled: bool,
}

pub struct StrategyStage {
    master: Arc<InstrumentMaster>,
    /// Instruments the strategies may trade, by master index.
    universe: Vec<bool>,
    bars: Vec<BarBuilder>,
    orb: Option<Orb>,
    reloads: Option<(Receiver<StrategyUpdate>, Sender<ReloadAck>)>,
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
            reloads: None,
        }
    }

    /// Connects the reload channel from the control thread and the acknowledgement back.
    pub fn with_reloads(mut self, rx: Receiver<StrategyUpdate>, ack: Sender<ReloadAck>) -> Self {
        self.reloads = Some((rx, ack));
        self
    }

    pub fn tradable(&self) -> usize {
        self.universe.iter().filter(|&&u| u).count()
    }

    fn on_reload(&mut self, request: u64) {
        let Some((rx, ack)) = &self.reloads else {
            return;
        };
        // Older updates whose command never came (a timed-out request) are dropped.
        let update = loop {
            match rx.try_recv() {
                Ok(u) if u.request() == request => break Some(u),
                Ok(_) => continue,
                Err(_) => break None,
            }
        };
        match update {
            Some(StrategyUpdate::Strategies { orb, .. }) => {
                if let Some(o) = &mut self.orb {
                    o.set_config(orb);
                }
            }
            Some(StrategyUpdate::Universe { universe, .. })
                if universe.len() == self.universe.len() =>
            {
                self.universe = universe;
            }
            Some(StrategyUpdate::Universe { .. }) | None => return,
        }
        let _ = ack.try_send(ReloadAck {
            request,
            tradable: self.tradable() as u32,
            orb_enabled: self.orb.as_ref().is_some_and(|o| o.config().enabled),
        });
    }

    /// Forwards the slot, then any signal it fired.
    pub fn on_slot(&mut self, slot: &Slot, out: &mut impl FnMut(&Slot)) {
        out(slot);
        let t = match &slot.ev {
            Event::Tick(t) => t,
            Event::Control(
                ControlCommand::ReloadStrategies { request, .. }
                | ControlCommand::ReloadUniverse { request },
            ) => return self.on_reload(*request),
            _ => return,
        };
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
        if let Some(orb) = self.orb.as_mut().filter(|o| o.config().enabled) {
            if let Some(sig) = orb.on_tick(idx, t.token, t.exchange_timestamp, ltp) {
                out(&Slot {
                    ev: Event::Signal(sig),
                    recv_ns: slot.recv_ns,
                });
            }
        }
    }
}
