//! LIVE order routing. The order thread hands jobs to io worker threads through a bounded
//! queue and never waits on the network; workers place and cancel over REST; a tracker
//! thread turns Kite's order states (WebSocket `order` messages, and a poll of the order book
//! while anything is unsettled) into incremental `OrderUpdate`s for the sequencer inbox.
//!
//! Idempotency: every order carries its client tag. When a place call times out, gets a 5xx
//! or loses its connection, the worker looks the tag up in the order book before anything
//! else; it places again only when the lookup proves nothing was placed, at most
//! `max_retries` times, `backoff` apart. One intent never becomes two live orders.

use super::envelope::KiteError;
use super::rest::{KiteOrder, KiteRest, ModifyOrder, PlaceOrder};
use super::status::KiteStatus;
use crate::domain::{
    format_rupees, ControlCommand, HaltReason, OrderId, OrderUpdate, OrderUpdateKind, Price, Qty,
    RejectReason, Token,
};
use crate::domain::{BrokerOrder, BrokerOrderState, BrokerStatus};
use crate::exec::InboxMsg;
use crate::telemetry::Metrics;
use crossbeam_channel::{Receiver, Sender, TrySendError};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

mod changes;

/// Work for an io worker.
#[derive(Clone, Debug)]
pub enum IoJob {
    Place {
        id: OrderId,
        token: Token,
        /// Native price units per rupee for this instrument.
        divisor: i64,
        order: Box<PlaceOrder>,
        ts: u32,
    },
    Cancel {
        id: OrderId,
    },
    /// New quantity, limit and trigger for a working order (zero keeps the old value).
    Modify {
        id: OrderId,
        token: Token,
        divisor: i64,
        qty: Qty,
        price: Price,
        trigger: Price,
    },
}

/// What we know of one of our orders at Kite.
#[derive(Clone, Debug)]
struct Tracked {
    id: OrderId,
    token: Token,
    divisor: i64,
    kite_id: Option<String>,
    /// Filled quantity and value (native units x qty) already reported to risk.
    filled: i64,
    filled_value: i128,
    /// The last non-terminal status sent to risk (each change is sent once).
    status: Option<BrokerStatus>,
    done: bool,
    /// A cancel came before Kite's order id: it goes as soon as the id is known.
    cancel_wanted: bool,
    /// The latest modification not yet sent (before Kite's id, or while another is in
    /// flight): workers always send the newest one, so a late worker never undoes a trail.
    modify_wanted: Option<ModifyOrder>,
    ts: u32,
}

/// Our orders at Kite by tag, shared by the workers and the tracker.
#[derive(Default)]
struct OrderBook {
    by_tag: HashMap<String, Tracked>,
    /// Cancels served before their order reached a worker (cancels jump the queue): such an
    /// order is never sent.
    cancelled_unsent: HashSet<OrderId>,
}

/// The order thread's handle: submit never blocks.
#[derive(Clone)]
pub struct KiteRouter {
    jobs: Sender<IoJob>,
    /// Cancels have their own queue, unbounded, that the workers serve first: a cancel is
    /// never refused or stuck behind a backlog of new orders.
    cancels: Sender<OrderId>,
    /// The book the workers and the tracker share (None in unit tests of the queues).
    shared: Option<Arc<Shared>>,
}

impl KiteRouter {
    /// A new order: false when the queue is full (the caller rejects the order rather than
    /// wait). A cancel: always queued.
    pub fn submit(&self, job: IoJob) -> bool {
        match job {
            IoJob::Cancel { id } => self.cancels.send(id).is_ok(),
            job => !matches!(self.jobs.try_send(job), Err(TrySendError::Full(_))),
        }
    }

    /// An order already at Kite (placed by an earlier run of the day, or adopted by
    /// reconciliation) is tracked from where Kite has it: later fills and states come as
    /// updates, and cancels and modifications find its Kite id.
    pub fn track(&self, id: OrderId, divisor: i64, o: &BrokerOrder) {
        let Some(shared) = &self.shared else { return };
        let Ok(mut book) = shared.book.lock() else {
            return;
        };
        book.by_tag.insert(
            o.tag.clone(),
            Tracked {
                id,
                token: o.token,
                divisor,
                kite_id: Some(o.broker_id.clone()),
                filled: o.filled,
                filled_value: o.avg_price.0 as i128 * o.filled as i128,
                status: match o.state {
                    BrokerOrderState::Working(s) => Some(s),
                    _ => None,
                },
                done: !o.is_working(),
                cancel_wanted: false,
                modify_wanted: None,
                ts: 0,
            },
        );
    }
}

