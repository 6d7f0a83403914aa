//! The account's book at Kite (net positions, then the day's orders) read into our units for
//! reconciliation. Positions are read first: a fill landing between the two calls then shows
//! in the orders and not yet in the positions, which the risk stage's two-look rule for drift
//! absorbs.

use super::envelope::KiteError;
use super::rest::KiteRest;
use super::status::KiteStatus;
use crate::domain::{
    BrokerBook, BrokerOrder, BrokerOrderState, BrokerPosition, InstrumentMaster, KiteOrder,
    OrderId, OrderType, Price, Side, Token, Validity,
};

/// Reads the book; instruments outside today's master are skipped (and counted in the
/// second value): the desk could not hold them either.
pub fn read_broker_book(
    rest: &KiteRest,
    master: &InstrumentMaster,
) -> Result<(BrokerBook, usize), KiteError> {
    let positions = rest.positions()?;
    let orders = rest.orders()?;
    Ok(broker_book(master, &positions, &orders))
}

/// Kite's answers in our units (rupees times the instrument's divisor).
pub fn broker_book(
    master: &InstrumentMaster,
    positions: &[(u32, i64, f64)],
    orders: &[KiteOrder],
) -> (BrokerBook, usize) {
    let mut skipped = 0;
    let mut book = BrokerBook::default();
    let divisor = |token: u32| {
        master
            .index_of(Token(token))
            .map(|i| master.by_index(i).divisor())
    };
    let native = |rupees: f64, d: i64| Price((rupees * d as f64).round() as i64);
    for &(token, qty, avg) in positions {
        match divisor(token) {
            Some(d) if qty != 0 => book.positions.push(BrokerPosition {
                token: Token(token),
                qty,
                avg_price: native(avg, d),
            }),
            Some(_) => {}
            None => skipped += 1,
        }
    }
    for o in orders {
        let Some(d) = divisor(o.instrument_token) else {
            skipped += 1;
            continue;
        };
        let state = match KiteStatus::parse(&o.status) {
            KiteStatus::Complete => BrokerOrderState::Filled,
            KiteStatus::Cancelled => BrokerOrderState::Cancelled,
            KiteStatus::Rejected => BrokerOrderState::Rejected,
            KiteStatus::Working(s) => BrokerOrderState::Working(s),
            KiteStatus::Update => BrokerOrderState::Working(crate::domain::BrokerStatus::Unknown),
        };
        let tag = o.tag.clone().unwrap_or_default();
        book.orders.push(BrokerOrder {
            broker_id: o.order_id.clone(),
            ours: OrderId::from_tag(&tag),
            tag,
            token: Token(o.instrument_token),
            side: if o.transaction_type == "SELL" {
                Side::Sell
            } else {
                Side::Buy
            },
            qty: o.quantity,
            filled: o.filled_quantity,
            avg_price: native(o.average_price, d),
            order_type: match o.order_type.as_str() {
                "LIMIT" => OrderType::Limit,
                "SL" => OrderType::StopLimit,
                "SL-M" => OrderType::StopMarket,
                _ => OrderType::Market,
            },
            price: native(o.price, d),
            trigger: native(o.trigger_price, d),
            validity: if o.validity == "IOC" {
                Validity::Ioc
            } else {
                Validity::Day
            },
            state,
        });
    }
    // Oldest first: tags are ids, ids grow with time.
    book.orders
        .sort_by_key(|o| o.ours.map_or(u64::MAX, |id| id.0));
    (book, skipped)
}
