//! Ring plumbing and topologies. Stage code never sees a ring: this module wires the stages'
//! `on_slot` methods to disruptor rings and threads.
//!
//! - `pipeline`: feed -> ring A -> strategy -> ring B -> risk -> ring C -> order, one thread each.
//! - `collapsed`: feed -> ring A -> one consumer running strategy, risk and order inline.
//!
//! Both hand every stage the same sequence of slots, so they produce the same results.

pub mod affinity;
pub mod sequencer;
pub mod wait;

pub use wait::WaitStrategy;
use wait::{Doorbell, Idler};

use crate::config::Topology;
use crate::domain::Slot;
use crate::exec::OrderStage;
use crate::risk::RiskStage;
use crate::strategy::StrategyStage;
use crate::telemetry::Metrics;
use disruptor::{
    build_single_producer, EventPoller, Polling, Producer, SingleConsumerBarrier, SingleProducer,
    SingleProducerBarrier,
};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::thread::JoinHandle;

/// Which back-pressure counter a ring's producer bumps.
pub type FullCounter = fn(&Metrics) -> &AtomicU64;

/// The producing end of a ring. Publishing never drops: a full ring is counted and waited on.
pub struct RingTx {
    producer: SingleProducer<Slot, SingleConsumerBarrier>,
    wait: WaitStrategy,
    metrics: Arc<Metrics>,
    full: FullCounter,
    /// Adaptive waits: rung after each publish, in case the consumer parked.
    bell: Option<Arc<Doorbell>>,
}

impl RingTx {
    #[inline]
    pub fn publish(&mut self, slot: Slot) {
        loop {
            match self.producer.try_publish(|e| *e = slot) {
                Ok(_) => {
                    if let Some(b) = &self.bell {
                        b.ring();
                    }
                    return;
                }
                Err(_) => {
                    Metrics::add((self.full)(&self.metrics), 1);
                    self.wait.idle();
                }
            }
        }
    }
}

/// The consuming end of a ring.
pub struct RingRx {
    poller: EventPoller<Slot, SingleProducerBarrier>,
    bell: Option<Arc<Doorbell>>,
}

/// The producer is gone and everything it published has been consumed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Closed;

impl RingRx {
    /// Hands every available slot to `f`; Ok(0) when there is nothing yet.
    #[inline]
    pub fn drain(&mut self, mut f: impl FnMut(&Slot)) -> Result<usize, Closed> {
        match self.poller.poll() {
            Ok(mut guard) => {
                let mut n = 0;
                for s in &mut guard {
                    f(s);
                    n += 1;
                }
                Ok(n)
            }
            Err(Polling::NoEvents) => Ok(0),
            Err(Polling::Shutdown) => Err(Closed),
        }
    }
}

pub fn ring(
    size: usize,
    wait: WaitStrategy,
    metrics: Arc<Metrics>,
    full: FullCounter,
) -> (RingTx, RingRx) {
    let builder = build_single_producer(size, Slot::default, wait);
    let (poller, builder) = builder.new_event_poller();
    let producer = builder.build();
    let bell = (wait == WaitStrategy::Adaptive).then(Doorbell::new);
    (
        RingTx {
            producer,
            wait,
            metrics,
            full,
            bell: bell.clone(),
        },
        RingRx { poller, bell },
    )
}

/// The three stages, handed back when the pipeline shuts down.
pub struct Stages {
    pub strategy: StrategyStage,
    pub risk: RiskStage,
    pub order: OrderStage,
}

/// Running consumer threads.
pub enum Consumers {
    Collapsed(JoinHandle<Stages>),
    Pipeline {
        strategy: JoinHandle<StrategyStage>,
        risk: JoinHandle<RiskStage>,
        order: JoinHandle<OrderStage>,
    },
}

impl Consumers {
    /// Waits for every consumer to drain and stop (after the feed drops its producer).
    pub fn join(self) -> Result<Stages, String> {
        let err = |name: &str| format!("{name} thread panicked");
        match self {
            Consumers::Collapsed(h) => h.join().map_err(|_| err("consumer")),
            Consumers::Pipeline {
                strategy,
                risk,
                order,
            } => Ok(Stages {
                strategy: strategy.join().map_err(|_| err("strategy"))?,
                risk: risk.join().map_err(|_| err("risk"))?,
                order: order.join().map_err(|_| err("order"))?,
            }),
        }
    }
}

