//! Alerts against local stand-ins: a fake Telegram Bot API and a fake Slack webhook (HTTP on
//! loopback), an SMTP sink that speaks STARTTLS (kite-sim's self-signed certificate) and
//! AUTH, and a server that accepts connections and never answers. `aitrapp alert-test`
//! says which channel worked; a running session sends its alerts by each channel's event
//! filter while a hanging channel costs trading nothing; secrets never reach the log.

mod common;

use common::{free_port, http, temp_project, wait_until};
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const BOT_TOKEN: &str = "123456:TELEGRAM-SECRET-TOKEN";
const SMTP_PASSWORD: &str = "smtp-secret-pw-9";
const SLACK_PATH: &str = "/services/T000/B000/SLACKSECRETPATH";

type Seen = Arc<Mutex<Vec<(String, String)>>>;

/// A fake Telegram or Slack: records every request's path and body, answers 200.
fn fake_http() -> (u16, Seen) {
    fake_http_slow(Duration::ZERO)
}

/// `fake_http` that takes `delay` over each answer (one request at a time), recording the
/// request only once it has answered.
fn fake_http_slow(delay: Duration) -> (u16, Seen) {
    let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
    let port = server.server_addr().to_ip().unwrap().port();
    let seen: Seen = Arc::default();
    let s = seen.clone();
    std::thread::spawn(move || {
        for mut req in server.incoming_requests() {
            let mut body = String::new();
            let _ = req.as_reader().read_to_string(&mut body);
            std::thread::sleep(delay);
            let url = req.url().to_string();
            if req
                .respond(tiny_http::Response::from_string(r#"{"ok":true}"#))
                .is_ok()
            {
                s.lock().unwrap().push((url, body));
            }
        }
    });
    (port, seen)
}

/// Accepts connections and never answers.
fn hanging_server() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in l.incoming().flatten() {
            held.push(s);
        }
    });
    port
}

/// What the SMTP sink saw of one message.
#[derive(Clone, Debug, Default)]
struct Mail {
    tls: bool,
    auth: String,
    rcpt: Vec<String>,
    data: String,
}

/// An SMTP server that offers STARTTLS and AUTH PLAIN and keeps every message.
fn smtp_sink(tls: Arc<rustls::ServerConfig>) -> (u16, Arc<Mutex<Vec<Mail>>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let mails: Arc<Mutex<Vec<Mail>>> = Arc::default();
    let m = mails.clone();
    std::thread::spawn(move || {
        for sock in l.incoming().flatten() {
            let (tls, m) = (tls.clone(), m.clone());
            std::thread::spawn(move || smtp_session(sock, tls, m));
        }
    });
    (port, mails)
}

fn smtp_session(
    sock: TcpStream,
    tls: Arc<rustls::ServerConfig>,
    mails: Arc<Mutex<Vec<Mail>>>,
) -> Option<()> {
    sock.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let mut plain = BufReader::new(sock);
    plain.get_mut().write_all(b"220 sink ESMTP\r\n").ok()?;
    // Before TLS: EHLO offers only STARTTLS, and nothing else is accepted.
    loop {
        let mut line = String::new();
        plain.read_line(&mut line).ok()?;
        let cmd = line.trim().to_ascii_uppercase();
        if cmd.starts_with("EHLO") {
            plain
                .get_mut()
                .write_all(b"250-sink\r\n250 STARTTLS\r\n")
                .ok()?;
        } else if cmd == "STARTTLS" {
            plain.get_mut().write_all(b"220 go ahead\r\n").ok()?;
            break;
        } else {
            plain
                .get_mut()
                .write_all(b"530 must issue STARTTLS first\r\n")
                .ok()?;
        }
    }
    let s = kite_sim::tls::accept(&tls, plain.into_inner())?;
    let mut r = BufReader::new(s);
    let mut mail = Mail {
        tls: true,
        ..Mail::default()
    };
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).ok()? == 0 {
            return Some(());
        }
        let cmd = line.trim_end().to_string();
        let upper = cmd.to_ascii_uppercase();
        let reply: &[u8] = if upper.starts_with("EHLO") {
            b"250-sink\r\n250 AUTH PLAIN LOGIN\r\n"
        } else if upper.starts_with("AUTH PLAIN") {
            mail.auth = cmd[10..].trim().to_string();
            b"235 ok\r\n"
        } else if upper.starts_with("MAIL FROM") {
            b"250 ok\r\n"
        } else if upper.starts_with("RCPT TO") {
            mail.rcpt.push(cmd.clone());
            b"250 ok\r\n"
        } else if upper == "DATA" {
            r.get_mut().write_all(b"354 go\r\n").ok()?;
            loop {
                let mut l = String::new();
                if r.read_line(&mut l).ok()? == 0 {
                    return Some(());
                }
                if l == ".\r\n" {
                    break;
                }
                mail.data.push_str(&l);
            }
            mails.lock().unwrap().push(mail.clone());
            mail.data.clear();
            b"250 queued\r\n"
        } else if upper == "QUIT" {
            let _ = r.get_mut().write_all(b"221 bye\r\n");
            return Some(());
        } else {
            b"250 ok\r\n"
        };
        r.get_mut().write_all(reply).ok()?;
        r.get_mut().flush().ok()?;
    }
}

