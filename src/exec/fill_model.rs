//! The exchange model both the paper broker and kite-sim's exchange use, so PAPER and the
//! simulator never disagree about a fill: what the exchange or Kite's RMS rejects
//! ([`check_order`]), when an order reaches the book ([`LatencyModel`]) and what it fills
//! there ([`FillModel`], [`match_order`]).
//!
//! Prices are native units (paise on NSE), quantities units, money paise.

use crate::domain::*;

/// The part of a tick an order can trade against: 5 levels a side and the last trade.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Book {
    pub bids: [DepthLevel; 5],
    pub asks: [DepthLevel; 5],
    pub last_price: i64,
    pub ts: u32,
}

impl Book {
    pub fn of(t: &Tick) -> Book {
        Book {
            bids: t.buy,
            asks: t.sell,
            last_price: t.last_price as i64,
            ts: t.exchange_timestamp,
        }
    }
    /// The levels an order on `side` takes (a buy takes the asks).
    fn opposite(&self, side: Side) -> &[DepthLevel; 5] {
        match side {
            Side::Buy => &self.asks,
            Side::Sell => &self.bids,
        }
    }
}

/// An order at the exchange, as the model sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WorkingOrder {
    pub side: Side,
    pub order_type: OrderType,
    pub qty: i64,
    /// LIMIT and SL: the limit. MARKET and SL-M: the market-protection cap (0: none).
    pub price: i64,
    pub trigger: i64,
    pub ioc: bool,
    pub filled: i64,
    pub triggered: bool,
    /// Has met the book once (arrival is when IOC decides and a resting limit starts).
    pub arrived: bool,
    /// Monotonic ns from which the order is at the exchange (placement + latency).
    pub at_exchange_ns: u64,
}

impl WorkingOrder {
    pub fn new(side: Side, order_type: OrderType, qty: i64, price: i64, trigger: i64) -> Self {
        WorkingOrder {
            side,
            order_type,
            qty,
            price,
            trigger,
            ioc: false,
            filled: 0,
            triggered: !order_type.is_stop(),
            arrived: false,
            at_exchange_ns: 0,
        }
    }
    pub fn pending(&self) -> i64 {
        self.qty - self.filled
    }
    /// The worst price it may fill at, if any.
    fn limit(&self) -> Option<i64> {
        (self.price > 0).then_some(self.price)
    }
}

/// One execution: quantity at a price.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Execution {
    pub qty: i64,
    pub price: i64,
}

/// The executions of one match, at most one per depth level plus one more; no allocation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Executions {
    n: usize,
    list: [Execution; 6],
}

impl Executions {
    pub fn push(&mut self, qty: i64, price: i64) {
        if qty > 0 && self.n < self.list.len() {
            self.list[self.n] = Execution { qty, price };
            self.n += 1;
        }
    }
    pub fn as_slice(&self) -> &[Execution] {
        &self.list[..self.n]
    }
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }
    pub fn qty(&self) -> i64 {
        self.as_slice().iter().map(|e| e.qty).sum()
    }
}

/// What the book does to a (triggered) order: its executions for this book.
pub trait FillModel {
    /// `arriving`: the order meets the book for the first time (on arrival, or when its
    /// trigger was hit on this book); a resting order is matched with `arriving` false.
    fn fill(&self, o: &WorkingOrder, book: &Book, arriving: bool, tick: i64, out: &mut Executions);
}

/// Depth walk with trade-through: the model of a price-time-priority book seen 5 levels
/// deep (NSE's matching engine through Kite's full-mode depth). A marketable order takes
/// the opposite levels in price order, each at most its shown quantity, never past its
/// limit (a MARKET order under market protection has one); what is left waits for later
/// books. A resting limit with nothing to take fills in full at its own price once the last
/// trade goes strictly through it: with no view of the queue ahead, only a trade through the
/// price proves the queue there was cleared (hftbacktest's conservative queue model). With
/// no depth on the opposite side (LTP or quote mode) a market order fills at the last price
/// moved `no_depth_slippage_bps` against it, on the tick grid.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DepthWalk {
    pub no_depth_slippage_bps: f64,
}

