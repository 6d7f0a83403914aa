//! `kite-sim`: serves the Kite protocol on loopback until SIGINT or SIGTERM.

use anyhow::Context;
use clap::Parser;
use kite_sim::{Credentials, SimConfig};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "kite-sim",
    about = "A local Kite Connect server: binary WS ticker, REST, faults on demand"
)]
struct Cli {
    #[arg(long, default_value = "127.0.0.1:0")]
    rest_addr: std::net::SocketAddr,
    #[arg(long, default_value = "127.0.0.1:0")]
    ws_addr: std::net::SocketAddr,
    #[arg(long, default_value = "sim_api_key")]
    api_key: String,
    #[arg(long, default_value = "sim_api_secret")]
    api_secret: String,
    #[arg(long, default_value = "sim_access_token")]
    access_token: String,
    /// Synthetic market seed (default: feed.synthetic.seed of the config).
    #[arg(long)]
    seed: Option<u64>,
    /// aitrapp config whose instruments file and feed.synthetic settings shape the market.
    #[arg(long, default_value = "configs/app.yaml")]
    config: PathBuf,
    /// Simulated IST start time (default: the config's feed.synthetic.start_time).
    #[arg(long)]
    start: Option<String>,
    /// Simulated seconds per real second (default 1: a live exchange).
    #[arg(long, default_value_t = 1.0)]
    speed: f64,
    /// Play a recorded session (aitrapp record format) instead of the synthetic market.
    #[arg(long)]
    replay: Option<PathBuf>,
    #[arg(long, default_value_t = 1000)]
    heartbeat_ms: u64,
    /// Start with the ticker stalled for this many ms.
    #[arg(long)]
    stall_ws_ms: Option<u64>,
    /// Start with the access token expired.
    #[arg(long)]
    expired_token: bool,
    /// Serve wss:// and https:// with a self-signed certificate, written to --cert-out.
    #[arg(long)]
    tls: bool,
    #[arg(long, default_value = "kite-sim-ca.pem")]
    cert_out: PathBuf,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let base = aitrapp::config::base_dir(&cli.config);
    let env = aitrapp::config::Environment::from_process(&base.join(".env"));
    let mut app = aitrapp::config::load(&cli.config, &env)
        .with_context(|| format!("loading {}", cli.config.display()))?;
    if let Some(seed) = cli.seed {
        app.feed.synthetic.seed = seed;
    }
    if let Some(start) = cli.start {
        app.feed.synthetic.start_time = start;
    }
    app.feed.synthetic.speed = cli.speed;
    let sim = kite_sim::start(SimConfig {
        rest_addr: cli.rest_addr,
        ws_addr: cli.ws_addr,
        credentials: Credentials {
            api_key: cli.api_key,
            api_secret: cli.api_secret,
            access_token: cli.access_token,
        },
        app,
        base_dir: base,
        replay: cli.replay,
        heartbeat_ms: cli.heartbeat_ms,
        tls: cli.tls,
    })?;
    if let Some(pem) = &sim.ca_pem {
        std::fs::write(&cli.cert_out, pem)
            .with_context(|| format!("writing {}", cli.cert_out.display()))?;
        println!(
            "kite-sim certificate in {} (set websocket.ca_file and kite.ca_file to it)",
            cli.cert_out.display()
        );
    }
    if let Some(ms) = cli.stall_ws_ms {
        sim.faults.stall_ws(ms);
    }
    if cli.expired_token {
        sim.faults.expire_token();
    }
    println!("kite-sim REST on {}", sim.rest_root());
    println!("kite-sim WebSocket on {}", sim.ws_root());
    let stop = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGINT, stop.clone())?;
    signal_hook::flag::register(signal_hook::consts::SIGTERM, stop.clone())?;
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(50));
    }
    println!("kite-sim stopping");
    sim.stop();
    Ok(())
}
