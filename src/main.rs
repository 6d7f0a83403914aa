//! The aitrapp command line: run, check-config, decode, snapshot, login.

use aitrapp::app::{self, RunOptions};
use aitrapp::config::{self, Environment, Mode};
use aitrapp::control::logging;
use aitrapp::feed::codec::{decode_frame, tick_json};
use aitrapp::feed::record::RecordReader;
use aitrapp::telemetry::snapshot;
use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

const CONFIRMATION: &str = "CONFIRM LIVE TRADING";

#[derive(Parser)]
#[command(
    name = "aitrapp",
    version,
    about = "Intraday trading for NSE through Zerodha Kite Connect"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the trading system (PAPER by default, on the synthetic market without credentials).
    Run {
        #[arg(long, default_value = "configs/app.yaml")]
        config: PathBuf,
        /// PAPER downgrades a LIVE config; LIVE must match `mode: LIVE` in the config.
        #[arg(long, value_parser = ["PAPER", "LIVE"])]
        mode: Option<String>,
        /// For unattended LIVE starts: must be exactly "CONFIRM LIVE TRADING".
        #[arg(long)]
        confirm_live: Option<String>,
    },
    /// Validate a config file: prints OK or every problem (exit 0 or 2).
    CheckConfig {
        #[arg(default_value = "configs/app.yaml")]
        path: PathBuf,
    },
    /// Print every tick of a recorded frame file as one JSON object per line.
    Decode { file: PathBuf },
    /// Indicators over candles in Kite's historical format (CSV `date,open,high,low,close,volume`
    /// or the historical API's JSON): one JSON object per candle, null until warmed up, periods
    /// from the config's `indicators` section. To hold our values against a charting platform.
    Indicators {
        #[arg(long)]
        candles: PathBuf,
        #[arg(long, default_value = "configs/app.yaml")]
        config: PathBuf,
    },
    /// Record the Kite ticker to a file (record format) until --duration, SIGINT or SIGTERM.
    Record {
        #[arg(long, default_value = "configs/app.yaml")]
        config: PathBuf,
        #[arg(long)]
        out: PathBuf,
        /// Instrument tokens, comma separated (default: the universe plus the indices).
        #[arg(long, value_delimiter = ',')]
        tokens: Vec<u32>,
        /// ltp | quote | full (default: websocket.mode).
        #[arg(long, value_parser = ["ltp", "quote", "full"])]
        mode: Option<String>,
        /// How long: 90s, 10m, 2h (plain numbers are seconds).
        #[arg(long)]
        duration: Option<String>,
    },
    /// Kite login: print the login URL, take the request_token (argument or a one-shot
    /// redirect listener on 127.0.0.1), store KITE_ACCESS_TOKEN in .env (mode 0600).
    /// `--check` validates the current token instead (exit 0 valid, 1 not).
    Login {
        #[arg(long, default_value = "configs/app.yaml")]
        config: PathBuf,
        /// The request_token from the redirect URL.
        #[arg(long)]
        request_token: Option<String>,
        /// Where the redirect listener waits (the app's registered redirect URL must point here).
        #[arg(long, default_value = "127.0.0.1:5010")]
        listen: String,
        /// Seconds to wait for the redirect.
        #[arg(long, default_value_t = 300)]
        wait_secs: u64,
        #[arg(long)]
        check: bool,
    },
    /// Charges of one intraday round trip (buy then sell `qty`) by the dated tables of
    /// configs/charges.yaml, in rupees: a table, or one JSON object with --json.
    Charges {
        #[arg(long, value_parser = ["intraday", "futures", "options"])]
        segment: String,
        /// Buy price in rupees (up to 2 decimals).
        #[arg(long)]
        buy: String,
        /// Sell price in rupees (up to 2 decimals).
        #[arg(long)]
        sell: String,
        /// Quantity in units (shares, or lots x lot size).
        #[arg(long)]
        qty: i64,
        /// Trade date (yyyy-mm-dd); default today (IST). Picks the table in force then.
        #[arg(long)]
        date: Option<String>,
        #[arg(long)]
        json: bool,
        /// The charges file; default risk.charges_file of --config.
        #[arg(long)]
        file: Option<PathBuf>,
        #[arg(long, default_value = "configs/app.yaml")]
        config: PathBuf,
    },
    /// The trades of a day (default today) or a range from the journals, as CSV for tax
    /// records: gross P&L, each charge line, net P&L, strategy and exit reason.
    Export {
        #[arg(long, default_value = "configs/app.yaml")]
        config: PathBuf,
        /// One trading day (yyyy-mm-dd).
        #[arg(long)]
        date: Option<String>,
        #[arg(long)]
        from: Option<String>,
        #[arg(long)]
        to: Option<String>,
        /// The CSV file (default: standard output).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Copy the journals and config files (never .env) into one checked backup file; while
    /// the engine runs, its journal is fsynced to a known length first.
    Backup {
        #[arg(long, default_value = "configs/app.yaml")]
        config: PathBuf,
        #[arg(long)]
        out: PathBuf,
    },
    /// Put a backup's journals back (the ones replaced are moved aside); refuses while the
    /// engine runs or when any checksum fails.
    Restore {
        #[arg(long, default_value = "configs/app.yaml")]
        config: PathBuf,
        /// Restore the backup's config files too (the current ones are kept beside them).
        #[arg(long)]
        configs: bool,
        file: PathBuf,
    },
    /// Print the running system's memory-mapped snapshot as JSON (works from any process).
    Snapshot {
        #[arg(long, default_value = "configs/app.yaml")]
        config: PathBuf,
        /// Snapshot file; defaults to control.snapshot_path of the config.
        #[arg(long)]
        path: Option<PathBuf>,
    },
}

