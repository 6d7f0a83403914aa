//! The Kite binary WebSocket ticker, polled by the feed thread: non-blocking sockets (mio),
//! WebSocket framing (tungstenite) over plain TCP or rustls, the universe sharded over up to
//! three connections of up to 3,000 tokens each. Each connection runs its own state machine:
//! connect -> handshake -> subscribe -> streaming, and on a dropped socket, a failed handshake
//! or silence past `stale_after` it reconnects with exponential backoff and jitter and
//! resubscribes every token in its mode. When a connection runs out of attempts the source
//! asks risk to halt new entries. Nothing here calls the logger: connection events go to the
//! logger thread as hot events, broker text messages through the same queue.

use crate::domain::{ControlCommand, HaltReason, TickMode};
use crate::domain::{InboxMsg, KiteOrder};
use crate::feed::tls_records::TlsRecordStream;
use crate::feed::{FrameSource, SourcePoll};
use crate::telemetry::hot_log::{HotEvent, HotLog, ShortText};
use crate::telemetry::Metrics;
use crossbeam_channel::Sender;
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use rustls::pki_types::ServerName;
use std::io::ErrorKind;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tungstenite::handshake::client::ClientHandshake;
use tungstenite::handshake::{HandshakeError, MidHandshake};
use tungstenite::{Message, WebSocket};

mod connect;
mod messages;
mod transport;
pub use messages::*;
pub use transport::{tls_config, tls_config_trusting};
use transport::{Endpoint, Stream};

/// Kite's limits: tokens per connection and connections per api_key.
pub const MAX_TOKENS_PER_CONNECTION: usize = 3000;
pub const MAX_CONNECTIONS: usize = 3;

/// Everything the ticker needs; `access_token` is never logged or shown by `Debug`.
#[derive(Clone)]
pub struct TickerConfig {
    /// `wss://ws.kite.trade` or, for a local simulator, `ws://127.0.0.1:PORT`.
    pub ws_root: String,
    pub api_key: String,
    pub access_token: String,
    /// Every token to stream, with its mode.
    pub tokens: Vec<(u32, TickMode)>,
    pub stale_after: Duration,
    pub max_reconnect_attempts: u32,
    pub connect_timeout: Duration,
    /// First reconnect waits nothing, then `backoff_base * 2^(n-1)` up to `backoff_max`,
    /// each scaled by a random 50-100 % so shards (and clients) do not reconnect in step.
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// Trust for wss:// (webpki roots, or a PEM file for a simulator's own certificate).
    pub tls: Option<Arc<rustls::ClientConfig>>,
}

impl std::fmt::Debug for TickerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TickerConfig")
            .field("ws_root", &self.ws_root)
            .field("tokens", &self.tokens.len())
            .field("access_token", &"<redacted>")
            .finish()
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum TickerError {
    #[error("websocket.ws_root `{0}`: must start with ws:// or wss://")]
    Scheme(String),
    #[error("websocket.ws_root `{0}`: cannot resolve the host")]
    Resolve(String),
    #[error("wss:// needs a TLS configuration")]
    NoTls,
    #[error("{tokens} tokens exceed {max} connections x {per} tokens")]
    TooManyTokens {
        tokens: usize,
        max: usize,
        per: usize,
    },
}

type Handshake = MidHandshake<ClientHandshake<Stream>>;

/// The socket behind a state, for deregistration before the state is replaced.
fn socket_of(state: &mut ConnState) -> Option<&mut TcpStream> {
    match state {
        ConnState::Connecting { sock, .. } => Some(sock),
        ConnState::Handshaking { hs, .. } => Some(hs.get_mut().get_mut().tcp()),
        ConnState::Open { ws, .. } => Some(ws.get_mut().tcp()),
        ConnState::Waiting { .. } | ConnState::GaveUp => None,
    }
}

enum ConnState {
    /// Waiting until `due` to (re)connect.
    Waiting { due: Instant },
    /// TCP connect in flight.
    Connecting { sock: TcpStream, since: Instant },
    /// WebSocket upgrade (and TLS) in flight.
    Handshaking { hs: Box<Handshake>, since: Instant },
    /// Streaming; `last_rx` is the last message of any kind (ticks or heartbeats).
    Open {
        ws: Box<WebSocket<Stream>>,
        last_rx: Instant,
    },
    /// Out of reconnect attempts.
    GaveUp,
}

