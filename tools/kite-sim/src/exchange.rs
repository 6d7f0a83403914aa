//! The simulator's exchange and OMS: validates orders the way Kite does (input errors as
//! HTTP 400 InputException with no order; exchange and RMS failures as an order that goes
//! REJECTED), matches them against the market's book, keeps order history, trades and
//! positions, and pushes every change as a WebSocket `order` message. The checks and the
//! matching are aitrapp's `exec::fill_model`, the same code the paper broker runs, so the
//! simulator and PAPER never disagree about a fill.

use aitrapp::domain::FreezeSchedule;
use aitrapp::domain::{Instrument, InstrumentMaster, OrderType, Side, Tick};
use aitrapp::exec::fill_model::{
    check_order, match_order, order_margin, protection_cap, Book, DepthWalk, Execution, Ledger,
    OrderRequest, PriceBand, RmsView, WorkingOrder,
};
use serde_json::{json, Value};
use std::sync::Arc;

#[derive(Clone, Debug)]
pub struct SimOrder {
    pub order_id: String,
    pub tag: Option<String>,
    /// The `algo_id` form field, kept so tests can see what a client sent.
    pub algo_id: Option<String>,
    pub inst: Instrument,
    /// Side, type, quantity, prices (native units), fills and trigger state: the model's.
    pub w: WorkingOrder,
    /// The limit price as placed (MARKET and SL-M: 0; `w.price` holds their protection cap).
    pub price: i64,
    pub market_protection: f64,
    pub product: String,
    pub status: &'static str,
    pub status_message: Option<String>,
    /// Sum of fill price x quantity, native units.
    pub filled_value: i128,
    pub timestamp: String,
    pub history: Vec<Value>,
}

impl SimOrder {
    fn pending(&self) -> i64 {
        self.w.pending()
    }
    fn is_terminal(&self) -> bool {
        matches!(self.status, "COMPLETE" | "CANCELLED" | "REJECTED")
    }
    pub fn to_json(&self) -> Value {
        let d = self.inst.divisor() as f64;
        let filled = self.w.filled;
        let avg = if filled > 0 {
            (self.filled_value / filled as i128) as f64 / d
        } else {
            0.0
        };
        json!({
            "account_id": "SIM001", "placed_by": "SIM001",
            "order_id": self.order_id, "exchange_order_id": if self.status == "REJECTED" { Value::Null } else { json!(format!("X{}", self.order_id)) },
            "parent_order_id": null, "status": self.status,
            "status_message": self.status_message, "status_message_raw": self.status_message,
            "order_timestamp": self.timestamp, "exchange_update_timestamp": self.timestamp,
            "exchange_timestamp": self.timestamp, "variety": "regular", "modified": false,
            "exchange": self.inst.exchange.as_str(), "tradingsymbol": self.inst.tradingsymbol.as_str(),
            "instrument_token": self.inst.token.0, "order_type": self.w.order_type.as_str(),
            "transaction_type": self.w.side.as_str(), "validity": if self.w.ioc { "IOC" } else { "DAY" },
            "validity_ttl": 0, "product": self.product, "quantity": self.w.qty,
            "disclosed_quantity": 0, "price": self.price as f64 / d,
            "trigger_price": self.w.trigger as f64 / d, "average_price": avg,
            "filled_quantity": filled, "pending_quantity": if self.is_terminal() { 0 } else { self.pending() },
            "cancelled_quantity": if self.status == "CANCELLED" { self.pending() } else { 0 },
            "market_protection": self.market_protection, "meta": {}, "tag": self.tag, "algo_id": self.algo_id,
            "tags": self.tag.as_ref().map(|t| vec![t.clone()]).unwrap_or_default(), "guid": null,
        })
    }
}

/// Why a place request failed before an order existed (HTTP 400 InputException).
#[derive(Debug, PartialEq)]
pub struct InputError(pub String);

pub struct Exchange {
    master: Arc<InstrumentMaster>,
    pub orders: Vec<SimOrder>,
    pub trades: Vec<Value>,
    /// Day positions by master index.
    pub ledger: Ledger,
    next_id: u64,
    /// Rupees the account may commit as margin (`margin_bps` of notional per open order or
    /// position).
    pub margin_available: f64,
    pub margin_bps: i64,
    /// Circuit limits this many percent around the previous close (the paper broker's
    /// `execution.paper_price_band_pct`).
    pub price_band_pct: f64,
    pub freeze: FreezeSchedule,
    model: DepthWalk,
}

