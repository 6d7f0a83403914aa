//! The order stage: routes approved intents to the broker (the paper broker in PAPER mode),
//! rounds prices to the tick, and sends every broker update back through the sequencer inbox.
//! It also measures tick-to-order-intent latency.

pub mod fill_model;
pub mod freeze;
pub mod kite;
pub mod paper;

use crate::domain::*;
use crate::telemetry::Metrics;
use crossbeam_channel::{Sender, TrySendError};
use hdrhistogram::Histogram;
use kite::rest::PlaceOrder;
use kite::router::{IoJob, KiteRouter};
use paper::{PaperBroker, PaperRules};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

pub use crate::domain::InboxMsg;

pub use crate::clock::mono_ns;

/// Where intents go: the in-process paper broker, or Kite through the io workers.
pub enum Broker {
    Paper(PaperBroker),
    Kite {
        router: KiteRouter,
        product: String,
        market_protection: f64,
        algo_id: Option<String>,
    },
}

pub struct OrderStage {
    master: Arc<InstrumentMaster>,
    broker: Broker,
    inbox: Sender<InboxMsg>,
    metrics: Arc<Metrics>,
    barrier_done: Arc<AtomicU64>,
    latency: Histogram<u64>,
    now_ts: u32,
}

impl OrderStage {
    pub fn new(
        master: Arc<InstrumentMaster>,
        paper: PaperRules,
        inbox: Sender<InboxMsg>,
        metrics: Arc<Metrics>,
        barrier_done: Arc<AtomicU64>,
    ) -> OrderStage {
        let n = master.len();
        OrderStage {
            master,
            broker: Broker::Paper(PaperBroker::new(paper, n)),
            inbox,
            metrics,
            barrier_done,
            // 1 ns .. 60 s at 3 significant digits; allocated once here, never on the hot path.
            latency: Histogram::new_with_bounds(1, 60_000_000_000, 3)
                .expect("constant histogram bounds are valid"),
            now_ts: 0,
        }
    }

    /// LIVE: intents go to Kite through the router's io workers, each with the exchange's
    /// algo ID when one is configured.
    pub fn with_kite(
        mut self,
        router: KiteRouter,
        product: &str,
        market_protection: f64,
        algo_id: &str,
    ) -> Self {
        self.broker = Broker::Kite {
            router,
            product: product.to_string(),
            market_protection,
            algo_id: (!algo_id.is_empty()).then(|| algo_id.to_string()),
        };
        self
    }

    pub fn latency(&self) -> &Histogram<u64> {
        &self.latency
    }

    fn send_update(inbox: &Sender<InboxMsg>, metrics: &Metrics, u: OrderUpdate) {
        // An order update is never dropped: a full inbox is counted and waited out.
        let mut msg = InboxMsg::Order(u);
        loop {
            match inbox.try_send(msg) {
                Ok(()) => return,
                Err(TrySendError::Full(m)) => {
                    Metrics::add(&metrics.inbox_full_total, 1);
                    msg = m;
                    std::thread::yield_now();
                }
                Err(TrySendError::Disconnected(_)) => return,
            }
        }
    }

