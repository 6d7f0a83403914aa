//! The Kite pieces of a run: the ticker, the day's instrument dump, the REST client and the
//! LIVE order router, each built from `kite.*`, `websocket.*` and the credentials.

use super::*;
use crate::exec::kite::broker_book::read_broker_book;
use crate::exec::kite::reconciler::{log_report, track_adopted, Reconciler};
use crate::exec::kite::rest::KiteRest;

/// The Kite ticker from `websocket.*` and the credentials, over `tokens`.
pub fn kite_ticker(
    cfg: &AppConfig,
    base: &Path,
    secrets: &Secrets,
    tokens: Vec<(u32, TickMode)>,
    metrics: Arc<Metrics>,
    hot: HotLog,
    inbox: crossbeam_channel::Sender<InboxMsg>,
) -> Result<KiteTicker, AppError> {
    let (Some(api_key), Some(access_token)) = (&secrets.kite_api_key, &secrets.kite_access_token)
    else {
        return Err(startup(
            "feed.source: kite needs KITE_API_KEY and KITE_ACCESS_TOKEN (in .env or the environment; `aitrapp login` writes the token)",
        ));
    };
    let w = &cfg.websocket;
    let tls = if w.ws_root.starts_with("wss://") {
        let ca = w.ca_file.as_deref().map(|p| resolve_path(base, p));
        Some(
            kite_ws::tls_config(ca.as_deref())
                .map_err(|e| startup(format!("websocket TLS: {e}")))?,
        )
    } else {
        None
    };
    KiteTicker::new(
        TickerConfig {
            ws_root: w.ws_root.clone(),
            api_key: api_key.clone(),
            access_token: access_token.clone(),
            tokens,
            stale_after: Duration::from_millis(w.stale_after_ms),
            max_reconnect_attempts: w.max_reconnect_attempts,
            connect_timeout: Duration::from_millis(w.connect_timeout_ms),
            backoff_base: Duration::from_millis(w.reconnect_backoff_base_ms),
            backoff_max: Duration::from_millis(w.reconnect_backoff_max_ms),
            tls,
        },
        metrics,
        hot,
        inbox,
    )
    .map_err(|e| match e {
        kite_ws::TickerError::TooManyTokens { tokens, .. } => startup(format!(
            "the ticker would stream {tokens} instruments (the universe plus the indices), over Kite's 9000 (3 connections x 3000): narrow universe.symbols or the universe.include_* flags"
        )),
        other => startup(other),
    })
}

/// Where the instrument dump of `day` is cached (`kite.instruments_cache_dir`).
pub fn cached_instruments_path(cfg: &AppConfig, base: &Path, day: Date) -> PathBuf {
    resolve_path(base, &cfg.kite.instruments_cache_dir).join(format!("instruments-{}.csv", day.0))
}

/// Today's instrument dump from Kite, downloaded once per day into the cache directory
/// (written whole then renamed, so a crash never leaves half a file) and checked by parsing.
pub fn sync_instruments(
    cfg: &AppConfig,
    base: &Path,
    secrets: &Secrets,
    limiter: Arc<RateLimiter>,
) -> Result<PathBuf, AppError> {
    let path = cached_instruments_path(cfg, base, today_ist());
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    if let Ok(text) = std::fs::read_to_string(&path) {
        if InstrumentMaster::parse_csv(&text, &path.display().to_string()).is_ok() {
            log::info!(target: "app", file = path.display().to_string().as_str(); "Using today's cached instrument dump {}", path.display());
            return Ok(path);
        }
    }
    let (Some(key), Some(token)) = (&secrets.kite_api_key, &secrets.kite_access_token) else {
        return Err(startup(
            "instrument sync needs KITE_API_KEY and KITE_ACCESS_TOKEN",
        ));
    };
    let rest = kite_rest(cfg, base, key, token, limiter)?;
    let started = std::time::Instant::now();
    let csv = rest.instruments_csv().map_err(|e| {
        startup(format!(
            "downloading instruments from {}: {e}",
            cfg.kite.api_root
        ))
    })?;
    // A broken row fails here with its line number, before anything is cached.
    let parsed = InstrumentMaster::parse_csv(&csv, "Kite instrument dump").map_err(startup)?;
    std::fs::create_dir_all(&dir).map_err(|e| startup(format!("{}: {e}", dir.display())))?;
    let tmp = path.with_extension("csv.part");
    std::fs::write(&tmp, &csv)
        .and_then(|_| std::fs::rename(&tmp, &path))
        .map_err(|e| startup(format!("caching instruments at {}: {e}", path.display())))?;
    log::info!(target: "app", count = parsed.len(), ms = started.elapsed().as_millis() as u64, file = path.display().to_string().as_str();
        "Downloaded {} instruments from Kite in {} ms (cached at {})", parsed.len(), started.elapsed().as_millis(), path.display());
    Ok(path)
}

