//! The order stage: routes approved intents to the broker (the paper broker in PAPER mode),
//! rounds prices to the tick, and sends every broker update back through the sequencer inbox.
//! It also measures tick-to-order-intent latency.

pub mod fill_model;
pub mod kite;
pub mod mode;
pub mod paper;

use crate::domain::*;
use crate::telemetry::Metrics;
use crossbeam_channel::{Sender, TrySendError};
use fill_model::PriceBand;
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
    /// The day's circuit limits by master index (LIVE: Kite's quote; PAPER: the paper
    /// exchange's band): an entry priced outside is refused before it is sent, an exit's
    /// price is pulled inside (the best the exchange would take).
    bands: Vec<Option<PriceBand>>,
    /// The broker not in use, with its bands (POST /mode swaps them).
    standby: Option<(Broker, Vec<Option<PriceBand>>)>,
    live_handoff: Option<mode::LiveHandoff>,
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
        let bands = (0..n)
            .map(|i| {
                let inst = master.by_index(i);
                PriceBand::around(inst.last_price.0, paper.price_band_pct, inst.tick_size.0)
            })
            .collect();
        OrderStage {
            bands,
            master,
            broker: Broker::Paper(PaperBroker::new(paper, n)),
            inbox,
            metrics,
            barrier_done,
            // 1 ns .. 60 s at 3 significant digits; allocated once here, never on the hot path.
            latency: Histogram::new_with_bounds(1, 60_000_000_000, 3)
                .expect("constant histogram bounds are valid"),
            now_ts: 0,
            standby: None,
            live_handoff: None,
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
        let paper = std::mem::replace(
            &mut self.broker,
            Broker::Kite {
                router,
                product: product.to_string(),
                market_protection,
                algo_id: (!algo_id.is_empty()).then(|| algo_id.to_string()),
            },
        );
        // A switch to PAPER later today trades on the paper broker and its bands.
        self.standby = Some((paper, self.bands.clone()));
        self.metrics.orders_route_live.store(1, Ordering::Relaxed);
        self
    }

    /// LIVE: Kite's circuit limits replace the paper band.
    pub fn with_bands(mut self, bands: Vec<Option<PriceBand>>) -> Self {
        if bands.len() == self.bands.len() {
            self.bands = bands;
        }
        self
    }

    /// The band check before sending: true when the intent may go (an exit's price is
    /// clamped into the band), false when an entry is refused.
    fn within_band(&self, idx: usize, o: &mut OrderIntent) -> bool {
        let Some(b) = self.bands.get(idx).copied().flatten() else {
            return true;
        };
        let out = |p: i64| p > 0 && !b.contains(p);
        let priced_out = (o.order_type.has_limit() && out(o.price.0))
            || (o.order_type.is_stop() && out(o.trigger.0));
        if !priced_out {
            return true;
        }
        if o.purpose == OrderPurpose::Entry {
            Metrics::add(&self.metrics.orders_band_refused_total, 1);
            return false;
        }
        Metrics::add(&self.metrics.orders_band_clamped_total, 1);
        let clamp = |p: i64| if p > 0 { p.clamp(b.lower, b.upper) } else { p };
        o.price = Price(clamp(o.price.0));
        o.trigger = Price(clamp(o.trigger.0));
        true
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

    /// A rebuilt desk's state back at the paper broker: the account's fills so far, then
    /// the working orders as they were; an order the broker never answered is placed again
    /// (the broker that had it died with the process). Returns how many orders; LIVE takes
    /// none here (its orders are at Kite, reconciled by tag).
    pub fn resume_orders(
        &mut self,
        fills: &[(OrderIntent, i64, i128)],
        orders: &[ResumedOrder],
    ) -> usize {
        let Broker::Paper(paper) = &mut self.broker else {
            return 0;
        };
        for (o, qty, value) in fills {
            if let Some(idx) = self.master.index_of(o.token) {
                let divisor = self.master.by_index(idx).divisor();
                let price = (*value / (*qty).max(1) as i128) as i64;
                paper.resume_fill(idx, o.side, *qty, price, divisor);
            }
        }
        let mut n = 0;
        for r in orders {
            let Some(idx) = self.master.index_of(r.intent.token) else {
                continue;
            };
            if r.acknowledged {
                if let Broker::Paper(paper) = &mut self.broker {
                    paper.resume(idx, self.master.by_index(idx), &r.intent, r.filled);
                }
            } else {
                self.on_slot(&Slot {
                    ev: Event::Intent(r.intent),
                    recv_ns: mono_ns(),
                });
            }
            n += 1;
        }
        n
    }

    /// LIVE after reconciliation: each working order of the desk that Kite has is tracked
    /// from where Kite has it. One Kite does not have (sent, no answer, then the crash) is
    /// placed again under its tag when it protects or closes a position (a stop, an exit);
    /// an entry is not: its moment passed with the downtime, so the desk hears it ended
    /// (cancelled) instead of sending it late. Returns (tracked, placed again, entries ended).
    pub fn resume_live(
        &mut self,
        orders: &[ResumedOrder],
        book: &BrokerBook,
    ) -> (usize, usize, usize) {
        let Broker::Kite { router, .. } = &self.broker else {
            return (0, 0, 0);
        };
        let router = router.clone();
        let (mut tracked, mut placed, mut ended) = (0, 0, 0);
        for r in orders {
            let Some(idx) = self.master.index_of(r.intent.token) else {
                continue;
            };
            match book.order_by_tag(r.intent.id) {
                Some(o) => {
                    router.track(r.intent.id, self.master.by_index(idx).divisor(), o);
                    tracked += 1;
                }
                None if r.intent.purpose == OrderPurpose::Entry => {
                    Self::send_update(
                        &self.inbox,
                        &self.metrics,
                        OrderUpdate {
                            id: r.intent.id,
                            token: r.intent.token,
                            kind: OrderUpdateKind::Cancelled,
                            ts: self.now_ts,
                        },
                    );
                    ended += 1;
                }
                None => {
                    self.on_slot(&Slot {
                        ev: Event::Intent(r.intent),
                        recv_ns: mono_ns(),
                    });
                    placed += 1;
                }
            }
        }
        (tracked, placed, ended)
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
                // Also stage="order" of stage_latency_seconds (rendered from this one).
                self.metrics.tick_to_intent.observe_ns(lat);
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
                if !self.within_band(idx, &mut o) {
                    return Self::send_update(
                        inbox,
                        metrics,
                        o.update(OrderUpdateKind::Rejected(RejectReason::PriceBand)),
                    );
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
                let master = &self.master;
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
                            divisor: master.get(*token).map_or(100, |i| i.divisor()),
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
            Event::Mode { live } => self.switch_broker(*live),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn stage() -> (OrderStage, crossbeam_channel::Receiver<InboxMsg>) {
        let csv =
            format!("{INSTRUMENTS_HEADER}\n408065,1594,INFY,INFOSYS,1500,,0,0.05,1,EQ,NSE,NSE\n");
        let master = Arc::new(InstrumentMaster::parse_csv(&csv, "t").unwrap());
        let (tx, rx) = crossbeam_channel::unbounded();
        let rules = PaperRules {
            price_band_pct: 20.0,
            ..PaperRules::default()
        };
        let s = OrderStage::new(
            master,
            rules,
            tx,
            Arc::new(Metrics::default()),
            Arc::new(AtomicU64::new(0)),
        );
        (s, rx)
    }

    fn intent(purpose: OrderPurpose, price: i64) -> OrderIntent {
        OrderIntent {
            id: OrderId(7),
            token: Token(408065),
            side: Side::Sell,
            qty: Qty(1),
            order_type: OrderType::Limit,
            price: Price(price),
            trigger: Price(0),
            validity: Validity::Ioc,
            purpose,
            strategy: StrategyId::Risk,
            ts: 1,
        }
    }

    #[test]
    fn an_entry_outside_the_circuit_limits_is_refused_an_exit_pulled_inside() {
        let (mut s, rx) = stage();
        // 1500 +- 20 %: 1200.00 .. 1800.00.
        let slot = |ev| Slot { ev, recv_ns: 0 };
        s.on_slot(&slot(Event::Intent(intent(OrderPurpose::Entry, 190_000))));
        match rx.try_recv() {
            Ok(InboxMsg::Order(u)) => {
                assert_eq!(u.kind, OrderUpdateKind::Rejected(RejectReason::PriceBand))
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(Metrics::get(&s.metrics.orders_band_refused_total), 1);
        let mut exit = intent(OrderPurpose::StopLoss, 100_000);
        assert!(s.within_band(0, &mut exit));
        assert_eq!(exit.price, Price(120_000));
        assert_eq!(Metrics::get(&s.metrics.orders_band_clamped_total), 1);
        let mut inside = intent(OrderPurpose::Entry, 150_000);
        assert!(s.within_band(0, &mut inside));
    }
}