    pub fn on_slot(&mut self, slot: &Slot) {
        let inbox = &self.inbox;
        let metrics = &*self.metrics;
        match &slot.ev {
            Event::Tick(t) => {
                if t.exchange_timestamp > self.now_ts {
                    self.now_ts = t.exchange_timestamp;
                }
                if let Broker::Paper(paper) = &mut self.broker {
                    if let Some(idx) = self.master.index_of(t.token) {
                        paper.on_tick(idx, t, slot.recv_ns, |u| {
                            Self::send_update(inbox, metrics, u)
                        });
                    }
                }
            }
            Event::Intent(o) => {
                let mut o = *o;
                let lat = mono_ns().saturating_sub(slot.recv_ns).max(1);
                let _ = self.latency.record(lat);
                if self.latency.len() % 64 == 1 {
                    self.publish_latency();
                }
                let Some(idx) = self.master.index_of(o.token) else {
                    return Self::send_update(
                        inbox,
                        metrics,
                        o.update(OrderUpdateKind::Rejected(RejectReason::UnknownInstrument)),
                    );
                };
                let inst = *self.master.by_index(idx);
                if o.order_type.has_limit() {
                    o.price = inst.round_to_tick(o.price);
                }
                if o.order_type.is_stop() {
                    o.trigger = inst.round_to_tick(o.trigger);
                }
                match &mut self.broker {
                    Broker::Paper(paper) => paper.place(idx, &inst, &o, slot.recv_ns, |u| {
                        Self::send_update(inbox, metrics, u)
                    }),
                    Broker::Kite {
                        router,
                        product,
                        market_protection,
                        algo_id,
                    } => {
                        let job = IoJob::Place {
                            id: o.id,
                            token: o.token,
                            divisor: inst.divisor(),
                            order: Box::new(PlaceOrder {
                                exchange: inst.exchange.as_str().to_string(),
                                tradingsymbol: inst.tradingsymbol.as_str().to_string(),
                                transaction_type: o.side.as_str(),
                                order_type: o.order_type.as_str(),
                                quantity: o.qty.0,
                                product: product.clone(),
                                price: o
                                    .order_type
                                    .has_limit()
                                    .then(|| format_rupees(o.price.0, inst.divisor())),
                                trigger_price: o
                                    .order_type
                                    .is_stop()
                                    .then(|| format_rupees(o.trigger.0, inst.divisor())),
                                validity: o.validity.as_str(),
                                market_protection: o
                                    .order_type
                                    .is_market()
                                    .then_some(*market_protection),
                                tag: o.id.tag().as_str().to_string(),
                                algo_id: algo_id.clone(),
                            }),
                            ts: o.ts,
                        };
                        if !router.submit(job) {
                            // The io queue is full: refuse now rather than stall the pipeline.
                            Self::send_update(
                                inbox,
                                metrics,
                                o.update(OrderUpdateKind::Rejected(RejectReason::Broker)),
                            );
                        }
                    }
                }
            }
            Event::Cancel { id, token } => {
                let ts = self.now_ts;
                match &mut self.broker {
                    Broker::Paper(paper) => {
                        paper.cancel(*id, *token, ts, |u| Self::send_update(inbox, metrics, u))
                    }
                    Broker::Kite { router, .. } => {
                        router.submit(IoJob::Cancel { id: *id });
                    }
                }
            }
            Event::Modify {
                id,
                token,
                qty,
                price,
                trigger,
            } => {
                let (ts, now) = (self.now_ts, slot.recv_ns);
                let divisor = self.master.get(*token).map(|i| i.divisor()).unwrap_or(100);
                match &mut self.broker {
                    Broker::Paper(paper) => {
                        paper.modify(*id, *token, *qty, *price, *trigger, ts, now, |u| {
                            Self::send_update(inbox, metrics, u)
                        })
                    }
                    Broker::Kite { router, .. } => {
                        let job = IoJob::Modify {
                            id: *id,
                            token: *token,
                            divisor,
                            qty: *qty,
                            price: *price,
                            trigger: *trigger,
                        };
                        if !router.submit(job) {
                            // The io queue is full: the order works on unchanged.
                            Self::send_update(
                                inbox,
                                metrics,
                                OrderUpdate {
                                    id: *id,
                                    token: *token,
                                    kind: OrderUpdateKind::Status(BrokerStatus::NotModified),
                                    ts,
                                },
                            );
                        }
                    }
                }
            }
            Event::Barrier { id } => self.barrier_done.store(*id, Ordering::Release),
            Event::Clock { ts } => self.now_ts = self.now_ts.max(*ts),
            Event::Signal(_)
            | Event::Control(_)
            | Event::Order(_)
            | Event::Bar(_)
            | Event::Empty => {}
        }
    }

    pub fn publish_latency(&self) {
        let h = &self.latency;
        self.metrics
            .tick_to_intent_p50_ns
            .store(h.value_at_quantile(0.5), Ordering::Relaxed);
        self.metrics
            .tick_to_intent_p99_ns
            .store(h.value_at_quantile(0.99), Ordering::Relaxed);
        self.metrics
            .tick_to_intent_max_ns
            .store(h.max(), Ordering::Relaxed);
    }
}