struct Shard {
    id: u8,
    tokens: Vec<(u32, TickMode)>,
    state: ConnState,
    /// Failed attempts since the last good connection.
    attempt: u32,
    /// When the connection was lost (for the reconnect time), None on the first connect.
    lost_at: Option<Instant>,
    /// mio told us the socket is readable and we have not yet read it dry.
    readable: bool,
    ever_connected: bool,
}

pub struct KiteTicker {
    cfg: TickerConfig,
    endpoint: Endpoint,
    shards: Vec<Shard>,
    poll: Poll,
    events: Events,
    next: usize,
    metrics: Arc<Metrics>,
    hot: HotLog,
    inbox: Sender<InboxMsg>,
    rng: u64,
    halted: bool,
    last_housekeeping: Instant,
    /// LIVE: order updates go to the order tracker.
    order_updates: Option<Sender<KiteOrder>>,
    /// When the last frame handed over came off its socket.
    received_ns: u64,
}

impl KiteTicker {
    pub fn new(
        cfg: TickerConfig,
        metrics: Arc<Metrics>,
        hot: HotLog,
        inbox: Sender<InboxMsg>,
    ) -> Result<KiteTicker, TickerError> {
        let endpoint = Endpoint::parse(&cfg.ws_root, &cfg.api_key, &cfg.access_token)?;
        if endpoint.tls && cfg.tls.is_none() {
            return Err(TickerError::NoTls);
        }
        let now = Instant::now();
        let shards = shard_tokens(&cfg.tokens)?
            .into_iter()
            .enumerate()
            .map(|(i, tokens)| Shard {
                id: i as u8,
                tokens,
                state: ConnState::Waiting { due: now },
                attempt: 0,
                lost_at: None,
                readable: false,
                ever_connected: false,
            })
            .collect();
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1)
            | 1;
        Ok(KiteTicker {
            cfg,
            endpoint,
            shards,
            poll: Poll::new().map_err(|_| TickerError::Resolve("mio poll".into()))?,
            events: Events::with_capacity(16),
            next: 0,
            metrics,
            hot,
            inbox,
            rng: seed,
            halted: false,
            last_housekeeping: now,
            order_updates: None,
            received_ns: 0,
        })
    }

    /// Hands order updates from the ticker to the LIVE order tracker.
    pub fn with_order_updates(mut self, tx: Sender<KiteOrder>) -> Self {
        self.order_updates = Some(tx);
        self
    }

    /// Connections currently streaming.
    pub fn open_connections(&self) -> usize {
        self.shards
            .iter()
            .filter(|s| matches!(s.state, ConnState::Open { .. }))
            .count()
    }

    fn jitter(&mut self) -> f64 {
        // xorshift64*: cheap and good enough to spread reconnects.
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        let r = self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D);
        0.5 + (r >> 11) as f64 / (1u64 << 53) as f64 * 0.5
    }

    fn backoff(&mut self, attempt: u32) -> Duration {
        if attempt <= 1 {
            return Duration::ZERO;
        }
        let exp = self
            .cfg
            .backoff_base
            .saturating_mul(1u32 << (attempt - 2).min(16));
        exp.min(self.cfg.backoff_max).mul_f64(self.jitter())
    }

    /// The connection is gone: schedule the next attempt, or give up and halt entries.
    fn lose(&mut self, i: usize, reason: &'static str, now: Instant) {
        let was_open = matches!(self.shards[i].state, ConnState::Open { .. });
        if let Some(sock) = socket_of(&mut self.shards[i].state) {
            let _ = self.poll.registry().deregister(sock);
        }
        let sh = &mut self.shards[i];
        sh.readable = false;
        if was_open {
            sh.lost_at = Some(now);
            sh.attempt = 0;
            Metrics::add(&self.metrics.ws_disconnects_total, 1);
            self.metrics
                .ws_connections_open
                .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        }
        self.hot.emit(HotEvent::WsDisconnected {
            conn: sh.id,
            reason,
        });
        sh.attempt += 1;
        let attempt = sh.attempt;
        let id = sh.id;
        if attempt > self.cfg.max_reconnect_attempts {
            self.shards[i].state = ConnState::GaveUp;
            self.hot.emit(HotEvent::WsGaveUp {
                conn: id,
                attempts: attempt - 1,
            });
            self.halt(HaltReason::FeedLost);
            return;
        }
        let delay = self.backoff(attempt);
        self.hot.emit(HotEvent::WsReconnecting {
            conn: id,
            attempt,
            delay_ms: delay.as_millis() as u32,
        });
        self.shards[i].state = ConnState::Waiting { due: now + delay };
    }

    fn halt(&mut self, reason: HaltReason) {
        if !self.halted {
            self.halted = true;
            let _ = self
                .inbox
                .try_send(InboxMsg::Control(ControlCommand::HaltEntries { reason }));
        }
    }

    /// Moves every connection's state machine along; cheap when all are streaming.
    fn housekeeping(&mut self, now: Instant) {
        for i in 0..self.shards.len() {
            let state = std::mem::replace(&mut self.shards[i].state, ConnState::GaveUp);
            let next = match state {
                ConnState::Waiting { due } if now >= due => self.start_connect(i, now),
                ConnState::Connecting { sock, since } => self.check_connect(i, sock, since, now),
                ConnState::Handshaking { hs, since } => self.continue_handshake(i, *hs, since, now),
                ConnState::Open { mut ws, last_rx } => {
                    if now.duration_since(last_rx) > self.cfg.stale_after {
                        self.shards[i].state = ConnState::Open { ws, last_rx };
                        Metrics::add(&self.metrics.ws_stale_total, 1);
                        self.lose(i, "no data or heartbeat within stale_after_ms", now);
                        continue;
                    }
                    // Pending subscribe bytes or pongs go out when the socket takes them.
                    match ws.flush() {
                        Err(tungstenite::Error::Io(e)) if e.kind() == ErrorKind::WouldBlock => {}
                        Err(_) => {
                            self.shards[i].state = ConnState::Open { ws, last_rx };
                            self.lose(i, "write failed", now);
                            continue;
                        }
                        Ok(()) => {}
                    }
                    ConnState::Open { ws, last_rx }
                }
                other => other,
            };
            self.shards[i].state = next;
        }
    }

    /// Reads shard `i` until a binary frame (copied into `out`) or nothing is left.
    fn read_shard(&mut self, i: usize, out: &mut Vec<u8>, now: Instant) -> bool {
        loop {
            let ConnState::Open { ws, last_rx } = &mut self.shards[i].state else {
                return false;
            };
            match ws.read() {
                Ok(Message::Binary(b)) => {
                    *last_rx = now;
                    out.clear();
                    out.extend_from_slice(&b);
                    self.received_ns = ws.get_ref().received_ns();
                    return true;
                }
                Ok(Message::Text(t)) => {
                    *last_rx = now;
                    let mut bytes = t.as_bytes().to_vec();
                    self.on_text(&mut bytes);
                }
                Ok(Message::Close(_)) => {
                    self.lose(i, "server closed the connection", now);
                    return false;
                }
                Ok(_) => *last_rx = now,
                Err(tungstenite::Error::Io(e)) if e.kind() == ErrorKind::WouldBlock => {
                    self.shards[i].readable = false;
                    return false;
                }
                Err(_) => {
                    self.lose(i, "socket dropped", now);
                    return false;
                }
            }
        }
    }

    /// Moves the subscriptions to `tokens` (a universe reload): open connections get
    /// unsubscribe/subscribe/mode messages for the difference; a connection that is down
    /// subscribes the new set when it reconnects; extra connections are opened if needed.
    pub fn set_tokens(&mut self, tokens: Vec<(u32, TickMode)>) -> Result<(), TickerError> {
        let shards = shard_tokens(&tokens)?;
        let now = Instant::now();
        for (i, new) in shards.iter().enumerate() {
            if i >= self.shards.len() {
                self.shards.push(Shard {
                    id: i as u8,
                    tokens: new.clone(),
                    state: ConnState::Waiting { due: now },
                    attempt: 0,
                    lost_at: None,
                    readable: false,
                    ever_connected: false,
                });
                continue;
            }
            self.retarget(i, new.clone(), now);
        }
        for i in shards.len()..self.shards.len() {
            self.retarget(i, Vec::new(), now);
        }
        self.cfg.tokens = tokens;
        Ok(())
    }

    fn retarget(&mut self, i: usize, new: Vec<(u32, TickMode)>, now: Instant) {
        let old = std::mem::replace(&mut self.shards[i].tokens, new);
        let msgs = resubscribe_messages(&old, &self.shards[i].tokens);
        let (added, removed) = (
            self.shards[i]
                .tokens
                .iter()
                .filter(|n| !old.iter().any(|o| o.0 == n.0))
                .count() as u32,
            old.iter()
                .filter(|o| !self.shards[i].tokens.iter().any(|n| n.0 == o.0))
                .count() as u32,
        );
        if let ConnState::Open { ws, .. } = &mut self.shards[i].state {
            let mut failed = false;
            for m in msgs {
                match ws.send(Message::Text(m.into())) {
                    Ok(()) => {}
                    Err(tungstenite::Error::Io(e)) if e.kind() == ErrorKind::WouldBlock => {}
                    Err(_) => failed = true,
                }
            }
            if failed {
                // It resubscribes the whole new set when it reconnects.
                self.lose(i, "resubscribe failed", now);
                return;
            }
        }
        self.hot.emit(HotEvent::WsResubscribed {
            conn: self.shards[i].id,
            added,
            removed,
            tokens: self.shards[i].tokens.len() as u32,
        });
    }

    fn on_text(&mut self, bytes: &mut [u8]) {
        Metrics::add(&self.metrics.ws_text_messages_total, 1);
        match parse_text(bytes) {
            TextMessage::Order(o) => {
                Metrics::add(&self.metrics.ws_order_updates_total, 1);
                if let Some(tx) = &self.order_updates {
                    let _ = tx.try_send(o);
                }
            }
            TextMessage::Error(s) => self.hot.emit(HotEvent::BrokerText {
                kind: "error",
                text: ShortText::new(&s),
            }),
            TextMessage::Message(s) => self.hot.emit(HotEvent::BrokerText {
                kind: "message",
                text: ShortText::new(&s),
            }),
            TextMessage::Unknown => Metrics::add(&self.metrics.ws_unparsed_text_total, 1),
        }
    }
}

