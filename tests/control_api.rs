//! The control API's auth and readiness against a running paper session: mutating calls
//! without the key get 401, with a wrong one 403; reads need none; /ready names its reasons;
//! a bind other than loopback without a key refuses to start.

mod common;

use common::{aitrapp_run, free_port, http, http_with, temp_project, wait_until};
use std::process::Stdio;
use std::time::{Duration, Instant};

const KEY: &str = "control-api-test-key-7f3a";

fn config(port: u16, bind: &str) -> String {
    format!(
        "control:\n  bind: \"{bind}\"\n  api_port: {port}\n  dashboard_port: {}\nfeed:\n  source: synthetic\n  synthetic:\n    speed: 600\n    start_time: \"09:14\"\n    date: \"2026-11-25\"\nlogging:\n  stderr: false\n",
        free_port()
    )
}

#[test]
fn mutating_calls_need_the_key_and_ready_says_why_not() {
    let dir = temp_project("api-auth");
    let port = free_port();
    std::fs::write(dir.join("configs/app.yaml"), config(port, "127.0.0.1")).unwrap();
    std::fs::write(dir.join(".env"), format!("API_SECRET_KEY={KEY}\n")).unwrap();
    // Killed on drop: a failing assertion never leaves a session running.
    let mut app = common::Running::quiet(&dir, port);
    wait_until("the API", 30, || http(port, "GET", "/health").is_some());
    let json = |b: &str| -> serde_json::Value { serde_json::from_str(b).unwrap() };

    let (code, body) = http(port, "POST", "/pause").unwrap();
    assert_eq!(code, 401, "{body}");
    assert!(json(&body)["error"].as_str().unwrap().contains("X-API-Key"));
    let (code, body) = http_with(port, "POST", "/pause", &[("X-API-Key", "nope")], "").unwrap();
    assert_eq!(code, 403, "{body}");
    let longer = format!("{KEY}x");
    let (code, _) = http_with(port, "POST", "/pause", &[("X-API-Key", &longer)], "").unwrap();
    assert_eq!(code, 403, "a key with the right prefix is still wrong");
    let (code, body) = http_with(port, "POST", "/pause", &[("X-API-Key", KEY)], "").unwrap();
    assert_eq!(code, 200, "{body}");
    assert_eq!(json(&body)["is_paused"], true, "{body}");
    // Bodies: a JSON object of at most 1 KiB with a Content-Length.
    let k = [("X-API-Key", KEY), ("Content-Type", "application/json")];
    let (code, body) = http_with(port, "POST", "/flatten", &k, r#"{"reason": "drill"}"#).unwrap();
    assert_eq!(
        (code, json(&body)["reason"].as_str()),
        (200, Some("drill")),
        "{body}"
    );
    // /mode: LIVE needs the exact confirmation, and the Kite feed.
    let mode = |b: &str| http_with(port, "POST", "/mode", &k, b).unwrap();
    let (code, body) = mode(r#"{"mode": "LIVE"}"#);
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("CONFIRM LIVE TRADING"), "{body}");
    let (code, body) = mode(r#"{"mode": "LIVE", "confirmation": "confirm live trading"}"#);
    assert_eq!(code, 400, "not typed exactly: {body}");
    let (code, body) = mode(r#"{"mode": "LIVE", "confirmation": "CONFIRM LIVE TRADING"}"#);
    assert_eq!(
        (code, json(&body)["mode"].as_str()),
        (409, Some("PAPER")),
        "{body}"
    );
    let (code, body) = mode(r#"{"mode": "PAPER"}"#);
    assert_eq!(
        (code, json(&body)["changed"].as_bool()),
        (200, Some(false)),
        "{body}"
    );
    assert_eq!(mode(r#"{"mode": "SIM"}"#).0, 400);
    assert_eq!(
        http_with(port, "POST", "/mode", &[], r#"{"mode": "PAPER"}"#)
            .unwrap()
            .0,
        401
    );
    let (code, body) = http_with(port, "POST", "/flatten?reason=feed%20down", &[k[0]], "").unwrap();
    assert_eq!(
        (code, json(&body)["reason"].as_str()),
        (200, Some("feed down")),
        "{body}"
    );
    let (code, body) = http_with(port, "POST", "/flatten", &k, "{\"reason\": ").unwrap();
    assert_eq!(code, 400, "{body}");
    assert!(
        json(&body)["error"]
            .as_str()
            .unwrap()
            .contains("malformed JSON"),
        "{body}"
    );
    let big = format!("{{\"reason\": \"{}\"}}", "x".repeat(5000));
    let (code, body) = http_with(port, "POST", "/flatten", &k, &big).unwrap();
    assert_eq!(code, 413, "{body}");
    // Without the key the size or shape of the body does not matter: 401 first.
    assert_eq!(
        http_with(port, "POST", "/flatten", &[], &big).unwrap().0,
        401
    );
    let chunked = [k[0], ("Transfer-Encoding", "chunked")];
    let (code, body) = raw_chunked(port, &chunked);
    assert_eq!(code, 411, "{body}");
    // Still serving after all that.
    assert_eq!(http(port, "GET", "/health").unwrap().0, 200);
    // Reads need no key; unknown paths and wrong methods answer JSON too.
    assert_eq!(http(port, "GET", "/state").unwrap().0, 200);
    let (code, body) = http(port, "GET", "/nowhere").unwrap();
    assert_eq!((code, json(&body)["error"].is_string()), (404, true));
    let (code, body) = http(port, "DELETE", "/pause").unwrap();
    assert_eq!(
        (code, json(&body)["allowed"][0].as_str()),
        (405, Some("POST"))
    );

    // Ready once ticks flow (09:15 at 600x is a couple of seconds away), with no reasons.
    let mut last = String::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (code, body) = http(port, "GET", "/ready").unwrap();
        let v = json(&body);
        assert!(v["reasons"].is_array(), "{body}");
        if code == 200 {
            assert_eq!(v["reasons"].as_array().unwrap().len(), 0, "{body}");
            break;
        }
        assert_eq!(code, 503);
        assert!(
            !v["reasons"].as_array().unwrap().is_empty(),
            "503 says why: {body}"
        );
        last = body;
        assert!(Instant::now() < deadline, "never ready: {last}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = last;
    // /metrics passes promtool's own check, on the live output.
    let (code, metrics) = http(port, "GET", "/metrics").unwrap();
    assert_eq!(code, 200);
    for family in [
        "aitrapp_stage_latency_seconds_bucket{stage=\"risk\",le=\"+Inf\"}",
        "aitrapp_tick_to_intent_seconds_count",
        "aitrapp_orders_total{status=\"sent\"}",
        "aitrapp_signals_refused_by_reason_total{reason=\"paused\"}",
        "process_resident_memory_bytes",
    ] {
        assert!(metrics.contains(family), "{family} missing");
    }
    promtool_check(&metrics);
    shipped_monitoring_uses_only_these(&metrics);
    unsafe { libc::kill(app.child.id() as i32, libc::SIGTERM) };
    common::wait_exit(
        &mut app.child,
        Duration::from_secs(60),
        "no exit after SIGTERM",
    );
}

/// `promtool check metrics` on `text`, when promtool is installed ($PROMTOOL, else PATH);
/// with AITRAPP_REQUIRE_PROMTOOL=1 (CI installs it) a missing promtool fails the test.
fn promtool_check(text: &str) {
    use std::io::Write;
    let tool = std::env::var("PROMTOOL").unwrap_or_else(|_| "promtool".into());
    let child = std::process::Command::new(&tool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            assert!(
                std::env::var("AITRAPP_REQUIRE_PROMTOOL").is_err(),
                "promtool ({tool}) not runnable: {e}"
            );
            eprintln!("promtool not installed ({e}): /metrics not checked by it");
            return;
        }
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
        "promtool check metrics:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The alert rules and the Grafana dashboard in monitoring/ name only metrics `text` has, and
/// the rules pass `promtool check rules` (when promtool is installed).
fn shipped_monitoring_uses_only_these(text: &str) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("monitoring");
    let mut used = std::collections::BTreeSet::new();
    for file in ["prometheus-rules.yml", "grafana-dashboard.json"] {
        let body = std::fs::read_to_string(dir.join(file)).unwrap();
        let b = body.as_bytes();
        for prefix in ["aitrapp_", "process_"] {
            let mut at = 0;
            while let Some(k) = body[at..].find(prefix) {
                let start = at + k;
                let mut end = start;
                while end < b.len()
                    && (b[end].is_ascii_lowercase() || b[end].is_ascii_digit() || b[end] == b'_')
                {
                    end += 1;
                }
                // Not the tail of a longer word (`job="aitrapp"` is a label value, not a name).
                let word_start =
                    start == 0 || !(b[start - 1].is_ascii_alphanumeric() || b[start - 1] == b'_');
                if word_start && end > start + prefix.len() {
                    used.insert((file, body[start..end].to_string()));
                }
                at = end;
            }
        }
    }
    let families: std::collections::BTreeSet<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split(' ').next())
        .collect();
    assert!(used.len() > 20, "{used:?}");
    for (file, name) in &used {
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| name.strip_suffix(s).filter(|f| families.contains(f)))
            .unwrap_or(name);
        assert!(
            families.contains(family),
            "{file} uses {name}, which /metrics does not have"
        );
    }
    let tool = std::env::var("PROMTOOL").unwrap_or_else(|_| "promtool".into());
    match std::process::Command::new(&tool)
        .args(["check", "rules"])
        .arg(dir.join("prometheus-rules.yml"))
        .output()
    {
        Ok(out) => assert!(
            out.status.success(),
            "promtool check rules:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => assert!(
            std::env::var("AITRAPP_REQUIRE_PROMTOOL").is_err(),
            "promtool ({tool}) not runnable: {e}"
        ),
    }
}

/// A POST with a chunked body (`http_with` always sends a Content-Length).
fn raw_chunked(port: u16, headers: &[(&str, &str)]) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let extra: String = headers
        .iter()
        .map(|(k, v)| format!("{k}: {v}\r\n"))
        .collect();
    write!(
        s,
        "POST /flatten HTTP/1.1\r\nHost: localhost\r\n{extra}Connection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
    )
    .unwrap();
    let mut buf = String::new();
    let _ = s.read_to_string(&mut buf);
    let code = buf
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (code, buf)
}

#[test]
fn a_public_bind_without_a_key_refuses_to_start() {
    let dir = temp_project("api-bind");
    let port = free_port();
    std::fs::write(dir.join("configs/app.yaml"), config(port, "0.0.0.0")).unwrap();
    let out = aitrapp_run(&dir).output().unwrap();
    assert!(!out.status.success());
    let text = format!(
        "{}{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        std::fs::read_to_string(dir.join("logs/aitrapp.log")).unwrap_or_default()
    );
    assert!(text.contains("API_SECRET_KEY is not set"), "{text}");
    assert!(http(port, "GET", "/health").is_none(), "nothing listens");
}

#[test]
fn ready_goes_503_while_the_feed_stalls_and_200_after_it_heals() {
    let sim = common::start_sim("09:20", 20.0);
    let app = common::start_aitrapp("ready-stall", &sim, "monitoring:\n  feed_stale_s: 1\n", &[]);
    let port = app.port;
    let ready = || http(port, "GET", "/ready").unwrap_or_default();
    wait_until("/ready 200 on the flowing feed", 60, || ready().0 == 200);
    sim.faults.stall_ws(6_000);
    let mut why = String::new();
    wait_until("/ready 503 while the feed is silent", 15, || {
        let (code, body) = ready();
        why = body;
        code == 503
    });
    let v: serde_json::Value = serde_json::from_str(&why).unwrap();
    let reasons: Vec<&str> = v["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r.as_str())
        .collect();
    assert!(reasons.iter().any(|r| r.contains("market feed")), "{why}");
    wait_until("/ready 200 once ticks flow again", 60, || ready().0 == 200);
}
