//! The paper broker: the exchange model of `fill_model` run in process. It checks every
//! order the way Kite and NSE do (lot, tick, trigger, market protection, freeze quantity,
//! circuit limits, margin), holds it until the configured latency has passed, then fills it
//! against the 5-level book of the ticks it sees: MARKET and marketable LIMIT walk the depth
//! with partial fills, resting LIMITs fill when the market trades through, SL and SL-M wait
//! for their trigger, IOC cancels what arrival cannot fill. kite-sim's exchange runs the same
//! model, so PAPER and the simulator never disagree about a fill. A price of zero or less is
//! never a fill.

use super::fill_model::*;

use crate::clock::ist_date;
use crate::domain::*;

/// The rules the paper exchange applies, from `execution:` in the config.
#[derive(Clone, Debug)]
pub struct PaperRules {
    /// Order to exchange, ns of feed receive time (0: the book the order was decided on).
    pub latency_ns: u64,
    /// MARKET with no depth shown fills at the last price moved this far against it.
    pub no_depth_slippage_bps: f64,
    /// Circuit limits this far around the previous close (0: not checked).
    pub price_band_pct: f64,
    /// Margin the paper account has, paise (0: not checked).
    pub margin_paise: i64,
    /// Margin per unit of notional, basis points.
    pub margin_bps: i64,
    pub market_protection: f64,
    pub freeze: Option<FreezeSchedule>,
}