struct Fakes {
    telegram: (u16, Seen),
    slack: (u16, Seen),
    smtp: (u16, Arc<Mutex<Vec<Mail>>>),
    ca_pem: String,
}

fn fakes() -> Fakes {
    let tls = kite_sim::tls::self_signed().unwrap();
    Fakes {
        telegram: fake_http(),
        slack: fake_http(),
        smtp: smtp_sink(tls.server),
        ca_pem: tls.ca_pem,
    }
}

fn write_env(dir: &Path, f: &Fakes) {
    std::fs::write(
        dir.join(".env"),
        format!(
            "TELEGRAM_BOT_TOKEN={BOT_TOKEN}\nTELEGRAM_CHAT_ID=-100777\nSLACK_WEBHOOK_URL=http://127.0.0.1:{}{SLACK_PATH}\nSMTP_HOST=127.0.0.1\nSMTP_PORT={}\nSMTP_USERNAME=ops\nSMTP_PASSWORD={SMTP_PASSWORD}\nSMTP_FROM=aitrapp@example.com\nSMTP_TO=desk@example.com, risk@example.com\n",
            f.slack.0, f.smtp.0
        ),
    )
    .unwrap();
    std::fs::write(dir.join("configs/smtp-ca.pem"), &f.ca_pem).unwrap();
}

fn alerts_yaml(telegram_port: u16, extra: &str) -> String {
    format!(
        "alerts:\n  enabled: true\n  timeout_ms: 1500\n  retries: 2\n  retry_backoff_ms: 100\n  telegram:\n    base_url: http://127.0.0.1:{telegram_port}\n  email:\n    ca_file: configs/smtp-ca.pem\n{extra}"
    )
}

/// A synthetic session at pace 200 from 09:40 (the opening range done), `alerts` appended.
fn session_yaml(port: u16, dash: u16, alerts: &str) -> String {
    format!(
        "control:\n  api_port: {port}\n  dashboard_port: {dash}\nfeed:\n  source: synthetic\n  synthetic:\n    seed: 42\n    speed: 200\n    date: \"2026-12-02\"\n    start_time: \"09:40\"\nstrategies:\n  options_ranker:\n    enabled: false\nlogging:\n  stderr: false\n{alerts}"
    )
}

/// How many messages a fake server got that contain `what`.
fn count_with(seen: &Seen, what: &str) -> usize {
    seen.lock()
        .unwrap()
        .iter()
        .filter(|(_, b)| b.contains(what))
        .count()
}

