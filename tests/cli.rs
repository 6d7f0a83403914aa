//! The binary as an operator uses it: check-config, run + HTTP + SIGTERM, decode.

mod common;
use common::{bin, free_port, http, temp_project};

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn check_config_lists_all_three_mistakes_and_exits_2() {
    let dir = temp_project("check");
    let cfg = dir.join("configs/app.yaml");
    std::fs::write(&cfg, "risk:\n  per_trade_risk_pct: 50\n  capital: lots\nmarket:\n  eod_squareoff_tim: \"15:25\"\n").unwrap();
    let out = Command::new(bin())
        .args(["check-config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("3 problem(s)"), "{text}");
    for needle in [
        "risk.per_trade_risk_pct",
        "risk.capital",
        "market.eod_squareoff_tim",
    ] {
        assert!(text.contains(needle), "missing {needle} in {text}");
    }
    std::fs::write(&cfg, "mode: PAPER\n").unwrap();
    let out = Command::new(bin())
        .args(["check-config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("OK"));
}

#[test]
fn run_serves_the_api_and_sigterm_exits_cleanly() {
    let dir = temp_project("run");
    let port = free_port();
    let dash = free_port();
    std::fs::write(
        dir.join("configs/app.yaml"),
        format!(
            "control:\n  api_port: {port}\n  dashboard_port: {dash}\nfeed:\n  source: synthetic\n  synthetic:\n    speed: 600\n    start_time: \"09:14\"\n    date: \"2026-11-25\"\nlogging:\n  stderr: false\n"
        ),
    )
    .unwrap();
    let mut child = common::aitrapp_run(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let health = loop {
        if let Some(r) = http(port, "GET", "/health") {
            break r;
        }
        assert!(Instant::now() < deadline, "API never came up");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(health.0, 200);
    // Wait until ticks flow (09:15 at 600x is two seconds away).
    loop {
        let (_, body) = http(port, "GET", "/state").unwrap();
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        for k in [
            "mode",
            "is_paused",
            "is_market_open",
            "positions_count",
            "trades_today",
            "win_rate",
            "daily_pnl",
            "daily_pnl_net",
            "charges_today",
            "session_phase",
        ] {
            assert!(v.get(k).is_some(), "state lacks {k}: {body}");
        }
        if v["ticks_seen"].as_u64().unwrap_or(0) > 0 {
            break;
        }
        assert!(Instant::now() < deadline, "no ticks");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(http(port, "GET", "/positions").unwrap().0, 200);
    assert_eq!(http(port, "GET", "/orders").unwrap().0, 200);
    assert_eq!(http(port, "GET", "/nowhere").unwrap().0, 404);
    assert_eq!(http(port, "GET", "/flatten").unwrap().0, 405);
    assert_eq!(http(port, "POST", "/state").unwrap().0, 405);
    let (code, body) = http(port, "POST", "/pause").unwrap();
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("\"is_paused\":true"), "{body}");
    let (code, body) = http(port, "POST", "/resume").unwrap();
    assert_eq!(code, 200, "{body}");
    // Before 09:30 nothing is open: the kill switch answers 200 with nothing to do.
    let (code, body) = http(port, "POST", "/flatten").unwrap();
    assert_eq!(code, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(v["elapsed_ms"].as_f64().is_some(), "{body}");
    assert!(v["positions_remaining"] == 0, "{body}");
    // Closing a position that is not open says so.
    let (code, body) = http(port, "POST", "/positions/408065/close").unwrap();
    assert_eq!(code, 404, "{body}");
    assert!(
        body.contains("no open position in instrument 408065"),
        "{body}"
    );
    assert_eq!(http(port, "GET", "/positions/408065/close").unwrap().0, 405);
    // Reloads re-read the config and the ban list; a bad config changes nothing and says why.
    let (code, body) = http(port, "POST", "/strategies/reload").unwrap();
    assert_eq!(code, 200, "{body}");
    let before: serde_json::Value = serde_json::from_str(&body).unwrap();
    let tradable = before["tradable_instruments"].as_u64().unwrap();
    std::fs::write(dir.join("configs/fo_secban.csv"), "NIFTY\n").unwrap();
    let (code, body) = http(port, "POST", "/universe/reload").unwrap();
    assert_eq!(code, 200, "{body}");
    let after: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(after["banned"][0], "NIFTY", "{body}");
    assert!(
        after["tradable_instruments"].as_u64().unwrap() < tradable,
        "banning NIFTY derivatives should shrink the universe: {body}"
    );
    let good = std::fs::read_to_string(dir.join("configs/app.yaml")).unwrap();
    // Every problem across the strategy sections is listed, and nothing changes.
    std::fs::write(
        dir.join("configs/app.yaml"),
        format!("{good}strategies:\n  orb:\n    max_positions: three\n  trend_pullback:\n    ema_fastt: 8\n  vwap_reversion:\n    vwap_band_mult: 9\n  options_ranker:\n    ivp_max: 150\n    strategy_type: STRADDLE\n"),
    )
    .unwrap();
    let (code, body) = http(port, "POST", "/strategies/reload").unwrap();
    assert_eq!(code, 400, "{body}");
    for path in [
        "strategies.orb.max_positions",
        "strategies.trend_pullback.ema_fastt",
        "strategies.options_ranker.strategy_type",
    ] {
        assert!(body.contains(path), "{path} not listed: {body}");
    }
    // Range checks run once the types parse: the two out-of-range values together.
    std::fs::write(
        dir.join("configs/app.yaml"),
        format!("{good}strategies:\n  vwap_reversion:\n    vwap_band_mult: 9\n  options_ranker:\n    ivp_max: 150\n"),
    )
    .unwrap();
    let (code, body) = http(port, "POST", "/strategies/reload").unwrap();
    assert_eq!(code, 400, "{body}");
    assert!(
        body.contains("strategies.vwap_reversion.vwap_band_mult")
            && body.contains("strategies.options_ranker.ivp_max"),
        "{body}"
    );
    // The running strategies are as before: a good reload of the original config reports
    // the same settings and tradable count it did before the refusals.
    std::fs::write(dir.join("configs/app.yaml"), &good).unwrap();
    std::fs::write(dir.join("configs/fo_secban.csv"), "").unwrap();
    let (code, body) = http(port, "POST", "/strategies/reload").unwrap();
    assert_eq!(code, 200, "{body}");
    let again: serde_json::Value = serde_json::from_str(&body).unwrap();
    for k in [
        "orb",
        "trend_pullback",
        "vwap_reversion",
        "options_ranker",
        "ranking",
    ] {
        assert_eq!(again[k], before[k], "{k}: {body}");
    }
    assert_eq!(http(port, "GET", "/universe/reload").unwrap().0, 405);
    // The dashboard serves its page, the same JSON views, and relays its buttons to the API.
    let (code, page) = http(dash, "GET", "/").unwrap();
    assert_eq!(code, 200);
    assert!(page.contains("Daily performance") && page.contains("/state"));
    let (code, body) = http(dash, "GET", "/state").unwrap();
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("\"trades_today\""), "{body}");
    assert_eq!(http(dash, "GET", "/flatten").unwrap().0, 405);
    assert_eq!(http(dash, "POST", "/mode").unwrap().0, 404);
    let (code, health) = http(dash, "GET", "/health").unwrap();
    assert_eq!(code, 200, "{health}");
    assert!(health.contains("\"api_key_required\":false"), "{health}");
    let (code, metrics) = http(port, "GET", "/metrics").unwrap();
    assert_eq!(code, 200);
    assert!(metrics.contains("aitrapp_feed_ticks_total"));

    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let left = (deadline + Duration::from_secs(10)).saturating_duration_since(Instant::now());
    let status = common::wait_exit(&mut child, left, "no exit after SIGTERM");
    assert_eq!(status.code(), Some(0));
    let lines = common::json_log(&dir);
    let messages: Vec<&str> = lines.iter().filter_map(|v| v["message"].as_str()).collect();
    let order = [
        "Starting AITRAPP",
        "Mode: PAPER",
        "Loading strategies...",
        "Syncing instruments...",
        "Building universe...",
        "Synthetic market started",
        "AITRAPP started successfully",
        "AITRAPP stopped",
    ];
    let mut at = 0;
    for want in order {
        let pos = messages[at..]
            .iter()
            .position(|m| m.starts_with(want))
            .unwrap_or_else(|| panic!("log lacks `{want}` after line {at}"));
        at += pos + 1;
    }
    assert!(lines
        .iter()
        .any(|v| v["message"].as_str().unwrap_or("").contains("KILL SWITCH")));
    assert!(lines
        .iter()
        .all(|v| v["ts"].is_string() && v["level"].is_string() && v["target"].is_string()));
    // Lower-case levels, so the runbook's `jq 'select(.level=="error")'` finds the refusal.
    assert!(lines.iter().any(|v| v["level"] == "error"
        && v["message"]
            .as_str()
            .unwrap_or("")
            .starts_with("Reload refused")));
    assert!(lines.iter().all(|v| v["level"] != "INFO"));
}

#[test]
fn live_without_credentials_refuses() {
    let dir = temp_project("live");
    std::fs::write(dir.join("configs/app.yaml"), "logging:\n  stderr: true\n").unwrap();
    let out = Command::new(bin())
        .current_dir(&dir)
        .args(["run", "--mode", "LIVE"])
        .env_remove("KITE_API_KEY")
        .env_remove("KITE_ACCESS_TOKEN")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("LIVE mode refused"));
}

/// `aitrapp run [extra] --confirm-live ...` in `dir` with (fake) Kite credentials set.
fn run_live_with_credentials(dir: &std::path::Path, extra: &[&str]) -> std::process::Output {
    Command::new(bin())
        .current_dir(dir)
        .arg("run")
        .args(extra)
        .args(["--confirm-live", "CONFIRM LIVE TRADING"])
        .env("KITE_API_KEY", "k")
        .env("KITE_ACCESS_TOKEN", "t")
        .env_remove("APP_MODE")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// LIVE on a weekday of a year the holiday file does not list is refused before anything
/// touches the network (the file here lists only 2025).
#[test]
fn live_refuses_a_year_the_holiday_file_does_not_cover() {
    let dir = temp_project("live-holidays");
    std::fs::write(dir.join("configs/holidays_nse.txt"), "2025-12-25\n").unwrap();
    std::fs::write(
        dir.join("configs/app.yaml"),
        "mode: LIVE\nkite:\n  api_root: http://127.0.0.1:9\nlogging:\n  stderr: true\n",
    )
    .unwrap();
    let out = run_live_with_credentials(&dir, &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    let today = aitrapp::clock::today_ist();
    assert_ne!(out.status.code(), Some(0), "{err}");
    if aitrapp::clock::weekday(today) < 5 && today.ymd().0 != 2025 {
        assert!(
            err.contains("LIVE refused") && err.contains("no holidays listed for"),
            "{err}"
        );
    } else {
        // A weekend is no trading day: the start fails later (no Kite at 127.0.0.1:9).
        assert!(!err.contains("no holidays listed"), "{err}");
    }
}

/// `--mode LIVE` on a PAPER config is refused even with credentials: LIVE needs both.
#[test]
fn live_flag_on_a_paper_config_refuses() {
    let dir = temp_project("live-flag");
    std::fs::write(
        dir.join("configs/app.yaml"),
        "mode: PAPER\nlogging:\n  stderr: true\n",
    )
    .unwrap();
    let out = run_live_with_credentials(&dir, &["--mode", "LIVE"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--mode LIVE needs `mode: LIVE`"), "{err}");
}

#[test]
fn decode_prints_kite_field_names() {
    let dir = temp_project("decode");
    // One record: the LTP vector from the protocol notes, then a truncated frame.
    let frame = [0u8, 1, 0, 8, 0x00, 0x06, 0x3A, 0x01, 0x00, 0x02, 0x66, 0x83];
    let mut rec = Vec::new();
    rec.extend_from_slice(&5u64.to_le_bytes());
    rec.extend_from_slice(&(frame.len() as u32).to_le_bytes());
    rec.extend_from_slice(&frame);
    rec.extend_from_slice(&6u64.to_le_bytes());
    rec.extend_from_slice(&5u32.to_le_bytes());
    rec.extend_from_slice(&[0, 2, 0, 8, 1]);
    let f = dir.join("x.rec");
    std::fs::write(&f, &rec).unwrap();
    let out = Command::new(bin()).arg("decode").arg(&f).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let v: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(v["instrument_token"], 408065);
    assert_eq!(v["last_price"], 1573.15);
    assert_eq!(v["mode"], "ltp");
    assert_eq!(
        out.status.code(),
        Some(1),
        "the malformed frame is reported"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("1 malformed"));
}

#[test]
fn indicators_prints_one_object_per_candle_and_names_a_bad_line() {
    let dir = temp_project("indicators");
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/candles_5m.csv");
    let out = Command::new(bin())
        .args(["indicators", "--candles", fixture, "--config"])
        .arg(dir.join("configs/app.yaml"))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 150);
    let first = &lines[0];
    assert_eq!(first["date"], "2026-11-25T09:15:00+0530");
    assert!(first["ema_fast"].is_null() && first["adx"].is_null());
    let keys: Vec<&str> = text
        .lines()
        .next()
        .unwrap()
        .split('"')
        .skip(1)
        .step_by(2)
        .collect();
    assert_eq!(
        &keys[..],
        &[
            "date",
            "2026-11-25T09:15:00+0530",
            "ema_fast",
            "ema_slow",
            "atr",
            "rsi",
            "adx",
            "bb_upper",
            "bb_middle",
            "bb_lower",
            "vwap",
            "supertrend"
        ]
    );
    // EMA 89 is warm from the 89th candle (TA-Lib seeding), ADX 14 from the 28th.
    assert!(lines[87]["ema_slow"].is_null() && lines[88]["ema_slow"].is_number());
    assert!(lines[26]["adx"].is_null() && lines[27]["adx"].is_number());
    // The same candles as the historical API's JSON body give the same output.
    let csv = std::fs::read_to_string(fixture).unwrap();
    let rows: Vec<String> = csv
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            format!(
                "[\"{}\",{},{},{},{},{}]",
                f[0], f[1], f[2], f[3], f[4], f[5]
            )
        })
        .collect();
    let json = dir.join("candles.json");
    std::fs::write(
        &json,
        format!(
            "{{\"status\":\"success\",\"data\":{{\"candles\":[{}]}}}}",
            rows.join(",")
        ),
    )
    .unwrap();
    let out2 = Command::new(bin())
        .args(["indicators", "--candles"])
        .arg(&json)
        .arg("--config")
        .arg(dir.join("configs/app.yaml"))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out2.stdout), text);
    // A bad row names its line and exits 2.
    let bad = dir.join("bad.csv");
    std::fs::write(&bad, "date,open,high,low,close,volume\n2026-11-25T09:15:00+0530,1,2,0.5,1,3\n2026-11-25T09:20:00+0530,1,2,0.5,oops,3\n").unwrap();
    let out = Command::new(bin())
        .args(["indicators", "--candles"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("bad.csv: line 3: close `oops` is not a number"));
}

/// A start with bad strategy sections is refused before anything runs, every problem named.
#[test]
fn run_refuses_bad_strategy_sections_at_start() {
    let dir = temp_project("bad-strategies");
    std::fs::write(
        dir.join("configs/app.yaml"),
        "strategies:\n  trend_pullback:\n    ema_fast: 100\n    ema_slow: 50\n  vwap_reversion:\n    max_adx: 0\n  options_ranker:\n    min_dte: 40\n    max_dte: 10\n    options_filters:\n      max_spread_mid_pct: 0\nlogging:\n  stderr: true\n",
    )
    .unwrap();
    let out = common::aitrapp_run(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let text = String::from_utf8_lossy(&out.stderr);
    for path in [
        "strategies.trend_pullback.ema_fast",
        "strategies.vwap_reversion.max_adx",
        "strategies.options_ranker.max_dte",
        "strategies.options_ranker.options_filters.max_spread_mid_pct",
    ] {
        assert!(text.contains(path), "{path} not named: {text}");
    }
    assert!(!text.contains("AITRAPP started"), "{text}");
}

/// `aitrapp charges` prints the round trip's lines in rupees; the table in force on the date
/// decides (2026 STT on futures is 0.05%, 2025's 0.02%).
#[test]
fn charges_command_prints_the_breakdown() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let run = |args: &[&str]| {
        let out = Command::new(bin())
            .current_dir(root)
            .arg("charges")
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    // One NIFTY futures lot bought at 25,000 and sold at 25,100 on `date`.
    let nifty_lot = |date: &str, json: bool| {
        let mut args = vec![
            "--segment",
            "futures",
            "--buy",
            "25000",
            "--sell",
            "25100",
            "--qty",
            "65",
            "--date",
        ];
        args.push(date);
        if json {
            args.push("--json");
        }
        run(&args)
    };
    let (code, out, _) = nifty_lot("2026-06-01", false);
    assert_eq!(code, Some(0));
    for line in [
        "brokerage                     40.00",
        "stt                          816.00",
        "exchange_txn                  59.59",
        "sebi_fee                       3.26",
        "stamp_duty                    32.50",
        "gst                           18.51",
        "total                        969.86",
        "gross_pnl                   6500.00",
        "net_pnl                     5530.14",
        "points_to_breakeven           14.92",
    ] {
        assert!(out.contains(line), "missing `{line}` in\n{out}");
    }
    let (code, out, _) = nifty_lot("2025-06-02", true);
    assert_eq!(code, Some(0));
    let j: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(j["stt"], 326.0);
    assert_eq!(j["total"], 479.86);
    assert_eq!(j["rate_table_from"], "2024-10-01");
    let (code, _, err) = run(&[
        "--segment",
        "options",
        "--buy",
        "1.005",
        "--sell",
        "2",
        "--qty",
        "65",
    ]);
    assert_eq!(code, Some(2));
    assert!(err.contains("at most 2 decimals"), "{err}");
}

/// check-config reads the charges file the config names and lists its problems.
#[test]
fn check_config_refuses_a_bad_charges_table() {
    let dir = temp_project("charges");
    let cfg = dir.join("configs/app.yaml");
    std::fs::write(&cfg, "mode: PAPER\n").unwrap();
    let seg = "{brokerage_flat: 20, stt_sell_pct: 0.1, exchange_txn_pct: 0.03553, sebi_per_crore: 10, stamp_buy_pct: 0.003}";
    std::fs::write(
        dir.join("configs/charges.yaml"),
        format!("tables:\n- {{from: 2024-01-01, to: 2024-12-31, gst_pct: 18, intraday: {seg}, futures: {seg}, options: {seg}}}\n- {{from: 2024-06-01, gst_pct: 18, intraday: {seg}, futures: {seg}}}\n"),
    )
    .unwrap();
    let out = Command::new(bin())
        .args(["check-config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("charges.yaml"), "{text}");
    assert!(text.contains("missing segment `options`"), "{text}");
}

/// A journal directory that cannot be written refuses LIVE before anything touches the
/// network; PAPER runs without one, says so in /ready, and warns.
#[test]
fn an_unwritable_journal_refuses_live_and_paper_runs_without_it_saying_so() {
    let dir = temp_project("journal-unwritable");
    // A directory under a file: not creatable, whoever runs the test (root included).
    std::fs::write(
        dir.join("configs/app.yaml"),
        "mode: LIVE\nkite:\n  api_root: http://127.0.0.1:9\njournal:\n  dir: configs/app.yaml/journal\nlogging:\n  stderr: true\n",
    )
    .unwrap();
    let out = run_live_with_credentials(&dir, &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("LIVE does not start without a journal"),
        "{err}"
    );
    assert!(
        !err.contains("127.0.0.1:9"),
        "touched the network first: {err}"
    );

    let port = common::free_port();
    std::fs::write(
        dir.join("configs/app.yaml"),
        format!(
            "control:\n  api_port: {port}\n  dashboard_port: {}\nfeed:\n  source: synthetic\njournal:\n  dir: configs/app.yaml/journal\nlogging:\n  stderr: false\n",
            common::free_port()
        ),
    )
    .unwrap();
    let mut child = common::aitrapp_run(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut ready = String::new();
    common::wait_until("/ready", 60, || match common::http(port, "GET", "/ready") {
        Some((_, body)) if body.contains("\"journal\"") => {
            ready = body;
            true
        }
        _ => false,
    });
    let _ = child.kill();
    let _ = child.wait();
    assert!(ready.contains("\"journal\":false"), "{ready}");
    assert!(ready.contains("do not survive a crash"), "{ready}");
    assert!(
        common::log_text(&dir).contains("PAPER runs WITHOUT a journal"),
        "{}",
        common::log_text(&dir)
    );
}

#[test]
fn every_subcommand_says_what_it_does_in_one_line() {
    let out = Command::new(bin()).arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout).to_string();
    let commands: Vec<(String, String)> = help
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| {
            let l = l.trim();
            let (name, what) = l.split_once(' ')?;
            Some((name.to_string(), what.trim().to_string()))
        })
        .collect();
    assert!(commands.len() >= 12, "{help}");
    for (name, what) in &commands {
        assert!(!what.is_empty() && what.len() <= 100, "{name}: `{what}`");
        if name == "help" {
            continue;
        }
        let sub = Command::new(bin()).args([name, "--help"]).output().unwrap();
        assert!(sub.status.success(), "{name} --help");
        let first = String::from_utf8_lossy(&sub.stdout)
            .lines()
            .next()
            .unwrap_or("")
            .to_string();
        assert_eq!(
            first.trim_end_matches('.'),
            what,
            "{name}: its own help starts with the same line"
        );
    }
}
