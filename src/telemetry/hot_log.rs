//! The hot-log queue: hot threads hand a small `Copy` event to the logger thread through a
//! bounded queue, never blocking and never allocating; what a full queue drops is counted.

use super::Metrics;
use crate::domain::{
    CodecError, OrderId, OrderPurpose, OrderType, Paise, Price, Qty, RejectReason, Side, Signal,
    StrategyId, Token,
};
use crossbeam_channel::{Receiver, Sender, TrySendError};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

/// What hot threads report; the logger thread turns each into one structured log line.
#[derive(Clone, Copy, Debug)]
pub enum HotEvent {
    /// A signal reached risk; the line shows its score breakdown (and a spread's legs).
    Signal {
        signal: Signal,
    },
    /// Scored but outside the bar's `ranking.top_n`: not sent to risk.
    SignalRanked {
        signal: Signal,
        top_n: u32,
    },
    /// A strategy's note about its day (e.g. ORB with no opening range).
    StrategyNote {
        strategy: StrategyId,
        count: u32,
        note: &'static str,
    },
    /// OptionsRanker's closing ATM IV of the day (the IV history's next row).
    IvClose {
        underlying: crate::domain::Symbol,
        date: crate::domain::Date,
        atm_iv: f64,
    },
    /// Both legs of a spread are flat (or it never filled).
    SpreadClosed {
        id: u32,
        buy: Token,
        sell: Token,
        purpose: OrderPurpose,
    },
    SignalRefused {
        token: Token,
        strategy: StrategyId,
        reason: &'static str,
    },
    OrderSent {
        id: OrderId,
        token: Token,
        side: Side,
        qty: Qty,
        order_type: OrderType,
        price: Price,
        purpose: OrderPurpose,
    },
    OrderFilled {
        id: OrderId,
        token: Token,
        side: Side,
        qty: Qty,
        price: Price,
        purpose: OrderPurpose,
        /// Whose order: the entry's strategy, or risk for exits.
        strategy: StrategyId,
    },
    OrderRejected {
        id: OrderId,
        token: Token,
        reason: RejectReason,
    },
    OrderCancelled {
        id: OrderId,
        token: Token,
    },
    PositionClosed {
        token: Token,
        qty: Qty,
        entry: Price,
        exit: Price,
        /// Gross P&L of the round trip.
        pnl: Paise,
        /// Its charges (net = pnl - charges).
        charges: Paise,
        purpose: OrderPurpose,
    },
    StateChanged {
        from: &'static str,
        to: &'static str,
        reason: &'static str,
    },
    /// POST /mode switched where orders go.
    ModeChanged {
        from: &'static str,
        to: &'static str,
    },
    SquareOff {
        positions: u32,
        /// "equity" or "F&O".
        segment: &'static str,
    },
    SessionPhase {
        from: &'static str,
        to: &'static str,
    },
    UnknownOrderUpdate {
        id: OrderId,
        token: Token,
    },
    /// The protective stop at the broker: "place", "move" or "cancel".
    ProtectiveStop {
        token: Token,
        action: &'static str,
        qty: Qty,
        trigger: Price,
    },
    ExitRejected {
        id: OrderId,
        token: Token,
        purpose: OrderPurpose,
        attempt: u32,
        retry_in_s: u32,
    },
    DailyLossStop {
        pnl: Paise,
    },
    MalformedFrame {
        error: CodecError,
    },
    RingFull {
        ring: &'static str,
    },
    WsConnected {
        conn: u8,
        tokens: u32,
        /// Time since the connection was lost, for a reconnect.
        reconnect_us: Option<u32>,
    },
    WsDisconnected {
        conn: u8,
        reason: &'static str,
    },
    WsReconnecting {
        conn: u8,
        attempt: u32,
        delay_ms: u32,
    },
    WsGaveUp {
        conn: u8,
        attempts: u32,
    },
    WsTokenRefused {
        conn: u8,
    },
    WsResubscribed {
        conn: u8,
        added: u32,
        removed: u32,
        tokens: u32,
    },
    /// A ticker `error` or `message` text from the broker.
    BrokerText {
        kind: &'static str,
        text: ShortText,
    },
}

/// Up to 160 bytes of text carried inline, so a hot event stays `Copy` and allocation-free.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShortText {
    buf: [u8; 160],
    len: u8,
}

impl ShortText {
    pub fn new(s: &str) -> ShortText {
        let mut end = s.len().min(160);
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        let mut buf = [0u8; 160];
        buf[..end].copy_from_slice(&s.as_bytes()[..end]);
        ShortText {
            buf,
            len: end as u8,
        }
    }
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.buf[..self.len as usize]).unwrap_or("")
    }
}

/// The hot threads' handle to the logger thread.
#[derive(Clone)]
pub struct HotLog {
    tx: Sender<HotEvent>,
    dropped: Arc<Metrics>,
}

impl HotLog {
    pub fn new(capacity: usize, metrics: Arc<Metrics>) -> (HotLog, Receiver<HotEvent>) {
        let (tx, rx) = crossbeam_channel::bounded(capacity);
        (
            HotLog {
                tx,
                dropped: metrics,
            },
            rx,
        )
    }
    /// Never blocks, never allocates: a full queue drops the record and counts it.
    #[inline]
    pub fn emit(&self, ev: HotEvent) {
        match self.tx.try_send(ev) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                Metrics::add(&self.dropped.hot_log_dropped_total, 1)
            }
        }
    }
    pub fn dropped(&self) -> &AtomicU64 {
        &self.dropped.hot_log_dropped_total
    }
}
