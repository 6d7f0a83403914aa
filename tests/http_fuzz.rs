//! Fuzzing the control API's request parsing over real sockets: random bytes and mutated
//! valid requests (every endpoint, method, header and body we take, then bit flips,
//! truncations, splices, repeated and oversized headers, lying Content-Lengths, chunked
//! bodies, several requests pipelined on one kept connection) go to a running paper session, several connections at a time. The control thread
//! must never crash or stall: after every batch a plain GET /health answers within 2 s, no
//! connection waits past its deadline for an answer or a close, and at the end the process
//! is alive, still trading ticks, and its log holds no panic.
//!
//! The short run is part of the suite; the long one is run by hand:
//! `AITRAPP_FUZZ_INPUTS=2000000 cargo test --release --test http_fuzz -- --ignored --nocapture`.

mod common;

use common::{free_port, http, metric, temp_project, wait_until, Rng};
use std::collections::BTreeMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const PATHS: [&str; 22] = [
    "/health",
    "/ready",
    "/state",
    "/positions",
    "/orders",
    "/risk",
    "/trades",
    "/trades?date=2026-11-25",
    "/trades?date=bogus&x=%zz",
    "/metrics",
    "/alerts",
    "/pause",
    "/resume",
    "/flatten",
    "/flatten?reason=fuzz%20drill+now",
    "/positions/256265/close",
    "/positions/abc/close",
    "/strategies/reload",
    "/universe/reload",
    "/mode",
    "/journal/sync",
    "/nope/../../etc/passwd",
];
const METHODS: [&str; 8] = [
    "GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH", "BREW",
];
const BODIES: [&str; 9] = [
    "",
    r#"{"reason": "fuzz"}"#,
    r#"{"mode": "LIVE", "confirmation": "CONFIRM LIVE TRADING"}"#,
    r#"{"mode": "PAPER"}"#,
    r#"{"reason": 5}"#,
    "[1,2,3]",
    "{\"reason\": \"\u{7}\\u0000\"",
    "null",
    "\u{fffd}\u{0}\u{1b}[2J",
];
const HEADERS: [&str; 10] = [
    "Content-Type: application/json",
    "X-API-Key: wrong-key",
    "X-API-Key: ",
    "Transfer-Encoding: chunked",
    "Content-Length: 99999999999999999999",
    "Content-Length: -1",
    "Content-Length: 5\r\nContent-Length: 7",
    "Expect: 100-continue",
    "Connection: keep-alive",
    "Host:",
];

/// A well-formed request from the corpus, the last on its connection.
fn valid(r: &mut Rng) -> Vec<u8> {
    request(r, true)
}

/// A well-formed request; `last`: it says `Connection: close`, else the connection is kept
/// for the next.
fn request(r: &mut Rng, last: bool) -> Vec<u8> {
    let method = if r.below(3) == 0 {
        *r.pick(&METHODS)
    } else if r.below(2) == 0 {
        "GET"
    } else {
        "POST"
    };
    let path = r.pick(&PATHS);
    let body = r.pick(&BODIES);
    let mut extra = String::new();
    for _ in 0..r.below(3) {
        let h: &&str = r.pick(&HEADERS);
        extra.push_str(h);
        extra.push_str("\r\n");
    }
    let close = if last { "Connection: close\r\n" } else { "" };
    format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{extra}Content-Length: {}\r\n{close}\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// One input: random bytes, a valid request, requests pipelined on one kept connection
/// (mutated or not), or a valid request mutated a few times.
fn input(r: &mut Rng) -> Vec<u8> {
    match r.below(10) {
        0 => (0..r.below(600)).map(|_| r.next() as u8).collect(),
        1 => valid(r),
        2 => {
            let mut b = Vec::new();
            for _ in 0..1 + r.below(3) {
                b.extend(request(r, false));
            }
            let last = r.below(2) == 0;
            b.extend(request(r, last));
            if r.below(2) == 0 {
                mutate(r, &mut b);
            }
            b
        }
        _ => {
            let mut b = valid(r);
            for _ in 0..1 + r.below(4) {
                mutate(r, &mut b);
            }
            b
        }
    }
}

fn mutate(r: &mut Rng, b: &mut Vec<u8>) {
    if b.is_empty() {
        b.push(r.next() as u8);
        return;
    }
    let at = r.below(b.len());
    match r.below(9) {
        0 => b[at] ^= 1 << r.below(8),
        1 => b[at] = r.next() as u8,
        2 => b.truncate(at),
        3 => {
            b.remove(at);
        }
        4 => {
            let bytes = *r.pick(&[&b"\r\n"[..], b"\r\n\r\n", b"\0", b"%", b":", b" ", b"\n"]);
            b.splice(at..at, bytes.iter().copied());
        }
        5 => {
            // A header line repeated, or one far past any sane length.
            let line = if r.below(2) == 0 {
                format!("X-Pad: {}\r\n", "a".repeat(r.below(20_000)))
            } else {
                format!("{}\r\n", r.pick(&HEADERS))
            };
            if let Some(p) = b.windows(2).position(|w| w == b"\r\n") {
                b.splice(p + 2..p + 2, line.into_bytes());
            }
        }
        6 => {
            // A spliced-in piece of another request.
            let other = valid(r);
            let from = r.below(other.len());
            let to = from + r.below(other.len() - from);
            b.splice(at..at, other[from..to].iter().copied());
        }
        7 => {
            // A body far past the limit.
            b.extend(std::iter::repeat_n(b'{', r.below(40_000)));
        }
        _ => {
            let n = r.below(8).max(1);
            let start = at.min(b.len().saturating_sub(n));
            let piece = b[start..start + n.min(b.len() - start)].to_vec();
            b.splice(at..at, piece.into_iter().cycle().take(n * r.below(50)));
        }
    }
}

#[derive(Default)]
struct Tally {
    statuses: BTreeMap<String, u64>,
    closed_without_answer: u64,
    refused_or_reset: u64,
    stalled: u64,
}

/// Sends one input on its own connection; what came back.
fn exchange(port: u16, bytes: &[u8], deadline: Duration) -> Result<String, &'static str> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).map_err(|_| "refused")?;
    s.set_read_timeout(Some(deadline)).ok();
    s.set_write_timeout(Some(deadline)).ok();
    // A peer that closes on a bad request before reading it all resets the write: fine.
    let _ = s.write_all(bytes);
    let _ = s.shutdown(Shutdown::Write);
    let mut head = [0u8; 16];
    let mut got = 0;
    loop {
        match s.read(&mut head[got..]) {
            Ok(0) => break,
            Ok(n) => {
                got += n;
                if got == head.len() {
                    break;
                }
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return Err("stalled")
            }
            Err(_) => return Err("reset"),
        }
    }
    if got == 0 {
        return Err("closed");
    }
    // Drain the rest so the server's write never blocks on us.
    let mut sink = [0u8; 4096];
    while let Ok(n) = s.read(&mut sink) {
        if n == 0 {
            break;
        }
    }
    let text = String::from_utf8_lossy(&head[..got]).to_string();
    Ok(text
        .strip_prefix("HTTP/1.1 ")
        .or_else(|| text.strip_prefix("HTTP/1.0 "))
        .map_or_else(
            || format!("not HTTP: {text:?}"),
            |t| t[..3.min(t.len())].to_string(),
        ))
}