/// Time of day in IST for order timestamps, `yyyy-mm-dd hh:mm:ss`.
fn ist_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
        + 19_800;
    let days = secs.div_euclid(86_400);
    let (y, m, d) = aitrapp::clock::civil_from_days(days);
    let s = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

fn units(v: Option<&str>, divisor: i64) -> Option<i64> {
    match v {
        None | Some("") => Some(0),
        Some(s) => aitrapp::domain::parse_units(s, divisor),
    }
}

impl Exchange {
    pub fn new(master: Arc<InstrumentMaster>) -> Exchange {
        let n = master.len();
        Exchange {
            master,
            orders: Vec::new(),
            trades: Vec::new(),
            ledger: Ledger::new(n),
            next_id: 0,
            margin_available: 5_000_000.0,
            margin_bps: 2000,
            price_band_pct: 20.0,
            freeze: FreezeSchedule::shipped(),
            model: DepthWalk {
                no_depth_slippage_bps: 2.0,
            },
        }
    }

    /// Margin the open orders and positions hold, paise.
    fn margin_used_paise(&self, last: impl Fn(&Instrument) -> i64) -> i64 {
        let open: i64 = self
            .orders
            .iter()
            .filter(|o| !o.is_terminal())
            .map(|o| order_margin(&o.w, last(&o.inst), o.inst.divisor(), self.margin_bps))
            .sum();
        open + self.ledger.held_margin(self.margin_bps)
    }

    pub fn margin_used(&self) -> f64 {
        self.margin_used_paise(|_| 0) as f64 / 100.0
    }

