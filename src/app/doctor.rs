//! `aitrapp doctor`: the runbook's pre-flight checklist as one command. Each check says
//! ok, fail (with a hint), skip (does not apply to this setup, and why) or error (could not
//! be checked, and why: an unchecked item never passes). Exit 0 only with no fail and no
//! error.

use super::*;
use crate::config::{AlertSecrets, Environment};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Ok,
    Fail,
    Skip,
    Error,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct Check {
    pub name: &'static str,
    pub verdict: Verdict,
    pub detail: String,
    /// What to do about a fail or an error.
    pub hint: Option<String>,
}

fn ok(name: &'static str, detail: impl Into<String>) -> Check {
    Check {
        name,
        verdict: Verdict::Ok,
        detail: detail.into(),
        hint: None,
    }
}

fn fail(name: &'static str, detail: impl Into<String>, hint: impl Into<String>) -> Check {
    Check {
        name,
        verdict: Verdict::Fail,
        detail: detail.into(),
        hint: Some(hint.into()),
    }
}

fn skip(name: &'static str, detail: impl Into<String>) -> Check {
    Check {
        name,
        verdict: Verdict::Skip,
        detail: detail.into(),
        hint: None,
    }
}

fn error(name: &'static str, detail: impl Into<String>, hint: impl Into<String>) -> Check {
    Check {
        name,
        verdict: Verdict::Error,
        detail: detail.into(),
        hint: Some(hint.into()),
    }
}

/// Every check for the config at `config_path` (its `.env` beside configs/).
pub fn checks(config_path: &Path) -> Vec<Check> {
    let base = crate::config::base_dir(config_path);
    let env_path = base.join(".env");
    let env = Environment::from_process(&env_path);
    let mut out = vec![dotenv(&env_path)];
    let cfg = match crate::config::load(config_path, &env) {
        Ok(cfg) => {
            let problems = check_files(&cfg, &base);
            out.push(if problems.is_empty() {
                ok(
                    "config",
                    format!(
                        "{} valid, mode {}",
                        config_path.display(),
                        cfg.mode.as_str()
                    ),
                )
            } else {
                fail(
                    "config",
                    problems.join("; "),
                    "fix the files named; `aitrapp check-config` lists every problem",
                )
            });
            cfg
        }
        Err(e) => {
            out.push(fail(
                "config",
                e.to_string().trim().replace('\n', "; "),
                format!(
                    "`aitrapp check-config {}` lists every problem",
                    config_path.display()
                ),
            ));
            return out;
        }
    };
    let secrets = env.secrets();
    let kite = secrets.has_kite_credentials();
    out.push(token(&cfg, &base, &secrets));
    out.push(disk(&cfg, &base));
    out.push(clock());
    out.push(holidays(&cfg, &base));
    out.push(ban_list(&cfg, &base, kite));
    out.push(instruments(&cfg, &base, kite));
    out.push(journal(&cfg, &base));
    out.push(ports(&cfg));
    out.push(cpus(&cfg));
    out.push(sebi(&cfg));
    out.push(alerts(&cfg, &secrets.alerts));
    out
}

