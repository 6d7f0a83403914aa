//! `journal:`: where the day's journal lives and how hard it is pushed to disk.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct JournalConfig {
    /// Off: nothing survives a crash (PAPER only; LIVE refuses to start without it).
    pub enabled: bool,
    /// Relative to the config's base directory.
    pub dir: String,
    /// `always` (fsync every group written), `interval` (at most every fsync_interval_ms),
    /// `never` (the kernel decides). A process crash loses nothing written under any of
    /// them; a power cut loses up to the interval.
    pub fsync: String,
    pub fsync_interval_ms: u64,
    /// Records the queue to the journal thread holds (a full queue makes the stage wait).
    pub queue: usize,
    /// Journal every signal and what risk did with it (taken, or refused and why).
    pub audit_all_decisions: bool,
    /// Where a run that stops writes the trade export of each day it traded
    /// (`trades-YYYY-MM-DD.csv`, as `aitrapp export` writes it); earlier days' files are
    /// archived compressed there and kept `logging.audit_retention_days`. Empty: none.
    pub exports_dir: String,
}

impl Default for JournalConfig {
    fn default() -> Self {
        JournalConfig {
            enabled: true,
            dir: "data/journal".into(),
            fsync: "interval".into(),
            fsync_interval_ms: 50,
            queue: 16_384,
            audit_all_decisions: true,
            exports_dir: "data/exports".into(),
        }
    }
}