/// A paper session on the synthetic market at its real pace, stderr kept (a crash's panic
/// message lands there, not in the JSON log).
fn session(tag: &str) -> common::Running {
    let dir = temp_project(tag);
    let port = free_port();
    std::fs::write(
        dir.join("configs/app.yaml"),
        format!(
            "control:\n  api_port: {port}\n  dashboard_port: {}\nfeed:\n  source: synthetic\n  synthetic:\n    speed: 1\n    start_time: \"09:20\"\n    date: \"2026-11-25\"\nlogging:\n  stderr: false\n",
            free_port()
        ),
    )
    .unwrap();
    let stderr = std::fs::File::create(dir.join("stderr.log")).unwrap();
    let app = common::Running::start(&dir, port, stderr.into());
    wait_until("the API", 30, || http(port, "GET", "/health").is_some());
    wait_until("ticks", 30, || {
        metric(port, "feed_ticks_total").unwrap_or(0) > 0
    });
    app
}

/// GET /health, answered 200 within 2 s.
fn health_answers(port: u16) -> Duration {
    let t = Instant::now();
    let probe = exchange(
        port,
        b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        Duration::from_secs(2),
    );
    assert_eq!(probe.as_deref(), Ok("200"), "GET /health");
    t.elapsed()
}

fn fuzz(inputs: u64, tag: &str) {
    let mut app = session(tag);
    let (port, dir) = (app.port, app.dir.clone());
    let ticks_before = metric(port, "feed_ticks_total").unwrap();

    let seed = env_number("AITRAPP_FUZZ_SEED").unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64
            | 1
    });
    eprintln!("http_fuzz: {inputs} inputs, seed {seed} (AITRAPP_FUZZ_SEED to repeat)");
    let workers = 4u64;
    let batch = 500u64;
    let next = Arc::new(AtomicU64::new(0));
    let tally = Arc::new(Mutex::new(Tally::default()));
    let worst_probe = Arc::new(Mutex::new(Duration::ZERO));
    let started = Instant::now();
    let handles: Vec<_> = (0..workers)
        .map(|w| {
            let (next, tally, worst_probe) = (next.clone(), tally.clone(), worst_probe.clone());
            std::thread::spawn(move || {
                let mut r = Rng(seed.wrapping_add(w.wrapping_mul(0x9E37_79B9_7F4A_7C15)) | 1);
                let mut mine = Tally::default();
                loop {
                    let first = next.fetch_add(batch, Ordering::Relaxed);
                    if first >= inputs {
                        break;
                    }
                    for _ in first..(first + batch).min(inputs) {
                        let bytes = input(&mut r);
                        match exchange(port, &bytes, Duration::from_secs(10)) {
                            Ok(status) => *mine.statuses.entry(status).or_default() += 1,
                            Err("closed") => mine.closed_without_answer += 1,
                            Err("stalled") => {
                                mine.stalled += 1;
                                eprintln!(
                                    "stalled on: {:?}",
                                    String::from_utf8_lossy(&bytes[..bytes.len().min(300)])
                                );
                            }
                            Err(_) => mine.refused_or_reset += 1,
                        }
                    }
                    // The control thread still answers a plain request promptly.
                    let took = health_answers(port);
                    let mut worst = worst_probe.lock().unwrap();
                    *worst = (*worst).max(took);
                    if w == 0 && (first / batch).is_multiple_of(200) && first > 0 {
                        eprintln!(
                            "http_fuzz: {first} inputs in {:.0} s",
                            started.elapsed().as_secs_f64()
                        );
                    }
                }
                let mut t = tally.lock().unwrap();
                for (k, v) in mine.statuses {
                    *t.statuses.entry(k).or_default() += v;
                }
                t.closed_without_answer += mine.closed_without_answer;
                t.refused_or_reset += mine.refused_or_reset;
                t.stalled += mine.stalled;
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let took = started.elapsed();
    let t = tally.lock().unwrap();
    eprintln!(
        "http_fuzz: {inputs} inputs in {:.1} s ({:.0}/s); answers by status {:?}; closed without an answer {}; reset {}; stalled {}; slowest /health probe {:?}",
        took.as_secs_f64(),
        inputs as f64 / took.as_secs_f64(),
        t.statuses,
        t.closed_without_answer,
        t.refused_or_reset,
        t.stalled,
        *worst_probe.lock().unwrap()
    );
    assert_eq!(t.stalled, 0, "a connection waited past its deadline");
    assert!(
        t.statuses.contains_key("200") && t.statuses.contains_key("400"),
        "the corpus reached no handler: {:?}",
        t.statuses
    );
    assert!(app.child.try_wait().unwrap().is_none(), "aitrapp exited");
    wait_until("ticks after the fuzz", 30, || {
        metric(port, "feed_ticks_total").unwrap_or(0) > ticks_before
    });
    let log = common::log_text(&dir);
    assert!(!log.contains("panicked"), "a panic in the log");
}

/// A number from the environment, when set and valid.
fn env_number<T: std::str::FromStr>(name: &str) -> Option<T> {
    std::env::var(name).ok().and_then(|s| s.parse().ok())
}

#[test]
fn malformed_requests_never_crash_or_stall_the_control_api() {
    fuzz(
        env_number("AITRAPP_FUZZ_SHORT").unwrap_or(20_000),
        "fuzz-short",
    );
}

#[test]
#[ignore = "long: run by hand, see the module docs"]
fn malformed_requests_soak() {
    fuzz(
        env_number("AITRAPP_FUZZ_INPUTS").unwrap_or(2_000_000),
        "fuzz-long",
    );
}

/// Clients that hold a connection open mid-request: a body shorter than its
/// Content-Length, a head that never ends, a body over the limit never sent, an
/// `Expect: 100-continue` whose body never follows, idle sockets. The kill switch
/// still answers at once while they wait, and each of them gets its answer or its close
/// within the server's 5 s deadline.
#[test]
fn slow_and_lying_clients_never_hold_the_control_thread() {
    let app = session("fuzz-slow");
    let port = app.port;
    let open = |raw: &[u8]| {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.write_all(raw).unwrap();
        s
    };
    let mut held = vec![
        open(b"POST /pause HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n0123456789"),
        open(b"POST /pause HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n0123"),
        open(b"POST /pause HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000000\r\n\r\n"),
        open(b"POST /flatten HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 20\r\n\r\n"),
        open(b"GET /hea"),
    ];
    // And many idle connections that sent nothing.
    for _ in 0..50 {
        held.push(open(b""));
    }
    std::thread::sleep(Duration::from_millis(300));
    for _ in 0..5 {
        let took = health_answers(port);
        assert!(took < Duration::from_secs(2), "{took:?}");
    }
    let (code, body) = common::http_with(
        port,
        "POST",
        "/flatten",
        &[("Content-Type", "application/json")],
        r#"{"reason": "slow clients"}"#,
    )
    .unwrap();
    assert_eq!(code, 200, "the kill switch while clients hang: {body}");
    // Every held connection is answered or closed by the server's deadline, never left open.
    let started = Instant::now();
    let mut answers = Vec::new();
    for mut s in held {
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut out = String::new();
        let r = s.read_to_string(&mut out);
        assert!(
            r.is_ok() || out.starts_with("HTTP/1.1"),
            "{r:?} after {:?}",
            started.elapsed()
        );
        answers.push(out.split(' ').nth(1).unwrap_or("closed").to_string());
    }
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(answers[0], "408", "a short body: {answers:?}");
    assert_eq!(answers[2], "413", "an oversized body: {answers:?}");
    // The 100-continue was sent; the body never came.
    assert!(answers[4] == "408", "a head that never ended: {answers:?}");
    health_answers(port);
}
