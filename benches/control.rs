//! What the control side costs: one snapshot read (the control thread's and `aitrapp
//! snapshot`'s view of the risk stage), one snapshot publish (paid by the risk thread), and
//! rendering `/metrics` with every family populated (the scrape, /proc reads included).
//!
//! `cargo bench --bench control`

use aitrapp::telemetry::snapshot::{
    symbol_bytes, SnapshotBody, SnapshotReader, SnapshotWriter, MAX_ORDERS, MAX_POSITIONS,
};
use aitrapp::telemetry::Metrics;
use criterion::{black_box, criterion_group, criterion_main, Criterion};

/// A body with `positions` open positions and `orders` orders, every field set.
fn book(positions: usize, orders: usize) -> SnapshotBody {
    let mut b = SnapshotBody {
        published_unix_ms: 1_796_000_000_000,
        pid: 4242,
        market_open: 1,
        feed_connected: 1,
        positions_count: positions as u32,
        orders_count: orders as u32,
        trades_today: 17,
        wins: 10,
        losses: 7,
        capital_paise: 100_000_000,
        realized_paise: 1_234_500,
        ticks_seen: 9_000_000,
        ..SnapshotBody::default()
    };
    for (i, p) in b.positions.iter_mut().take(positions).enumerate() {
        p.token = 1000 + i as u32;
        p.symbol = symbol_bytes("NIFTY26DEC24000CE");
        p.qty = 75;
        p.avg_price = 12_345;
        p.ltp = 12_400;
        p.divisor = 100;
    }
    for (i, o) in b.orders.iter_mut().take(orders).enumerate() {
        o.id = i as u64 + 1;
        o.symbol = symbol_bytes("RELIANCE");
        o.qty = 10;
        o.filled = 10;
        o.price = 130_000;
    }
    b
}

fn snapshot(c: &mut Criterion) {
    let path = std::env::temp_dir().join(format!("aitrapp-bench-snap-{}", std::process::id()));
    let mut w = SnapshotWriter::create(&path).unwrap();
    let r = SnapshotReader::open(&path).unwrap();
    let mut g = c.benchmark_group("snapshot");
    for (name, np, no) in [
        ("flat", 0, 0),
        ("10_positions_40_orders", 10, 40),
        ("full_128_positions_256_orders", MAX_POSITIONS, MAX_ORDERS),
    ] {
        let body = book(np, no);
        w.publish(&body);
        let mut out = Box::<SnapshotBody>::default();
        g.bench_function(format!("read_into/{name}"), |bn| {
            bn.iter(|| {
                r.read_into(&mut out).unwrap();
                black_box(out.positions_count)
            })
        });
        g.bench_function(format!("read_boxed/{name}"), |bn| {
            bn.iter(|| black_box(r.read().unwrap().orders_count))
        });
        g.bench_function(format!("publish/{name}"), |bn| {
            bn.iter(|| w.publish(black_box(&body)))
        });
    }
    g.finish();
    let _ = std::fs::remove_file(&path);
}

fn metrics(c: &mut Criterion) {
    let m = Metrics::default();
    // Every counter moved and every histogram spread over its buckets, as after a day.
    for i in 0..10_000u64 {
        let ns = (i * 7_919) % 20_000_000 + 300;
        m.tick_to_intent.observe_ns(ns);
        m.broker_round_trip.observe_ns(ns * 100);
        m.flatten_duration.observe_ns(ns * 10);
        for h in &m.stage_latency {
            h.observe_ns(ns / 3);
        }
        for r in &m.signals_refused_by_reason {
            Metrics::add(r, 1);
        }
    }
    Metrics::add(&m.feed_ticks_total, 9_000_000);
    Metrics::add(&m.orders_sent_total, 400);
    let mut out = String::with_capacity(8192);
    m.render(&mut out);
    let len = out.len();
    c.bench_function("metrics_render", |bn| {
        bn.iter(|| {
            // As the handler does: a fresh buffer per scrape.
            let mut out = String::with_capacity(8192);
            m.render(&mut out);
            black_box(out.len())
        })
    });
    println!("/metrics body: {len} bytes");
}

criterion_group!(benches, snapshot, metrics);
criterion_main!(benches);
