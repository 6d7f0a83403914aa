//! Shared by tests/no_alloc_ws.rs and benches/ws_feed.rs: a global allocator that counts only
//! on threads that ask it to, and a `KiteTicker` pointed at a local WebSocket server that
//! streams `per_frame` full-mode instruments.
#![allow(dead_code)]

use aitrapp::domain::{Tick, TickMode, Token};
use aitrapp::exec::InboxMsg;
use aitrapp::feed::kite_ws::{KiteTicker, TickerConfig};
use aitrapp::telemetry::hot_log::HotLog;
use aitrapp::telemetry::Metrics;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::Arc;
use std::time::Duration;

pub struct Counting;
thread_local! {
    static COUNT_HERE: Cell<bool> = const { Cell::new(false) };
    // Per thread, so tests running side by side do not add to each other's count.
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

/// Starts or stops counting allocations made on the calling thread.
pub fn count_here(on: bool) {
    COUNT_HERE.with(|c| c.set(on));
}

/// Allocations counted on the calling thread so far.
pub fn allocs_here() -> u64 {
    ALLOCS.with(|c| c.get())
}

fn count_one() {
    // try_with: the allocator runs while thread-locals are torn down too.
    if COUNT_HERE.try_with(|c| c.get()).unwrap_or(false) {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
    }
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        count_one();
        System.alloc(l)
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        System.dealloc(p, l)
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        count_one();
        System.realloc(p, l, n)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn token(i: usize) -> u32 {
    408065 + 256 * i as u32
}

/// The frame's instruments as full ticks; the caller stamps what it needs.
pub fn full_ticks(per_frame: usize) -> Vec<Tick> {
    (0..per_frame)
        .map(|i| Tick {
            token: Token(token(i)),
            mode: TickMode::Full,
            last_price: 157_370 + i as i32,
            exchange_timestamp: 1_764_000_000,
            ..Tick::default()
        })
        .collect()
}

/// A ticker on `root` (ws:// or wss://) subscribed to the `per_frame` instruments.
pub fn local_ticker(
    root: String,
    per_frame: usize,
    tls: Option<Arc<rustls::ClientConfig>>,
    metrics: Arc<Metrics>,
) -> KiteTicker {
    let (hot, _hot_rx) = HotLog::new(1024, metrics.clone());
    let (inbox, _inbox_rx) = crossbeam_channel::bounded::<InboxMsg>(16);
    KiteTicker::new(
        TickerConfig {
            ws_root: root,
            api_key: "k".into(),
            access_token: "t".into(),
            tokens: (0..per_frame).map(|i| (token(i), TickMode::Full)).collect(),
            stale_after: Duration::from_secs(30),
            max_reconnect_attempts: 0,
            connect_timeout: Duration::from_secs(5),
            backoff_base: Duration::from_millis(100),
            backoff_max: Duration::from_secs(1),
            tls,
        },
        metrics,
        hot,
        inbox,
    )
    .unwrap()
}

pub trait ReadWrite: std::io::Read + std::io::Write + Send {}
impl<T: std::io::Read + std::io::Write + Send> ReadWrite for T {}

/// Both ends of wss:// on loopback: the simulator's self-signed certificate, and the ticker's
/// TLS config trusting it (as `websocket.ca_file` does).
pub fn tls_pair() -> (Arc<rustls::ServerConfig>, Arc<rustls::ClientConfig>) {
    let sim = kite_sim::tls::self_signed().unwrap();
    let client = aitrapp::feed::kite_ws::tls_config_trusting(sim.ca_pem.as_bytes()).unwrap();
    (sim.server, client)
}

/// The server end of a ticker connection: the WebSocket upgrade over plain TCP or TLS.
pub fn accept_ws(
    stream: std::net::TcpStream,
    tls: Option<&Arc<rustls::ServerConfig>>,
) -> tungstenite::WebSocket<Box<dyn ReadWrite>> {
    stream.set_nodelay(true).unwrap();
    let stream: Box<dyn ReadWrite> = match tls {
        Some(cfg) => {
            let s = kite_sim::tls::accept(cfg, stream).expect("TLS handshake");
            s.sock.set_read_timeout(None).unwrap();
            Box::new(s)
        }
        None => Box::new(stream),
    };
    tungstenite::accept(stream).unwrap()
}
