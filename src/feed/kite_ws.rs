//! The Kite binary WebSocket ticker, polled by the feed thread: non-blocking sockets (mio),
//! WebSocket framing (tungstenite) over plain TCP or rustls, the universe sharded over up to
//! three connections of up to 3,000 tokens each. Each connection runs its own state machine:
//! connect -> handshake -> subscribe -> streaming, and on a dropped socket, a failed handshake
//! or silence past `stale_after` it reconnects with exponential backoff and jitter and
//! resubscribes every token in its mode. When a connection runs out of attempts the source
//! asks risk to halt new entries. Nothing here calls the logger: connection events go to the
//! logger thread as hot events, broker text messages through the same queue.

use crate::clock::mono_ns;
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
use std::io::{self, ErrorKind, Read, Write};
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tungstenite::handshake::client::ClientHandshake;
use tungstenite::handshake::{HandshakeError, MidHandshake};
use tungstenite::{Message, WebSocket};

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

/// TLS trust for wss://: the webpki roots, or only the certificates in `ca_file` (PEM).
pub fn tls_config(ca_file: Option<&std::path::Path>) -> Result<Arc<rustls::ClientConfig>, String> {
    match ca_file {
        Some(path) => std::fs::read(path)
            .map_err(|e| e.to_string())
            .and_then(|pem| tls_config_trusting(&pem))
            .map_err(|e| format!("{}: {e}", path.display())),
        None => {
            let mut roots = rustls::RootCertStore::empty();
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            ticker_tls_config(roots)
        }
    }
}

/// TLS trust for wss:// in only the certificates of `pem` (a simulator's own).
pub fn tls_config_trusting(pem: &[u8]) -> Result<Arc<rustls::ClientConfig>, String> {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls::pki_types::CertificateDer::pem_slice_iter(pem) {
        roots
            .add(c.map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
    }
    ticker_tls_config(roots)
}

fn ticker_tls_config(roots: rustls::RootCertStore) -> Result<Arc<rustls::ClientConfig>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    // The ticker decrypts records itself (TlsRecordStream) once rustls has the keys.
    cfg.enable_secret_extraction = true;
    Ok(Arc::new(cfg))
}

/// A socket, plain or TLS, that knows when bytes last came out of it.
enum Stream {
    Plain {
        sock: TcpStream,
        /// `mono_ns` of the last read that returned bytes.
        read_ns: u64,
    },
    Tls(Box<TlsRecordStream>),
}

impl Stream {
    fn tcp(&mut self) -> &mut TcpStream {
        match self {
            Stream::Plain { sock, .. } => sock,
            Stream::Tls(s) => s.tcp(),
        }
    }