impl KiteTicker {
    /// Reads the readable shards, round robin so one busy connection cannot starve the others.
    fn read_ready(&mut self, out: &mut Vec<u8>, now: Instant) -> bool {
        let n = self.shards.len();
        for k in 0..n {
            let i = (self.next + k) % n;
            if self.shards[i].readable && self.read_shard(i, out, now) {
                self.next = (i + 1) % n;
                return true;
            }
        }
        false
    }
}

impl FrameSource for KiteTicker {
    fn poll(&mut self, out: &mut Vec<u8>) -> SourcePoll {
        let now = Instant::now();
        if self.read_ready(out, now) {
            return SourcePoll::Frame;
        }
        let mut woke = false;
        if self
            .poll
            .poll(&mut self.events, Some(Duration::ZERO))
            .is_ok()
        {
            for ev in self.events.iter() {
                if let Some(sh) = self.shards.get_mut(ev.token().0) {
                    sh.readable = true;
                    woke = true;
                }
            }
        }
        // Read what just became readable now, not after the next idle wait.
        if woke && self.read_ready(out, now) {
            return SourcePoll::Frame;
        }
        if now.duration_since(self.last_housekeeping) >= Duration::from_millis(1)
            || self.shards.iter().any(|s| {
                // A connection on its way up is checked every poll; one that gave up is not.
                matches!(
                    s.state,
                    ConnState::Waiting { .. }
                        | ConnState::Connecting { .. }
                        | ConnState::Handshaking { .. }
                )
            })
        {
            self.last_housekeeping = now;
            self.housekeeping(now);
        }
        SourcePoll::Idle
    }

