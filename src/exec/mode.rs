//! Switching where intents go (POST /mode) between the paper broker and Kite. Risk sends
//! `Event::Mode` only once the desk is flat, so nothing working is left behind at the broker
//! given up. The broker not in use waits on standby with its price bands; a PAPER start's
//! Kite path arrives through the `LiveHandoff` the control thread filled after the same
//! credential checks as a LIVE start.

use super::*;
use std::sync::Mutex;

/// Kite as a broker for the order stage: the router and the order settings, with the day's
/// circuit limits from Kite's quote.
pub struct LiveBroker {
    pub router: KiteRouter,
    pub product: String,
    pub market_protection: f64,
    pub algo_id: Option<String>,
    pub bands: Vec<Option<PriceBand>>,
}

/// Where the control thread leaves a Kite path it built for a switch to LIVE.
pub type LiveHandoff = Arc<Mutex<Option<LiveBroker>>>;

impl Broker {
    fn is_kite(&self) -> bool {
        matches!(self, Broker::Kite { .. })
    }
}

impl OrderStage {
    /// A PAPER start: a switch to LIVE takes its Kite path from here.
    pub fn with_live_handoff(mut self, h: LiveHandoff) -> Self {
        self.live_handoff = Some(h);
        self
    }

    /// True while intents go to Kite.
    pub fn routes_live(&self) -> bool {
        self.broker.is_kite()
    }

    pub(super) fn switch_broker(&mut self, live: bool) {
        if self.routes_live() != live {
            let standby = match self.standby.take() {
                Some(s) if s.0.is_kite() == live => Some(s),
                other if live => {
                    self.standby = other;
                    self.take_handoff()
                }
                other => {
                    self.standby = other;
                    None
                }
            };
            if let Some((broker, bands)) = standby {
                let old = std::mem::replace(&mut self.broker, broker);
                let old_bands = std::mem::replace(&mut self.bands, bands);
                self.standby = Some((old, old_bands));
            }
        }
        // What the order stage really does, whatever risk asked: /mode and /metrics read it.
        self.metrics
            .orders_route_live
            .store(self.routes_live() as u64, Ordering::Relaxed);
    }

    fn take_handoff(&self) -> Option<(Broker, Vec<Option<PriceBand>>)> {
        let l = self.live_handoff.as_ref()?.lock().ok()?.take()?;
        if l.bands.len() != self.bands.len() {
            return None;
        }
        Some((
            Broker::Kite {
                router: l.router,
                product: l.product,
                market_protection: l.market_protection,
                algo_id: l.algo_id,
            },
            l.bands,
        ))
    }
}
