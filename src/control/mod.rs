//! The control side: the HTTP API (our own small HTTP/1.1 server, `server`) on 127.0.0.1:8000, Prometheus text from the
//! telemetry counters, the dashboard, and logging. Commands go into the sequencer inbox; state is read
//! from the snapshot the risk thread publishes. Never on the hot path.

pub mod alerts;
pub mod dashboard;
pub mod http;
pub mod logging;
pub mod server;
pub mod systemd;

/// A host or bind address only this machine can reach.
pub fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .trim_matches(|c| c == '[' || c == ']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// An HTTP client for the control side's own calls (the dashboard's relay, the alert
/// webhooks): every status is an answer, not an error, and `timeout` bounds the whole call.
pub fn http_agent(timeout: std::time::Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        // Servers close idle kept connections (ours after 5 s, the dashboard's relay goes to
        // it): reuse one only well inside that, so a request never goes out on a connection
        // being closed.
        .max_idle_age(std::time::Duration::from_secs(2))
        .http_status_as_error(false)
        .build()
        .into()
}