fn spawn_named<T: Send + 'static>(
    name: &str,
    cpu: Option<usize>,
    slice_us: u32,
    f: impl FnOnce() -> T + Send + 'static,
) -> JoinHandle<T> {
    let name_owned = name.to_string();
    std::thread::Builder::new()
        .name(name.to_string())
        .spawn(move || {
            affinity::settle_hot_thread(&name_owned, cpu, slice_us);
            f()
        })
        .unwrap_or_else(|e| panic!("cannot spawn thread {name}: {e}"))
}

/// Runs `f` over slots until the ring closes, idling with `wait` when empty (adaptive:
/// spin, yield, then park until the producer rings).
fn consume(mut rx: RingRx, wait: WaitStrategy, beat: &AtomicU64, mut f: impl FnMut(&Slot)) {
    let mut idler = Idler::new(wait, beat);
    loop {
        match rx.drain(&mut f) {
            Ok(0) => {
                if !idler.idle() {
                    continue;
                }
                let Some(bell) = rx.bell.clone() else {
                    continue;
                };
                // Say so, look once more, and sleep only if still nothing came.
                bell.arm();
                match rx.drain(&mut f) {
                    Ok(0) => bell.park(),
                    Ok(_) => {
                        bell.disarm();
                        idler.reset();
                    }
                    Err(Closed) => return,
                }
            }
            Ok(_) => idler.reset(),
            Err(Closed) => return,
        }
    }
}

/// Starts the consumer side of the chosen topology on ring A, with the plan's wait, slice
/// and cores (its first core is the feed's; then one consumer when collapsed, three for the
/// pipeline; none for no pinning).
pub fn spawn_consumers(
    topology: Topology,
    ring_a: RingRx,
    stages: Stages,
    plan: &affinity::ThreadPlan,
    ring_size: usize,
    metrics: Arc<Metrics>,
) -> Consumers {
    let (wait, slice) = (plan.wait, plan.slice_us);
    let cpu = |i: usize| plan.cpus.get(i + 1).copied();
    match topology {
        Topology::Collapsed => {
            Consumers::Collapsed(spawn_named("aitrapp-stages", cpu(0), slice, move || {
                let Stages {
                    mut strategy,
                    mut risk,
                    mut order,
                } = stages;
                let m = metrics.clone();
                consume(ring_a, wait, &m.heartbeats[1], |slot| {
                    strategy.on_slot(slot, &mut |s1| {
                        risk.on_slot(s1, &mut |s2| order.on_slot(s2))
                    });
                });
                order.publish_latency();
                Stages {
                    strategy,
                    risk,
                    order,
                }
            }))
        }
        Topology::Pipeline => {
            let (mut tx_b, rx_b) = ring(ring_size, wait, metrics.clone(), |m| &m.ring_b_full_total);
            let (mut tx_c, rx_c) = ring(ring_size, wait, metrics.clone(), |m| &m.ring_c_full_total);
            let (m1, m2, m3) = (metrics.clone(), metrics.clone(), metrics);
            let Stages {
                mut strategy,
                mut risk,
                mut order,
            } = stages;
            let strategy = spawn_named("aitrapp-strategy", cpu(0), slice, move || {
                consume(ring_a, wait, &m1.heartbeats[1], |slot| {
                    strategy.on_slot(slot, &mut |s| tx_b.publish(*s))
                });
                strategy
            });
            let risk = spawn_named("aitrapp-risk", cpu(1), slice, move || {
                consume(rx_b, wait, &m2.heartbeats[2], |slot| {
                    risk.on_slot(slot, &mut |s| tx_c.publish(*s))
                });
                risk
            });
            let order = spawn_named("aitrapp-order", cpu(2), slice, move || {
                consume(rx_c, wait, &m3.heartbeats[3], |slot| order.on_slot(slot));
                order.publish_latency();
                order
            });
            Consumers::Pipeline {
                strategy,
                risk,
                order,
            }
        }
    }
}

#[cfg(test)]
mod desk_tests;
