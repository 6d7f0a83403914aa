//! The decoded market tick. Field names follow Kite's tick names so the JSON view matches what
//! Kite users know; prices stay in native integer units (divide by the segment divisor at edges).

use super::Token;

/// Which Kite packet a tick came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum TickMode {
    #[default]
    Ltp,
    Quote,
    Full,
}

impl TickMode {
    pub fn as_str(self) -> &'static str {
        match self {
            TickMode::Ltp => "ltp",
            TickMode::Quote => "quote",
            TickMode::Full => "full",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct DepthLevel {
    pub quantity: u32,
    pub price: i32,
    pub orders: u16,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Ohlc {
    pub open: i32,
    pub high: i32,
    pub low: i32,
    pub close: i32,
}

/// One instrument update. Index packets fill `ohlc` and `price_change`; tradable quote/full
/// packets fill the trade and book fields. Absent values are zero, as on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Tick {
    pub token: Token,
    pub mode: TickMode,
    pub is_index: bool,
    pub last_price: i32,
    pub last_traded_quantity: u32,
    pub average_traded_price: i32,
    pub volume_traded: u32,
    pub total_buy_quantity: u32,
    pub total_sell_quantity: u32,
    pub ohlc: Ohlc,
    /// Index packets only: the signed "price change" field as sent.
    pub price_change: i32,
    pub last_trade_time: u32,
    pub oi: u32,
    pub oi_day_high: u32,
    pub oi_day_low: u32,
    /// Epoch seconds (UTC based); 0 when the packet carries none.
    pub exchange_timestamp: u32,
    /// Best first: buy[0..5], sell[0..5].
    pub buy: [DepthLevel; 5],
    pub sell: [DepthLevel; 5],
}

impl Tick {
    pub fn best_bid(&self) -> Option<i32> {
        (self.buy[0].quantity > 0).then_some(self.buy[0].price)
    }
    pub fn best_ask(&self) -> Option<i32> {
        (self.sell[0].quantity > 0).then_some(self.sell[0].price)
    }
}

/// Why a Kite binary frame could not be decoded (the frame is counted and skipped).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    #[error("frame of {len} bytes is too short for its header")]
    ShortHeader { len: usize },
    #[error("packet {index} length prefix runs past the frame end (offset {offset}, frame {frame_len} bytes)")]
    TruncatedLength {
        index: u16,
        offset: usize,
        frame_len: usize,
    },
    #[error("packet {index} declares {declared} bytes but only {remaining} remain")]
    TruncatedPacket {
        index: u16,
        declared: usize,
        remaining: usize,
    },
    #[error("{extra} trailing bytes after the {count} declared packets")]
    TrailingBytes { count: u16, extra: usize },
}