/// The next job for an io worker, cancels first; None after `wait` with nothing to do, or
/// when the router is gone (`Err`).
fn next_job(
    cancels: &Receiver<OrderId>,
    jobs: &Receiver<IoJob>,
    wait: Duration,
) -> Result<Option<IoJob>, ()> {
    match cancels.try_recv() {
        Ok(id) => return Ok(Some(IoJob::Cancel { id })),
        Err(crossbeam_channel::TryRecvError::Disconnected) => return Err(()),
        Err(crossbeam_channel::TryRecvError::Empty) => {}
    }
    crossbeam_channel::select! {
        recv(cancels) -> m => m.map(|id| Some(IoJob::Cancel { id })).map_err(|_| ()),
        recv(jobs) -> m => m.map(Some).map_err(|_| ()),
        default(wait) => Ok(None),
    }
}

pub struct RouterSettings {
    pub workers: usize,
    pub max_retries: u32,
    pub backoff: Duration,
    /// How often the tracker polls the order book while an order is unsettled.
    pub poll_every: Duration,
    pub metrics: Arc<Metrics>,
}

struct Shared {
    rest: Arc<KiteRest>,
    book: Mutex<OrderBook>,
    inbox: Sender<InboxMsg>,
    halted: AtomicBool,
    settings: RouterSettings,
}

