//! An order as the broker reports it (order book, history, WebSocket order update): the
//! ticker parses these on the feed thread and the LIVE order tracker reads them.

use serde_json::Value;

/// One order as Kite reports it (order book, history, WebSocket update), the fields we use.
#[derive(Clone, Debug, PartialEq)]
pub struct KiteOrder {
    pub order_id: String,
    pub status: String,
    pub tag: Option<String>,
    pub instrument_token: u32,
    pub quantity: i64,
    pub filled_quantity: i64,
    /// Rupees, as Kite sends it.
    pub average_price: f64,
    pub status_message: Option<String>,
    /// BUY or SELL.
    pub transaction_type: String,
    /// MARKET, LIMIT, SL or SL-M.
    pub order_type: String,
    /// Rupees; zero when the order type has none.
    pub price: f64,
    pub trigger_price: f64,
    pub validity: String,
}

impl KiteOrder {
    /// Reads an order object; quantities may come as `1` or `1.0`, ids only as strings.
    pub fn from_json(v: &Value) -> Option<KiteOrder> {
        let num = |k: &str| v.get(k).and_then(|x| x.as_f64());
        let text = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        Some(KiteOrder {
            order_id: text("order_id")?,
            status: text("status")?,
            tag: text("tag"),
            instrument_token: num("instrument_token").unwrap_or(0.0) as u32,
            quantity: num("quantity").unwrap_or(0.0) as i64,
            filled_quantity: num("filled_quantity").unwrap_or(0.0) as i64,
            average_price: num("average_price").unwrap_or(0.0),
            status_message: text("status_message"),
            transaction_type: text("transaction_type").unwrap_or_default(),
            order_type: text("order_type").unwrap_or_default(),
            price: num("price").unwrap_or(0.0),
            trigger_price: num("trigger_price").unwrap_or(0.0),
            validity: text("validity").unwrap_or_default(),
        })
    }

    /// COMPLETE, CANCELLED and REJECTED end an order; any other status may still change.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self.status.as_str(),
            "COMPLETE" | "CANCELLED" | "REJECTED" | "CANCELLED AMO"
        )
    }
}
