//! Does a busy control API slow the pipeline? The shipped config (PAPER, synthetic market at
//! its default pace, adaptive waits) runs as its own process; the bench measures a quiet
//! phase, a phase with `GET /state` at a fixed rate, and a second quiet phase, one after
//! another in one run, and prints them side by side: the pipeline's latency from the
//! `/metrics` histograms (bucket counts diffed at the phase boundaries, quantiles
//! interpolated inside a bucket as Prometheus' `histogram_quantile` does), the process's CPU
//! from /proc, the host's steal time (how long the virtual machine's cores were taken away,
//! which stalls everything at once), and the load's own answer times. Each kind is pooled
//! twice: all windows, and only those in which the host took under 1 % of the machine's
//! time (a paired day goes out whole), with the tick-to-intent p99's bootstrap interval and
//! the spread of the per-window changes.
//!
//! Tick-to-intent has only about a dozen samples a minute at the default pace, so the per-tick
//! stage latencies (feed receive to the strategy and to the risk stage, thousands a second)
//! are what shows an effect; tick-to-intent is printed with its sample count.
//!
//! `cargo bench --bench control_load` (AITRAPP_LOAD_SECS per phase, default 60;
//! AITRAPP_LOAD_RPS, default 2000; AITRAPP_LOAD_CLIENTS, default 8; AITRAPP_LOAD_ROUNDS of
//! quiet-then-load before the last quiet phase, default 1: the pooled rows of several rounds
//! average out the market's drift through the day, which moves a single phase's p99 by
//! about as much as the load does).
//!
//! For tick-to-intent itself, AITRAPP_LOAD_DAYS=N runs N sessions, each a different
//! trading day and seed, and AITRAPP_LOAD_SPEED sets the market's pace (simulated seconds a
//! second; each session then exits at its close and a phase the close cuts short is
//! dropped): `AITRAPP_LOAD_DAYS=10 AITRAPP_LOAD_SPEED=200 AITRAPP_LOAD_SECS=10
//! AITRAPP_LOAD_ROUNDS=4` pools about a thousand intents of each kind in 20 minutes.
//! With AITRAPP_LOAD_PAIRED=1 (and a pace) each day runs twice, whole, once quiet and once
//! under load: the same ticks and the same intents, so the market's drift cancels out.
//! AITRAPP_LOAD_DATES (dates of `DAYS`, comma-separated) picks the days instead.
//! AITRAPP_LOAD_SLICE_US overrides the shipped `pipeline.hot_slice_us` (0: the kernel's
//! default slice), to compare runs with and without the hot threads' short slice.
//! AITRAPP_LOAD_KEEPALIVE=1 has each client keep one connection open (as a browser or
//! Prometheus does) instead of a new connection per request. AITRAPP_LOAD_CLIENT_NICE sets
//! the load clients' nice value (the server's HTTP threads run at 10), and
//! AITRAPP_LOAD_CLIENT_CPU pins them to one core.

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "control_load/histogram.rs"]
mod histogram;
mod support;
#[path = "control_load/windows.rs"]
mod windows;
use common::{free_port, http, wait_until, Running};
use hdrhistogram::Histogram;
use histogram::Buckets;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::env_or;
use windows::{pair_changes, row, Measured, Pool, Window, STEAL_LIMIT};

/// One read of everything a phase boundary needs.
#[derive(Clone)]
struct Reading {
    at: Instant,
    process_ticks: u64,
    steal_ticks: u64,
    ticks: u64,
    strategy: Buckets,
    risk: Buckets,
    intent: Buckets,
}

/// The machine's steal time (a virtual machine's cores taken by its host), all cores.
fn steal_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    // "cpu user nice system idle iowait irq softirq steal ...".
    stat.lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(8))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the parenthesised command: utime and stime are the 12th and 13th.
    let rest = stat.rsplit_once(") ").map_or("", |(_, r)| r);
    let f: Vec<u64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0)
}