impl Default for PaperRules {
    fn default() -> Self {
        PaperRules {
            latency_ns: 0,
            no_depth_slippage_bps: 2.0,
            price_band_pct: 0.0,
            margin_paise: 0,
            margin_bps: 2000,
            market_protection: -1.0,
            freeze: None,
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct PaperOrder {
    intent: OrderIntent,
    idx: usize,
    divisor: i64,
    tick: i64,
    order: WorkingOrder,
    modifications: u8,
}

/// Kite refuses a 26th modification of one order.
pub const MAX_MODIFICATIONS: u8 = 25;

pub struct PaperBroker<M: FillModel = DepthWalk, L: LatencyModel = FixedLatency> {
    model: M,
    latency: L,
    rules: PaperRules,
    books: Vec<Option<Book>>,
    working: Vec<PaperOrder>,
    ledger: Ledger,
}

impl PaperBroker {
    pub fn new(rules: PaperRules, instruments: usize) -> Self {
        let model = DepthWalk {
            no_depth_slippage_bps: rules.no_depth_slippage_bps,
        };
        let latency = FixedLatency {
            ns: rules.latency_ns,
        };
        PaperBroker::with_models(model, latency, rules, instruments)
    }
}

impl<M: FillModel, L: LatencyModel> PaperBroker<M, L> {
    pub fn with_models(model: M, latency: L, rules: PaperRules, instruments: usize) -> Self {
        PaperBroker {
            model,
            latency,
            rules,
            books: vec![None; instruments],
            working: Vec::with_capacity(256),
            ledger: Ledger::new(instruments),
        }
    }

    /// The paper account's net position in instrument `idx` (units, long > 0).
    pub fn net(&self, idx: usize) -> i64 {
        self.ledger.row(idx).net()
    }

    /// Orders still working at the paper exchange.
    pub fn working(&self) -> usize {
        self.working.len()
    }

    /// Matches working order `i` against its book; reports what changed and drops it when
    /// done. True when the order left the book.
    fn run_match(&mut self, i: usize, now_ns: u64, report: &mut impl FnMut(OrderUpdate)) -> bool {
        let w = &mut self.working[i];
        let Some(book) = self.books[w.idx] else {
            return false;
        };
        let m = match_order(&self.model, &mut w.order, &book, w.tick, now_ns);
        if !m.changed() {
            return false;
        }
        let ts = book.ts.max(w.intent.ts);
        let mut cum = w.order.filled - m.executions.qty();
        for e in m.executions.as_slice() {
            cum += e.qty;
            self.ledger
                .on_execution(w.idx, w.intent.side, *e, w.divisor);
            report(OrderUpdate {
                id: w.intent.id,
                token: w.intent.token,
                kind: OrderUpdateKind::Fill {
                    cum_qty: Qty(cum),
                    last_qty: Qty(e.qty),
                    last_price: Price(e.price),
                },
                ts,
            });
        }
        let (id, token) = (w.intent.id, w.intent.token);
        let done = w.order.pending() == 0;
        if m.expired {
            report(OrderUpdate {
                id,
                token,
                kind: OrderUpdateKind::Cancelled,
                ts,
            });
        } else if m.triggered && !done && m.executions.is_empty() {
            report(OrderUpdate {
                id,
                token,
                kind: OrderUpdateKind::Status(BrokerStatus::Open),
                ts,
            });
        }
        if done || m.expired {
            self.working.swap_remove(i);
            return true;
        }
        false
    }

    /// Updates the book and matches the orders working in that instrument.
    pub fn on_tick(
        &mut self,
        idx: usize,
        t: &Tick,
        now_ns: u64,
        mut report: impl FnMut(OrderUpdate),
    ) {
        if idx >= self.books.len() {
            return;
        }
        self.books[idx] = Some(Book::of(t));
        let mut i = 0;
        while i < self.working.len() {
            if self.working[i].idx == idx && self.run_match(i, now_ns, &mut report) {
                continue;
            }
            i += 1;
        }
    }

    fn rms_view(&self, idx: usize, inst: &Instrument, o: &OrderIntent) -> RmsView {
        let tick = inst.tick_size.0.max(1);
        let last = self.books[idx].map(|b| b.last_price).unwrap_or(0);
        let margin_free = (self.rules.margin_paise > 0).then(|| {
            let open: i64 = self
                .working
                .iter()
                .map(|w| {
                    let last = self.books[w.idx].map(|b| b.last_price).unwrap_or(0);
                    order_margin(&w.order, last, w.divisor, self.rules.margin_bps)
                })
                .sum();
            self.rules.margin_paise - open - self.ledger.held_margin(self.rules.margin_bps)
        });
        RmsView {
            band: PriceBand::around(inst.last_price.0, self.rules.price_band_pct, tick),
            freeze_qty: self
                .rules
                .freeze
                .as_ref()
                .and_then(|f| f.max_order_qty(inst, ist_date(o.ts as i64))),
            margin_free,
            margin_bps: self.rules.margin_bps,
            last_price: last,
            closes: self.ledger.row(idx).closes(o.side, o.qty.0),
        }
    }

    /// Accepts or rejects an order; an accepted one is matched at once when there is no
    /// latency to wait out (`now_ns` is the feed receive time it was decided on).
    pub fn place(
        &mut self,
        idx: usize,
        inst: &Instrument,
        o: &OrderIntent,
        now_ns: u64,
        mut report: impl FnMut(OrderUpdate),
    ) {
        if idx >= self.books.len() {
            return report(o.update(OrderUpdateKind::Rejected(RejectReason::UnknownInstrument)));
        }
        let req = OrderRequest {
            side: o.side,
            order_type: o.order_type,
            qty: o.qty.0,
            price: o.price.0,
            trigger: o.trigger.0,
            market_protection: self.rules.market_protection,
        };
        if let Err(r) = check_order(inst, &req, &self.rms_view(idx, inst, o)) {
            return report(o.update(OrderUpdateKind::Rejected(r.reason())));
        }
        let last = self.books[idx].map(|b| b.last_price).unwrap_or(0);
        let mut po = self.paper_order(idx, inst, o, last);
        let delay = self.latency.to_exchange_ns();
        po.order.at_exchange_ns = if delay == 0 {
            0
        } else {
            now_ns.saturating_add(delay)
        };
        report(o.update(OrderUpdateKind::Status(if o.order_type.is_stop() {
            BrokerStatus::TriggerPending
        } else {
            BrokerStatus::Open
        })));
        self.working.push(po);
        if delay == 0 {
            let i = self.working.len() - 1;
            self.run_match(i, now_ns, &mut report);
        }
    }

    /// The exchange's view of an order in instrument `idx`: a MARKET or SL-M is capped by
    /// market protection around `last` (or its trigger).
    fn paper_order(&self, idx: usize, inst: &Instrument, o: &OrderIntent, last: i64) -> PaperOrder {
        let tick = inst.tick_size.0.max(1);
        let mut order = WorkingOrder::new(o.side, o.order_type, o.qty.0, o.price.0, o.trigger.0);
        order.ioc = o.validity == Validity::Ioc;
        if o.order_type.is_market() {
            let reference = if o.order_type.is_stop() {
                o.trigger.0
            } else {
                last
            };
            order.price = protection_cap(o.side, reference, self.rules.market_protection, tick);
        }
        PaperOrder {
            intent: *o,
            idx,
            divisor: inst.divisor(),
            tick,
            order,
            modifications: 0,
        }
    }

    /// Fills the account had before a restart (`price` the order's average).
    pub fn resume_fill(&mut self, idx: usize, side: Side, qty: i64, price: i64, divisor: i64) {
        if idx < self.books.len() && qty > 0 {
            self.ledger
                .on_execution(idx, side, Execution { qty, price }, divisor);
        }
    }

    /// An order the journal says was working when the process died, back in the book as it
    /// was (its fills so far counted): no checks and no reports, risk already knows it.
    pub fn resume(&mut self, idx: usize, inst: &Instrument, o: &OrderIntent, filled: i64) {
        if idx >= self.books.len() || filled >= o.qty.0 {
            return;
        }
        let last = self.books[idx].map_or(inst.last_price.0, |b| b.last_price);
        let mut po = self.paper_order(idx, inst, o, last);
        po.order.filled = filled;
        self.working.push(po);
    }

    pub fn cancel(
        &mut self,
        id: OrderId,
        token: Token,
        ts: u32,
        mut report: impl FnMut(OrderUpdate),
    ) {
        if let Some(pos) = self.working.iter().position(|w| w.intent.id == id) {
            self.working.swap_remove(pos);
            report(OrderUpdate {
                id,
                token,
                kind: OrderUpdateKind::Cancelled,
                ts,
            });
        }
    }

    /// Changes a working order's quantity, price and trigger (zero keeps the old value), at
    /// most `MAX_MODIFICATIONS` times as on Kite; a refused change answers NOT MODIFIED.
    #[allow(clippy::too_many_arguments)]
    pub fn modify(
        &mut self,
        id: OrderId,
        token: Token,
        qty: Qty,
        price: Price,
        trigger: Price,
        ts: u32,
        now_ns: u64,
        mut report: impl FnMut(OrderUpdate),
    ) {
        let Some(i) = self.working.iter().position(|w| w.intent.id == id) else {
            return;
        };
        let w = &mut self.working[i];
        let tick = w.tick;
        let on_grid = |p: i64| p == 0 || p % tick == 0;
        let refused = w.modifications >= MAX_MODIFICATIONS
            || (qty.0 != 0 && qty.0 <= w.order.filled)
            || !on_grid(price.0)
            || !on_grid(trigger.0)
            || (trigger.0 != 0 && w.order.triggered && w.order.order_type.is_stop());
        let status = |s| OrderUpdate {
            id,
            token,
            kind: OrderUpdateKind::Status(s),
            ts,
        };
        if refused {
            return report(status(BrokerStatus::NotModified));
        }
        w.modifications += 1;
        if qty.0 != 0 {
            w.order.qty = qty.0;
            w.intent.qty = qty;
        }
        if price.0 != 0 && w.order.order_type.has_limit() {
            w.order.price = price.0;
        }
        if trigger.0 != 0 {
            w.order.trigger = trigger.0;
            w.intent.trigger = trigger;
            if w.order.order_type == OrderType::StopMarket {
                let mp = self.rules.market_protection;
                w.order.price = protection_cap(w.order.side, trigger.0, mp, tick);
            }
        }
        report(status(BrokerStatus::Modified));
        self.run_match(i, now_ns, &mut report);
    }
}

#[cfg(test)]
#[path = "paper_tests.rs"]
mod tests;