impl FillModel for DepthWalk {
    fn fill(&self, o: &WorkingOrder, book: &Book, arriving: bool, tick: i64, out: &mut Executions) {
        let limit = o.limit();
        let within = |px: i64| match (o.side, limit) {
            (_, None) => true,
            (Side::Buy, Some(l)) => px <= l,
            (Side::Sell, Some(l)) => px >= l,
        };
        let mut left = o.pending();
        let levels = book.opposite(o.side);
        let mut depth = false;
        for l in levels.iter().filter(|l| l.quantity > 0 && l.price > 0) {
            depth = true;
            let px = l.price as i64;
            if left == 0 || !within(px) {
                break;
            }
            let q = left.min(l.quantity as i64);
            out.push(q, px);
            left -= q;
        }
        if !out.is_empty() || left == 0 || book.last_price <= 0 {
            return;
        }
        if !depth && o.order_type.is_market() {
            let slip = (book.last_price as f64 * self.no_depth_slippage_bps / 10_000.0).round();
            let px = round_against(book.last_price + o.side.sign() * slip as i64, o.side, tick);
            if px > 0 && within(px) {
                out.push(left, px);
            }
            return;
        }
        if let (false, Some(l)) = (arriving, limit) {
            let through = match o.side {
                Side::Buy => book.last_price < l,
                Side::Sell => book.last_price > l,
            };
            if through {
                out.push(left, l);
            }
        }
    }
}

/// The cap a MARKET or SL-M order under `market_protection` percent carries: Kite turns it
/// into a limit that far beyond the reference price (the last trade, or the trigger). -1
/// (Kite decides) and 0 give no cap here.
pub fn protection_cap(side: Side, reference: i64, market_protection: f64, tick: i64) -> i64 {
    if market_protection <= 0.0 || reference <= 0 {
        return 0;
    }
    let d = (reference as f64 * market_protection / 100.0) as i64;
    match side {
        Side::Buy => round_against(reference + d, Side::Sell, tick),
        Side::Sell => round_against(reference - d, Side::Buy, tick).max(tick.max(1)),
    }
}

/// How long an order takes to reach the book.
pub trait LatencyModel {
    fn to_exchange_ns(&self) -> u64;
}

/// A fixed order-to-exchange delay: the model is the one number an operator measures
/// (Kite's REST round trip plus the exchange hop, tens of ms from a Mumbai host).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FixedLatency {
    pub ns: u64,
}

impl LatencyModel for FixedLatency {
    fn to_exchange_ns(&self) -> u64 {
        self.ns
    }
}

/// What one match did to an order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Matched {
    pub executions: Executions,
    /// The trigger was hit on this book.
    pub triggered: bool,
    /// IOC: what was left on arrival is cancelled.
    pub expired: bool,
}

impl Matched {
    pub fn changed(&self) -> bool {
        !self.executions.is_empty() || self.triggered || self.expired
    }
}

/// Matches an order against a book at monotonic time `now_ns`: the one place triggers, the
/// fill model and IOC expiry meet, for the paper broker and kite-sim alike.
pub fn match_order(
    model: &impl FillModel,
    o: &mut WorkingOrder,
    book: &Book,
    tick: i64,
    now_ns: u64,
) -> Matched {
    let mut m = Matched::default();
    if o.pending() <= 0 || now_ns < o.at_exchange_ns || book.last_price <= 0 {
        return m;
    }
    let mut arriving = !o.arrived;
    o.arrived = true;
    if !o.triggered {
        let hit = match o.side {
            Side::Buy => book.last_price >= o.trigger,
            Side::Sell => book.last_price <= o.trigger,
        };
        if !hit {
            return m;
        }
        o.triggered = true;
        m.triggered = true;
        arriving = true;
    }
    model.fill(o, book, arriving, tick, &mut m.executions);
    o.filled += m.executions.qty();
    if o.ioc && arriving && o.pending() > 0 {
        m.expired = true;
    }
    m
}

/// The day's circuit limits for an instrument, native units.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PriceBand {
    pub lower: i64,
    pub upper: i64,
}

impl PriceBand {
    /// `pct` percent either side of `reference` (the previous close), on the tick grid
    /// inside the band. Used where the real limits are not known (the synthetic market,
    /// kite-sim); in LIVE the limits come from Kite's quote.
    pub fn around(reference: i64, pct: f64, tick: i64) -> Option<PriceBand> {
        if reference <= 0 || pct <= 0.0 {
            return None;
        }
        let d = (reference as f64 * pct / 100.0) as i64;
        let t = tick.max(1);
        Some(PriceBand {
            lower: round_against(reference - d, Side::Buy, t),
            upper: round_against(reference + d, Side::Sell, t),
        })
    }
    pub fn contains(&self, px: i64) -> bool {
        px >= self.lower && px <= self.upper
    }
}

