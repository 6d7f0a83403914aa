//! kite-sim: a local server that speaks the Kite Connect protocol, so aitrapp's Kite clients
//! (and LIVE mode) run end to end with no account and no internet.
//!
//! - `market`: the synthetic NSE market (or a recording) stepping in real time; the latest
//!   tick per instrument is the book the REST side quotes and matches against.
//! - `ws`: the binary WebSocket ticker (subscribe, unsubscribe, ltp/quote/full modes,
//!   1-byte heartbeats, 403 on bad credentials).
//! - `rest`: Kite's REST envelopes, and `/__sim/...` endpoints that inject faults.
//! - `exchange`: validation, matching, order history, trades and positions.
//! - `faults`: the switches those endpoints and the command-line flags flip.

pub mod exchange;
pub mod faults;
pub mod market;
pub mod rest;
pub mod tls;
pub mod ws;

use aitrapp::config::AppConfig;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

pub use faults::Faults;
/// A GET carrying this header is a test observing the simulator: not rate limited.
pub const OBSERVER_HEADER: &str = "X-Sim-Observer";
pub use market::SimMarket;

/// Credentials the simulator accepts.
#[derive(Clone, Debug)]
pub struct Credentials {
    pub api_key: String,
    pub api_secret: String,
    pub access_token: String,
}

impl Default for Credentials {
    fn default() -> Self {
        Credentials {
            api_key: "sim_api_key".into(),
            api_secret: "sim_api_secret".into(),
            access_token: "sim_access_token".into(),
        }
    }
}

pub struct SimConfig {
    pub rest_addr: SocketAddr,
    pub ws_addr: SocketAddr,
    pub credentials: Credentials,
    /// The market: `feed.synthetic` (seed, instruments, start time, speed) and the
    /// instruments file from an aitrapp config.
    pub app: AppConfig,
    /// Base directory for the config's relative paths.
    pub base_dir: PathBuf,
    /// Play this recording instead of the synthetic market.
    pub replay: Option<PathBuf>,
    /// Idle interval between 1-byte heartbeats on a connection with nothing to stream.
    pub heartbeat_ms: u64,
    /// Serve wss:// and https:// with a fresh self-signed certificate.
    pub tls: bool,
}

/// A running simulator. Dropping it (or `stop`) shuts every thread down.
pub struct SimHandle {
    pub rest_addr: SocketAddr,
    pub ws_addr: SocketAddr,
    pub faults: Arc<Faults>,
    pub market: Arc<SimMarket>,
    /// With `tls`: the self-signed certificate (PEM) clients must trust.
    pub ca_pem: Option<String>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl SimHandle {
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }

    /// `ws://addr` (or `wss://`) for an aitrapp config's `websocket.ws_root`.
    pub fn ws_root(&self) -> String {
        let s = if self.ca_pem.is_some() { "wss" } else { "ws" };
        format!("{s}://{}", self.ws_addr)
    }

    /// `http://addr` (or `https://`) for an aitrapp config's `kite.api_root`.
    pub fn rest_root(&self) -> String {
        let s = if self.ca_pem.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{s}://{}", self.rest_addr)
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Accepts connections on `addr` until `stop`, each served on its own thread by `serve`;
/// the connection threads are joined before this thread ends.
pub(crate) fn accept_loop(
    addr: SocketAddr,
    name: &str,
    stop: Arc<AtomicBool>,
    serve: impl Fn(std::net::TcpStream) + Clone + Send + 'static,
) -> anyhow::Result<(SocketAddr, JoinHandle<()>)> {
    let listener = std::net::TcpListener::bind(addr)?;
    let local = listener.local_addr()?;
    listener.set_nonblocking(true)?;
    let conn_name = format!("{name}-conn");
    let h = std::thread::Builder::new()
        .name(name.to_string())
        .spawn(move || {
            let mut conns: Vec<JoinHandle<()>> = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let serve = serve.clone();
                        if let Ok(h) = std::thread::Builder::new()
                            .name(conn_name.clone())
                            .spawn(move || serve(stream))
                        {
                            conns.push(h);
                        }
                        conns.retain(|h| !h.is_finished());
                    }
                    Err(_) => std::thread::sleep(std::time::Duration::from_millis(5)),
                }
            }
            for h in conns {
                let _ = h.join();
            }
        })?;
    Ok((local, h))
}

/// Binds both ports, starts the market, WS and REST threads, and returns at once.
pub fn start(cfg: SimConfig) -> anyhow::Result<SimHandle> {
    let stop = Arc::new(AtomicBool::new(false));
    let faults = Arc::new(Faults::default());
    let tls = if cfg.tls {
        Some(tls::self_signed()?)
    } else {
        None
    };
    let market = Arc::new(SimMarket::new(
        &cfg.app,
        &cfg.base_dir,
        cfg.replay.is_none(),
    )?);
    let mut threads = Vec::new();
    threads.push(market::spawn(
        market.clone(),
        &cfg.app,
        &cfg.base_dir,
        cfg.replay.as_deref(),
        stop.clone(),
    )?);
    let (ws_addr, ws_thread) = ws::spawn(
        cfg.ws_addr,
        cfg.credentials.clone(),
        market.clone(),
        faults.clone(),
        stop.clone(),
        cfg.heartbeat_ms,
        tls.as_ref().map(|t| t.server.clone()),
    )?;
    threads.push(ws_thread);
    // With TLS the HTTP server listens privately and a terminator takes the public port.
    let http_addr = if tls.is_some() {
        "127.0.0.1:0".parse()?
    } else {
        cfg.rest_addr
    };
    let (mut rest_addr, rest_thread) = rest::spawn(
        http_addr,
        cfg.credentials.clone(),
        market.clone(),
        faults.clone(),
        stop.clone(),
    )?;
    threads.push(rest_thread);
    if let Some(t) = &tls {
        let (public, h) =
            tls::terminator(cfg.rest_addr, rest_addr, t.server.clone(), stop.clone())?;
        rest_addr = public;
        threads.push(h);
    }
    Ok(SimHandle {
        rest_addr,
        ws_addr,
        faults,
        market,
        ca_pem: tls.map(|t| t.ca_pem),
        stop,
        threads,
    })
}
