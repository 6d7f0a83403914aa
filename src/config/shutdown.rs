//! `shutdown:`: what a stop (SIGTERM, SIGINT) does with positions still open.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ShutdownConfig {
    /// true: a stop first runs the kill switch and waits for the book to be flat (working
    /// orders included), at most `flatten_timeout_s`. false: positions stay open at the
    /// broker with their protective stops, each named in a WARNING, and the next start
    /// carries on with them.
    pub flatten_on_stop: bool,
    pub flatten_timeout_s: u64,
}

impl Default for ShutdownConfig {
    fn default() -> Self {
        ShutdownConfig {
            flatten_on_stop: false,
            flatten_timeout_s: 60,
        }
    }
}