fn dotenv(path: &Path) -> Check {
    const NAME: &str = ".env";
    match std::fs::metadata(path) {
        Ok(m) => {
            let mode = m.permissions().mode() & 0o777;
            if mode & 0o077 == 0 {
                ok(NAME, format!("{} present, mode {mode:04o}", path.display()))
            } else {
                fail(
                    NAME,
                    format!("{} is mode {mode:04o}: others can read the credentials", path.display()),
                    format!("chmod 600 {}", path.display()),
                )
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => fail(
            NAME,
            format!("{} not found", path.display()),
            "copy .env.example to .env, fill in KITE_API_KEY and KITE_API_SECRET, chmod 600 .env, then `aitrapp login`",
        ),
        Err(e) => error(NAME, format!("cannot read {}: {e}", path.display()), "check the directory's permissions"),
    }
}

fn token(cfg: &AppConfig, base: &Path, s: &Secrets) -> Check {
    const NAME: &str = "kite token";
    let (Some(key), Some(token)) = (&s.kite_api_key, &s.kite_access_token) else {
        return if cfg.mode == Mode::Live {
            fail(
                NAME,
                "KITE_API_KEY or KITE_ACCESS_TOKEN is not set and the config is LIVE",
                "`aitrapp login`",
            )
        } else {
            skip(
                NAME,
                "no Kite credentials: PAPER runs on the synthetic market",
            )
        };
    };
    let limiter = Arc::new(crate::exec::kite::RateLimiter::new(cfg.kite.rate_limits));
    match kite_rest(cfg, base, key, token, limiter) {
        Ok(rest) => match rest.profile() {
            Ok(user) => ok(NAME, format!("Kite session valid for user {user}")),
            Err(e) if e.is_token() => fail(
                NAME,
                format!("Kite refused the token: {e}"),
                "`aitrapp login` (tokens expire every morning)",
            ),
            Err(e) => error(
                NAME,
                format!("could not ask Kite: {e}"),
                format!("check the network to {}", cfg.kite.api_root),
            ),
        },
        Err(e) => error(NAME, e.to_string(), "check kite.api_root and kite.ca_file"),
    }
}

fn disk(cfg: &AppConfig, base: &Path) -> Check {
    const NAME: &str = "free disk";
    let need = cfg.monitoring.min_free_disk_gb.max(10.0);
    let dir = resolve_path(base, &cfg.journal.dir);
    let at = match (dir.exists(), base.as_os_str().is_empty()) {
        (true, _) => dir,
        (false, true) => PathBuf::from("."),
        (false, false) => base.to_path_buf(),
    };
    match state::free_bytes(&at) {
        Some(b) => {
            let gb = b as f64 / 1e9;
            if gb > need {
                ok(NAME, format!("{gb:.1} GB free at {}", at.display()))
            } else {
                fail(NAME, format!("{gb:.1} GB free at {} (need more than {need} GB)", at.display()),
                    "free space (old logs, backups/, target/) or move journal.dir; under monitoring.min_free_disk_gb entries pause")
            }
        }
        None => error(
            NAME,
            format!("statvfs failed on {}", at.display()),
            "check the path exists and is readable",
        ),
    }
}

/// The host's time-sync status: systemd's NTPSynchronized when timedatectl can answer, else
/// the kernel's own flag (adjtimex: STA_UNSYNC clear once chrony/ntpd/timesyncd disciplines
/// the clock), which containers share with their host.
fn clock() -> Check {
    const NAME: &str = "clock sync";
    let hint = "enable time sync (systemctl enable --now systemd-timesyncd, or chrony): order timestamps and the session clock depend on it";
    if let Ok(o) = std::process::Command::new("timedatectl")
        .args(["show", "-p", "NTPSynchronized", "--value"])
        .output()
    {
        match (
            o.status.success(),
            String::from_utf8_lossy(&o.stdout).trim(),
        ) {
            (true, "yes") => return ok(NAME, "synchronized (timedatectl NTPSynchronized=yes)"),
            (true, "no") => {
                return fail(
                    NAME,
                    "not synchronized (timedatectl NTPSynchronized=no)",
                    hint,
                )
            }
            _ => {} // no systemd here: ask the kernel
        }
    }
    // SAFETY: timex is plain data; modes 0 only reads the kernel's clock state.
    let mut t: libc::timex = unsafe { std::mem::zeroed() };
    let state = unsafe { libc::adjtimex(&mut t) };
    const STA_UNSYNC: i32 = 0x0040;
    if state < 0 {
        return error(
            NAME,
            format!("adjtimex failed: {}", std::io::Error::last_os_error()),
            "run timedatectl by hand",
        );
    }
    if t.status & STA_UNSYNC == 0 && state != libc::TIME_ERROR {
        ok(
            NAME,
            format!(
                "synchronized (kernel clock state {state}, max error {} us)",
                t.maxerror
            ),
        )
    } else {
        fail(NAME, format!("not synchronized (kernel clock state {state}: STA_UNSYNC set; timedatectl unavailable)"), hint)
    }
}

fn holidays(cfg: &AppConfig, base: &Path) -> Check {
    const NAME: &str = "holidays";
    let today = today_ist();
    match session_calendar(cfg, base) {
        Ok(cal) if cal.covers(today) => ok(NAME, format!("{} covers {today}{}", cfg.market.holidays_file,
            if cal.is_trading_day(today) { " (a trading day)" } else { " (not a trading day)" })),
        Ok(_) => fail(NAME, format!("{} does not cover {} ({today})", cfg.market.holidays_file, today.ymd().0),
            "add this year's NSE holidays (the circular) to the holiday file; LIVE refuses to start without them"),
        Err(e) => fail(NAME, e.to_string(), "fix the holiday file"),
    }
}

fn ban_list(cfg: &AppConfig, base: &Path, kite: bool) -> Check {
    const NAME: &str = "F&O ban list";
    if !kite && cfg.mode != Mode::Live {
        return skip(
            NAME,
            "PAPER on the synthetic market: the bundled list is used",
        );
    }
    let path = resolve_path(base, &cfg.universe.ban_list_file);
    let hint = format!("download fo_secban.csv from NSE into {}", path.display());
    match crate::universe::read_ban_list(&path) {
        Ok(list) => match list.staleness(today_ist()) {
            None => ok(
                NAME,
                format!(
                    "{} is today's ({} banned)",
                    path.display(),
                    list.symbols.len()
                ),
            ),
            Some(why) => fail(NAME, why, hint),
        },
        Err(e) => fail(NAME, e, hint),
    }
}

fn instruments(cfg: &AppConfig, base: &Path, kite: bool) -> Check {
    const NAME: &str = "instrument dump";
    if !kite && cfg.mode != Mode::Live {
        return skip(
            NAME,
            "PAPER on the synthetic market: the bundled instruments are used",
        );
    }
    let today = today_ist();
    let cached = cached_instruments_path(cfg, base, today);
    if cached.exists() {
        return ok(NAME, format!("today's dump cached at {}", cached.display()));
    }
    if cfg.kite.sync_instruments && kite {
        return ok(
            NAME,
            "not cached yet: the start downloads today's dump (kite.sync_instruments)",
        );
    }
    let path = resolve_path(base, &cfg.universe.instruments_file);
    let day = std::fs::metadata(&path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| crate::clock::ist_date(d.as_secs() as i64));
    match day {
        Some(d) if d == today => ok(NAME, format!("{} written today", path.display())),
        Some(d) => fail(NAME, format!("{} is from {d}, not today ({today})", path.display()),
            "set kite.sync_instruments: true, or download https://api.kite.trade/instruments into universe.instruments_file"),
        None => fail(NAME, format!("{} not found", path.display()), "set kite.sync_instruments: true"),
    }
}

fn journal(cfg: &AppConfig, base: &Path) -> Check {
    const NAME: &str = "journal";
    match state::probe_journal_dir(cfg, base) {
        Ok(()) => ok(
            NAME,
            format!(
                "{} writable",
                resolve_path(base, &cfg.journal.dir).display()
            ),
        ),
        Err(e) => fail(
            NAME,
            e.to_string(),
            "fix journal.dir's permissions or disk: LIVE refuses to start without a journal",
        ),
    }
}

fn ports(cfg: &AppConfig) -> Check {
    const NAME: &str = "ports";
    let c = &cfg.control;
    let mut taken = Vec::new();
    for (what, port) in [
        ("api_port", c.api_port),
        ("dashboard_port", c.dashboard_port),
    ] {
        if let Err(e) = TcpListener::bind((c.bind.as_str(), port)) {
            taken.push(format!("{what} {}:{port} ({e})", c.bind));
        }
    }
    if taken.is_empty() {
        ok(
            NAME,
            format!(
                "{}:{} and {}:{} free",
                c.bind, c.api_port, c.bind, c.dashboard_port
            ),
        )
    } else {
        fail(NAME, format!("cannot listen on {}", taken.join(", ")),
            "another aitrapp may be running (`pgrep -a aitrapp`, `curl localhost:8000/health`), or change control.api_port / dashboard_port")
    }
}

fn cpus(cfg: &AppConfig) -> Check {
    const NAME: &str = "cpu mask";
    let allowed = crate::pipeline::affinity::allowed_cpus();
    let want = &cfg.pipeline.cpus;
    let missing: Vec<usize> = want
        .iter()
        .copied()
        .filter(|c| !allowed.contains(c))
        .collect();
    if !missing.is_empty() {
        return fail(NAME, format!("pipeline.cpus {want:?} names CPUs {missing:?} outside this process's mask {allowed:?}"),
            "change pipeline.cpus, or the unit's CPUAffinity= / isolcpus (tools/tune-host.sh)");
    }
    if want.is_empty() {
        ok(
            NAME,
            format!(
                "no pinning; {} CPUs allowed ({allowed:?}), wait {}",
                allowed.len(),
                cfg.pipeline.wait
            ),
        )
    } else {
        ok(
            NAME,
            format!("pipeline.cpus {want:?} inside the mask {allowed:?}"),
        )
    }
}

/// SEBI's retail-algo rules as far as this process can see them (india-market-facts.md): at
/// most 10 orders a second without registration (then each order carries the broker's
/// generic algo ID), and above it an exchange-issued algo ID.
fn sebi(cfg: &AppConfig) -> Check {
    const NAME: &str = "SEBI algo rules";
    let r = &cfg.kite.rate_limits;
    let algo = !cfg.execution.exchange_algo_id.trim().is_empty();
    if r.orders_per_second > 10 && !algo {
        return fail(NAME, format!("kite.rate_limits.orders_per_second is {} (> 10, SEBI's registration threshold) with no execution.exchange_algo_id", r.orders_per_second),
            "keep orders_per_second at 10 or less, or register the algo with the exchange through Zerodha and set execution.exchange_algo_id");
    }
    if r.orders_per_second > 10 {
        return fail(NAME, format!("kite.rate_limits.orders_per_second is {}: Kite answers 429 above 10 per second per account", r.orders_per_second),
            "set kite.rate_limits.orders_per_second to 10 or less");
    }
    ok(
        NAME,
        format!(
            "order caps {}/s, {}/min, {}/day{}",
            r.orders_per_second,
            r.orders_per_minute,
            r.orders_per_day,
            if algo {
                ", exchange algo id set"
            } else {
                "; below the threshold: no registration, the broker tags the generic algo id"
            }
        ),
    )
}

fn alerts(cfg: &AppConfig, s: &AlertSecrets) -> Check {
    const NAME: &str = "alerts";
    if !cfg.alerts.enabled {
        return skip(
            NAME,
            "alerts.enabled is false: alerts are listed on the dashboard only",
        );
    }
    let c = crate::control::alerts::channels::from_config(&cfg.alerts, s, Path::new("."));
    let on: Vec<&str> = c.ready.iter().map(|r| r.channel.name()).collect();
    if on.is_empty() {
        fail(
            NAME,
            "alerts.enabled but no channel is configured",
            "set TELEGRAM_*, SLACK_WEBHOOK_URL or SMTP_* in .env, then `aitrapp alert-test`",
        )
    } else {
        ok(
            NAME,
            format!(
                "{} configured (`aitrapp alert-test` sends a test message)",
                on.join(", ")
            ),
        )
    }
}

/// The table: one line per check, green ok, red fail and error, the hint under each red
/// line. Colours only on a terminal.
pub fn render(checks: &[Check], colour: bool) -> String {
    let mut out = String::new();
    for c in checks {
        let (mark, code) = match c.verdict {
            Verdict::Ok => ("ok   ", "32"),
            Verdict::Fail => ("FAIL ", "31"),
            Verdict::Skip => ("skip ", "33"),
            Verdict::Error => ("ERROR", "31"),
        };
        if colour {
            out.push_str(&format!(
                "\x1b[{code}m{mark}\x1b[0m  {:<16} {}\n",
                c.name, c.detail
            ));
        } else {
            out.push_str(&format!("{mark}  {:<16} {}\n", c.name, c.detail));
        }
        if let Some(h) = &c.hint {
            out.push_str(&format!("       {:<16} hint: {h}\n", ""));
        }
    }
    let bad = checks
        .iter()
        .filter(|c| matches!(c.verdict, Verdict::Fail | Verdict::Error))
        .count();
    out.push_str(&if bad == 0 {
        "All pre-flight checks passed.\n".to_string()
    } else {
        format!("{bad} check(s) need attention before trading.\n")
    });
    out
}

pub fn passed(checks: &[Check]) -> bool {
    checks
        .iter()
        .all(|c| matches!(c.verdict, Verdict::Ok | Verdict::Skip))
}
