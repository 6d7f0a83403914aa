//! Pushes a whole synthetic day (about a million ticks, pre-encoded as Kite frames) through
//! decode -> ring A -> strategy -> risk -> order, and prints ticks/s and HDR histograms of
//! tick-to-order-stage latency (every tick) and tick-to-order-intent latency (every intent).
//!
//! `cargo bench --bench pipeline` (collapsed topology, yield waits: what a 2-core box runs).
//! `AITRAPP_BENCH_WAIT=busy_spin` for the tuned host. `AITRAPP_BENCH_ROUNDS=N` repeats the day.

#[path = "../tests/shipped/mod.rs"]
mod shipped;
mod support;
use aitrapp::app;
use aitrapp::config::AppConfig;
use aitrapp::domain::{Event, Slot};
use aitrapp::exec::{mono_ns, InboxMsg};
use aitrapp::feed::codec::decode_frame;
use aitrapp::feed::SourcePoll;
use aitrapp::pipeline::{ring, WaitStrategy};
use aitrapp::telemetry::Metrics;
use hdrhistogram::Histogram;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Instant;
use support::{env_or, print_hist};

fn config() -> AppConfig {
    let mut cfg = shipped::shipped_config();
    cfg.feed.synthetic.start_time = "09:14".into();
    // `AITRAPP_BENCH_ORB_WIDE=1`: lift the position and heat caps so every ORB breakout
    // becomes an order; the shipped caps allow ~6 intents a day, too few for a histogram.
    if std::env::var("AITRAPP_BENCH_ORB_WIDE").is_ok_and(|v| v == "1") {
        cfg.risk.max_positions = 100;
        cfg.risk.max_portfolio_heat_pct = 100.0;
        cfg.strategies.orb.max_positions = 100;
    }
    // `AITRAPP_BENCH_RING=N`: ring A's size, to compare against the shipped one.
    if let Some(n) = std::env::var("AITRAPP_BENCH_RING")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        cfg.pipeline.ring_size = n;
    }
    cfg
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let wait = WaitStrategy::parse(
        &std::env::var("AITRAPP_BENCH_WAIT").unwrap_or_else(|_| "yield".into()),
    )
    .unwrap();
    let rounds: usize = env_or("AITRAPP_BENCH_ROUNDS", 3);
    let cfg = config();

    // Pre-encode one day of frames so the generator is not measured.
    let (inbox_tx0, _rx0) = crossbeam_channel::bounded::<InboxMsg>(16);
    let (_, mut market) = app::build_offline(
        &cfg,
        &root,
        inbox_tx0,
        Arc::new(Metrics::default()),
        Arc::new(AtomicU64::new(0)),
    )
    .unwrap();
    let mut frames: Vec<Vec<u8>> = Vec::new();
    let mut buf = Vec::new();
    while market.step(&mut buf) != SourcePoll::End {
        if buf.len() > 1 {
            frames.push(buf.clone());
        }
    }
    println!("pre-encoded {} frames, wait {}", frames.len(), wait.name());

    // Paced: the feed waits for each frame to clear the pipeline before the next, so latency
    // is the pipeline's own, not time spent queued behind a flood.
    let paced = std::env::var("AITRAPP_BENCH_PACED")
        .map(|v| v == "1")
        .unwrap_or(false);
    println!(
        "mode: {}",
        if paced {
            "paced (one frame in flight)"
        } else {
            "flood (as fast as the feed can decode)"
        }
    );
    if std::env::var("AITRAPP_BENCH_INLINE").is_ok_and(|v| v == "1") {
        inline_cost(&cfg, &root, &frames);
        return;
    }
    for round in 0..rounds {
        let done = Arc::new(AtomicU64::new(0));
        let done2 = done.clone();
        let metrics = Arc::new(Metrics::default());
        let (inbox_tx, inbox_rx) = crossbeam_channel::bounded::<InboxMsg>(65_536);
        let (stages, _) = app::build_offline(
            &cfg,
            &root,
            inbox_tx,
            metrics.clone(),
            Arc::new(AtomicU64::new(0)),
        )
        .unwrap();
        let (mut tx, mut rx) = ring(cfg.pipeline.ring_size, wait, metrics.clone(), |m| {
            &m.ring_a_full_total
        });
        let consumer = std::thread::spawn(move || {
            let mut st = stages;
            let mut hop = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).unwrap();
            loop {
                let r = rx.drain(|slot| {
                    st.strategy.on_slot(slot, &mut |s1| {
                        st.risk.on_slot(s1, &mut |s2| {
                            if matches!(s2.ev, Event::Tick(_)) {
                                let _ = hop.record(mono_ns().saturating_sub(s2.recv_ns).max(1));
                            }
                            st.order.on_slot(s2)
                        })
                    });
                });
                match r {
                    Ok(0) => wait.idle(),
                    Ok(n) => {
                        done2.fetch_add(n as u64, std::sync::atomic::Ordering::Release);
                    }
                    Err(_) => return (st, hop),
                }
            }
        });
        let mut rx_buf: Vec<u8> = Vec::with_capacity(1 << 16);
        let t0 = Instant::now();
        let mut ticks = 0u64;
        let mut published = 0u64;
        for f in &frames {
            while let Ok(InboxMsg::Order(u)) = inbox_rx.try_recv() {
                published += 1;
                tx.publish(Slot {
                    ev: Event::Order(u),
                    recv_ns: mono_ns(),
                });
            }
            if paced {
                while done.load(std::sync::atomic::Ordering::Acquire) < published {
                    wait.idle();
                }
            }
            // The frame lands in the receive buffer (as a socket read would put it), then
            // is stamped: decode reads it hot, not from 180 MB of cold pre-encoded frames.
            rx_buf.clear();
            rx_buf.extend_from_slice(f);
            let recv_ns = mono_ns();
            let s = decode_frame(&rx_buf, |t| {
                tx.publish(Slot {
                    ev: Event::Tick(*t),
                    recv_ns,
                })
            })
            .unwrap();
            ticks += s.ticks as u64;
            published += s.ticks as u64;
        }
        drop(tx);
        let (st, hop) = consumer.join().unwrap();
        let secs = t0.elapsed().as_secs_f64();
        println!(
            "round {round}: {ticks} ticks in {secs:.3} s = {:.2} M ticks/s; {} orders, {} trades",
            ticks as f64 / secs / 1e6,
            st.risk.oms().len(),
            st.risk.trades().len()
        );
        print_hist("  tick -> order stage", &hop);
        print_hist("  tick -> order intent", st.order.latency());
    }
}