/// None once the session has ended (its day closed) or is ending (an answer that is not a
/// full /metrics page).
fn read_now(port: u16, pid: u32) -> Option<Reading> {
    let (code, body) = http(port, "GET", "/metrics")?;
    if code != 200 || !body.contains("aitrapp_tick_to_intent_seconds_bucket") {
        return None;
    }
    let ticks = body
        .lines()
        .find_map(|l| l.strip_prefix("aitrapp_feed_ticks_total "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    Some(Reading {
        at: Instant::now(),
        process_ticks: cpu_ticks(pid),
        steal_ticks: steal_ticks(),
        ticks,
        strategy: Buckets::parse(&body, "stage_latency_seconds", "stage=\"strategy\""),
        risk: Buckets::parse(&body, "stage_latency_seconds", "stage=\"risk\""),
        intent: Buckets::parse(&body, "tick_to_intent_seconds", ""),
    })
}

/// What the load's clients saw.
struct Load {
    answered: u64,
    failed: u64,
    /// Answer times, us.
    answer_us: Histogram<u64>,
}

/// One answer on a kept connection, framed by its Content-Length: whether it was a 200.
fn read_answer(s: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<bool> {
    buf.clear();
    let mut chunk = [0u8; 8192];
    let (head_end, len) = loop {
        let n = s.read(&mut chunk)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..at]).to_ascii_lowercase();
            let len = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length: "))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            break (at + 4, len);
        }
    };
    while buf.len() < head_end + len {
        let n = s.read(&mut chunk)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Ok(buf.starts_with(b"HTTP/1.1 200"))
}

/// `clients` threads sharing `rps` GET /state a second between them on a fixed schedule
/// (a late client sends at once rather than skipping), until `stop`. Each request on its own
/// connection (`Connection: close`, a script's curl in a loop), or with `keep_alive` each
/// client on one kept connection (a browser's or Prometheus' way), opened again after an
/// error.
fn load(port: u16, rps: u64, clients: u64, keep_alive: bool, stop: Arc<AtomicBool>) -> Load {
    let start = Instant::now();
    let handles: Vec<_> = (0..clients)
        .map(|c| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                // AITRAPP_LOAD_CLIENT_NICE: the clients' nice (0 as started), to tell the
                // load generator's share of the two cores from the server's.
                let nice = env_or::<i32>("AITRAPP_LOAD_CLIENT_NICE", 0);
                if nice != 0 {
                    // SAFETY: a plain syscall on this thread.
                    unsafe {
                        libc::setpriority(libc::PRIO_PROCESS as _, libc::gettid() as _, nice)
                    };
                }
                // AITRAPP_LOAD_CLIENT_CPU: the clients on that core only, so the hot threads
                // can wake on the other (the load as if from another machine, nearly).
                if let Ok(cpu) = std::env::var("AITRAPP_LOAD_CLIENT_CPU") {
                    let cpu: usize = cpu.parse().expect("AITRAPP_LOAD_CLIENT_CPU is a core number");
                    // SAFETY: a cpu_set_t on the stack, for this thread only.
                    unsafe {
                        let mut set: libc::cpu_set_t = std::mem::zeroed();
                        libc::CPU_SET(cpu, &mut set);
                        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
                    }
                }
                let period = Duration::from_secs_f64(clients as f64 / rps as f64);
                let mut next = start + period.mul_f64(c as f64 / clients as f64);
                let mut out = Load::empty();
                let mut buf = Vec::with_capacity(4096);
                let mut kept: Option<TcpStream> = None;
                while !stop.load(Ordering::Relaxed) {
                    let now = Instant::now();
                    if now < next {
                        std::thread::sleep(next - now);
                    }
                    next += period;
                    let t = Instant::now();
                    buf.clear();
                    let ok = if keep_alive {
                        let answer = match kept.take() {
                            Some(s) => Ok(s),
                            None => TcpStream::connect(("127.0.0.1", port)).and_then(|s| {
                                s.set_read_timeout(Some(Duration::from_secs(5)))?;
                                s.set_nodelay(true)?;
                                Ok(s)
                            }),
                        }
                        .and_then(|mut s| {
                            s.write_all(b"GET /state HTTP/1.1\r\nHost: localhost\r\n\r\n")?;
                            let ok = read_answer(&mut s, &mut buf)?;
                            kept = Some(s);
                            Ok(ok)
                        });
                        answer.unwrap_or(false)
                    } else {
                        TcpStream::connect(("127.0.0.1", port))
                            .and_then(|mut s| {
                                s.set_read_timeout(Some(Duration::from_secs(5)))?;
                                s.write_all(
                                    b"GET /state HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
                                )?;
                                s.read_to_end(&mut buf)
                            })
                            .is_ok_and(|_| buf.starts_with(b"HTTP/1.1 200"))
                    };
                    if ok {
                        out.answered += 1;
                        let _ = out.answer_us.record(t.elapsed().as_micros() as u64);
                    } else {
                        out.failed += 1;
                    }
                }
                out
            })
        })
        .collect();
    let mut all = Load::empty();
    for h in handles {
        all.add(&h.join().unwrap());
    }
    all
}

impl Load {
    fn empty() -> Load {
        Load {
            answered: 0,
            failed: 0,
            answer_us: Histogram::new(3).unwrap(),
        }
    }

    fn add(&mut self, l: &Load) {
        self.answered += l.answered;
        self.failed += l.failed;
        self.answer_us.add(&l.answer_us).unwrap();
    }
}