use aitrapp::config::base_dir;

/// Backup and restore: the config, its base and directory, and the environment in; the
/// summary line out (exit 0), or the reason (exit 1).
fn cmd_backup(
    config: &Path,
    f: impl FnOnce(
        &config::AppConfig,
        &Path,
        &Path,
        &Environment,
    ) -> Result<String, aitrapp::app::AppError>,
) -> Result<ExitCode> {
    let base = base_dir(config);
    let env = Environment::from_process(&base.join(".env"));
    let cfg = match load_config(config, &env) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    let dir = config.parent().unwrap_or(Path::new("."));
    match f(&cfg, &base, dir, &env) {
        Ok(line) => {
            println!("{line}");
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("error: {e}");
            Ok(ExitCode::from(1))
        }
    }
}

fn load_config(path: &Path, env: &Environment) -> Result<config::AppConfig, ExitCode> {
    config::load(path, env).map_err(|e| {
        eprint!("{e}");
        ExitCode::from(2)
    })
}

/// A tool's config: the file when it exists (a bad one is refused, exit 2), else defaults.
fn config_or_default(path: &Path) -> Result<config::AppConfig, ExitCode> {
    if path.exists() {
        load_config(path, &Environment::default())
    } else {
        Ok(config::AppConfig::default())
    }
}

/// `aitrapp indicators`: every candle with its indicator values, rupees, one JSON line each.
fn cmd_indicators(candles: &Path, config_path: &Path) -> Result<ExitCode> {
    use aitrapp::domain::candle::parse_candles;
    use aitrapp::strategy::indicators::{IndicatorPeriods, IndicatorSet};
    let cfg = match config_or_default(config_path) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    let text = std::fs::read_to_string(candles)
        .with_context(|| format!("reading {}", candles.display()))?;
    let bars = match parse_candles(&text, &candles.display().to_string(), 100) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    let mut set = IndicatorSet::new(&IndicatorPeriods::from(&cfg.indicators));
    let rupees = |x: Option<f64>| x.map(|v| (v / 100.0 * 1e6).round() / 1e6);
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for c in &bars {
        let v = set.update(c);
        // Written by hand to keep the documented field order.
        let num = |x: Option<f64>| x.map_or("null".to_string(), |v| format!("{v}"));
        let line = format!(
            "{{\"date\":\"{}\",\"ema_fast\":{},\"ema_slow\":{},\"atr\":{},\"rsi\":{},\"adx\":{},\"bb_upper\":{},\"bb_middle\":{},\"bb_lower\":{},\"vwap\":{},\"supertrend\":{}}}",
            aitrapp::clock::kite_time(c.start as i64),
            num(rupees(v.ema_fast)),
            num(rupees(v.ema_slow)),
            num(rupees(v.atr)),
            num(v.rsi.map(|x| (x * 1e6).round() / 1e6)),
            num(v.adx.and_then(|a| a.adx).map(|x| (x * 1e6).round() / 1e6)),
            num(rupees(v.bb.map(|b| b.upper))),
            num(rupees(v.bb.map(|b| b.middle))),
            num(rupees(v.bb.map(|b| b.lower))),
            num(rupees(v.vwap.map(|x| x.vwap))),
            num(rupees(v.supertrend.map(|x| x.value))),
        );
        if writeln!(out, "{line}").is_err() {
            break; // a closed pipe (| head) is not an error
        }
    }
    let _ = out.flush();
    Ok(ExitCode::SUCCESS)
}

