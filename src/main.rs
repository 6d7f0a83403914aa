//! The aitrapp command line: `aitrapp --help` lists every subcommand with what it does.

use aitrapp::app::{self, RunOptions};
use aitrapp::config::{self, Environment, Mode};
use aitrapp::control::logging;
use anyhow::{Context, Result};
use clap::Parser;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

mod cli;
use cli::inspect::*;
use cli::kite::*;
use cli::{Cli, Command};

pub(crate) const CONFIRMATION: &str = "CONFIRM LIVE TRADING";

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

/// `aitrapp alert-test`: one message to each configured channel, one line per channel.
fn cmd_alert_test(config: &Path) -> Result<ExitCode> {
    use aitrapp::control::alerts::{self, channels};
    use aitrapp::telemetry::alerts::AlertKind;
    let base = base_dir(config);
    let env = Environment::from_process(&base.join(".env"));
    let cfg = match load_config(config, &env) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    let found = channels::from_config(&cfg.alerts, &env.secrets().alerts, &base);
    let text = alerts::message(
        AlertKind::Test,
        &format!(
            "Test message from aitrapp at {}: this channel works",
            logging::ist_timestamp()
        ),
    );
    let stop = AtomicBool::new(false);
    let mut failed = 0;
    for c in &found.ready {
        let t0 = std::time::Instant::now();
        match alerts::deliver(
            c.channel.as_ref(),
            &text,
            0,
            std::time::Duration::ZERO,
            &stop,
        ) {
            Ok(_) => println!(
                "{:<9} OK      sent in {:.2} s",
                c.channel.name(),
                t0.elapsed().as_secs_f64()
            ),
            Err(e) => {
                failed += 1;
                println!("{:<9} FAILED  {e}", c.channel.name());
            }
        }
    }
    for (name, why) in &found.off {
        println!("{name:<9} off     {why}");
    }
    if !cfg.alerts.enabled && !found.ready.is_empty() {
        println!(
            "note: alerts.enabled is false in {}: a run lists alerts but sends none",
            config.display()
        );
    }
    Ok(if found.ready.is_empty() || failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
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
        Command::AlertTest { config } => cmd_alert_test(&config),
        Command::Doctor { config, json } => {
            let checks = app::doctor::checks(&config);
            let passed = app::doctor::passed(&checks);
            if json {
                println!("{}", serde_json::json!({"ok": passed, "checks": checks}));
            } else {
                use std::io::IsTerminal;
                print!(
                    "{}",
                    app::doctor::render(&checks, std::io::stdout().is_terminal())
                );
            }
            Ok(if passed {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}
