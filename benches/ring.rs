//! One ring hop (publish on one thread, consume on another), yield waits unless
//! AITRAPP_BENCH_WAIT says otherwise. `cargo bench --bench ring`
use aitrapp::domain::{Event, Slot, Tick};
use aitrapp::pipeline::{ring, WaitStrategy};
use aitrapp::telemetry::Metrics;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// A tick slot whose volume field carries a sequence number the consumer echoes back.
fn tick_slot(n: u32) -> Slot {
    Slot {
        ev: Event::Tick(Tick {
            volume_traded: n,
            ..Tick::default()
        }),
        recv_ns: 0,
    }
}

fn bench(c: &mut Criterion) {
    let wait = WaitStrategy::parse(
        &std::env::var("AITRAPP_BENCH_WAIT").unwrap_or_else(|_| "yield".into()),
    )
    .unwrap();
    let metrics = Arc::new(Metrics::default());
    let (mut tx, mut rx) = ring(65_536, wait, metrics, |m| &m.ring_a_full_total);
    let seen = Arc::new(AtomicU64::new(0));
    let seen2 = seen.clone();
    let consumer = std::thread::spawn(move || loop {
        match rx.drain(|s| {
            if let Event::Tick(t) = s.ev {
                seen2.store(t.volume_traded as u64, Ordering::Release);
            }
        }) {
            Ok(0) => wait.idle(),
            Ok(_) => {}
            Err(_) => return,
        }
    });
    let mut g = c.benchmark_group("ring");
    g.throughput(Throughput::Elements(1));
    let mut n: u32 = 0;
    // Round trip of one slot: publish then wait until the consumer has seen it.
    g.bench_function("hop_round_trip", |b| {
        b.iter(|| {
            n = n.wrapping_add(1);
            tx.publish(tick_slot(n));
            while seen.load(Ordering::Acquire) != n as u64 {
                std::hint::spin_loop();
            }
        })
    });
    // Streaming: publish without waiting (throughput of one hop).
    g.bench_function("hop_stream", |b| {
        b.iter(|| {
            n = n.wrapping_add(1);
            tx.publish(tick_slot(n));
        })
    });
    g.finish();
    drop(tx);
    consumer.join().unwrap();
}

criterion_group!(benches, bench);
criterion_main!(benches);
