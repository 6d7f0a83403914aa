//! Zero heap allocations per tick in steady state: a counting global allocator watches decode,
//! ring A, strategy, risk (with the mmap snapshot and the journal, as LIVE journals: after every
//! event) and order stages over hours of a simulated day after warm-up.

mod shipped;

use aitrapp::app;
use aitrapp::domain::{Event, Slot};
use aitrapp::exec::InboxMsg;
use aitrapp::feed::codec::decode_frame;
use aitrapp::pipeline::{ring, WaitStrategy};
use aitrapp::telemetry::journal::JournalSink;
use aitrapp::telemetry::snapshot::SnapshotWriter;
use aitrapp::telemetry::Metrics;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

struct Counting;
static COUNTING: AtomicBool = AtomicBool::new(false);
static ALLOCS: AtomicU64 = AtomicU64::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        System.alloc(l)
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        System.dealloc(p, l)
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        System.realloc(p, l, n)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn steady_state_ticks_do_not_allocate() {
    let root = shipped::project_root();
    let mut cfg = shipped::shipped_config();
    cfg.feed.synthetic.start_time = "09:14".into();
    cfg.monitoring.snapshot_interval_ms = 0; // publish the snapshot on every tick
    let metrics = Arc::new(Metrics::default());
    let (inbox_tx, inbox_rx) = crossbeam_channel::bounded::<InboxMsg>(65_536);
    let (stages, mut market) = app::build_offline(
        &cfg,
        &root,
        inbox_tx,
        metrics.clone(),
        Arc::new(AtomicU64::new(0)),
    )
    .unwrap();
    let snap = std::env::temp_dir().join(format!("aitrapp-noalloc-{}", std::process::id()));
    let mut st = stages;
    let (journal, journal_rx) = JournalSink::new(1 << 16, Arc::new(Metrics::default()));
    st.risk = st
        .risk
        .with_snapshot(SnapshotWriter::create(&snap).unwrap())
        .with_journal(journal, true, false);
    let mut journaled = 0u64;
    let (mut tx, mut rx) = ring(4096, WaitStrategy::Yield, metrics, |m| &m.ring_a_full_total);
    let mut frame = Vec::with_capacity(1 << 16);
    let mut ticks = 0u64;
    let mut orders_seen = 0u64;
    // 09:14 to 15:00: warm up for the first hour (the range, first entries), count after.
    for step in 0..(346 * 60) {
        if step == 60 * 60 {
            COUNTING.store(true, Ordering::SeqCst);
        }
        market.step(&mut frame);
        // The session clock, once per exchange second before its ticks, as the sequencer
        // sends it: bar closes, the strategies, OptionsRanker's IVs and the ranking run here.
        tx.publish(Slot {
            ev: Event::Clock {
                ts: market.sim_epoch_secs() as u32,
            },
            recv_ns: 0,
        });
        let s = decode_frame(&frame, |t| {
            tx.publish(Slot {
                ev: Event::Tick(*t),
                recv_ns: 0,
            })
        })
        .unwrap();
        while let Ok(InboxMsg::Order(u)) = inbox_rx.try_recv() {
            orders_seen += 1;
            tx.publish(Slot {
                ev: Event::Order(u),
                recv_ns: 0,
            });
        }
        if COUNTING.load(Ordering::Relaxed) {
            ticks += s.ticks as u64;
        }
        rx.drain(|slot| {
            st.strategy.on_slot(slot, &mut |s1| {
                st.risk.on_slot(s1, &mut |s2| st.order.on_slot(s2))
            });
        })
        .unwrap();
        // The journal thread's side: taking records off the queue allocates nothing either.
        while journal_rx.try_recv().is_ok() {
            if COUNTING.load(Ordering::Relaxed) {
                journaled += 1;
            }
        }
    }
    COUNTING.store(false, Ordering::SeqCst);
    let allocs = ALLOCS.load(Ordering::SeqCst);
    assert!(ticks > 500_000, "measured {ticks} ticks");
    assert!(orders_seen > 0, "the window should include order traffic");
    // The stages measured are the whole set: every strategy, OptionsRanker's spreads
    // included, traded on this day.
    let strategies: std::collections::BTreeSet<&str> = st
        .risk
        .oms()
        .iter()
        .filter(|o| o.intent.purpose == aitrapp::domain::OrderPurpose::Entry)
        .map(|o| o.intent.strategy.as_str())
        .collect();
    for s in ["orb", "trend_pullback", "vwap_reversion", "options_ranker"] {
        assert!(strategies.contains(s), "{s} did not trade: {strategies:?}");
    }
    assert!(journaled > 1000, "journaled {journaled} records");
    assert_eq!(allocs, 0, "{allocs} allocations over {ticks} ticks");
}
