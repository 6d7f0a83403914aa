//! End to end: a whole synthetic NSE day through feed -> strategy -> risk -> order, in both
//! topologies, with yield waits and no pinning.

mod shipped;

use aitrapp::app::{self, RunOptions, SessionReport};
use aitrapp::config::{self, Topology};
use aitrapp::risk::portfolio::TradeRecord;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

fn run_day(topology: Topology, seed: u64, tag: &str) -> SessionReport {
    let root = shipped::project_root();
    let mut cfg = shipped::shipped_config();
    cfg.pipeline.topology = topology;
    cfg.pipeline.wait = "yield".into();
    cfg.pipeline.ring_size = 4096;
    cfg.feed.source = config::FeedSource::Synthetic;
    cfg.feed.synthetic.seed = seed;
    cfg.feed.synthetic.speed = 0.0;
    cfg.feed.synthetic.exit_at_close = true;
    let dir = std::env::temp_dir().join(format!("aitrapp-e2e-{}-{tag}", std::process::id()));
    cfg.control.snapshot_path = dir.join("snap").display().to_string();
    // Each run its own journal: a run finding another's day would carry that day on.
    let _ = std::fs::remove_dir_all(dir.join("journal"));
    cfg.journal.dir = dir.join("journal").display().to_string();
    app::run(RunOptions {
        config: cfg,
        secrets: Default::default(),
        serve_http: false,
        stop: Arc::new(AtomicBool::new(false)),
        base_dir: root,
        config_path: None,
    })
    .unwrap()
}

#[test]
fn synthetic_day_trades_and_ends_flat() {
    let r = run_day(Topology::Collapsed, 42, "flat");
    assert_eq!(r.end, app::FeedEnd::SourceEnded);
    assert!(r.ticks > 100_000, "ticks {}", r.ticks);
    assert!(
        !r.trades.is_empty(),
        "the ORB should trade on a synthetic day"
    );
    assert_eq!(r.open_positions, 0, "everything is flat after square-off");
    assert_eq!(r.malformed_frames, 0);
    // Every round trip closed by a stop, a target or the EOD square-off, at a real price.
    for t in &r.trades {
        assert!(t.entry.0 > 0 && t.exit.0 > 0, "{t:?}");
    }
    let sum: i64 = r.trades.iter().map(|t| t.pnl.0).sum();
    assert_eq!(sum, r.realized.0, "trade P&L adds up to realized P&L");
    assert!(r.latency_samples as usize >= r.trades.len() * 2);
}

fn key(t: &[TradeRecord]) -> Vec<(u32, i64, i64, i64, i64, u32)> {
    t.iter()
        .map(|t| (t.token, t.qty, t.entry.0, t.exit.0, t.pnl.0, t.closed_ts))
        .collect()
}

#[test]
fn same_seed_same_trades_in_both_topologies() {
    let a = run_day(Topology::Collapsed, 7, "det-a");
    let b = run_day(Topology::Pipeline, 7, "det-b");
    assert!(!a.trades.is_empty());
    assert_eq!(key(&a.trades), key(&b.trades));
    assert_eq!(a.orders, b.orders);
    let c = run_day(Topology::Collapsed, 8, "det-c");
    assert_ne!(
        key(&a.trades),
        key(&c.trades),
        "a different seed is a different day"
    );
}
