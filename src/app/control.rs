//! The operator's surface of a run: the control API and the dashboard, each on its own
//! thread, wired to the snapshot, the inbox, the journal and the reloads.

use super::*;
use crate::control::http::{TradesSource, MAX_BODY_BYTES};
use crate::control::server::HttpServer;
use crate::telemetry::journal::SyncRequest;
use crossbeam_channel::Sender;
use std::thread::JoinHandle;

/// What the control API and the dashboard are built from.
pub(super) struct ControlInputs<'a> {
    pub cfg: &'a AppConfig,
    pub secrets: &'a Secrets,
    pub snapshot_path: &'a Path,
    pub inbox: Sender<InboxMsg>,
    pub flatten_replies: Receiver<FlattenReport>,
    pub mode_replies: Receiver<ModeReport>,
    pub live_switch: Option<crate::control::http::LiveSwitch>,
    pub metrics: Arc<Metrics>,
    pub feed: String,
    pub journal_sync: Option<(Sender<SyncRequest>, String)>,
    pub trades: Option<TradesSource>,
    pub reloader: Option<Reloader>,
    pub alerts: Option<crate::control::alerts::DayAlerts>,
    pub stop: Arc<AtomicBool>,
}

/// Starts the alert thread and its channel workers on the process's alert queue; says which
/// channels are on. They run until `finish_alerts`, after every thread that raises alerts.
pub(super) fn start_alerts(
    cfg: &AppConfig,
    secrets: &Secrets,
    base: &Path,
    metrics: Arc<Metrics>,
) -> Result<
    Option<(
        crate::control::alerts::DayAlerts,
        crate::control::alerts::AlertThreads,
    )>,
    AppError,
> {
    use crate::control::alerts;
    let Some(rx) = crate::telemetry::alerts::install(cfg.alerts.queue, metrics.clone()) else {
        return Ok(None);
    };
    let channels = alerts::channels::from_config(&cfg.alerts, &secrets.alerts, base);
    let on: Vec<&str> = channels.ready.iter().map(|c| c.channel.name()).collect();
    let off: Vec<String> = channels
        .off
        .iter()
        .map(|(n, why)| format!("{n} off ({why})"))
        .collect();
    if cfg.alerts.enabled {
        log::info!(target: "alerts", on = on.join(",").as_str();
            "Alerts: {}{}{}", if on.is_empty() { "no channel on".to_string() } else { format!("{} on", on.join(", ")) },
            if off.is_empty() { "" } else { "; " }, off.join("; "));
    } else {
        log::info!(target: "alerts", "Alerts off (alerts.enabled: false): listed on the dashboard, not sent");
    }
    alerts::spawn(rx, channels.ready, &cfg.alerts, metrics)
        .map(Some)
        .map_err(startup)
}

/// Sends the alerts still queued at shutdown, for up to alerts.shutdown_drain_ms, and says
/// what became of them; a channel stuck in a send is left to the exit.
pub(super) fn finish_alerts(threads: crate::control::alerts::AlertThreads, cfg: &AppConfig) {
    let d = threads.finish(Duration::from_millis(cfg.alerts.shutdown_drain_ms));
    if d.not_sent > 0 || d.still_sending > 0 {
        log::warn!(target: "alerts", sent = d.sent, not_sent = d.not_sent, still_sending = d.still_sending;
            "Alerts at shutdown: {} sent, {} not sent, {} channel(s) still sending after alerts.shutdown_drain_ms ({} ms)",
            d.sent, d.not_sent, d.still_sending, cfg.alerts.shutdown_drain_ms);
    } else {
        log::info!(target: "alerts", sent = d.sent, not_sent = 0u64;
            "Alerts at shutdown: {} sent, none left", d.sent);
    }
}

/// Starts the control API (a port it cannot take refuses the start) and the dashboard (one
/// it cannot take is logged and trading goes on without it).
pub(super) fn start(i: ControlInputs) -> Result<Vec<JoinHandle<()>>, AppError> {
    let cfg = i.cfg;
    let addr = format!("{}:{}", cfg.control.bind, cfg.control.api_port);
    let views = crate::control::http::shortcut(
        SnapshotReader::open(i.snapshot_path).map_err(startup)?,
        i.metrics.clone(),
    );
    let server = HttpServer::bind(&addr, MAX_BODY_BYTES, Some(views))
        .map_err(|e| startup(format!("cannot listen on {addr}: {e}")))?;
    let reader = SnapshotReader::open(i.snapshot_path).map_err(startup)?;
    let api = ControlApi::new(
        i.inbox,
        i.flatten_replies,
        reader,
        i.metrics,
        i.secrets.api_secret_key.clone(),
        i.feed,
    )
    .with_mode_switch(i.mode_replies, i.live_switch)
    .with_feed_stale_after(Duration::from_secs(cfg.monitoring.feed_stale_s.max(1)))
    .with_journal_sync(i.journal_sync)
    .with_trades(i.trades)
    .with_reloads(i.reloader)
    .with_alerts(i.alerts);
    let stop = i.stop.clone();
    log::info!(target: "control", addr = addr.as_str(); "Control API listening on http://{addr}");
    let mut threads = vec![std::thread::Builder::new()
        .name("aitrapp-control".into())
        .spawn(move || api.serve(server, stop))
        .map_err(startup)?];
    // The dashboard is for eyes only: if its port is taken, trading goes on without it.
    let dash_addr = format!("{}:{}", cfg.control.bind, cfg.control.dashboard_port);
    match HttpServer::bind(&dash_addr, MAX_BODY_BYTES, None) {
        Ok(server) => {
            // The page's buttons go to the API; a wildcard bind is reached on loopback.
            let api_host = match cfg.control.bind.as_str() {
                "0.0.0.0" | "::" | "[::]" => "127.0.0.1".to_string(),
                b if b.contains(':') && !b.starts_with('[') => format!("[{b}]"),
                b => b.to_string(),
            };
            let dashboard = Dashboard::new(
                SnapshotReader::open(i.snapshot_path).map_err(startup)?,
                format!("{api_host}:{}", cfg.control.api_port),
            );
            let stop = i.stop.clone();
            log::info!(target: "control", addr = dash_addr.as_str(); "Dashboard on http://{dash_addr}");
            threads.push(
                std::thread::Builder::new()
                    .name("aitrapp-dashboard".into())
                    .spawn(move || dashboard.serve(server, stop))
                    .map_err(startup)?,
            );
        }
        Err(e) => {
            log::warn!(target: "control", addr = dash_addr.as_str(); "Dashboard not started: cannot listen on {dash_addr}: {e}")
        }
    }
    Ok(threads)
}
