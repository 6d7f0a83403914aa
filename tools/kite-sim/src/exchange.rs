//! The simulator's exchange and OMS: validates orders the way Kite does (input errors as
//! HTTP 400 InputException with no order; RMS failures as an order that goes REJECTED),
//! matches them against the market's book (MARKET walks the 5 depth levels and fills the rest
//! on later ticks, LIMIT fills when marketable or traded through, SL/SL-M trigger on the last
//! price, IOC cancels what it cannot fill at once), keeps order history, trades and positions,
//! and pushes every change as a WebSocket `order` message.

use aitrapp::domain::{Instrument, InstrumentMaster, Side, Tick};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Market,
    Limit,
    Sl,
    SlM,
}

impl Kind {
    fn parse(s: &str) -> Option<Kind> {
        match s {
            "MARKET" => Some(Kind::Market),
            "LIMIT" => Some(Kind::Limit),
            "SL" => Some(Kind::Sl),
            "SL-M" => Some(Kind::SlM),
            _ => None,
        }
    }
    fn as_str(self) -> &'static str {
        match self {
            Kind::Market => "MARKET",
            Kind::Limit => "LIMIT",
            Kind::Sl => "SL",
            Kind::SlM => "SL-M",
        }
    }
}

#[derive(Clone, Debug)]
pub struct SimOrder {
    pub order_id: String,
    pub tag: Option<String>,
    /// The `algo_id` form field, kept so tests can see what a client sent.
    pub algo_id: Option<String>,
    pub inst: Instrument,
    pub side: Side,
    pub kind: Kind,
    pub qty: i64,
    /// Native price units (paise for NSE).
    pub price: i64,
    pub trigger: i64,
    pub ioc: bool,
    pub product: String,
    pub status: &'static str,
    pub status_message: Option<String>,
    pub filled: i64,
    /// Sum of fill price x quantity, native units.
    pub filled_value: i128,
    pub triggered: bool,
    pub timestamp: String,
    pub history: Vec<Value>,
}

impl SimOrder {
    fn pending(&self) -> i64 {
        self.qty - self.filled
    }
    fn is_terminal(&self) -> bool {
        matches!(self.status, "COMPLETE" | "CANCELLED" | "REJECTED")
    }
    pub fn to_json(&self) -> Value {
        let d = self.inst.divisor() as f64;
        let avg = if self.filled > 0 {
            (self.filled_value / self.filled as i128) as f64 / d
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
            "instrument_token": self.inst.token.0, "order_type": self.kind.as_str(),
            "transaction_type": self.side.as_str(), "validity": if self.ioc { "IOC" } else { "DAY" },
            "validity_ttl": 0, "product": self.product, "quantity": self.qty,
            "disclosed_quantity": 0, "price": self.price as f64 / d,
            "trigger_price": self.trigger as f64 / d, "average_price": avg,
            "filled_quantity": self.filled, "pending_quantity": if self.is_terminal() { 0 } else { self.pending() },
            "cancelled_quantity": if self.status == "CANCELLED" { self.pending() } else { 0 },
            "market_protection": 0, "meta": {}, "tag": self.tag, "algo_id": self.algo_id,
            "tags": self.tag.as_ref().map(|t| vec![t.clone()]).unwrap_or_default(), "guid": null,
        })
    }
}

/// Why a place request failed before an order existed (HTTP 400 InputException).
#[derive(Debug, PartialEq)]
pub struct InputError(pub String);

#[derive(Default, Clone, Copy, Debug)]
pub struct Position {
    pub buy_qty: i64,
    pub buy_value: i128,
    pub sell_qty: i64,
    pub sell_value: i128,
}

