//! The operator's sections of `configs/app.yaml`: the control API and dashboard, logging
//! and the audit retention, monitoring (disk, stale feed) and alerts.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ControlConfig {
    pub bind: String,
    pub api_port: u16,
    pub dashboard_port: u16,
    /// Memory-mapped snapshot the risk thread publishes and `aitrapp snapshot` reads.
    pub snapshot_path: String,
}

impl Default for ControlConfig {
    fn default() -> Self {
        ControlConfig {
            bind: "127.0.0.1".into(),
            api_port: 8000,
            dashboard_port: 3000,
            snapshot_path: "run/aitrapp.snapshot".into(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LoggingConfig {
    pub level: String,
    pub dir: String,
    pub file: String,
    pub max_bytes: u64,
    pub backup_count: u32,
    /// Capacity of the queue hot threads hand log records to.
    pub hot_queue: usize,
    pub stderr: bool,
    /// Days the archived journals are kept before a start may delete them (SEBI asks
    /// brokers for a 5-year audit trail; keep journals and trade exports at least that long).
    pub audit_retention_days: u32,
}

impl Default for LoggingConfig {
    fn default() -> Self {
        LoggingConfig {
            level: "INFO".into(),
            dir: "logs".into(),
            file: "aitrapp.log".into(),
            max_bytes: 50 * 1024 * 1024,
            backup_count: 5,
            hot_queue: 65_536,
            stderr: true,
            audit_retention_days: 1825,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MonitoringConfig {
    pub metrics_enabled: bool,
    /// How often the risk thread republishes the snapshot while ticks flow.
    pub snapshot_interval_ms: u64,
    /// Free space (GB) on the journal's filesystem below which an ALERT is raised and new
    /// entries pause (the runbook asks for more than 10 GB); 0 turns the check off.
    pub min_free_disk_gb: f64,
    /// How often the free space is looked at.
    pub disk_check_interval_s: u64,
    /// No tick for this long while the market is open: `GET /ready` answers 503 (stale feed).
    pub feed_stale_s: u64,
}

impl Default for MonitoringConfig {
    fn default() -> Self {
        MonitoringConfig {
            metrics_enabled: true,
            snapshot_interval_ms: 200,
            min_free_disk_gb: 10.0,
            disk_check_interval_s: 30,
            feed_stale_s: 15,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct AlertsConfig {
    pub enabled: bool,
    pub telegram_bot_token: String,
    pub telegram_chat_id: String,
    pub slack_webhook_url: String,
}
