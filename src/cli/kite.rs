//! The subcommands that talk to Kite outside a session: `record` the ticker to a file and
//! `login` for the day's access token.

use crate::{init_logging, load_config, stop_on_signals};
use aitrapp::app;
use aitrapp::config::{base_dir, Environment};
use anyhow::Result;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

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

pub fn cmd_record(
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

pub fn cmd_login(
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