    fn lockstep(&self) -> bool {
        false
    }

    fn wait_ready(&mut self, timeout: Duration) {
        // Blocks in epoll: a frame arriving wakes the feed thread at once.
        if self.poll.poll(&mut self.events, Some(timeout)).is_ok() {
            for ev in self.events.iter() {
                if let Some(sh) = self.shards.get_mut(ev.token().0) {
                    sh.readable = true;
                }
            }
        }
    }

    fn received_ns(&self) -> Option<u64> {
        Some(self.received_ns)
    }

    fn resubscribe(&mut self, tokens: Vec<(u32, TickMode)>) {
        // Too many tokens leaves the old subscriptions in place; the reload endpoint refuses
        // such a universe before it gets here.
        let _ = self.set_tokens(tokens);
    }

    fn describe(&self) -> String {
        // The URL carries the access token: describe the root only.
        format!(
            "Kite WebSocket {} ({} tokens over {} connection(s))",
            self.cfg.ws_root,
            self.cfg.tokens.len(),
            self.shards.len()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_token() {
        let cfg = TickerConfig {
            ws_root: "ws://x".into(),
            api_key: "k".into(),
            access_token: "SECRET".into(),
            tokens: vec![],
            stale_after: Duration::from_secs(5),
            max_reconnect_attempts: 3,
            connect_timeout: Duration::from_secs(7),
            backoff_base: Duration::from_millis(250),
            backoff_max: Duration::from_secs(30),
            tls: None,
        };
        assert!(!format!("{cfg:?}").contains("SECRET"));
    }
}