pub struct Exchange {
    master: Arc<InstrumentMaster>,
    pub orders: Vec<SimOrder>,
    pub trades: Vec<Value>,
    pub positions: HashMap<u32, Position>,
    next_id: u64,
    /// Rupees the account may commit as margin (20 % of notional per open order or position).
    pub margin_available: f64,
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
        Exchange {
            master,
            orders: Vec::new(),
            trades: Vec::new(),
            positions: HashMap::new(),
            next_id: 0,
            margin_available: 5_000_000.0,
        }
    }

    pub fn margin_used(&self) -> f64 {
        let open: f64 = self
            .orders
            .iter()
            .filter(|o| !o.is_terminal())
            .map(|o| notional(o.pending(), o.price.max(o.trigger), &o.inst))
            .sum();
        let held: f64 = self
            .positions
            .iter()
            .filter_map(|(t, p)| {
                let inst = self.master.get(aitrapp::domain::Token(*t))?;
                let net = (p.buy_qty - p.sell_qty).abs();
                let px = if p.buy_qty > 0 {
                    (p.buy_value / p.buy_qty as i128) as i64
                } else if p.sell_qty > 0 {
                    (p.sell_value / p.sell_qty as i128) as i64
                } else {
                    0
                };
                Some(notional(net, px, inst))
            })
            .sum();
        (open + held) * 0.2
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
        if !inst.tradable() {
            return Err(InputError(format!("{sym} is not tradable")));
        }
        let side = match need("transaction_type")? {
            "BUY" => Side::Buy,
            "SELL" => Side::Sell,
            other => return Err(InputError(format!("Invalid `transaction_type`: {other}"))),
        };
        let kind = Kind::parse(need("order_type")?)
            .ok_or_else(|| InputError("Invalid `order_type`".into()))?;
        let qty: i64 = need("quantity")?
            .parse()
            .map_err(|_| InputError("Invalid `quantity`".into()))?;
        if qty <= 0 || qty % inst.lot_size.max(1) as i64 != 0 {
            return Err(InputError(format!(
                "Quantity should be a multiple of lot size {} (got {qty})",
                inst.lot_size
            )));
        }
        let d = inst.divisor();
        let price = units(get("price"), d).ok_or_else(|| InputError("Invalid `price`".into()))?;
        let trigger = units(get("trigger_price"), d)
            .ok_or_else(|| InputError("Invalid `trigger_price`".into()))?;
        let tick = inst.tick_size.0.max(1);
        if matches!(kind, Kind::Limit | Kind::Sl) && (price <= 0 || price % tick != 0) {
            return Err(InputError(format!(
                "Price {} is not a multiple of tick size {}",
                price as f64 / d as f64,
                tick as f64 / d as f64
            )));
        }
        if matches!(kind, Kind::Sl | Kind::SlM) && (trigger <= 0 || trigger % tick != 0) {
            return Err(InputError("Invalid `trigger_price`".into()));
        }
        // SEBI's retail-algo rules as Zerodha applies them from 1 April 2026.
        if matches!(kind, Kind::Market | Kind::SlM)
            && get("market_protection")
                .and_then(|v| v.parse::<f64>().ok())
                .is_none_or(|mp| mp == 0.0)
        {
            return Err(InputError(
                "Market orders without market protection are not allowed via API. Please set market protection or use a Limit order".into(),
            ));
        }
        let tag = get("tag").filter(|t| !t.is_empty()).map(str::to_string);
        if tag
            .as_ref()
            .is_some_and(|t| t.len() > 20 || !t.chars().all(|c| c.is_ascii_alphanumeric()))
        {
            return Err(InputError(
                "Invalid `tag`: at most 20 alphanumeric characters".into(),
            ));
        }
        self.next_id += 1;
        let ts = ist_now();
        let mut o = SimOrder {
            order_id: format!("2611250{:08}", self.next_id),
            tag,
            algo_id: get("algo_id").filter(|a| !a.is_empty()).map(str::to_string),
            inst,
            side,
            kind,
            qty,
            price,
            trigger,
            ioc: get("validity") == Some("IOC"),
            product: get("product").unwrap_or("MIS").to_string(),
            status: "PUT ORDER REQ RECEIVED",
            status_message: None,
            filled: 0,
            filled_value: 0,
            triggered: false,
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
        let book = last_tick(&inst);
        // RMS: price band (20 % around the last price) and margin.
        let last = book.map(|t| t.last_price as i64).unwrap_or(0);
        let px = if price > 0 { price } else { last };
        let mut reject = None;
        if last > 0 && price > 0 && (price - last).abs() * 5 > last {
            reject = Some(format!(
                "Price {} is outside the price band around {}",
                price as f64 / d as f64,
                last as f64 / d as f64
            ));
        } else if self.margin_used() + notional(qty, px, &inst) * 0.2 > self.margin_available {
            reject = Some(format!(
                "Insufficient funds. Required margin is {:.2} but available margin is {:.2}.",
                notional(qty, px, &inst) * 0.2,
                (self.margin_available - self.margin_used()).max(0.0)
            ));
        }
        let mut updates = Vec::new();
        match reject {
            Some(msg) => {
                o.status = "REJECTED";
                o.status_message = Some(msg);
            }
            None => {
                o.status = if matches!(kind, Kind::Sl | Kind::SlM) {
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
            self.match_order(i, &t, true);
        }
        let o = &mut self.orders[i];
        if o.ioc && !o.is_terminal() {
            o.status = "CANCELLED";
            o.history.push(o.to_json());
        }
        updates.push(self.orders[i].to_json());
        Ok((id, updates))
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

    /// Modifies an open order (quantity, price, order type); at most 25 times, as on Kite.
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
        if let Some(q) = get("quantity") {
            let q: i64 = q.parse().map_err(|_| "Invalid `quantity`".to_string())?;
            if q <= o.filled || q % o.inst.lot_size.max(1) as i64 != 0 {
                return Err(format!("Invalid `quantity` {q}"));
            }
            o.qty = q;
        }
        if let Some(k) = get("order_type").and_then(Kind::parse) {
            o.kind = k;
        }
        if let Some(p) = get("price") {
            let p = units(Some(p), d).ok_or_else(|| "Invalid `price`".to_string())?;
            if p % o.inst.tick_size.0.max(1) != 0 {
                return Err("Price is not a multiple of the tick size".into());
            }
            o.price = p;
        }
        for st in [
            "MODIFY VALIDATION PENDING",
            "MODIFY PENDING",
            "MODIFIED",
            "OPEN",
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
                if self.match_order(i, t, false) {
                    out.push(self.orders[i].to_json());
                }
            }
        }
        out
    }

    /// Fills what the book allows; true when the order changed.
    fn match_order(&mut self, i: usize, t: &Tick, at_placement: bool) -> bool {
        let o = &mut self.orders[i];
        if o.is_terminal() || t.last_price <= 0 {
            return false;
        }
        let ltp = t.last_price as i64;
        if matches!(o.kind, Kind::Sl | Kind::SlM) && !o.triggered {
            let hit = match o.side {
                Side::Buy => ltp >= o.trigger,
                Side::Sell => ltp <= o.trigger,
            };
            if !hit {
                return false;
            }
            o.triggered = true;
        }
        let limit = match o.kind {
            Kind::Market | Kind::SlM => None,
            Kind::Limit | Kind::Sl => Some(o.price),
        };
        let levels = match o.side {
            Side::Buy => &t.sell,
            Side::Sell => &t.buy,
        };
        let mut fills: Vec<(i64, i64)> = Vec::new();
        let mut left = o.pending();
        for l in levels.iter().filter(|l| l.quantity > 0 && l.price > 0) {
            let px = l.price as i64;
            let ok = match (o.side, limit) {
                (_, None) => true,
                (Side::Buy, Some(lim)) => px <= lim,
                (Side::Sell, Some(lim)) => px >= lim,
            };
            if !ok || left == 0 {
                break;
            }
            let q = left.min(l.quantity as i64);
            fills.push((q, px));
            left -= q;
        }
        // A resting limit the market trades through fills at its price.
        if fills.is_empty() && !at_placement {
            if let Some(lim) = limit {
                let through = match o.side {
                    Side::Buy => ltp < lim,
                    Side::Sell => ltp > lim,
                };
                if through {
                    fills.push((left, lim));
                }
            }
        }
        if fills.is_empty() {
            return false;
        }
        let (token, side, inst) = (o.inst.token.0, o.side, o.inst);
        for (q, px) in &fills {
            o.filled += q;
            o.filled_value += *px as i128 * *q as i128;
            self.trades.push(json!({
                "trade_id": format!("T{}", self.trades.len() + 1), "order_id": o.order_id,
                "exchange_order_id": format!("X{}", o.order_id), "exchange": inst.exchange.as_str(),
                "tradingsymbol": inst.tradingsymbol.as_str(), "instrument_token": token,
                "product": o.product, "average_price": *px as f64 / inst.divisor() as f64,
                "quantity": q, "transaction_type": side.as_str(),
                "fill_timestamp": ist_now(), "order_timestamp": o.timestamp, "exchange_timestamp": ist_now(),
            }));
            let p = self.positions.entry(token).or_default();
            match side {
                Side::Buy => {
                    p.buy_qty += q;
                    p.buy_value += *px as i128 * *q as i128;
                }
                Side::Sell => {
                    p.sell_qty += q;
                    p.sell_value += *px as i128 * *q as i128;
                }
            }
        }
        o.status = if o.pending() == 0 { "COMPLETE" } else { "OPEN" };
        o.history.push(o.to_json());
        true
    }

    pub fn positions_json(&self, last: impl Fn(u32) -> Option<i64>) -> Value {
        let net: Vec<Value> = self
            .positions
            .iter()
            .filter_map(|(tok, p)| {
                let inst = self.master.get(aitrapp::domain::Token(*tok))?;
                let d = inst.divisor() as f64;
                let qty = p.buy_qty - p.sell_qty;
                let avg = |v: i128, q: i64| if q > 0 { (v / q as i128) as f64 / d } else { 0.0 };
                let ltp = last(*tok).unwrap_or(0) as f64 / d;
                let realised_qty = p.buy_qty.min(p.sell_qty);
                let realised = (avg(p.sell_value, p.sell_qty) - avg(p.buy_value, p.buy_qty))
                    * realised_qty as f64;
                Some(json!({
                    "tradingsymbol": inst.tradingsymbol.as_str(), "exchange": inst.exchange.as_str(),
                    "instrument_token": tok, "product": "MIS", "quantity": qty,
                    "overnight_quantity": 0, "multiplier": 1,
                    "average_price": if qty > 0 { avg(p.buy_value, p.buy_qty) } else if qty < 0 { avg(p.sell_value, p.sell_qty) } else { 0.0 },
                    "last_price": ltp, "realised": realised,
                    "buy_quantity": p.buy_qty, "buy_price": avg(p.buy_value, p.buy_qty),
                    "buy_value": p.buy_value as f64 / d, "sell_quantity": p.sell_qty,
                    "sell_price": avg(p.sell_value, p.sell_qty), "sell_value": p.sell_value as f64 / d,
                    "day_buy_quantity": p.buy_qty, "day_sell_quantity": p.sell_qty,
                }))
            })
            .collect();
        json!({"net": net.clone(), "day": net})
    }
}

fn notional(qty: i64, px: i64, inst: &Instrument) -> f64 {
    qty as f64 * px as f64 / inst.divisor() as f64
}
