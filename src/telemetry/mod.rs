//! Telemetry below the stages: the metric counters hot threads bump, the hot-log queue they
//! hand log records to, and the snapshot layout the risk thread publishes. Stages write these;
//! the control side reads them. Nothing here imports a stage.

pub mod alerts;
pub mod hot_log;
pub mod journal;
pub mod metrics;
pub mod snapshot;

pub use metrics::Metrics;