/// Diagnostic (`AITRAPP_BENCH_INLINE=1`): decode and run every stage on this one thread, no
/// ring, no clock reads per tick: what the stages themselves cost per tick.
fn inline_cost(cfg: &AppConfig, root: &std::path::Path, frames: &[Vec<u8>]) {
    // Like a socket read, each frame is first copied into one receive buffer, so decode reads
    // it hot from cache (a day of pre-encoded frames is 180 MB: reading it cold measures DRAM).
    let mut rx_buf: Vec<u8> = Vec::with_capacity(1 << 16);
    let t0 = Instant::now();
    let mut sum = 0u64;
    let mut ticks = 0u64;
    for f in frames {
        rx_buf.clear();
        rx_buf.extend_from_slice(f);
        let s = decode_frame(&rx_buf, |t| sum = sum.wrapping_add(t.last_price as u64)).unwrap();
        ticks += s.ticks as u64;
    }
    println!(
        "decode only: {:.1} ns/tick ({sum})",
        t0.elapsed().as_nanos() as f64 / ticks as f64
    );
    for round in 0..3 {
        let (inbox_tx, inbox_rx) = crossbeam_channel::bounded::<InboxMsg>(65_536);
        let (mut st, _) = app::build_offline(
            cfg,
            root,
            inbox_tx,
            Arc::new(Metrics::default()),
            Arc::new(AtomicU64::new(0)),
        )
        .unwrap();
        let mut run = |slot: Slot| {
            st.strategy.on_slot(&slot, &mut |s1| {
                st.risk.on_slot(s1, &mut |s2| st.order.on_slot(s2))
            })
        };
        let t0 = Instant::now();
        let mut ticks = 0u64;
        for f in frames {
            while let Ok(InboxMsg::Order(u)) = inbox_rx.try_recv() {
                run(Slot {
                    ev: Event::Order(u),
                    recv_ns: 0,
                });
            }
            rx_buf.clear();
            rx_buf.extend_from_slice(f);
            let s = decode_frame(&rx_buf, |t| {
                run(Slot {
                    ev: Event::Tick(*t),
                    recv_ns: 0,
                })
            })
            .unwrap();
            ticks += s.ticks as u64;
        }
        let ns = t0.elapsed().as_nanos() as f64;
        println!(
            "inline round {round}: {ticks} ticks, {:.1} ns/tick (decode + strategy + risk + order)",
            ns / ticks as f64
        );
    }
}