    /// When the bytes last read came off the socket (`mono_ns`): a frame's receive time.
    fn received_ns(&self) -> u64 {
        match self {
            Stream::Plain { read_ns, .. } => *read_ns,
            Stream::Tls(s) => s.received_ns(),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain { sock, read_ns } => {
                let r = sock.read(buf);
                if let Ok(1..) = r {
                    *read_ns = mono_ns();
                }
                r
            }
            Stream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain { sock, .. } => sock.write(buf),
            Stream::Tls(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain { sock, .. } => sock.flush(),
            Stream::Tls(s) => s.flush(),
        }
    }
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

/// Where to connect: host:port, TLS server name, request path.
struct Endpoint {
    addr: SocketAddr,
    host: String,
    tls: bool,
    url: String,
}

impl Endpoint {
    fn parse(root: &str, api_key: &str, access_token: &str) -> Result<Endpoint, TickerError> {
        let (tls, rest) = if let Some(r) = root.strip_prefix("wss://") {
            (true, r)
        } else if let Some(r) = root.strip_prefix("ws://") {
            (false, r)
        } else {
            return Err(TickerError::Scheme(root.to_string()));
        };
        let authority = rest.split('/').next().unwrap_or(rest);
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if p.parse::<u16>().is_ok() => (h, p.parse().unwrap_or(443)),
            _ => (authority, if tls { 443 } else { 80 }),
        };
        let addr = (host, port)
            .to_socket_addrs()
            .ok()
            .and_then(|mut a| a.next())
            .ok_or_else(|| TickerError::Resolve(root.to_string()))?;
        let sep = if root.contains('?') { '&' } else { '?' };
        // An upgrade request needs a path: `ws://host:port` asks for `/`.
        let slash = if rest.contains('/') { "" } else { "/" };
        Ok(Endpoint {
            addr,
            host: host.to_string(),
            tls,
            url: format!("{root}{slash}{sep}api_key={api_key}&access_token={access_token}"),
        })
    }
}

/// Subscribe then one `mode` message per mode group, as Kite's own clients resubscribe.
pub fn subscribe_messages(tokens: &[(u32, TickMode)]) -> Vec<String> {
    let list =
        |it: &mut dyn Iterator<Item = u32>| it.map(|t| t.to_string()).collect::<Vec<_>>().join(",");
    let mut out = vec![format!(
        r#"{{"a":"subscribe","v":[{}]}}"#,
        list(&mut tokens.iter().map(|t| t.0))
    )];
    for mode in [TickMode::Ltp, TickMode::Quote, TickMode::Full] {
        let mut group = tokens
            .iter()
            .filter(|t| t.1 == mode)
            .map(|t| t.0)
            .peekable();
        if group.peek().is_some() {
            out.push(format!(
                r#"{{"a":"mode","v":["{}",[{}]]}}"#,
                mode.as_str(),
                list(&mut group)
            ));
        }
    }
    out
}

/// The messages that move one connection from `old` to `new` subscriptions: unsubscribe
/// what went, subscribe what came, and set the mode of everything new or changed.
pub fn resubscribe_messages(old: &[(u32, TickMode)], new: &[(u32, TickMode)]) -> Vec<String> {
    let had = |t: u32| old.iter().find(|o| o.0 == t).map(|o| o.1);
    let gone: Vec<String> = old
        .iter()
        .filter(|o| !new.iter().any(|n| n.0 == o.0))
        .map(|o| o.0.to_string())
        .collect();
    let changed: Vec<(u32, TickMode)> = new
        .iter()
        .filter(|n| had(n.0) != Some(n.1))
        .copied()
        .collect();
    let mut out = Vec::new();
    if !gone.is_empty() {
        out.push(format!(r#"{{"a":"unsubscribe","v":[{}]}}"#, gone.join(",")));
    }
    if !changed.is_empty() {
        out.extend(subscribe_messages(&changed));
    }
    out
}

/// Splits the universe over as few connections as Kite allows.
pub fn shard_tokens(tokens: &[(u32, TickMode)]) -> Result<Vec<Vec<(u32, TickMode)>>, TickerError> {
    if tokens.len() > MAX_TOKENS_PER_CONNECTION * MAX_CONNECTIONS {
        return Err(TickerError::TooManyTokens {
            tokens: tokens.len(),
            max: MAX_CONNECTIONS,
            per: MAX_TOKENS_PER_CONNECTION,
        });
    }
    Ok(tokens
        .chunks(MAX_TOKENS_PER_CONNECTION)
        .map(|c| c.to_vec())
        .collect())
}

/// What a broker text message said, parsed with simd-json.
#[derive(Debug, PartialEq)]
pub enum TextMessage {
    /// An order update; the payload is the order object.
    Order(KiteOrder),
    Error(String),
    Message(String),
    Unknown,
}

pub fn parse_text(text: &mut [u8]) -> TextMessage {
    let Ok(v) = simd_json::serde::from_slice::<serde_json::Value>(text) else {
        return TextMessage::Unknown;
    };
    let data = v.get("data");
    let s = |x: Option<&serde_json::Value>| x.and_then(|x| x.as_str()).map(str::to_string);
    match v.get("type").and_then(|t| t.as_str()) {
        Some("order") => match data.and_then(KiteOrder::from_json) {
            Some(o) => TextMessage::Order(o),
            None => TextMessage::Unknown,
        },
        Some("error") => TextMessage::Error(s(data).unwrap_or_default()),
        Some("message") => TextMessage::Message(s(data).unwrap_or_default()),
        _ => TextMessage::Unknown,
    }
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

    fn start_connect(&mut self, i: usize, now: Instant) -> ConnState {
        match TcpStream::connect(self.endpoint.addr) {
            Ok(mut sock) => {
                let _ = sock.set_nodelay(true);
                let token = Token(i);
                if self
                    .poll
                    .registry()
                    .register(&mut sock, token, Interest::READABLE | Interest::WRITABLE)
                    .is_err()
                {
                    return self.retry_later(i, "cannot register socket", now);
                }
                ConnState::Connecting { sock, since: now }
            }
            Err(_) => self.retry_later(i, "connect failed", now),
        }
    }

    /// `lose` for a connection that never opened: the state is already gone.
    fn retry_later(&mut self, i: usize, reason: &'static str, now: Instant) -> ConnState {
        self.shards[i].state = ConnState::Waiting { due: now };
        self.lose(i, reason, now);
        std::mem::replace(&mut self.shards[i].state, ConnState::GaveUp)
    }

    fn check_connect(
        &mut self,
        i: usize,
        mut sock: TcpStream,
        since: Instant,
        now: Instant,
    ) -> ConnState {
        if let Ok(Some(_)) | Err(_) = sock.take_error() {
            let _ = self.poll.registry().deregister(&mut sock);
            return self.retry_later(i, "connect refused", now);
        }
        match sock.peer_addr() {
            Ok(_) => {
                let stream = if self.endpoint.tls {
                    let Some(tls) = self.cfg.tls.clone() else {
                        return self.retry_later(i, "no TLS config", now);
                    };
                    let Ok(name) = ServerName::try_from(self.endpoint.host.clone()) else {
                        return self.retry_later(i, "bad TLS server name", now);
                    };
                    match TlsRecordStream::new(tls, name, sock) {
                        Ok(s) => Stream::Tls(Box::new(s)),
                        Err(_) => return self.retry_later(i, "TLS setup failed", now),
                    }
                } else {
                    Stream::Plain { sock, read_ns: 0 }
                };
                self.shards[i].readable = true;
                match tungstenite::client::client(self.endpoint.url.as_str(), stream) {
                    Ok((ws, _)) => self.opened(i, ws, now),
                    Err(HandshakeError::Interrupted(hs)) => ConnState::Handshaking {
                        hs: Box::new(hs),
                        since: now,
                    },
                    Err(HandshakeError::Failure(e)) => self.handshake_failed(i, &e, now),
                }
            }
            Err(e) if e.kind() == ErrorKind::NotConnected => {
                if now.duration_since(since) > self.cfg.connect_timeout {
                    let _ = self.poll.registry().deregister(&mut sock);
                    return self.retry_later(i, "connect timed out", now);
                }
                ConnState::Connecting { sock, since }
            }
            Err(_) => {
                let _ = self.poll.registry().deregister(&mut sock);
                self.retry_later(i, "connect failed", now)
            }
        }
    }

    fn continue_handshake(
        &mut self,
        i: usize,
        hs: Handshake,
        since: Instant,
        now: Instant,
    ) -> ConnState {
        if now.duration_since(since) > self.cfg.connect_timeout {
            let mut hs = hs;
            let _ = self
                .poll
                .registry()
                .deregister(hs.get_mut().get_mut().tcp());
            return self.retry_later(i, "handshake timed out", now);
        }
        match hs.handshake() {
            Ok((ws, _)) => self.opened(i, ws, now),
            Err(HandshakeError::Interrupted(hs)) => ConnState::Handshaking {
                hs: Box::new(hs),
                since,
            },
            Err(HandshakeError::Failure(e)) => self.handshake_failed(i, &e, now),
        }
    }

    fn handshake_failed(&mut self, i: usize, e: &tungstenite::Error, now: Instant) -> ConnState {
        // The socket went with the failed handshake; mio drops its registration on close.
        if let tungstenite::Error::Http(resp) = e {
            if resp.status().as_u16() == 403 {
                // Kite refuses the upgrade for a bad or expired token: retrying cannot help.
                Metrics::add(&self.metrics.kite_token_refused_total, 1);
                self.hot.emit(HotEvent::WsTokenRefused {
                    conn: self.shards[i].id,
                });
                self.shards[i].state = ConnState::GaveUp;
                self.halt(HaltReason::TokenExpired);
                return ConnState::GaveUp;
            }
        }
        self.retry_later(i, "handshake failed", now)
    }

    fn opened(&mut self, i: usize, mut ws: WebSocket<Stream>, now: Instant) -> ConnState {
        let sh = &mut self.shards[i];
        let mut ok = true;
        for m in subscribe_messages(&sh.tokens) {
            match ws.send(Message::Text(m.into())) {
                Ok(()) => {}
                Err(tungstenite::Error::Io(e)) if e.kind() == ErrorKind::WouldBlock => {}
                Err(_) => ok = false,
            }
        }
        let reconnect_us = sh
            .lost_at
            .take()
            .map(|t| now.duration_since(t).as_micros() as u32);
        if sh.ever_connected {
            Metrics::add(&self.metrics.ws_reconnects_total, 1);
        }
        sh.ever_connected = true;
        sh.attempt = 0;
        Metrics::add(&self.metrics.ws_connections_open, 1);
        sh.readable = true;
        if let Some(us) = reconnect_us {
            self.metrics
                .ws_last_reconnect_us
                .store(us as u64, std::sync::atomic::Ordering::Relaxed);
        }
        self.hot.emit(HotEvent::WsConnected {
            conn: sh.id,
            tokens: sh.tokens.len() as u32,
            reconnect_us,
        });
        let state = ConnState::Open {
            ws: Box::new(ws),
            last_rx: now,
        };
        if !ok {
            self.shards[i].state = state;
            self.lose(i, "subscribe failed", now);
            return std::mem::replace(&mut self.shards[i].state, ConnState::GaveUp);
        }
        state
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
    fn subscribe_then_one_mode_message_per_group() {
        let m = subscribe_messages(&[
            (408065, TickMode::Full),
            (256265, TickMode::Quote),
            (884737, TickMode::Full),
        ]);
        assert_eq!(
            m,
            vec![
                r#"{"a":"subscribe","v":[408065,256265,884737]}"#.to_string(),
                r#"{"a":"mode","v":["quote",[256265]]}"#.to_string(),
                r#"{"a":"mode","v":["full",[408065,884737]]}"#.to_string(),
            ]
        );
    }

    #[test]
    fn resubscribe_sends_only_the_difference() {
        let old = [
            (1, TickMode::Full),
            (2, TickMode::Full),
            (3, TickMode::Quote),
        ];
        let new = [
            (2, TickMode::Full),
            (3, TickMode::Full),
            (4, TickMode::Full),
        ];
        assert_eq!(
            resubscribe_messages(&old, &new),
            vec![
                r#"{"a":"unsubscribe","v":[1]}"#.to_string(),
                r#"{"a":"subscribe","v":[3,4]}"#.to_string(),
                r#"{"a":"mode","v":["full",[3,4]]}"#.to_string(),
            ]
        );
        assert!(resubscribe_messages(&old, &old).is_empty());
    }

    #[test]
    fn shards_by_kite_limits() {
        let t: Vec<_> = (0..7000).map(|i| (i, TickMode::Ltp)).collect();
        let s = shard_tokens(&t).unwrap();
        assert_eq!(
            s.iter().map(Vec::len).collect::<Vec<_>>(),
            vec![3000, 3000, 1000]
        );
        let too_many: Vec<_> = (0..9001).map(|i| (i, TickMode::Ltp)).collect();
        assert!(matches!(
            shard_tokens(&too_many),
            Err(TickerError::TooManyTokens { tokens: 9001, .. })
        ));
    }

    #[test]
    fn endpoint_keeps_root_and_adds_credentials() {
        let e = Endpoint::parse("ws://127.0.0.1:9001", "k", "t").unwrap();
        assert!(!e.tls);
        assert_eq!(e.url, "ws://127.0.0.1:9001/?api_key=k&access_token=t");
        assert_eq!(e.addr.port(), 9001);
        assert!(matches!(
            Endpoint::parse("http://x", "k", "t"),
            Err(TickerError::Scheme(_))
        ));
    }

    #[test]
    fn text_messages_by_type() {
        let mut order = br#"{"type":"order","data":{"order_id":"151220000000000","status":"COMPLETE","tag":"AT1F"}}"#.to_vec();
        let TextMessage::Order(o) = parse_text(&mut order) else {
            panic!("not an order");
        };
        assert_eq!(o.order_id, "151220000000000");
        assert_eq!(o.status, "COMPLETE");
        assert_eq!(o.tag.as_deref(), Some("AT1F"));
        let mut e = br#"{"type":"error","data":"Invalid mode"}"#.to_vec();
        assert_eq!(
            parse_text(&mut e),
            TextMessage::Error("Invalid mode".into())
        );
        let mut junk = b"not json".to_vec();
        assert_eq!(parse_text(&mut junk), TextMessage::Unknown);
    }

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