/// An order as it is asked for, before it exists.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OrderRequest {
    pub side: Side,
    pub order_type: OrderType,
    pub qty: i64,
    pub price: i64,
    pub trigger: i64,
    /// Kite's `market_protection`: -1 automatic, a percentage, or 0 (none).
    pub market_protection: f64,
}

/// What the exchange and the broker's RMS know when an order arrives.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RmsView {
    pub band: Option<PriceBand>,
    /// Largest units in one order (None: no limit for this instrument).
    pub freeze_qty: Option<i64>,
    /// Margin still free, paise (None: not checked).
    pub margin_free: Option<i64>,
    /// Margin one unit of notional needs, basis points (MIS: 20 % = 2000).
    pub margin_bps: i64,
    /// The price a MARKET order is valued at (the last trade).
    pub last_price: i64,
    /// Units of the order that close an open position: they need no margin.
    pub closes: i64,
}

/// Why an order was refused. Input errors are HTTP 400 from Kite with no order; the rest
/// are orders that go REJECTED.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rejection {
    NotTradable,
    LotMultiple { lot: i64 },
    TickMultiple { tick: i64 },
    BadTrigger,
    NoMarketProtection,
    FreezeQty { max: i64 },
    PriceBand { band: PriceBand },
    Margin { required: i64, free: i64 },
}

impl Rejection {
    pub fn is_input_error(&self) -> bool {
        matches!(
            self,
            Rejection::NotTradable
                | Rejection::LotMultiple { .. }
                | Rejection::TickMultiple { .. }
                | Rejection::BadTrigger
                | Rejection::NoMarketProtection
        )
    }
    pub fn reason(&self) -> RejectReason {
        match self {
            Rejection::NotTradable => RejectReason::NotTradable,
            Rejection::LotMultiple { .. } => RejectReason::LotMultiple,
            Rejection::TickMultiple { .. } | Rejection::BadTrigger => RejectReason::TickMultiple,
            Rejection::NoMarketProtection => RejectReason::NoMarketProtection,
            Rejection::FreezeQty { .. } => RejectReason::FreezeQty,
            Rejection::PriceBand { .. } => RejectReason::PriceBand,
            Rejection::Margin { .. } => RejectReason::Margin,
        }
    }
    /// Kite's wording, prices in rupees of `divisor` units.
    pub fn message(&self, req: &OrderRequest, divisor: i64) -> String {
        let r = |v: i64| format_rupees(v, divisor);
        match self {
            Rejection::NotTradable => "Instrument is not tradable".into(),
            Rejection::LotMultiple { lot } => format!(
                "Quantity should be a multiple of lot size {lot} (got {})",
                req.qty
            ),
            Rejection::TickMultiple { tick } => format!(
                "Price {} is not a multiple of tick size {}",
                r(req.price),
                r(*tick)
            ),
            Rejection::BadTrigger => "Invalid `trigger_price`".into(),
            Rejection::NoMarketProtection => "Market orders without market protection are not allowed via API. Please set market protection or use a Limit order".into(),
            Rejection::FreezeQty { max } => format!(
                "Quantity {} exceeds the freeze limit of {max} for this instrument",
                req.qty
            ),
            Rejection::PriceBand { band } => format!(
                "Your order price is lower than the current lower circuit limit of {} or higher than the upper circuit limit of {}",
                r(band.lower),
                r(band.upper)
            ),
            Rejection::Margin { required, free } => format!(
                "Insufficient funds. Required margin is {} but available margin is {}.",
                format_rupees(*required, 100),
                format_rupees((*free).max(0), 100)
            ),
        }
    }
}

/// Margin in paise that `qty` at `price` (native units) needs at `bps` of notional.
pub fn margin_for(qty: i64, price: i64, divisor: i64, bps: i64) -> i64 {
    let paise = qty.unsigned_abs() as i128 * price.max(0) as i128 * 100 / divisor.max(1) as i128;
    (paise * bps as i128 / 10_000) as i64
}

/// Margin a working order blocks: its unfilled quantity at the highest of its limit, its
/// trigger and the last price (the paper broker and kite-sim both charge it this way).
pub fn order_margin(o: &WorkingOrder, last: i64, divisor: i64, bps: i64) -> i64 {
    margin_for(o.pending(), o.price.max(o.trigger).max(last), divisor, bps)
}

