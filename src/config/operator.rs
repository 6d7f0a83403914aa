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

/// Where alerts go and how often. Secrets (TELEGRAM_BOT_TOKEN, TELEGRAM_CHAT_ID,
/// SLACK_WEBHOOK_URL, SMTP_HOST, SMTP_PORT, SMTP_USERNAME, SMTP_PASSWORD, SMTP_FROM, SMTP_TO)
/// come from `.env`, never from here; a channel whose secrets are missing is off.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AlertsConfig {
    /// Off: alerts are still listed on the dashboard (GET /alerts), never sent.
    pub enabled: bool,
    /// Alerts waiting for the alert thread; more are dropped (counted), trading never waits.
    pub queue: usize,
    /// The same kind and text again within this long is sent once.
    pub dedupe_window_s: u64,
    /// Per channel: more messages than this in a minute are dropped (counted).
    pub max_per_minute: u32,
    /// A failed send is tried again this many times, the wait doubling from retry_backoff_ms.
    pub retries: u32,
    pub retry_backoff_ms: u64,
    /// One send's whole time (connect, TLS, answer); a channel that hangs costs only this.
    pub timeout_ms: u64,
    /// At shutdown the alerts still queued are sent for up to this long (retries included);
    /// what is left then is logged and counted as not sent, and the exit goes on.
    pub shutdown_drain_ms: u64,
    pub telegram: TelegramAlerts,
    pub slack: ChannelEvents,
    pub email: EmailAlerts,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        AlertsConfig {
            enabled: false,
            queue: 256,
            dedupe_window_s: 300,
            max_per_minute: 20,
            retries: 3,
            retry_backoff_ms: 1000,
            timeout_ms: 5000,
            shutdown_drain_ms: 10_000,
            telegram: TelegramAlerts::default(),
            slack: ChannelEvents::default(),
            email: EmailAlerts::default(),
        }
    }
}

/// The runbook's events, every one by default.
pub fn all_events() -> Vec<String> {
    [
        "POSITION_OPENED",
        "POSITION_CLOSED",
        "STOP_HIT",
        "DAILY_LOSS_STOP",
        "KILL_SWITCH",
        "FEED_DOWN",
        "TOKEN_EXPIRED",
        "RECONCILE_DRIFT",
        "ORDER_REJECTED",
    ]
    .map(String::from)
    .to_vec()
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ChannelEvents {
    pub events: Vec<String>,
}

impl Default for ChannelEvents {
    fn default() -> Self {
        ChannelEvents {
            events: all_events(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TelegramAlerts {
    /// The Bot API root; sendMessage goes to {base_url}/bot{token}/sendMessage.
    pub base_url: String,
    pub events: Vec<String>,
}

impl Default for TelegramAlerts {
    fn default() -> Self {
        TelegramAlerts {
            base_url: "https://api.telegram.org".into(),
            events: all_events(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EmailAlerts {
    /// starttls (port 587, the default) | tls (implicit, port 465) | none (loopback relays only).
    pub security: String,
    /// PEM to trust for the SMTP server instead of public roots (a private relay, tests).
    pub ca_file: Option<String>,
    pub events: Vec<String>,
}

impl Default for EmailAlerts {
    fn default() -> Self {
        EmailAlerts {
            security: "starttls".into(),
            ca_file: None,
            events: [
                "DAILY_LOSS_STOP",
                "KILL_SWITCH",
                "FEED_DOWN",
                "TOKEN_EXPIRED",
                "RECONCILE_DRIFT",
            ]
            .map(String::from)
            .to_vec(),
        }
    }
}