/// A flag SIGINT and SIGTERM set: the run drains and exits 0.
fn stop_on_signals() -> Result<Arc<AtomicBool>> {
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, stop.clone()).context("installing signal handlers")?;
    }
    Ok(stop)
}

/// JSON lines into `logging.dir/file` (rotating), a readable copy on stderr if asked.
fn init_logging(cfg: &config::AppConfig, base: &Path, file: &str, stderr: bool) -> Result<()> {
    let level = config::parse_level(&cfg.logging.level).unwrap_or(log::LevelFilter::Info);
    logging::init(
        &aitrapp::config::resolve_path(base, &cfg.logging.dir)
            .display()
            .to_string(),
        file,
        level,
        cfg.logging.max_bytes,
        cfg.logging.backup_count,
        stderr,
    )
    .map_err(anyhow::Error::msg)?;
    Ok(())
}

fn cmd_run(
    config_path: PathBuf,
    mode: Option<String>,
    confirm_live: Option<String>,
) -> Result<ExitCode> {
    let base = base_dir(&config_path);
    let env = Environment::from_process(&base.join(".env"));
    let mut cfg = match load_config(&config_path, &env) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    // LIVE needs both the config and the command line: --mode LIVE alone never turns a
    // PAPER config into real orders. --mode PAPER always downgrades.
    let live_flag_on_paper_config = mode.as_deref() == Some("LIVE") && cfg.mode != Mode::Live;
    if mode.as_deref() == Some("PAPER") {
        cfg.mode = Mode::Paper;
    }
    init_logging(&cfg, &base, &cfg.logging.file, cfg.logging.stderr)?;
    if live_flag_on_paper_config {
        log::error!(target: "app", config = config_path.display().to_string().as_str();
            "LIVE mode refused: --mode LIVE needs `mode: LIVE` in {} as well", config_path.display());
        return Ok(ExitCode::from(2));
    }
    let secrets = env.secrets();
    if cfg.mode == Mode::Live {
        if !secrets.has_kite_credentials() {
            log::error!(target: "app", "LIVE mode refused: KITE_API_KEY and KITE_ACCESS_TOKEN must be set (in .env or the environment)");
            return Ok(ExitCode::from(2));
        }
        let confirmed = match confirm_live {
            Some(c) => c == CONFIRMATION,
            None => {
                eprint!("LIVE TRADING with real money. Type {CONFIRMATION} to continue: ");
                let _ = std::io::stderr().flush();
                let mut line = String::new();
                let _ = std::io::stdin().lock().read_line(&mut line);
                line.trim_end_matches(['\r', '\n']) == CONFIRMATION
            }
        };
        if !confirmed {
            log::error!(target: "app", "LIVE mode refused: the confirmation did not read exactly \"{CONFIRMATION}\"");
            return Ok(ExitCode::from(2));
        }
        log::warn!(target: "app", "LIVE TRADING confirmed: orders go to Kite");
    }
    let stop = stop_on_signals()?;
    let opts = RunOptions {
        config: cfg,
        secrets,
        serve_http: true,
        stop,
        base_dir: base,
        config_path: Some(config_path),
    };
    match app::run(opts) {
        Ok(_) => Ok(ExitCode::SUCCESS),
        Err(e) => {
            log::error!(target: "app", "Startup failed: {e}");
            log::logger().flush();
            Ok(ExitCode::from(1))
        }
    }
}

