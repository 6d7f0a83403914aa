//! The journal: what a stage pays to hand over one record, how many records a second the
//! journal thread writes to disk, and how long a restart takes to rebuild a day of 50,000
//! order events.
//!
//! `cargo bench --bench journal` (AITRAPP_BENCH_RECORDS=N, default 5,000,000).

mod support;
use aitrapp::clock::SessionCalendar;
use aitrapp::domain::*;
use aitrapp::journal::{self, FsyncPolicy};
use aitrapp::risk::oms::OrderRecord;
use aitrapp::risk::recovery::{put_desk, put_order};
use aitrapp::risk::{RiskParams, RiskStage};
use aitrapp::telemetry::journal::{kind, JournalSink};
use aitrapp::telemetry::Metrics;
use hdrhistogram::Histogram;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::{env_or, print_hist};

/// A new day's journal in `dir` with its thread running.
fn writer(dir: &Path, policy: FsyncPolicy) -> (JournalSink, journal::JournalThread, Arc<Metrics>) {
    let metrics = Arc::new(Metrics::default());
    let j = journal::open_day(dir, 20261202, 0).unwrap();
    let (sink, rx) = JournalSink::new(16_384, metrics.clone());
    let t = j.start(rx, policy, metrics.clone()).unwrap();
    (sink, t, metrics)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let n: u64 = env_or("AITRAPP_BENCH_RECORDS", 5_000_000);
    let dir = std::env::temp_dir().join(format!("aitrapp-bench-journal-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);

    // 1. Hand-over: one slot-sized record (354 bytes, the largest kind) into the queue while
    // the journal thread writes; each put timed alone (clock reads included).
    let (sink, t, metrics) = writer(
        &dir.join("a"),
        FsyncPolicy::Every(Duration::from_millis(50)),
    );
    let payload = [7u8; 354];
    let mut h = Histogram::<u64>::new(3).unwrap();
    for _ in 0..1_000_000 {
        let s = Instant::now();
        sink.put(kind::SLOT, |w| w.bytes(&payload));
        let _ = h.record(s.elapsed().as_nanos() as u64);
    }
    print_hist("put (354-byte record, journal thread writing)", &h);
    // The hand-over alone, with no clock read around each put and room for every record
    // (back to back into a busy writer, puts measure the disk instead).
    let (quiet, quiet_rx) = JournalSink::new(200_000, Arc::new(Metrics::default()));
    // One pass first so the queue's memory is paged in.
    for _ in 0..200_000 {
        quiet.put(kind::SLOT, |w| w.bytes(&payload));
    }
    while quiet_rx.try_recv().is_ok() {}
    let s = Instant::now();
    for _ in 0..200_000 {
        quiet.put(kind::SLOT, |w| w.bytes(&payload));
    }
    println!(
        "  200,000 puts back to back, queue never full: {:.1} ns per 354-byte put",
        s.elapsed().as_nanos() as f64 / 2e5
    );
    while quiet_rx.try_recv().is_ok() {}
    let desk_sized = [5u8; 109];
    let s = Instant::now();
    for _ in 0..200_000 {
        quiet.put(kind::DESK, |w| w.bytes(&desk_sized));
    }
    println!(
        "  200,000 puts back to back, queue never full: {:.1} ns per 109-byte put (a desk record)",
        s.elapsed().as_nanos() as f64 / 2e5
    );
    drop(quiet_rx);
    println!(
        "  queue full waits: {}",
        metrics
            .journal_queue_full_total
            .load(std::sync::atomic::Ordering::Relaxed)
    );
    drop(sink);
    t.handle.join().unwrap();

    // 2. Sustained: n records of 100 bytes (a desk record's size) from one producer until
    // the journal thread has written and fsynced the last.
    let (sink, t, metrics) = writer(
        &dir.join("b"),
        FsyncPolicy::Every(Duration::from_millis(50)),
    );
    let small = [3u8; 100];
    let s = Instant::now();
    for _ in 0..n {
        sink.put(kind::DESK, |w| w.bytes(&small));
    }
    drop(sink);
    t.handle.join().unwrap();
    let secs = s.elapsed().as_secs_f64();
    let bytes = metrics
        .journal_bytes_total
        .load(std::sync::atomic::Ordering::Relaxed);
    println!(
        "sustained: {n} records in {secs:.2} s = {:.2} M records/s, {:.0} MB/s to disk, {} fsyncs",
        n as f64 / secs / 1e6,
        bytes as f64 / secs / 1e6,
        metrics
            .journal_fsyncs_total
            .load(std::sync::atomic::Ordering::Relaxed)
    );

    // 3. Recovery: a day of 10,000 orders with 5 records each (sent, acknowledged, two
    // partial fills, filled) = 50,000 order events, read back, checked and applied to a desk.
    let csv = format!(
        "{INSTRUMENTS_HEADER}\n408065,1594,INFY,\"INFOSYS\",1550.0,,0.0,0.05,1,EQ,NSE,NSE\n"
    );
    let master = Arc::new(InstrumentMaster::parse_csv(&csv, "bench.csv").unwrap());
    let fresh = || {
        RiskStage::new(
            RiskParams::from_config(&Default::default()),
            SessionCalendar::nse_hours(),
            master.clone(),
            Arc::new(Metrics::default()),
        )
    };
    let desk = fresh().journaled_state().desk;
    let day_dir = dir.join("c");
    let (sink, t, _) = writer(&day_dir, FsyncPolicy::Never);
    sink.put(kind::DESK, |w| put_desk(w, &desk));
    for id in 1..=10_000u64 {
        let intent = OrderIntent {
            id: OrderId(id),
            token: Token(408065),
            side: if id % 2 == 0 { Side::Sell } else { Side::Buy },
            qty: Qty(100),
            order_type: OrderType::Limit,
            price: Price(155_000),
            trigger: Price(0),
            validity: Validity::Day,
            purpose: OrderPurpose::Entry,
            strategy: StrategyId::Orb,
            ts: 1,
        };
        for (status, filled) in [
            (OrderStatus::PendingNew, 0),
            (OrderStatus::Open, 0),
            (OrderStatus::PartiallyFilled, 30),
            (OrderStatus::PartiallyFilled, 60),
            (OrderStatus::Filled, 100),
        ] {
            let r = OrderRecord {
                intent,
                status,
                filled: Qty(filled),
                avg_fill: Price(155_000),
                filled_value: 155_000 * filled as i128,
            };
            sink.put(kind::ORDER, |w| put_order(w, &r));
        }
    }
    drop(sink);
    t.handle.join().unwrap();
    let s = Instant::now();
    let j = journal::open_day(&day_dir, 20261202, 0).unwrap();
    let read = s.elapsed();
    let mut risk = fresh();
    let r = risk
        .restore(
            j.records
                .iter()
                .map(|r| (r.seq, r.kind, r.payload.as_slice())),
        )
        .unwrap();
    let total = s.elapsed();
    println!(
        "recovery: {} records ({} orders) read and checked in {:.1} ms, applied: {:.1} ms in all",
        r.records,
        risk.oms().len(),
        read.as_secs_f64() * 1e3,
        total.as_secs_f64() * 1e3
    );
    let _ = std::fs::remove_dir_all(&dir);
}