fn alert_test(dir: &Path) -> (Option<i32>, String) {
    let out = std::process::Command::new(common::bin())
        .current_dir(dir)
        .args(["alert-test", "--config", "configs/app.yaml"])
        .output()
        .unwrap();
    (
        out.status.code(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn alert_test_sends_one_message_to_each_channel_and_names_the_one_that_failed() {
    let f = fakes();
    let dir = temp_project("alert-test");
    write_env(&dir, &f);
    std::fs::write(dir.join("configs/app.yaml"), alerts_yaml(f.telegram.0, "")).unwrap();
    let (code, out) = alert_test(&dir);
    assert_eq!(code, Some(0), "{out}");
    for name in ["telegram", "slack", "email"] {
        assert!(
            out.lines()
                .any(|l| l.starts_with(name) && l.contains(" OK ")),
            "{name}: {out}"
        );
    }
    let tg = f.telegram.1.lock().unwrap().clone();
    assert_eq!(tg.len(), 1, "{tg:?}");
    assert_eq!(tg[0].0, format!("/bot{BOT_TOKEN}/sendMessage"));
    let body: serde_json::Value = serde_json::from_str(&tg[0].1).unwrap();
    assert_eq!(body["chat_id"], "-100777");
    assert!(body["text"]
        .as_str()
        .unwrap()
        .starts_with("aitrapp [TEST] "));
    let slack = f.slack.1.lock().unwrap().clone();
    assert_eq!(slack.len(), 1);
    assert_eq!(slack[0].0, SLACK_PATH);
    assert!(slack[0].1.contains("[TEST]"), "{slack:?}");
    let mails = f.smtp.1.lock().unwrap().clone();
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert!(mails[0].tls, "sent before STARTTLS");
    assert_eq!(mails[0].rcpt.len(), 2, "{mails:?}");
    assert!(mails[0].data.contains("[TEST]"), "{}", mails[0].data);
    // AUTH PLAIN carries \0user\0password, base64: the account from .env, inside TLS.
    assert_eq!(mails[0].auth, base64(&format!("\0ops\0{SMTP_PASSWORD}")));

    // Telegram hangs: that line fails within the timeout, the others still work, exit 1,
    // and the token stays out of the output.
    let hang = hanging_server();
    std::fs::write(dir.join("configs/app.yaml"), alerts_yaml(hang, "")).unwrap();
    let t0 = std::time::Instant::now();
    let (code, out) = alert_test(&dir);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        t0.elapsed() < Duration::from_secs(20),
        "the hang was not cut off"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("telegram") && l.contains("FAILED")),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("slack") && l.contains(" OK ")),
        "{out}"
    );
    assert!(!out.contains("TELEGRAM-SECRET-TOKEN"), "{out}");

    // Nothing configured: each channel says what is missing, exit 1.
    std::fs::write(dir.join(".env"), "").unwrap();
    let (code, out) = alert_test(&dir);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("SLACK_WEBHOOK_URL is not set"), "{out}");
    assert!(out.contains("SMTP_HOST is not set"), "{out}");
}

