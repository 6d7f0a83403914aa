//! Crash-only state: a PAPER session on the synthetic market, killed with SIGKILL at random
//! moments and restarted each time, ends with exactly the trades and P&L of an uninterrupted
//! session with the same seed. `cargo test --release --test crash_recovery -- --ignored`
//! runs the long soak (50 kills); the suite kills it 20 times.

mod common;
use common::{aitrapp_run, free_port, log_text, temp_project};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

fn project(tag: &str, speed: f64) -> std::path::PathBuf {
    let dir = temp_project(tag);
    std::fs::write(
        dir.join("configs/app.yaml"),
        format!(
            "control:\n  api_port: {}\n  dashboard_port: {}\nfeed:\n  source: synthetic\n  synthetic:\n    seed: 42\n    speed: {speed}\n    date: \"2026-12-02\"\n    exit_at_close: true\nlogging:\n  stderr: false\n",
            free_port(),
            free_port()
        ),
    )
    .unwrap();
    dir
}

/// Runs aitrapp in `dir` until the synthetic day ends (at most `secs`).
fn run_to_end(dir: &Path, secs: u64) {
    let mut child = aitrapp_run(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            assert!(s.success(), "aitrapp failed: {s}\n{}", tail(dir));
            return;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the day did not end in {secs} s\n{}", tail(dir));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn tail(dir: &Path) -> String {
    let t = log_text(dir);
    t.lines().rev().take(30).collect::<Vec<_>>().join("\n")
}

/// The last session summary, up to the tick count (a resumed run counts fewer ticks).
fn summary(dir: &Path) -> String {
    let log = log_text(dir);
    let line = log
        .lines()
        .rev()
        .find(|l| l.contains("Session summary"))
        .unwrap_or_else(|| panic!("no session summary\n{}", tail(dir)))
        .to_string();
    let msg = line.split("\"message\":\"").nth(1).unwrap_or(&line);
    msg.split(" open position(s)").next().unwrap().to_string()
}

/// `kills` SIGKILLs at random moments of a day paced at `speed` (a paced day lasts long
/// enough for every kill to land in it; the frames, and so the trades, do not depend on
/// the pace).
fn soak(kills: usize, seed: u64, speed: f64) {
    let clean = project(&format!("soak-clean-{kills}"), 0.0);
    run_to_end(&clean, 240);
    let want = summary(&clean);
    assert!(!want.contains(" 0 trades"), "{want}");

    let dir = project(&format!("soak-kill-{kills}"), speed);
    let mut rng = seed;
    let mut killed = 0;
    for _ in 0..kills {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let after = Duration::from_millis(200 + rng % 1000);
        let mut child = aitrapp_run(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(after);
        if child.try_wait().unwrap().is_some() {
            break; // the day ended before this kill
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        killed += 1;
    }
    run_to_end(&dir, 240);
    let log = log_text(&dir);
    let recovered = log.matches("Recovered from journal").count();
    eprintln!("{killed} kills, {recovered} recoveries");
    assert_eq!(killed, kills, "the day ended before every kill landed");
    assert!(
        recovered >= 1,
        "no restart recovered anything ({killed} kills)\n{}",
        tail(&dir)
    );
    assert_eq!(
        summary(&dir),
        want,
        "{killed} kills, {recovered} recoveries"
    );
    // The trade export of both days is the same, line for line (times, prices, money, order
    // ids and tags), and adds up to the summary.
    let (a, b) = (export(&clean), export(&dir));
    assert_eq!(a, b);
    let rows: Vec<Vec<&str>> = a.lines().skip(1).map(|l| l.split(',').collect()).collect();
    let col = |name: &str| {
        let k = a
            .lines()
            .next()
            .unwrap()
            .split(',')
            .position(|h| h == name)
            .unwrap();
        rows.iter()
            .map(|r| (r[k].parse::<f64>().unwrap() * 100.0).round() as i64)
            .sum::<i64>()
    };
    let rupees = |p: i64| {
        format!(
            "{}{}.{:02}",
            if p < 0 { "-" } else { "" },
            p.abs() / 100,
            p.abs() % 100
        )
    };
    assert!(want.contains(&format!("{} trades", rows.len())), "{want}");
    assert!(
        want.contains(&format!("realized P&L {} gross", rupees(col("gross_pnl")))),
        "{want}"
    );
    assert!(
        want.contains(&format!(
            "{} net of {} charges",
            rupees(col("net_pnl")),
            rupees(col("total_charges"))
        )),
        "{want}"
    );
}

/// `aitrapp export --date 2026-12-02` in `dir`: the CSV.
fn export(dir: &Path) -> String {
    let out = std::process::Command::new(common::bin())
        .current_dir(dir)
        .args([
            "export",
            "--config",
            "configs/app.yaml",
            "--date",
            "2026-12-02",
            "--out",
            "trades.csv",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read_to_string(dir.join("trades.csv")).unwrap()
}

#[test]
fn a_paper_day_killed_at_20_random_moments_ends_as_if_never_killed() {
    soak(20, 0x9e37_79b9, 800.0);
}

#[test]
#[ignore]
fn soak_50_kills() {
    soak(50, 0x2545_f491, 400.0);
}

/// aitrapp on the synthetic market at `speed`, with `extra` YAML; its API port.
fn start_paper(
    tag: &str,
    speed: f64,
    extra: &str,
) -> (std::path::PathBuf, std::process::Child, u16) {
    let dir = temp_project(tag);
    let port = free_port();
    std::fs::write(
        dir.join("configs/app.yaml"),
        format!(
            "control:\n  api_port: {port}\n  dashboard_port: {}\nfeed:\n  source: synthetic\n  synthetic:\n    seed: 42\n    speed: {speed}\n    date: \"2026-12-02\"\n    start_time: \"09:40\"\nlogging:\n  stderr: false\n{extra}",
            free_port()
        ),
    )
    .unwrap();
    let child = aitrapp_run(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    (dir, child, port)
}

fn gauge(port: u16, name: &str) -> Option<u64> {
    let (_, body) = common::http(port, "GET", "/metrics")?;
    body.lines()
        .find_map(|l| l.strip_prefix(&format!("aitrapp_{name} ")))
        .and_then(|v| v.trim().parse().ok())
}

fn sigterm_and_wait(child: &mut std::process::Child, dir: &Path) {
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let deadline = Instant::now() + Duration::from_secs(90);
    while child.try_wait().unwrap().is_none() {
        assert!(
            Instant::now() < deadline,
            "no exit after SIGTERM\n{}",
            tail(dir)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_stop_with_positions_open_names_each_and_flatten_on_stop_flattens_first() {
    // Default: positions stay open at the (paper) broker, each named with its stop.
    // Single-leg positions only (spreads carry no broker stop).
    let one_leg = "strategies:\n  options_ranker:\n    enabled: false\n";
    let (dir, mut child, port) = start_paper("term-open", 200.0, one_leg);
    common::wait_until("an open position", 120, || {
        gauge(port, "positions_open").is_some_and(|n| n > 0)
    });
    sigterm_and_wait(&mut child, &dir);
    let log = log_text(&dir);
    let named = log.matches("Stopping with ").count();
    assert!(named >= 1, "{}", tail(&dir));
    assert!(log.contains("protective stop SL-M"), "{}", tail(&dir));
    assert!(log.contains("left open at the broker"), "{}", tail(&dir));
    // The next start carries them on.
    let mut again = aitrapp_run(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    common::wait_until("the recovery line", 60, || {
        log_text(&dir).contains("Recovered from journal")
    });
    sigterm_and_wait(&mut again, &dir);
    let log = log_text(&dir);
    let recovered = log
        .lines()
        .find(|l| l.contains("Recovered from journal"))
        .unwrap();
    assert!(!recovered.contains(" 0 open position(s)"), "{recovered}");
    // A 09:40 start with no candles or recording of today: ORB and VWAP reversion sit out.
    for note in [
        "orb: started after the open",
        "vwap_reversion: started after the open with no candles or recording of today: sits out today",
    ] {
        assert!(log.contains(note), "{note}\n{}", tail(&dir));
    }

    // shutdown.flatten_on_stop: the kill switch first, then the stop, flat.
    let (dir, mut child, port) = start_paper(
        "term-flat",
        200.0,
        "shutdown:\n  flatten_on_stop: true\n  flatten_timeout_s: 30\n",
    );
    common::wait_until("an open position and a closed trade", 120, || {
        gauge(port, "positions_open").is_some_and(|n| n > 0)
            && gauge(port, "trades_closed_total").is_some_and(|n| n > 0)
    });
    // GET /trades while it runs: the journal's trades of the session's day, as the export
    // writes them, with our order ids and tags.
    let mut day = serde_json::Value::Null;
    common::wait_until("GET /trades to have the closed trades", 20, || {
        let (code, body) = common::http(port, "GET", "/trades").unwrap_or_default();
        day = serde_json::from_str(&body).unwrap_or_default();
        code == 200 && day["count"].as_u64().unwrap_or(0) >= 1
    });
    assert_eq!(day["date"], "2026-12-02", "{day}");
    let (code, body) = common::http(port, "GET", "/trades?date=2026-13-01").unwrap();
    assert_eq!(code, 400, "{body}");
    let (code, body) = common::http(port, "GET", "/trades?date=2026-12-01").unwrap();
    assert_eq!((code, body.contains("\"count\":0")), (200, true), "{body}");
    sigterm_and_wait(&mut child, &dir);
    let csv = export(&dir);
    // The stop wrote the day's export itself, kept under the retention with the journals.
    let kept = std::fs::read_to_string(dir.join("data/exports/trades-2026-12-02.csv"))
        .unwrap_or_else(|e| panic!("the stop's export: {e}\n{}", tail(&dir)));
    assert_eq!(kept, csv, "the stop's export is `aitrapp export --date`'s");
    let head: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    for (t, line) in day["trades"]
        .as_array()
        .unwrap()
        .iter()
        .zip(csv.lines().skip(1))
    {
        for (name, v) in head.iter().zip(line.split(',')) {
            let j = &t[*name];
            let same = j.as_str() == Some(v) || j.as_f64() == v.parse::<f64>().ok();
            assert!(same, "{name}: {j} in /trades, {v} in the export");
        }
        assert!(t["entry_tag"].as_str().unwrap().starts_with("AT"), "{t}");
        assert!(
            t["exit_order_id"].as_u64().unwrap() > t["entry_order_id"].as_u64().unwrap(),
            "{t}"
        );
    }
    let log = log_text(&dir);
    assert!(
        log.contains("shutdown.flatten_on_stop runs the kill switch first"),
        "{}",
        tail(&dir)
    );
    assert!(log.contains("Flat before stopping"), "{}", tail(&dir));
    assert!(!log.contains("Stopping with "), "{}", tail(&dir));
    assert!(summary(&dir).ends_with(" charges, 0"), "{}", summary(&dir));
}