    /// Places an order from Kite's form fields; the order may already be filled or rejected
    /// when this returns. Returns the order id and the updates to push.
    pub fn place(
        &mut self,
        form: &[(String, String)],
        last_tick: impl Fn(&Instrument) -> Option<Tick>,
    ) -> Result<(String, Vec<Value>), InputError> {
        let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        let need = |k: &str| get(k).ok_or_else(|| InputError(format!("Missing `{k}`")));
        let (ex, sym) = (need("exchange")?, need("tradingsymbol")?);
        let inst = *self
            .master
            .find(ex, sym)
            .ok_or_else(|| InputError(format!("Invalid `tradingsymbol`: {ex}:{sym}")))?;
        let side = match need("transaction_type")? {
            "BUY" => Side::Buy,
            "SELL" => Side::Sell,
            other => return Err(InputError(format!("Invalid `transaction_type`: {other}"))),
        };
        let order_type = OrderType::parse(need("order_type")?)
            .ok_or_else(|| InputError("Invalid `order_type`".into()))?;
        let qty: i64 = need("quantity")?
            .parse()
            .map_err(|_| InputError("Invalid `quantity`".into()))?;
        let d = inst.divisor();
        let price = units(get("price"), d).ok_or_else(|| InputError("Invalid `price`".into()))?;
        let trigger = units(get("trigger_price"), d)
            .ok_or_else(|| InputError("Invalid `trigger_price`".into()))?;
        let market_protection = get("market_protection")
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0);
        let tag = get("tag").filter(|t| !t.is_empty()).map(str::to_string);
        if tag
            .as_ref()
            .is_some_and(|t| t.len() > 20 || !t.chars().all(|c| c.is_ascii_alphanumeric()))
        {
            return Err(InputError(
                "Invalid `tag`: at most 20 alphanumeric characters".into(),
            ));
        }
        let req = OrderRequest {
            side,
            order_type,
            qty,
            price: if order_type.has_limit() { price } else { 0 },
            trigger: if order_type.is_stop() { trigger } else { 0 },
            market_protection,
        };
        let book = last_tick(&inst);
        let last = book.map(|t| t.last_price as i64).unwrap_or(0);
        let tick = inst.tick_size.0.max(1);
        let free = (self.margin_available * 100.0) as i64
            - self.margin_used_paise(|i| last_tick(i).map_or(0, |t| t.last_price as i64));
        let idx = self.master.index_of(inst.token).unwrap_or(usize::MAX);
        let rms = RmsView {
            band: PriceBand::around(inst.last_price.0, self.price_band_pct, tick),
            freeze_qty: self
                .freeze
                .max_order_qty(&inst, aitrapp::clock::today_ist()),
            margin_free: Some(free),
            margin_bps: self.margin_bps,
            last_price: last,
            closes: self.ledger.row(idx).closes(side, qty),
        };
        // Input errors are HTTP 400 with no order; the rest are orders that go REJECTED.
        let checked = check_order(&inst, &req, &rms);
        if let Err(r) = checked {
            if r.is_input_error() {
                return Err(InputError(r.message(&req, d)));
            }
        }
        self.next_id += 1;
        let ts = ist_now();
        let mut w = WorkingOrder::new(side, order_type, qty, req.price, req.trigger);
        w.ioc = get("validity") == Some("IOC");
        if order_type.is_market() {
            let reference = if order_type.is_stop() {
                req.trigger
            } else {
                last
            };
            w.price = protection_cap(side, reference, market_protection, tick);
        }
        let mut o = SimOrder {
            order_id: format!("2611250{:08}", self.next_id),
            tag,
            algo_id: get("algo_id").filter(|a| !a.is_empty()).map(str::to_string),
            inst,
            w,
            price: req.price,
            market_protection,
            product: get("product").unwrap_or("MIS").to_string(),
            status: "PUT ORDER REQ RECEIVED",
            status_message: None,
            filled_value: 0,
            timestamp: ts,
            history: Vec::new(),
        };
        for st in [
            "PUT ORDER REQ RECEIVED",
            "VALIDATION PENDING",
            "OPEN PENDING",
        ] {
            o.status = st;
            o.history.push(o.to_json());
        }
        match checked {
            Err(r) => {
                o.status = "REJECTED";
                o.status_message = Some(r.message(&req, d));
            }
            Ok(()) => {
                o.status = if order_type.is_stop() {
                    "TRIGGER PENDING"
                } else {
                    "OPEN"
                };
            }
        }
        o.history.push(o.to_json());
        let id = o.order_id.clone();
        self.orders.push(o);
        let i = self.orders.len() - 1;
        if let Some(t) = book {
            self.match_order(i, &t);
        }
        Ok((id, vec![self.orders[i].to_json()]))
    }

    /// An order that can still change, or why not.
    fn open_order(&mut self, order_id: &str) -> Result<&mut SimOrder, String> {
        let o = self
            .orders
            .iter_mut()
            .find(|o| o.order_id == order_id)
            .ok_or_else(|| format!("Order {order_id} not found"))?;
        if o.is_terminal() {
            return Err(format!("Order {order_id} is already {}", o.status));
        }
        Ok(o)
    }

    /// Modifies an open order (quantity, price, trigger, order type); at most 25 times, as
    /// on Kite.
    pub fn modify(&mut self, order_id: &str, form: &[(String, String)]) -> Result<Value, String> {
        let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        let o = self.open_order(order_id)?;
        let modifications = o
            .history
            .iter()
            .filter(|h| h["status"] == "MODIFIED")
            .count();
        if modifications >= 25 {
            return Err("Maximum allowed order modifications exceeded".into());
        }
        let d = o.inst.divisor();
        let tick = o.inst.tick_size.0.max(1);
        if let Some(q) = get("quantity") {
            let q: i64 = q.parse().map_err(|_| "Invalid `quantity`".to_string())?;
            if q <= o.w.filled || q % o.inst.lot_size.max(1) as i64 != 0 {
                return Err(format!("Invalid `quantity` {q}"));
            }
            o.w.qty = q;
        }
        if let Some(k) = get("order_type").and_then(OrderType::parse) {
            o.w.order_type = k;
        }
        if let Some(p) = get("price") {
            let p = units(Some(p), d).ok_or_else(|| "Invalid `price`".to_string())?;
            if p % tick != 0 {
                return Err("Price is not a multiple of the tick size".into());
            }
            o.price = p;
            if o.w.order_type.has_limit() {
                o.w.price = p;
            }
        }
        if let Some(p) = get("trigger_price") {
            let p = units(Some(p), d).ok_or_else(|| "Invalid `trigger_price`".to_string())?;
            if p <= 0 || p % tick != 0 {
                return Err("Trigger price is not a multiple of the tick size".into());
            }
            if o.w.triggered && o.w.order_type.is_stop() {
                return Err("Trigger price cannot be modified for a triggered order".into());
            }
            o.w.trigger = p;
            if o.w.order_type == OrderType::StopMarket {
                o.w.price = protection_cap(o.w.side, p, o.market_protection, tick);
            }
        }
        let resting = if o.w.order_type.is_stop() && !o.w.triggered {
            "TRIGGER PENDING"
        } else {
            "OPEN"
        };
        for st in [
            "MODIFY VALIDATION PENDING",
            "MODIFY PENDING",
            "MODIFIED",
            resting,
        ] {
            o.status = st;
            o.history.push(o.to_json());
        }
        Ok(o.to_json())
    }

    /// Cancels an open order; its update, or an error message.
    pub fn cancel(&mut self, order_id: &str) -> Result<Value, String> {
        let o = self.open_order(order_id)?;
        o.status = "CANCEL PENDING";
        o.history.push(o.to_json());
        o.status = "CANCELLED";
        o.history.push(o.to_json());
        Ok(o.to_json())
    }

    /// New market data: fills and triggers; returns the updates to push.
    pub fn on_ticks(&mut self, ticks: &[Tick]) -> Vec<Value> {
        let mut out = Vec::new();
        for t in ticks {
            for i in 0..self.orders.len() {
                let o = &self.orders[i];
                if o.is_terminal() || o.inst.token != t.token {
                    continue;
                }
                if self.match_order(i, t) {
                    out.push(self.orders[i].to_json());
                }
            }
        }
        out
    }

    /// Runs the shared fill model on order `i`; true when the order changed.
    fn match_order(&mut self, i: usize, t: &Tick) -> bool {
        let o = &mut self.orders[i];
        if o.is_terminal() {
            return false;
        }
        let tick = o.inst.tick_size.0.max(1);
        let m = match_order(&self.model, &mut o.w, &Book::of(t), tick, 0);
        if !m.changed() {
            return false;
        }
        let (side, inst) = (o.w.side, o.inst);
        let idx = self.master.index_of(inst.token).unwrap_or(usize::MAX);
        for e in m.executions.as_slice() {
            let Execution { qty: q, price: px } = *e;
            o.filled_value += px as i128 * q as i128;
            self.trades.push(json!({
                "trade_id": format!("T{}", self.trades.len() + 1), "order_id": o.order_id,
                "exchange_order_id": format!("X{}", o.order_id), "exchange": inst.exchange.as_str(),
                "tradingsymbol": inst.tradingsymbol.as_str(), "instrument_token": inst.token.0,
                "product": o.product, "average_price": px as f64 / inst.divisor() as f64,
                "quantity": q, "transaction_type": side.as_str(),
                "fill_timestamp": ist_now(), "order_timestamp": o.timestamp, "exchange_timestamp": ist_now(),
            }));
            self.ledger.on_execution(idx, side, *e, inst.divisor());
        }
        o.status = if o.pending() == 0 {
            "COMPLETE"
        } else if m.expired {
            "CANCELLED"
        } else {
            "OPEN"
        };
        o.history.push(o.to_json());
        true
    }

    pub fn positions_json(&self, last: impl Fn(u32) -> Option<i64>) -> Value {
        let net: Vec<Value> = self
            .ledger
            .traded()
            .map(|(idx, p)| {
                let inst = self.master.by_index(idx);
                let tok = inst.token.0;
                let d = inst.divisor() as f64;
                let qty = p.net();
                let ltp = last(tok).unwrap_or(0) as f64 / d;
                let (buy, sell) = (p.avg_buy() as f64 / d, p.avg_sell() as f64 / d);
                let realised = (sell - buy) * p.buy_qty.min(p.sell_qty) as f64;
                json!({
                    "tradingsymbol": inst.tradingsymbol.as_str(), "exchange": inst.exchange.as_str(),
                    "instrument_token": tok, "product": "MIS", "quantity": qty,
                    "overnight_quantity": 0, "multiplier": 1,
                    "average_price": p.open_price() as f64 / d,
                    "last_price": ltp, "realised": realised,
                    "buy_quantity": p.buy_qty, "buy_price": buy,
                    "buy_value": p.buy_value as f64 / d, "sell_quantity": p.sell_qty,
                    "sell_price": sell, "sell_value": p.sell_value as f64 / d,
                    "day_buy_quantity": p.buy_qty, "day_sell_quantity": p.sell_qty,
                })
            })
            .collect();
        json!({"net": net.clone(), "day": net})
    }
}