/// A REST client from `kite.*` (root, timeout, CA file) with these credentials.
pub fn kite_rest(
    cfg: &AppConfig,
    base: &Path,
    api_key: &str,
    access_token: &str,
    limiter: Arc<RateLimiter>,
) -> Result<KiteRest, AppError> {
    let k = &cfg.kite;
    let ca_pem = match &k.ca_file {
        Some(p) => {
            let path = resolve_path(base, p);
            Some(
                std::fs::read(&path)
                    .map_err(|e| startup(format!("kite.ca_file {}: {e}", path.display())))?,
            )
        }
        None => None,
    };
    KiteRest::new(
        RestConfig {
            api_root: k.api_root.clone(),
            api_key: api_key.to_string(),
            access_token: access_token.to_string(),
            timeout: Duration::from_millis(k.request_timeout_ms),
            ca_pem,
        },
        limiter,
    )
    .map_err(startup)
}

/// The LIVE order path: one rate limiter, the REST client, a session check, the router.
#[allow(clippy::too_many_arguments)]
pub(super) fn kite_router(
    cfg: &AppConfig,
    base: &Path,
    secrets: &Secrets,
    limiter: Arc<RateLimiter>,
    inbox: crossbeam_channel::Sender<InboxMsg>,
    updates: Receiver<KiteOrder>,
    stop: Arc<AtomicBool>,
    metrics: Arc<Metrics>,
    master: &InstrumentMaster,
) -> Result<LiveOrderPath, AppError> {
    let (Some(api_key), Some(access_token)) = (&secrets.kite_api_key, &secrets.kite_access_token)
    else {
        return Err(startup(
            "LIVE mode needs KITE_API_KEY and KITE_ACCESS_TOKEN",
        ));
    };
    let k = &cfg.kite;
    let rest = kite_rest(cfg, base, api_key, access_token, limiter)?;
    log::info!(target: "order", api_root = k.api_root.as_str(); "Checking the Kite session at {}...", k.api_root);
    match rest.profile() {
        Ok(user) => {
            log::info!(target: "order", user_id = user.as_str(); "Kite session valid for user {user}")
        }
        Err(e) if e.is_token() => {
            return Err(startup(format!(
                "LIVE mode refused: Kite rejected the access token ({e}); run `aitrapp login`"
            )))
        }
        Err(e) => {
            return Err(startup(format!(
                "LIVE mode refused: cannot reach Kite REST at {}: {e}",
                k.api_root
            )))
        }
    }
    let bands = circuit_limits(&rest, master);
    let rest = Arc::new(rest);
    let (router, threads) = router::start(
        rest.clone(),
        inbox,
        updates,
        RouterSettings {
            workers: k.io_workers,
            max_retries: cfg.execution.max_order_retries,
            backoff: Duration::from_millis(cfg.execution.retry_backoff_ms),
            poll_every: Duration::from_millis(k.order_poll_ms),
            metrics,
        },
        stop,
    )
    .map_err(startup)?;
    Ok(LiveOrderPath {
        router,
        threads,
        bands,
        rest,
    })
}

/// The router, its threads, the day's circuit limits by master index, and the REST client
/// reconciliation reads the account's book with.
pub(super) struct LiveOrderPath {
    pub router: KiteRouter,
    pub threads: Vec<std::thread::JoinHandle<()>>,
    pub bands: Vec<Option<PriceBand>>,
    pub rest: Arc<KiteRest>,
}

/// LIVE, before the first order: the desk (rebuilt from the journal, or new) matched to
/// Kite's orders and positions by tag. Fills made while down are applied, orders of ours
/// the journal missed adopted, the desk's working orders tracked at Kite (or placed again
/// when Kite never had them), and what it all sends (protective stops) goes out. A start
/// that cannot read Kite's book does not trade.
pub(super) fn reconcile_at_start(
    rest: &KiteRest,
    router: &KiteRouter,
    master: &InstrumentMaster,
    risk: &mut RiskStage,
    order: &mut OrderStage,
    metrics: &Metrics,
) -> Result<(), AppError> {
    let (book, skipped) = read_broker_book(rest, master).map_err(|e| {
        startup(format!(
            "LIVE mode refused: Kite's orders and positions could not be read for reconciliation ({e})"
        ))
    })?;
    if skipped > 0 {
        log::warn!(target: "reconcile", skipped = skipped;
            "Reconciliation: {skipped} order(s) or position(s) at Kite are in instruments outside today's instrument list (not matched)");
    }
    let resumed = risk.working_intents();
    let mut sent = Vec::new();
    let report = risk.reconcile(&book, true, &mut |ev| sent.push(ev));
    let (tracked, placed, ended) = order.resume_live(&resumed, &book);
    track_adopted(router, master, &report, &book);
    for ev in sent {
        order.on_slot(&Slot {
            ev,
            recv_ns: crate::clock::mono_ns(),
        });
    }
    log_report(&report, true, true);
    if tracked + placed > 0 {
        log::info!(target: "reconcile", tracked = tracked, placed = placed;
            "{tracked} working order(s) of the journal tracked at Kite, {placed} stop or exit order(s) placed again (Kite never had them)");
    }
    if ended > 0 {
        log::warn!(target: "reconcile", entries = ended;
            "{ended} entry order(s) of the journal are not at Kite: not sent again after the downtime (their moment passed); ended on the desk as cancelled");
    }
    metrics.reconcile_done.store(1, Ordering::Relaxed);
    Ok(())
}