/// Every check Kite and the exchange make on an order, in their order: input errors first
/// (lot, tick, trigger, market protection), then the exchange (freeze, circuit limits),
/// then the RMS (margin).
pub fn check_order(inst: &Instrument, req: &OrderRequest, rms: &RmsView) -> Result<(), Rejection> {
    if !inst.tradable() {
        return Err(Rejection::NotTradable);
    }
    let lot = inst.lot_size.max(1) as i64;
    if req.qty <= 0 || req.qty % lot != 0 {
        return Err(Rejection::LotMultiple { lot });
    }
    let tick = inst.tick_size.0.max(1);
    if req.order_type.has_limit() && (req.price <= 0 || req.price % tick != 0) {
        return Err(Rejection::TickMultiple { tick });
    }
    if req.order_type.is_stop() && (req.trigger <= 0 || req.trigger % tick != 0) {
        return Err(Rejection::BadTrigger);
    }
    if req.order_type.is_market() && req.market_protection == 0.0 {
        return Err(Rejection::NoMarketProtection);
    }
    if let Some(max) = rms.freeze_qty {
        if req.qty > max {
            return Err(Rejection::FreezeQty { max });
        }
    }
    if let Some(band) = rms.band {
        let priced = [
            req.order_type.has_limit().then_some(req.price),
            req.order_type.is_stop().then_some(req.trigger),
        ];
        if priced.into_iter().flatten().any(|p| !band.contains(p)) {
            return Err(Rejection::PriceBand { band });
        }
    }
    if let Some(free) = rms.margin_free {
        let px = if req.order_type.has_limit() {
            req.price
        } else if req.order_type.is_stop() {
            req.trigger
        } else {
            rms.last_price
        };
        let opens = (req.qty - rms.closes).max(0);
        let required = margin_for(opens, px, inst.divisor(), rms.margin_bps);
        if required > free {
            return Err(Rejection::Margin { required, free });
        }
    }
    Ok(())
}

/// Day positions per instrument (by master index) from the executions: what margin is held
/// against, and what kite-sim's positions endpoint reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LedgerRow {
    pub buy_qty: i64,
    pub buy_value: i128,
    pub sell_qty: i64,
    pub sell_value: i128,
    pub divisor: i64,
}

impl LedgerRow {
    pub fn net(&self) -> i64 {
        self.buy_qty - self.sell_qty
    }
    pub fn avg_buy(&self) -> i64 {
        if self.buy_qty > 0 {
            (self.buy_value / self.buy_qty as i128) as i64
        } else {
            0
        }
    }
    pub fn avg_sell(&self) -> i64 {
        if self.sell_qty > 0 {
            (self.sell_value / self.sell_qty as i128) as i64
        } else {
            0
        }
    }
    /// The average price of the side the net position is on.
    pub fn open_price(&self) -> i64 {
        match self.net() {
            n if n > 0 => self.avg_buy(),
            n if n < 0 => self.avg_sell(),
            _ => 0,
        }
    }
    /// Units an order on `side` of `qty` would close.
    pub fn closes(&self, side: Side, qty: i64) -> i64 {
        let n = self.net();
        match side {
            Side::Buy if n < 0 => qty.min(-n),
            Side::Sell if n > 0 => qty.min(n),
            _ => 0,
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct Ledger {
    rows: Vec<LedgerRow>,
}

impl Ledger {
    pub fn new(instruments: usize) -> Ledger {
        Ledger {
            rows: vec![LedgerRow::default(); instruments],
        }
    }
    pub fn on_execution(&mut self, idx: usize, side: Side, e: Execution, divisor: i64) {
        let Some(r) = self.rows.get_mut(idx) else {
            return;
        };
        r.divisor = divisor;
        let v = e.price as i128 * e.qty as i128;
        match side {
            Side::Buy => {
                r.buy_qty += e.qty;
                r.buy_value += v;
            }
            Side::Sell => {
                r.sell_qty += e.qty;
                r.sell_value += v;
            }
        }
    }
    pub fn row(&self, idx: usize) -> LedgerRow {
        self.rows.get(idx).copied().unwrap_or_default()
    }
    /// Rows with any execution today, with their index.
    pub fn traded(&self) -> impl Iterator<Item = (usize, &LedgerRow)> {
        self.rows
            .iter()
            .enumerate()
            .filter(|(_, r)| r.buy_qty > 0 || r.sell_qty > 0)
    }
    /// Margin the open positions hold, paise.
    pub fn held_margin(&self, bps: i64) -> i64 {
        self.traded()
            .map(|(_, r)| margin_for(r.net(), r.open_price(), r.divisor, bps))
            .sum()
    }
}

#[cfg(test)]
#[path = "fill_model_tests.rs"]
mod tests;