/// Rupees as written ("1000", "135.5", "0.05") to paise, exactly; more than 2 decimals is an error.
fn parse_rupees(s: &str) -> Option<i64> {
    let (whole, frac) = s.trim().split_once('.').unwrap_or((s.trim(), ""));
    if whole.is_empty() || frac.len() > 2 || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let w: i64 = whole.parse().ok()?;
    let f: i64 = format!("{frac:0<2}").parse().ok()?;
    w.checked_mul(100)?.checked_add(f)
}

#[allow(clippy::too_many_arguments)]
fn cmd_charges(
    segment: &str,
    buy: &str,
    sell: &str,
    qty: i64,
    date: Option<String>,
    json: bool,
    file: Option<PathBuf>,
    config_path: &Path,
) -> Result<ExitCode> {
    use aitrapp::domain::{format_rupees, Date, Price, Qty};
    use aitrapp::risk::charges::{ChargeSchedule, ChargeSegment};
    let bad = |m: String| {
        eprintln!("error: {m}");
        Ok(ExitCode::from(2))
    };
    let Some(seg) = ChargeSegment::parse(segment) else {
        return bad(format!(
            "--segment must be intraday, futures or options (got `{segment}`)"
        ));
    };
    let (Some(b), Some(s)) = (parse_rupees(buy), parse_rupees(sell)) else {
        return bad(format!(
            "--buy and --sell must be rupees with at most 2 decimals (got `{buy}`, `{sell}`)"
        ));
    };
    if qty <= 0 {
        return bad(format!(
            "--qty must be a positive number of units (got {qty})"
        ));
    }
    let day = match date.as_deref() {
        None => aitrapp::clock::today_ist(),
        Some(d) => match Date::parse(d) {
            Some(d) => d,
            None => return bad(format!("--date must be yyyy-mm-dd (got `{d}`)")),
        },
    };
    let path = match file {
        Some(f) => f,
        None => {
            let cfg = match config_or_default(config_path) {
                Ok(c) => c,
                Err(code) => return Ok(code),
            };
            config::resolve_path(&base_dir(config_path), &cfg.risk.charges_file)
        }
    };
    let sched = match ChargeSchedule::load(&path) {
        Ok(s) => s,
        Err(e) => {
            eprint!("{e}");
            return Ok(ExitCode::from(2));
        }
    };
    let Some(t) = sched.round_trip(seg, Price(b), Price(s), Qty(qty), day) else {
        return bad(format!("{}: no rate table covers {day}", path.display()));
    };
    let total = t.charges.total();
    let mut rows: Vec<(&str, i64)> = t.charges.lines().iter().map(|(k, v)| (*k, v.0)).collect();
    rows.push(("total", total.0));
    rows.push(("gross_pnl", t.gross_pnl.0));
    rows.push(("net_pnl", t.net_pnl.0));
    rows.push(("points_to_breakeven", t.points_to_breakeven.0));
    let from = sched
        .table_for(day)
        .map(|t| t.from.to_string())
        .unwrap_or_default();
    if json {
        let mut m = serde_json::Map::new();
        for (k, v) in &rows {
            m.insert((*k).into(), serde_json::json!(*v as f64 / 100.0));
        }
        m.insert("segment".into(), serde_json::json!(seg.as_str()));
        m.insert("date".into(), serde_json::json!(day.to_string()));
        m.insert("rate_table_from".into(), serde_json::json!(from));
        println!("{}", serde_json::Value::Object(m));
    } else {
        println!(
            "{} round trip: buy {} sell {} qty {qty} on {day} (rates from {from})",
            seg.as_str(),
            format_rupees(b, 100),
            format_rupees(s, 100)
        );
        for (k, v) in rows {
            println!("{k:<20} {:>14}", format_rupees(v, 100));
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn cmd_decode(file: &Path) -> Result<ExitCode> {
    let data = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let (mut frames, mut bad) = (0u64, 0u64);
    for item in RecordReader::new(&data) {
        let (_ts, frame) = match item {
            Ok(f) => f,
            Err(e) => {
                eprintln!("{}: {e}", file.display());
                bad += 1;
                break;
            }
        };
        frames += 1;
        let mut write_err = None;
        if let Err(e) = decode_frame(frame, |t| {
            if let Err(e) = writeln!(out, "{}", tick_json(t)) {
                write_err = Some(e);
            }
        }) {
            bad += 1;
            eprintln!("{}: frame {frames}: skipped: {e}", file.display());
        }
        if write_err.is_some() {
            return Ok(ExitCode::SUCCESS); // stdout closed (e.g. piped into head)
        }
    }
    out.flush().ok();
    eprintln!("{frames} frame(s), {bad} malformed");
    Ok(if bad > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn cmd_snapshot(config_path: &Path, path: Option<PathBuf>) -> Result<ExitCode> {
    let path = match path {
        Some(p) => p,
        None => {
            let base = base_dir(config_path);
            let cfg = match load_config(config_path, &Environment::default()) {
                Ok(c) => c,
                Err(code) => return Ok(code),
            };
            aitrapp::config::resolve_path(&base, &cfg.control.snapshot_path)
        }
    };
    let body = snapshot::read(&path)?;
    // A closed stdout (piped into head) is not an error worth a panic.
    let _ = writeln!(
        std::io::stdout(),
        "{}",
        serde_json::to_string_pretty(&snapshot::full_json(&body))?
    );
    Ok(ExitCode::SUCCESS)
}

/// `90`, `90s`, `10m`, `2h`.
fn parse_duration(s: &str) -> Option<std::time::Duration> {
    let (num, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, "s"),
    };
    let n: u64 = num.parse().ok()?;
    let secs = match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        _ => return None,
    };
    Some(std::time::Duration::from_secs(secs))
}

fn cmd_record(
    config_path: &Path,
    out: PathBuf,
    tokens: Vec<u32>,
    mode: Option<String>,
    duration: Option<String>,
) -> Result<ExitCode> {
    use aitrapp::domain::TickMode;
    let duration = match duration.as_deref().map(|d| (d, parse_duration(d))) {
        Some((d, None)) => {
            eprintln!("--duration `{d}`: use 90s, 10m or 2h");
            return Ok(ExitCode::from(2));
        }
        Some((_, some)) => some,
        None => None,
    };
    let base = base_dir(config_path);
    let env = Environment::from_process(&base.join(".env"));
    let cfg = match load_config(config_path, &env) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    init_logging(&cfg, &base, "record.log", true)?;
    let stop = stop_on_signals()?;
    let summary = app::record(app::RecordOptions {
        secrets: env.secrets(),
        config: cfg,
        base_dir: base,
        out,
        tokens,
        mode: mode.map(|m| match m.as_str() {
            "ltp" => TickMode::Ltp,
            "quote" => TickMode::Quote,
            _ => TickMode::Full,
        }),
        duration,
        stop,
    })?;
    println!(
        "recorded {} frames, {} bytes ({} reconnects)",
        summary.frames, summary.bytes, summary.reconnects
    );
    Ok(ExitCode::SUCCESS)
}

fn cmd_login(
    config_path: &Path,
    request_token: Option<String>,
    listen: &str,
    wait_secs: u64,
    check: bool,
) -> Result<ExitCode> {
    use aitrapp::exec::kite::login;
    use aitrapp::exec::kite::RateLimiter;
    let base = base_dir(config_path);
    let env_path = base.join(".env");
    let env = Environment::from_process(&env_path);
    let cfg = match load_config(config_path, &env) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    let secrets = env.secrets();
    let Some(api_key) = secrets.kite_api_key.clone() else {
        eprintln!(
            "KITE_API_KEY is not set (in {} or the environment)",
            env_path.display()
        );
        return Ok(ExitCode::from(1));
    };
    let timeout = std::time::Duration::from_millis(cfg.kite.request_timeout_ms);
    if check {
        let Some(token) = secrets.kite_access_token.clone() else {
            println!("No KITE_ACCESS_TOKEN: run `aitrapp login`");
            return Ok(ExitCode::from(1));
        };
        let limiter = std::sync::Arc::new(RateLimiter::new(cfg.kite.rate_limits));
        let rest = app::kite_rest(&cfg, &base, &api_key, &token, limiter)?;
        return Ok(match rest.profile() {
            Ok(user) => {
                println!("Kite session valid for user {user}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                println!("Kite session not valid: {e}");
                ExitCode::from(1)
            }
        });
    }
    let Some(api_secret) = secrets.kite_api_secret.clone() else {
        eprintln!(
            "KITE_API_SECRET is not set (in {} or the environment)",
            env_path.display()
        );
        return Ok(ExitCode::from(1));
    };
    println!(
        "Open this URL and log in:\n  {}",
        login::login_url(&cfg.kite.login_url, &api_key)
    );
    let request_token = match request_token {
        Some(t) => t,
        None => {
            println!("Waiting for Kite's redirect on http://{listen}/ (up to {wait_secs} s)...");
            login::await_redirect(listen, std::time::Duration::from_secs(wait_secs))?
        }
    };
    let (token, user) = login::exchange_request_token(
        &cfg.kite.api_root,
        &api_key,
        &api_secret,
        &request_token,
        timeout,
    )?;
    login::set_env_var(&env_path, "KITE_ACCESS_TOKEN", &token)?;
    println!(
        "Logged in as {user}; KITE_ACCESS_TOKEN saved to {} (mode 0600). It expires at 06:00 IST tomorrow.",
        env_path.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run {
            config,
            mode,
            confirm_live,
        } => cmd_run(config, mode, confirm_live),
        Command::CheckConfig { path } => {
            let env = Environment::from_process(&base_dir(&path).join(".env"));
            match config::load(&path, &env) {
                Ok(cfg) => {
                    let problems = app::check_files(&cfg, &base_dir(&path));
                    if problems.is_empty() {
                        println!("OK: {}", path.display());
                        Ok(ExitCode::SUCCESS)
                    } else {
                        for p in problems {
                            println!("{p}");
                        }
                        Ok(ExitCode::from(2))
                    }
                }
                Err(e) => {
                    print!("{e}");
                    Ok(ExitCode::from(2))
                }
            }
        }
        Command::Decode { file } => cmd_decode(&file),
        Command::Charges {
            segment,
            buy,
            sell,
            qty,
            date,
            json,
            file,
            config,
        } => cmd_charges(&segment, &buy, &sell, qty, date, json, file, &config),
        Command::Indicators { candles, config } => cmd_indicators(&candles, &config),
        Command::Snapshot { config, path } => cmd_snapshot(&config, path),
        Command::Export {
            config,
            date,
            from,
            to,
            out,
        } => match load_config(&config, &Environment::default()) {
            Err(code) => Ok(code),
            Ok(cfg) => match aitrapp::app::export_trades(
                &cfg,
                &base_dir(&config),
                date.as_deref(),
                from.as_deref(),
                to.as_deref(),
                out.as_deref(),
            ) {
                Ok(n) => {
                    if let Some(p) = &out {
                        eprintln!("{n} trade(s) written to {}", p.display());
                    }
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    Ok(ExitCode::from(2))
                }
            },
        },
        Command::Backup { config, out } => cmd_backup(&config, |cfg, base, dir, env| {
            aitrapp::app::backup(cfg, base, dir, &env.secrets(), &out)
        }),
        Command::Restore {
            config,
            configs,
            file,
        } => cmd_backup(&config, |cfg, base, dir, _| {
            aitrapp::app::restore(cfg, base, dir, &file, configs)
        }),
        Command::Record {
            config,
            out,
            tokens,
            mode,
            duration,
        } => cmd_record(&config, out, tokens, mode, duration),
        Command::Login {
            config,
            request_token,
            listen,
            wait_secs,
            check,
        } => cmd_login(&config, request_token, &listen, wait_secs, check),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}
