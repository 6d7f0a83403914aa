//! Faults on demand. Each is a switch the WS and REST threads check; the `/__sim/...`
//! endpoints and the command-line flags flip them.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Default)]
pub struct Faults {
    /// Bumped to drop every open WebSocket (each connection remembers the value it began with).
    pub ws_drop_generation: AtomicU64,
    /// Wall-clock ms until which the ticker sends nothing at all, heartbeats included.
    pub ws_stall_until_ms: AtomicU64,
    /// The access token no longer works: REST answers 403 TokenException, WS upgrades 403.
    pub token_expired: AtomicBool,
    /// WebSocket upgrades counted, for tests that check a reconnect happened.
    pub ws_connections: AtomicU64,
    /// Tokens subscribed over all open ticker connections.
    pub ws_subscribed: AtomicU64,
    /// The next N REST calls answer 503 NetworkException.
    pub rest_5xx: Countdown,
    /// The next N order placements answer 503 NetworkException without placing anything.
    pub place_5xx: Countdown,
    /// POST /orders requests seen (placed or not).
    pub place_attempts: AtomicU64,
    /// The next N ticker frames are malformed (a packet longer than the frame).
    pub ws_bad_frames: Countdown,
    /// The next N order placements go through but their HTTP answer is held back for
    /// `ack_delay_ms` (past any client timeout): a lost acknowledgement.
    pub lose_order_acks: Countdown,
    pub ack_delay_ms: AtomicU64,
    /// The next N REST calls of any kind are answered only after `slow_rest_ms`: a client
    /// with a shorter timeout times out (what the call did, it did).
    pub slow_rest: Countdown,
    pub slow_rest_ms: AtomicU64,
    /// The next N order calls (place, modify, cancel) answer 429 as if over Kite's limits.
    pub order_429: Countdown,
    /// Requests answered 429 (tests check normal trading never sees one).
    pub rate_limited: AtomicU64,
    /// Orders accepted by POST /orders (each one an order in the book).
    pub orders_placed: AtomicU64,
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl Faults {
    pub fn drop_ws(&self) {
        self.ws_drop_generation.fetch_add(1, Ordering::SeqCst);
    }
    pub fn stall_ws(&self, ms: u64) {
        self.ws_stall_until_ms
            .store(now_ms() + ms, Ordering::SeqCst);
    }
    pub fn ws_stalled(&self) -> bool {
        now_ms() < self.ws_stall_until_ms.load(Ordering::Relaxed)
    }
    pub fn expire_token(&self) {
        self.token_expired.store(true, Ordering::SeqCst);
    }
}

/// Counts of pending one-shot faults, for the REST side (lost acks, 5xx answers).
#[derive(Default)]
pub struct Countdown(AtomicU32);

impl Countdown {
    pub fn arm(&self, n: u32) {
        self.0.store(n, Ordering::SeqCst);
    }
    /// True (and one fewer left) when a fault is armed.
    pub fn take(&self) -> bool {
        self.0
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
    }
}