/// The channels of the running reconciliation every `kite.reconcile_interval_s` (none when
/// 0): risk's ends, and the reconciler thread's, made before either starts so a session that
/// goes LIVE by POST /mode reconciles as a LIVE start does.
pub(super) fn reconcile_channels(cfg: &AppConfig) -> Option<(RiskEnds, ReconcilerEnds)> {
    if cfg.kite.reconcile_interval_s == 0 {
        return None;
    }
    let (books_tx, books_rx) = crossbeam_channel::bounded(1);
    let (reports_tx, reports_rx) = crossbeam_channel::bounded(4);
    Some(((books_rx, reports_tx), (books_tx, reports_rx)))
}

/// Risk's ends of the running reconciliation.
pub(super) type RiskEnds = (
    Receiver<BrokerBook>,
    crossbeam_channel::Sender<ReconcileReport>,
);
/// The reconciler thread's ends.
pub(super) type ReconcilerEnds = (
    crossbeam_channel::Sender<BrokerBook>,
    Receiver<ReconcileReport>,
);

/// The running reconciliation on its own thread.
pub(super) fn start_reconciler(
    cfg: &AppConfig,
    live: &LiveOrderPath,
    master: Arc<InstrumentMaster>,
    inbox: crossbeam_channel::Sender<InboxMsg>,
    stop: Arc<AtomicBool>,
    (books_tx, reports_rx): ReconcilerEnds,
) -> Result<std::thread::JoinHandle<()>, AppError> {
    Reconciler {
        rest: live.rest.clone(),
        master,
        router: live.router.clone(),
        inbox,
        books: books_tx,
        reports: reports_rx,
        every: Duration::from_secs(cfg.kite.reconcile_interval_s),
    }
    .spawn(stop)
    .map_err(startup)
}

/// The day's circuit limits of every tradable instrument from Kite's quote (500 a call,
/// through the rate limiter): orders priced outside them are refused before they are sent.
/// An instrument Kite gives none for is not checked, and the log says how many.
fn circuit_limits(rest: &KiteRest, master: &InstrumentMaster) -> Vec<Option<PriceBand>> {
    let mut bands = vec![None; master.len()];
    let keys: Vec<(usize, String)> = master
        .iter()
        .enumerate()
        .filter(|(_, i)| i.tradable())
        .map(|(k, i)| {
            (
                k,
                format!("{}:{}", i.exchange.as_str(), i.tradingsymbol.as_str()),
            )
        })
        .collect();
    let mut failed = 0usize;
    for chunk in keys.chunks(500) {
        let names: Vec<&str> = chunk.iter().map(|(_, k)| k.as_str()).collect();
        match rest.quote(&names) {
            Ok(data) => {
                for (idx, key) in chunk {
                    let d = master.by_index(*idx).divisor() as f64;
                    let q = data.get(key.as_str());
                    let px = |f: &str| {
                        q.and_then(|v| v[f].as_f64())
                            .map(|r| (r * d).round() as i64)
                    };
                    if let (Some(lower), Some(upper)) =
                        (px("lower_circuit_limit"), px("upper_circuit_limit"))
                    {
                        if lower > 0 && upper >= lower {
                            bands[*idx] = Some(PriceBand { lower, upper });
                        }
                    }
                }
            }
            Err(e) => {
                failed += chunk.len();
                log::warn!(target: "order", error = e.to_string().as_str();
                    "Circuit limits for {} instruments not fetched ({e}): their prices are not checked before sending", chunk.len());
            }
        }
    }
    let known = bands.iter().filter(|b| b.is_some()).count();
    log::info!(target: "order", instruments = known, missing = keys.len() - known, failed = failed;
        "Circuit limits for {known} of {} tradable instruments from Kite's quote", keys.len());
    bands
}

/// Startup waits (up to the connect timeout) for the first ticker connection, so "WebSocket
/// connected" comes before "AITRAPP started successfully" as the runbook shows. A feed that is
/// not up by then keeps retrying in the background, and the log says so.
pub(super) fn wait_for_ticker(
    metrics: &Metrics,
    cfg: &AppConfig,
    description: &str,
    stop: &AtomicBool,
) {
    let deadline =
        std::time::Instant::now() + Duration::from_millis(cfg.websocket.connect_timeout_ms);
    while Metrics::get(&metrics.ws_connections_open) == 0
        && std::time::Instant::now() < deadline
        && !stop.load(Ordering::Relaxed)
    {
        std::thread::sleep(Duration::from_millis(5));
    }
    if Metrics::get(&metrics.ws_connections_open) > 0 {
        log::info!(target: "feed", source = description; "WebSocket connected ({description})");
    } else {
        log::warn!(target: "feed", source = description;
            "WebSocket not connected after {} ms ({description}); still retrying in the background", cfg.websocket.connect_timeout_ms);
    }
}
