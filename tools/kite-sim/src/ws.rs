//! The binary WebSocket ticker, as Kite serves it: `?api_key=..&access_token=..` checked at the
//! upgrade (403 otherwise), text-frame JSON commands `{"a":"subscribe"|"unsubscribe"|"mode",
//! "v":..}`, new subscriptions in `quote` mode, one binary frame per market step carrying every
//! subscribed instrument in its own mode, and a 1-byte binary heartbeat when idle.

use crate::faults::Faults;
use crate::market::SimMarket;
use crate::Credentials;
use aitrapp::domain::{Tick, TickMode};
use aitrapp::feed::codec::encode_mixed_frame;
use std::collections::HashMap;
use std::io::ErrorKind;
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tungstenite::{Message, WebSocket};

/// Kite's per-connection cap.
pub const MAX_TOKENS_PER_CONNECTION: usize = 3000;

/// A connection's socket, plain or TLS.
pub trait SimSocket: std::io::Read + std::io::Write {
    fn tcp(&self) -> &TcpStream;
}

impl SimSocket for TcpStream {
    fn tcp(&self) -> &TcpStream {
        self
    }
}

impl SimSocket for crate::tls::TlsStream {
    fn tcp(&self) -> &TcpStream {
        &self.sock
    }
}

pub fn spawn(
    addr: SocketAddr,
    creds: Credentials,
    market: Arc<SimMarket>,
    faults: Arc<Faults>,
    stop: Arc<AtomicBool>,
    heartbeat_ms: u64,
    tls: Option<Arc<rustls::ServerConfig>>,
) -> anyhow::Result<(SocketAddr, JoinHandle<()>)> {
    crate::accept_loop(
        addr,
        "kite-sim-ws",
        stop.clone(),
        move |stream| match &tls {
            Some(cfg) => {
                if let Some(s) = crate::tls::accept(cfg, stream) {
                    serve(s, &creds, &market, &faults, &stop, heartbeat_ms)
                }
            }
            None => serve(stream, &creds, &market, &faults, &stop, heartbeat_ms),
        },
    )
}

fn query_param<'a>(query: &'a str, key: &str) -> Option<&'a str> {
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v)
}

fn forbidden(msg: &str) -> ErrorResponse {
    let body = format!(r#"{{"status":"error","message":"{msg}","error_type":"TokenException"}}"#);
    let mut r = ErrorResponse::new(Some(body));
    *r.status_mut() = tungstenite::http::StatusCode::FORBIDDEN;
    r
}

/// One client connection, on its own thread, until it closes, a fault drops it, or the
/// simulator stops.
fn serve<S: SimSocket>(
    stream: S,
    creds: &Credentials,
    market: &SimMarket,
    faults: &Faults,
    stop: &AtomicBool,
    heartbeat_ms: u64,
) {
    let _ = stream.tcp().set_nonblocking(false);
    let _ = stream.tcp().set_read_timeout(Some(Duration::from_secs(5)));
    let _ = stream.tcp().set_nodelay(true);
    // tungstenite's callback signature fixes the error type; it is built once per connection.
    #[allow(clippy::result_large_err)]
    let check = |req: &Request, resp: Response| -> Result<Response, ErrorResponse> {
        let q = req.uri().query().unwrap_or("");
        let ok = query_param(q, "api_key") == Some(creds.api_key.as_str())
            && query_param(q, "access_token") == Some(creds.access_token.as_str());
        if !ok {
            return Err(forbidden("Invalid api_key or access_token"));
        }
        if faults.token_expired.load(Ordering::Relaxed) {
            return Err(forbidden("Token is invalid or has expired"));
        }
        Ok(resp)
    };
    let Ok(mut ws) = tungstenite::accept_hdr(stream, check) else {
        return;
    };
    faults.ws_connections.fetch_add(1, Ordering::SeqCst);
    let generation = faults.ws_drop_generation.load(Ordering::SeqCst);
    let ticks = market.subscribe();
    let orders = market.order_updates();
    let _ = ws.get_ref().tcp().set_nonblocking(true);
    let mut subs: HashMap<u32, TickMode> = HashMap::new();
    let mut frame = Vec::with_capacity(1 << 16);
    let mut last_sent = Instant::now();
    let heartbeat = Duration::from_millis(heartbeat_ms.max(1));
    // Keeps faults.ws_subscribed in step with this connection, also when it ends.
    struct Subscribed<'a>(&'a Faults, u64);
    impl Subscribed<'_> {
        fn set(&mut self, n: u64) {
            if n >= self.1 {
                self.0.ws_subscribed.fetch_add(n - self.1, Ordering::SeqCst);
            } else {
                self.0.ws_subscribed.fetch_sub(self.1 - n, Ordering::SeqCst);
            }
            self.1 = n;
        }
    }
    impl Drop for Subscribed<'_> {
        fn drop(&mut self) {
            self.set(0);
        }
    }
    let mut counted = Subscribed(faults, 0);
    loop {
        if stop.load(Ordering::Relaxed) {
            let _ = ws.close(None);
            let _ = ws.flush();
            return;
        }
        if faults.ws_drop_generation.load(Ordering::SeqCst) != generation {
            // A dropped socket, not a polite close: the client must notice by itself.
            let _ = ws.get_ref().tcp().shutdown(std::net::Shutdown::Both);
            return;
        }
        if !read_commands(&mut ws, &mut subs) {
            return;
        }
        counted.set(subs.len() as u64);
        let stalled = faults.ws_stalled();
        if !stalled {
            while let Ok(text) = orders.try_recv() {
                if send(&mut ws, Message::Text(text.into())).is_err() {
                    return;
                }
            }
        }
        if faults.ws_bad_frames.take() {
            // One packet declared 50 bytes long with 3 behind it.
            if send(&mut ws, Message::Binary(vec![0, 1, 0, 50, 1, 2, 3].into())).is_err() {
                return;
            }
        }
        match ticks.recv_timeout(Duration::from_millis(5)) {
            Ok(batch) if !stalled => {
                let n = encode_for(&batch, &subs, &mut frame);
                if n > 0 {
                    if send(&mut ws, Message::Binary(frame.clone().into())).is_err() {
                        return;
                    }
                    last_sent = Instant::now();
                }
            }
            Ok(_) => {}
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {}
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => return,
        }
        if !stalled && last_sent.elapsed() >= heartbeat {
            if send(&mut ws, Message::Binary(vec![0u8].into())).is_err() {
                return;
            }
            last_sent = Instant::now();
        }
    }
}

