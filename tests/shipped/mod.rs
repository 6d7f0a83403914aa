//! configs/app.yaml as shipped, with the synthetic session pinned to one date so runs repeat.
//! Shared by the integration tests and the pipeline bench.

use aitrapp::config::{self, AppConfig};
use std::path::PathBuf;

pub fn project_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn shipped_config() -> AppConfig {
    let text = std::fs::read_to_string(project_root().join("configs/app.yaml")).unwrap();
    let mut cfg = config::parse(&text, "configs/app.yaml").unwrap();
    cfg.feed.synthetic.date = "2026-11-25".into();
    cfg
}