#[test]
fn a_session_alerts_by_each_filter_while_a_hanging_channel_costs_trading_nothing() {
    let f = fakes();
    let hang = hanging_server();
    let dir = temp_project("alert-session");
    write_env(&dir, &f);
    let (port, dash) = (free_port(), free_port());
    // Telegram hangs (every send waits out its timeout and retries); email takes only the
    // kill switch.
    let yaml = session_yaml(
        port,
        dash,
        &alerts_yaml(hang, "    events: [KILL_SWITCH]\n"),
    );
    std::fs::write(dir.join("configs/app.yaml"), yaml).unwrap();
    let _app = common::Running::quiet(&dir, port);
    let slack_has = |what: &str| count_with(&f.slack.1, what);
    wait_until("POSITION_OPENED on Slack", 120, || {
        slack_has("[POSITION_OPENED]") > 0
    });
    let orders_before = metric(port, "orders_total{status=\"sent\"}");
    let (code, body) = http(port, "POST", "/flatten?reason=alert-drill").unwrap();
    assert_eq!(code, 200, "{body}");
    wait_until("KILL_SWITCH on Slack", 30, || {
        slack_has("[KILL_SWITCH]") == 1
    });
    wait_until("KILL_SWITCH by email", 30, || {
        f.smtp
            .1
            .lock()
            .unwrap()
            .iter()
            .any(|m| m.data.contains("[KILL_SWITCH]"))
    });
    let mails = f.smtp.1.lock().unwrap().clone();
    assert!(
        mails.iter().all(|m| !m.data.contains("[POSITION_OPENED]")),
        "email's filter is KILL_SWITCH only: {mails:?}"
    );
    // The hanging Telegram held nothing up: the kill switch closed positions (orders went
    // out after the first alert) and its answer came within the API's own bound.
    assert!(metric(port, "orders_total{status=\"sent\"}") > orders_before);
    let (_, alerts) = http(port, "GET", "/alerts").unwrap();
    let v: serde_json::Value = serde_json::from_str(&alerts).unwrap();
    let kinds: Vec<&str> = v["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["kind"].as_str())
        .collect();
    assert!(kinds.contains(&"POSITION_OPENED"), "{alerts}");
    assert!(kinds.contains(&"KILL_SWITCH"), "{alerts}");
    let kill = v["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["kind"] == "KILL_SWITCH")
        .unwrap();
    assert_eq!(
        kill["sent_to"],
        serde_json::json!(["telegram", "slack", "email"]),
        "{kill}"
    );
    wait_until("Telegram's failure in the log", 60, || {
        common::log_text(&dir).contains("Alert to telegram failed after 3 attempt(s)")
    });
    let log = common::log_text(&dir);
    for secret in [BOT_TOKEN, SMTP_PASSWORD, SLACK_PATH, "-100777"] {
        assert!(!log.contains(secret), "{secret} reached the log");
    }
    assert!(log.contains("Alerts: telegram, slack, email on"), "{log}");
}

#[test]
fn alerts_raised_just_before_a_shutdown_are_still_sent_before_the_exit() {
    let mut f = fakes();
    // Slack answers each message after 700 ms: the kill switch's alerts are still queued
    // when SIGTERM arrives right after the flatten.
    f.slack = fake_http_slow(Duration::from_millis(700));
    let dir = temp_project("alert-shutdown");
    write_env(&dir, &f);
    let (port, dash) = (free_port(), free_port());
    let alerts = alerts_yaml(f.telegram.0, "    events: [KILL_SWITCH]\n")
        .replace("timeout_ms: 1500", "timeout_ms: 5000");
    let yaml = session_yaml(port, dash, &alerts);
    std::fs::write(dir.join("configs/app.yaml"), yaml).unwrap();
    let mut app = common::Running::quiet(&dir, port);
    wait_until("a position open", 120, || {
        metric(port, "positions_open") > 0.0
    });
    let slack_has = |what: &str| count_with(&f.slack.1, what);
    let (code, body) = http(port, "POST", "/flatten?reason=closing-time").unwrap();
    assert_eq!(code, 200, "{body}");
    unsafe { libc::kill(app.child.id() as i32, libc::SIGTERM) };
    let status = common::wait_exit(
        &mut app.child,
        Duration::from_secs(60),
        "no exit after SIGTERM",
    );
    assert!(status.success(), "{status:?}");
    let log = common::log_text(&dir);
    assert_eq!(slack_has("[KILL_SWITCH]"), 1, "{log}");
    let closed = slack_has("[POSITION_CLOSED]");
    assert!(closed > 0, "the flatten's closes never reached Slack");
    let drain = common::json_log(&dir)
        .into_iter()
        .find(|v| {
            v["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("Alerts at shutdown"))
        })
        .unwrap_or_else(|| panic!("no drain line: {log}"));
    let line = drain["message"].as_str().unwrap();
    assert!(line.contains("none left"), "{line}");
    assert!(
        drain["sent"].as_u64().unwrap() > 0,
        "nothing was left for the drain to send: {line}"
    );
    assert!(log.find("Alerts at shutdown").unwrap() < log.find("AITRAPP stopped").unwrap());
}

fn metric(port: u16, name: &str) -> f64 {
    common::metric_f64(port, name).unwrap_or(0.0)
}

/// Standard base64 with padding (RFC 4648), enough to check an AUTH PLAIN line.
fn base64(s: &str) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in s.as_bytes().chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}