/// Reads every pending client message; false when the connection is gone.
fn read_commands<S: SimSocket>(ws: &mut WebSocket<S>, subs: &mut HashMap<u32, TickMode>) -> bool {
    loop {
        match ws.read() {
            Ok(Message::Text(t)) => apply_command(t.as_str(), subs, ws),
            Ok(Message::Close(_)) => return false,
            Ok(_) => {}
            Err(tungstenite::Error::Io(e)) if e.kind() == ErrorKind::WouldBlock => return true,
            Err(_) => return false,
        }
    }
}

fn send<S: SimSocket>(ws: &mut WebSocket<S>, m: Message) -> Result<(), ()> {
    match ws.send(m) {
        Ok(()) => Ok(()),
        // Queued in tungstenite's buffer; the next send or flush carries on.
        Err(tungstenite::Error::Io(e)) if e.kind() == ErrorKind::WouldBlock => Ok(()),
        Err(_) => Err(()),
    }
}

fn mode_of(s: &str) -> Option<TickMode> {
    match s {
        "ltp" => Some(TickMode::Ltp),
        "quote" => Some(TickMode::Quote),
        "full" => Some(TickMode::Full),
        _ => None,
    }
}

fn tokens(v: &serde_json::Value) -> Vec<u32> {
    // Kite wants numbers; tokens sent as strings silently produce nothing.
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|t| t.as_u64())
                .map(|t| t as u32)
                .collect()
        })
        .unwrap_or_default()
}

fn apply_command<S: SimSocket>(
    text: &str,
    subs: &mut HashMap<u32, TickMode>,
    ws: &mut WebSocket<S>,
) {
    let Ok(msg) = serde_json::from_str::<serde_json::Value>(text) else {
        let _ = send(ws, error_message("Invalid message"));
        return;
    };
    let v = &msg["v"];
    match msg["a"].as_str() {
        Some("subscribe") => {
            for t in tokens(v) {
                if subs.len() >= MAX_TOKENS_PER_CONNECTION && !subs.contains_key(&t) {
                    let _ = send(
                        ws,
                        error_message("Maximum instruments per connection exceeded"),
                    );
                    break;
                }
                subs.entry(t).or_insert(TickMode::Quote);
            }
        }
        Some("unsubscribe") => {
            for t in tokens(v) {
                subs.remove(&t);
            }
        }
        Some("mode") => {
            let Some(mode) = v[0].as_str().and_then(mode_of) else {
                let _ = send(ws, error_message("Invalid mode"));
                return;
            };
            // Mode only applies to tokens already subscribed.
            for t in tokens(&v[1]) {
                if let Some(m) = subs.get_mut(&t) {
                    *m = mode;
                }
            }
        }
        _ => {
            let _ = send(ws, error_message("Invalid action"));
        }
    }
}

fn error_message(text: &str) -> Message {
    Message::Text(
        serde_json::json!({"type": "error", "data": text})
            .to_string()
            .into(),
    )
}

/// One frame of the batch's subscribed ticks, each in its mode; returns the packet count.
fn encode_for(batch: &[Tick], subs: &HashMap<u32, TickMode>, out: &mut Vec<u8>) -> u16 {
    if subs.is_empty() {
        return 0;
    }
    encode_mixed_frame(
        batch
            .iter()
            .filter_map(|t| subs.get(&t.token.0).map(|&m| (t, m))),
        out,
    )
}