/// Trading days for the sessions of AITRAPP_LOAD_DAYS (no weekend, no 2026 NSE holiday).
const DAYS: [&str; 14] = [
    "2026-11-16",
    "2026-11-17",
    "2026-11-18",
    "2026-11-19",
    "2026-11-20",
    "2026-11-23",
    "2026-11-25",
    "2026-11-26",
    "2026-11-27",
    "2026-11-30",
    "2026-12-01",
    "2026-12-02",
    "2026-12-03",
    "2026-12-04",
];

/// A project directory with the shipped configs; the config as shipped but for its ports
/// and, when set, the synthetic market's pace, date and seed (the session then exits at
/// its close).
fn session_dir(root: &Path, day: usize, speed: Option<f64>) -> (std::path::PathBuf, u16) {
    let dir = std::env::temp_dir().join(format!("aitrapp-bench-load-{}-{day}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("configs")).unwrap();
    for e in std::fs::read_dir(root.join("configs")).unwrap() {
        let p = e.unwrap().path();
        if p.is_file() {
            std::fs::copy(&p, dir.join("configs").join(p.file_name().unwrap())).unwrap();
        }
    }
    let port = free_port();
    let yaml = std::fs::read_to_string(dir.join("configs/app.yaml")).unwrap();
    let mut yaml = yaml
        .replace("  api_port: 8000", &format!("  api_port: {port}"))
        .replace(
            "  dashboard_port: 3000",
            &format!("  dashboard_port: {}", free_port()),
        );
    if let Some(speed) = speed {
        let date = DAYS[day % DAYS.len()];
        for (from, to) in [
            ("    seed: 42\n", format!("    seed: {}\n", 42 + day)),
            ("    speed: 20.0 ", format!("    speed: {speed:.1} #")),
            ("    exit_at_close: false", "    exit_at_close: true".into()),
            ("    date: \"\" ", format!("    date: \"{date}\" #")),
        ] {
            assert!(yaml.contains(from), "the shipped config has no {from:?}");
            yaml = yaml.replacen(from, &to, 1);
        }
    }
    // AITRAPP_LOAD_SLICE_US: the hot threads' slice, to set the shipped one against another.
    if let Ok(us) = std::env::var("AITRAPP_LOAD_SLICE_US") {
        let from = "  hot_slice_us: 100 ";
        assert!(yaml.contains(from), "the shipped config has no {from:?}");
        yaml = yaml.replacen(from, &format!("  hot_slice_us: {us} #"), 1);
    }
    std::fs::write(dir.join("configs/app.yaml"), yaml).unwrap();
    (dir, port)
}

/// A session of `day`, started and warmed up for 10 s; dropping it kills the process and
/// removes its directory.
struct Session {
    dir: std::path::PathBuf,
    port: u16,
    pid: u32,
    run: Option<Running>,
}

impl Session {
    fn start(root: &Path, day: usize, speed: Option<f64>) -> Session {
        let (dir, port) = session_dir(root, day, speed);
        let run = Running::quiet(&dir, port);
        wait_until("the API", 60, || http(port, "GET", "/health").is_some());
        let pid = run.child.id();
        println!(
            "day {}: warming up 10 s (pid {pid}, API on {port}, market pace {})",
            day + 1,
            speed.map_or("as shipped".into(), |s| format!(
                "{s}x, {}",
                DAYS[day % DAYS.len()]
            ))
        );
        std::thread::sleep(Duration::from_secs(10));
        Session {
            dir,
            port,
            pid,
            run: Some(run),
        }
    }

    fn read(&self) -> Option<Reading> {
        read_now(self.port, self.pid)
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // The process first (Running's drop kills it), then its directory.
        drop(self.run.take());
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The load's client threads, running until `stop`.
struct Loader {
    stop: Arc<AtomicBool>,
    clients: std::thread::JoinHandle<Load>,
}

impl Loader {
    fn start(port: u16, rps: u64, clients: u64, secs: u64) -> Loader {
        // AITRAPP_LOAD_KEEPALIVE=1: each client keeps its connection.
        let keep_alive = std::env::var_os("AITRAPP_LOAD_KEEPALIVE").is_some();
        let how = if keep_alive {
            "a kept connection each"
        } else {
            "a connection per request"
        };
        println!("  {rps} GET /state a second from {clients} clients, {how} ({secs} s a phase)");
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        Loader {
            stop,
            clients: std::thread::spawn(move || load(port, rps, clients, keep_alive, s)),
        }
    }

    fn stop(self) -> Load {
        self.stop.store(true, Ordering::Relaxed);
        self.clients.join().unwrap()
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let secs = env_or::<u64>("AITRAPP_LOAD_SECS", 60);
    let rps = env_or::<u64>("AITRAPP_LOAD_RPS", 2000);
    let clients = env_or::<u64>("AITRAPP_LOAD_CLIENTS", 8).max(1);
    let rounds = env_or::<u64>("AITRAPP_LOAD_ROUNDS", 1).max(1);
    let days = env_or::<usize>("AITRAPP_LOAD_DAYS", 1).max(1);
    // AITRAPP_LOAD_DATES=2026-11-20,2026-12-02: those days of `DAYS` (a date twice runs
    // it twice) instead of the first AITRAPP_LOAD_DAYS.
    let plan: Vec<usize> = match std::env::var("AITRAPP_LOAD_DATES") {
        Ok(dates) => dates
            .split(',')
            .map(|d| {
                DAYS.iter()
                    .position(|x| *x == d.trim())
                    .unwrap_or_else(|| panic!("{d} is not one of the bench's days: {DAYS:?}"))
            })
            .collect(),
        Err(_) => (0..days).collect(),
    };
    let speed = std::env::var("AITRAPP_LOAD_SPEED")
        .ok()
        .and_then(|v| v.parse::<f64>().ok());
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let phase = Duration::from_secs(secs);
    let mut t: Vec<Measured> = Vec::new();
    let paired = speed.is_some() && std::env::var_os("AITRAPP_LOAD_PAIRED").is_some();
    // `run` numbers the sessions' days as run (what pairs windows), `day` picks the date.
    for (run, day) in plan.into_iter().enumerate() {
        if paired {
            // The same day twice, whole: once quiet, once under load (the order alternating
            // by day), so both see the same ticks and the same intents.
            let order = if run % 2 == 0 {
                [false, true]
            } else {
                [true, false]
            };
            for is_load in order {
                let session = Session::start(root, day, speed);
                let loader = is_load.then(|| Loader::start(session.port, rps, clients, secs));
                let a = session.read().expect("the session is running");
                let mut b = a.clone();
                loop {
                    std::thread::sleep(Duration::from_millis(500));
                    match session.read() {
                        Some(r) => b = r,
                        None => break,
                    }
                }
                t.push(Measured {
                    day: run,
                    window: Window::between(&a, &b),
                    load: loader.map(Loader::stop),
                });
            }
            continue;
        }
        let session = Session::start(root, day, speed);
        // Quiet, load, quiet, ... quiet; every other day starts with load, so each kind
        // falls on both ends of the day (the market's drift through it moves the p99).
        let load_first = run % 2 == 1;
        for p in 0..=2 * rounds {
            let is_load = (p % 2 == 1) != load_first;
            if is_load && p == 2 * rounds {
                break;
            }
            let loader = is_load.then(|| Loader::start(session.port, rps, clients, secs));
            let a = session.read();
            std::thread::sleep(phase);
            let b = session.read();
            let load = loader.map(Loader::stop);
            // A phase the day's close cut short is not counted.
            let (Some(a), Some(b)) = (a, b) else {
                println!("  the session ended (its day closed)");
                break;
            };
            t.push(Measured {
                day: run,
                window: Window::between(&a, &b),
                load,
            });
            if is_load {
                // The last requests finish before the next quiet phase starts.
                std::thread::sleep(Duration::from_secs(1));
            }
        }
    }
    println!();
    println!("| phase | s | /state answered/s | failed | /state answer p50 / p99 (ms) | ticks/s | process CPU (% of one core) | host steal (ms/s) | ticks at strategy | feed->strategy p50 / p99 (us) | feed->risk p50 / p99 (us) | intents | tick->intent p50 / p99 (us) |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for m in &t {
        let kind = if m.load.is_some() {
            "GET /state load"
        } else {
            "quiet"
        };
        let mark = if m.stolen() { " (host steal)" } else { "" };
        println!(
            "{}",
            row(&format!("{kind}{mark}"), &m.window, m.load.as_ref())
        );
    }
    let all = Pool::of(t.iter());
    // A paired day goes out whole when either of its sessions was stolen from, so that
    // what is left stays paired.
    let stolen_days: Vec<usize> = t.iter().filter(|m| m.stolen()).map(|m| m.day).collect();
    let kept = |m: &&Measured| {
        if paired {
            !stolen_days.contains(&m.day)
        } else {
            !m.stolen()
        }
    };
    let clean = Pool::of(t.iter().filter(kept));
    let limit = format!("host steal under {:.0} %", STEAL_LIMIT * 100.0);
    all.print("all");
    clean.print(&limit);
    println!();
    all.print_changes("all windows");
    clean.print_changes(&format!("windows with {limit}"));
    let mut pairs = pair_changes(&t);
    if !pairs.is_empty() {
        pairs.sort_by(f64::total_cmp);
        let up = pairs.iter().filter(|&&c| c > 0.0).count();
        println!(
            "feed->risk p99 change per loaded window against the quiet beside it ({limit}): median {:+.1}%, {:+.1}% to {:+.1}%, up in {up} of {}",
            (pairs[(pairs.len() - 1) / 2] + pairs[pairs.len() / 2]) / 2.0,
            pairs[0],
            pairs[pairs.len() - 1],
            pairs.len(),
        );
    }
}