impl Shared {
    fn send(&self, u: OrderUpdate) {
        // An order update is never dropped: wait out a full inbox (io threads may wait).
        let mut msg = InboxMsg::Order(u);
        loop {
            match self.inbox.try_send(msg) {
                Ok(()) => return,
                Err(TrySendError::Full(m)) => {
                    msg = m;
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err(TrySendError::Disconnected(_)) => return,
            }
        }
    }

    fn reject(&self, id: OrderId, token: Token, ts: u32) {
        self.send(OrderUpdate {
            id,
            token,
            kind: OrderUpdateKind::Rejected(RejectReason::Broker),
            ts,
        });
    }

    fn on_token_error(&self, e: &KiteError) {
        Metrics::add(&self.settings.metrics.kite_token_refused_total, 1);
        if !self.halted.swap(true, Ordering::SeqCst) {
            log::error!(target: "order", error = e.to_string().as_str();
                "ALERT: Kite refused the access token ({e}): new entries halted; run `aitrapp login`");
            crate::telemetry::alerts::raise(
                crate::telemetry::alerts::AlertKind::TokenExpired,
                format!(
                    "Kite refused the access token ({e}): new entries halted; run `aitrapp login`"
                ),
            );
            let _ = self
                .inbox
                .try_send(InboxMsg::Control(ControlCommand::HaltEntries {
                    reason: HaltReason::TokenExpired,
                }));
        }
    }

    /// Applies one Kite order state to the tracked order with its tag; sends what changed.
    fn apply(&self, o: &KiteOrder) {
        let Some(tag) = o.tag.as_deref() else {
            return;
        };
        let mut updates = Vec::new();
        {
            let Ok(mut book) = self.book.lock() else {
                return;
            };
            let Some(t) = book.by_tag.get_mut(tag) else {
                return; // not ours: orders placed by hand or by another app
            };
            if t.done {
                return;
            }
            if t.kite_id.is_none() {
                t.kite_id = Some(o.order_id.clone());
            }
            if o.filled_quantity > t.filled {
                let qty = o.filled_quantity - t.filled;
                let value_now = (o.average_price * t.divisor as f64).round() as i128
                    * o.filled_quantity as i128;
                let px = ((value_now - t.filled_value) / qty as i128) as i64;
                t.filled = o.filled_quantity;
                t.filled_value = value_now;
                updates.push(OrderUpdateKind::Fill {
                    cum_qty: Qty(o.filled_quantity),
                    last_qty: Qty(qty),
                    last_price: Price(px),
                });
            }
            match KiteStatus::parse(&o.status) {
                KiteStatus::Complete => t.done = true,
                KiteStatus::Cancelled => {
                    t.done = true;
                    updates.push(OrderUpdateKind::Cancelled);
                }
                KiteStatus::Rejected => {
                    t.done = true;
                    log::warn!(target: "order", tag = tag, order_id = o.order_id.as_str(),
                        reason = o.status_message.as_deref().unwrap_or("");
                        "Kite rejected order {tag}: {}", o.status_message.as_deref().unwrap_or("no reason given"));
                    updates.push(OrderUpdateKind::Rejected(RejectReason::Broker));
                }
                // A postback's modification or partial fill: the fill above says it all.
                KiteStatus::Update => {}
                KiteStatus::Working(s) => {
                    if s == BrokerStatus::Unknown {
                        Metrics::add(&self.settings.metrics.kite_unknown_status_total, 1);
                        log::warn!(target: "order", tag = tag, order_id = o.order_id.as_str(), status = o.status.as_str();
                            "Order {tag} has a status nobody documented (`{}`): treated as working", o.status);
                    }
                    if t.status != Some(s) {
                        t.status = Some(s);
                        updates.push(OrderUpdateKind::Status(s));
                    }
                }
            }
            let (id, token, ts) = (t.id, t.token, t.ts);
            for kind in updates.drain(..) {
                self.send(OrderUpdate {
                    id,
                    token,
                    kind,
                    ts,
                });
            }
        }
        self.cancel_if_wanted(tag);
    }

    fn needs_poll(&self) -> bool {
        self.book
            .lock()
            .map(|b| b.by_tag.values().any(|t| !t.done))
            .unwrap_or(false)
    }

    fn place(&self, id: OrderId, token: Token, divisor: i64, order: PlaceOrder, ts: u32) {
        let tag = order.tag.clone();
        if let Ok(mut b) = self.book.lock() {
            if b.cancelled_unsent.remove(&id) {
                drop(b);
                log::info!(target: "order", tag = tag.as_str();
                    "Order {tag} was cancelled before it was sent: not placing it");
                return self.send(OrderUpdate {
                    id,
                    token,
                    kind: OrderUpdateKind::Cancelled,
                    ts,
                });
            }
            b.by_tag.insert(
                tag.clone(),
                Tracked {
                    id,
                    token,
                    divisor,
                    kite_id: None,
                    filled: 0,
                    filled_value: 0,
                    status: None,
                    done: false,
                    cancel_wanted: false,
                    modify_wanted: None,
                    ts,
                },
            );
        }
        let s = &self.settings;
        let mut retries = 0;
        loop {
            let sent = std::time::Instant::now();
            let placed = self.rest.place(&order);
            s.metrics
                .broker_round_trip
                .observe_ns(sent.elapsed().as_nanos() as u64);
            match placed {
                Ok(kite_id) => {
                    log::info!(target: "order", tag = tag.as_str(), order_id = kite_id.as_str();
                        "Kite accepted order {tag} as {kite_id}");
                    if let Ok(mut b) = self.book.lock() {
                        if let Some(t) = b.by_tag.get_mut(&tag) {
                            t.kite_id.get_or_insert(kite_id);
                        }
                    }
                    return self.cancel_if_wanted(&tag);
                }
                Err(e) if e.is_token() => {
                    self.on_token_error(&e);
                    self.settle_rejected(&tag);
                    return self.reject(id, token, ts);
                }
                Err(e) if e.outcome_unknown() => {
                    log::warn!(target: "order", tag = tag.as_str(), error = e.to_string().as_str();
                        "Order {tag}: outcome unknown ({e}); looking it up by tag before anything else");
                    match self.lookup(&tag) {
                        Some(Some(o)) => {
                            log::info!(target: "order", tag = tag.as_str(), order_id = o.order_id.as_str();
                                "Order {tag} was placed as {} ({}): not re-sending", o.order_id, o.status);
                            self.apply(&o);
                            return;
                        }
                        Some(None) if retries < s.max_retries => {
                            retries += 1;
                            log::warn!(target: "order", tag = tag.as_str(), retry = retries;
                                "Order {tag} is not in Kite's book: placing again (retry {retries} of {})", s.max_retries);
                        }
                        Some(None) => {
                            log::error!(target: "order", tag = tag.as_str();
                                "Order {tag} not placed after {} retries: rejected", s.max_retries);
                            self.settle_rejected(&tag);
                            return self.reject(id, token, ts);
                        }
                        None => {
                            // The book cannot be read: the order stays unsettled and the
                            // tracker keeps looking for its tag. Never re-sent blind.
                            log::error!(target: "order", tag = tag.as_str();
                                "Order {tag}: outcome still unknown (order book unreadable); the tracker keeps looking, no re-send");
                            return;
                        }
                    }
                }
                Err(e) if e.is_rate_limited() && retries < s.max_retries => {
                    // Refused before it reached the OMS: safe to try again.
                    retries += 1;
                    log::warn!(target: "order", tag = tag.as_str(), error = e.to_string().as_str();
                        "Order {tag} rate limited ({e}); retry {retries} of {}", s.max_retries);
                    std::thread::sleep(s.backoff);
                }
                Err(e) => {
                    log::warn!(target: "order", tag = tag.as_str(), error = e.to_string().as_str();
                        "Order {tag} refused by Kite: {e}");
                    self.settle_rejected(&tag);
                    return self.reject(id, token, ts);
                }
            }
        }
    }

    fn settle_rejected(&self, tag: &str) {
        if let Ok(mut b) = self.book.lock() {
            if let Some(t) = b.by_tag.get_mut(tag) {
                t.done = true;
            }
        }
    }

    /// Some(found) when the order book could be read (after `backoff`, so a request still
    /// in flight has landed); None when it could not be read in three tries.
    fn lookup(&self, tag: &str) -> Option<Option<KiteOrder>> {
        for _ in 0..3 {
            std::thread::sleep(self.settings.backoff);
            match self.rest.find_by_tag(tag) {
                Ok(found) => return Some(found),
                Err(e) if e.is_token() => {
                    self.on_token_error(&e);
                    return None;
                }
                Err(_) => continue,
            }
        }
        None
    }
}

/// Starts the io workers and the tracker. `kite_updates` carries order states the ticker read.
pub fn start(
    rest: Arc<KiteRest>,
    inbox: Sender<InboxMsg>,
    kite_updates: Receiver<KiteOrder>,
    settings: RouterSettings,
    stop: Arc<AtomicBool>,
) -> std::io::Result<(KiteRouter, Vec<JoinHandle<()>>)> {
    let (jobs_tx, jobs_rx) = crossbeam_channel::bounded::<IoJob>(1024);
    let (cancels_tx, cancels_rx) = crossbeam_channel::unbounded::<OrderId>();
    let workers = settings.workers.max(1);
    let shared = Arc::new(Shared {
        rest,
        book: Mutex::new(OrderBook::default()),
        inbox,
        halted: AtomicBool::new(false),
        settings,
    });
    let mut handles = Vec::new();
    for n in 0..workers {
        let (s, rx, cancels, stop) = (
            shared.clone(),
            jobs_rx.clone(),
            cancels_rx.clone(),
            stop.clone(),
        );
        handles.push(
            std::thread::Builder::new()
                .name(format!("aitrapp-io-{n}"))
                .spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        match next_job(&cancels, &rx, Duration::from_millis(100)) {
                            Ok(Some(IoJob::Place {
                                id,
                                token,
                                divisor,
                                order,
                                ts,
                            })) => s.place(id, token, divisor, *order, ts),
                            Ok(Some(IoJob::Cancel { id })) => s.cancel(id),
                            Ok(Some(IoJob::Modify {
                                id,
                                token,
                                divisor,
                                qty,
                                price,
                                trigger,
                            })) => s.modify(id, token, divisor, qty, price, trigger),
                            Ok(None) => {}
                            Err(()) => return,
                        }
                    }
                })?,
        );
    }
    let s = shared.clone();
    handles.push(
        std::thread::Builder::new()
            .name("aitrapp-order-tracker".into())
            .spawn(move || {
                let mut last_poll = Instant::now();
                while !stop.load(Ordering::Relaxed) {
                    match kite_updates.recv_timeout(Duration::from_millis(50)) {
                        Ok(o) => s.apply(&o),
                        Err(crossbeam_channel::RecvTimeoutError::Timeout) => {}
                        Err(crossbeam_channel::RecvTimeoutError::Disconnected) => {
                            std::thread::sleep(Duration::from_millis(50))
                        }
                    }
                    // The WebSocket can miss an update (a reconnect): the book settles it.
                    if last_poll.elapsed() >= s.settings.poll_every && s.needs_poll() {
                        last_poll = Instant::now();
                        match s.rest.orders() {
                            Ok(orders) => orders.iter().for_each(|o| s.apply(o)),
                            Err(e) if e.is_token() => s.on_token_error(&e),
                            Err(_) => {}
                        }
                    }
                }
            })?,
    );
    Ok((
        KiteRouter {
            jobs: jobs_tx,
            cancels: cancels_tx,
            shared: Some(shared),
        },
        handles,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cancel_is_queued_when_new_orders_fill_the_queue_and_served_first() {
        let (jobs_tx, jobs_rx) = crossbeam_channel::bounded::<IoJob>(1);
        let (cancels_tx, cancels_rx) = crossbeam_channel::unbounded::<OrderId>();
        let router = KiteRouter {
            jobs: jobs_tx.clone(),
            cancels: cancels_tx,
            shared: None,
        };
        // The new-order queue is full...
        jobs_tx.try_send(IoJob::Cancel { id: OrderId(1) }).unwrap();
        assert!(jobs_tx.is_full());
        // ...and cancels still go, ahead of it.
        for id in [7, 8] {
            assert!(router.submit(IoJob::Cancel { id: OrderId(id) }));
        }
        let wait = Duration::from_millis(10);
        let order: Vec<u64> = (0..3)
            .map(|_| match next_job(&cancels_rx, &jobs_rx, wait) {
                Ok(Some(IoJob::Cancel { id })) => id.0,
                other => panic!("{:?}", other.map(|j| j.map(|_| ()))),
            })
            .collect();
        assert_eq!(order, vec![7, 8, 1]);
        assert!(matches!(next_job(&cancels_rx, &jobs_rx, wait), Ok(None)));
        // The router gone, the workers stop.
        drop((router, jobs_tx));
        assert!(next_job(&cancels_rx, &jobs_rx, wait).is_err());
    }
}
