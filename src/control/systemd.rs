//! systemd integration for `Type=notify`: `READY=1` once the system has started, `STATUS=`
//! lines while it runs, `STOPPING=1` on shutdown, and a watchdog that pings (`WATCHDOG=1`)
//! only while every hot thread shows progress (a heartbeat that moves on work and on waits
//! for work): a wedged stage stops the pings and systemd restarts the service. Messages go
//! to `$NOTIFY_SOCKET` as datagrams (an abstract socket when it starts with `@`); without it
//! (not under systemd) nothing is sent.

use crate::telemetry::Metrics;
use std::os::unix::net::UnixDatagram;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Sends one notification; false when not under systemd or the send failed.
pub fn notify(state: &str) -> bool {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return false;
    };
    let Ok(sock) = UnixDatagram::unbound() else {
        return false;
    };
    let path = path.to_string_lossy().to_string();
    match path.strip_prefix('@') {
        Some(name) => {
            use std::os::linux::net::SocketAddrExt;
            match std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()) {
                Ok(addr) => sock.send_to_addr(state.as_bytes(), &addr).is_ok(),
                Err(_) => false,
            }
        }
        None => sock.send_to(state.as_bytes(), &path).is_ok(),
    }
}

/// The watchdog interval systemd asked for (`WATCHDOG_USEC`, for this process).
pub fn watchdog_interval() -> Option<Duration> {
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok()?;
    if let Some(pid) = std::env::var("WATCHDOG_PID")
        .ok()
        .and_then(|p| p.parse::<u32>().ok())
    {
        if pid != std::process::id() {
            return None;
        }
    }
    (usec > 0).then(|| Duration::from_micros(usec))
}

/// Which hot threads' heartbeats count (`Metrics::heartbeats`): feed and the consumer when
/// collapsed, feed and the three stages in the pipeline.
pub fn running_threads(collapsed: bool) -> Vec<usize> {
    if collapsed {
        vec![0, 1]
    } else {
        vec![0, 1, 2, 3]
    }
}

/// The heartbeats last seen.
#[derive(Debug, Default)]
pub struct Progress {
    last: [u64; 4],
}

impl Progress {
    /// The threads among `running` whose heartbeat has not moved since the last look.
    pub fn stalled(&mut self, m: &Metrics, running: &[usize]) -> Vec<usize> {
        let now: [u64; 4] = std::array::from_fn(|k| m.heartbeats[k].load(Ordering::Relaxed));
        let stalled = running
            .iter()
            .copied()
            .filter(|&k| now[k] == self.last[k])
            .collect();
        self.last = now;
        stalled
    }
}

const THREAD_NAMES: [&str; 4] = [
    "feed",
    "strategy (or the collapsed stages)",
    "risk",
    "order",
];

/// The STATUS= line: mode (where orders go now), trading state, positions, working orders,
/// net P&L, ticks.
pub fn status_line(m: &Metrics) -> String {
    let mode = crate::domain::mode_name(Metrics::get(&m.orders_route_live) == 1);
    format!(
        "{mode} {}: {} position(s), {} working order(s), realized P&L {} net, {} ticks",
        crate::telemetry::snapshot::state_name(Metrics::get(&m.trading_state) as u8),
        Metrics::get(&m.positions_open),
        Metrics::get(&m.orders_working),
        crate::domain::format_rupees(m.realized_net_paise(), 100),
        Metrics::get(&m.feed_ticks_total)
    )
}

/// Pings the watchdog at half its interval while every running thread moves, and sends a
/// STATUS line (`status_line`) every few seconds; until `stop`. None when systemd asked for no
/// watchdog and is not listening at all.
pub fn start(
    metrics: Arc<Metrics>,
    running: Vec<usize>,
    stop: Arc<AtomicBool>,
) -> Option<std::thread::JoinHandle<()>> {
    std::env::var_os("NOTIFY_SOCKET")?;
    let interval = watchdog_interval();
    std::thread::Builder::new()
        .name("aitrapp-systemd".into())
        .spawn(move || {
            let ping_every = interval.map_or(Duration::from_secs(5), |d| d / 2);
            let mut progress = Progress::default();
            let _ = progress.stalled(&metrics, &running);
            let (mut last_ping, mut last_status) = (Instant::now(), Instant::now());
            let mut warned = false;
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(100));
                if interval.is_some() && last_ping.elapsed() >= ping_every {
                    last_ping = Instant::now();
                    let stalled = progress.stalled(&metrics, &running);
                    if stalled.is_empty() {
                        notify("WATCHDOG=1");
                        warned = false;
                    } else if !warned {
                        warned = true;
                        let names: Vec<&str> = stalled.iter().map(|&k| THREAD_NAMES[k]).collect();
                        log::error!(target: "app", threads = names.join(",").as_str();
                            "ALERT: no progress from the {} thread(s): the systemd watchdog is not pinged and will restart the service",
                            names.join(", "));
                    }
                }
                if last_status.elapsed() >= Duration::from_secs(5) {
                    last_status = Instant::now();
                    notify(&format!("STATUS={}", status_line(&metrics)));
                }
            }
        })
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_that_stops_beating_is_named() {
        let m = Metrics::default();
        let mut p = Progress::default();
        let all = running_threads(false);
        let beat = |k: usize| m.heartbeats[k].fetch_add(1, Ordering::Relaxed);
        for k in 0..4 {
            beat(k);
        }
        assert!(p.stalled(&m, &all).is_empty());
        for k in [0, 1, 3] {
            beat(k);
        }
        assert_eq!(p.stalled(&m, &all), vec![2], "risk did not move");
        // Collapsed runs only feed and the consumer.
        beat(0);
        beat(1);
        assert!(p.stalled(&m, &running_threads(true)).is_empty());
    }

    #[test]
    fn notifications_reach_the_socket_systemd_names() {
        let dir = std::env::temp_dir().join(format!("aitrapp-notify-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("notify.sock");
        let listener = UnixDatagram::bind(&path).unwrap();
        listener
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        // The only test in this binary that sets NOTIFY_SOCKET.
        std::env::set_var("NOTIFY_SOCKET", &path);
        assert!(notify("READY=1"));
        std::env::remove_var("NOTIFY_SOCKET");
        let mut buf = [0u8; 64];
        let n = listener.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"READY=1");
        assert!(!notify("READY=1"), "not under systemd: nothing sent");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
