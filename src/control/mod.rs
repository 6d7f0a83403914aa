//! The control side: the HTTP API (tiny_http) on 127.0.0.1:8000, Prometheus text from the
//! telemetry counters, the dashboard, and logging. Commands go into the sequencer inbox; state is read
//! from the snapshot the risk thread publishes. Never on the hot path.

pub mod alerts;
pub mod dashboard;
pub mod http;
pub mod logging;
pub mod systemd;
