//! WebSocket frame to decoded ticks in ring A, over loopback.
//!
//! A local tungstenite server (plain TCP or TLS; the bench says which) sends Kite full-mode
//! frames one at a time, stamping each frame's send time. The feed side is the real path:
//! `KiteTicker::poll` (mio + tungstenite, TlsRecordStream for wss://), the Kite decoder,
//! `RingTx::publish`. Latencies per frame, at its last tick:
//! - wire: server send -> tick seen by ring A's consumer (loopback TCP, everything below, hop);
//! - frame: the frame's bytes come off the socket (`received_ns`, the stamp ticks carry) ->
//!   last tick published in ring A, on the feed thread: WebSocket framing, decode, publish;
//! - hop: the same start -> the tick seen by a consumer thread of ring A;
//! - poll: start of the `poll` that returns the frame -> last tick published: adds epoll and
//!   the read syscall (on loopback the kernel sends the ACK inside it).
//!
//! It also counts heap allocations on the feed thread after warm-up (per frame, per tick).
//!
//! `cargo bench --bench ws_feed` (env: AITRAPP_BENCH_FRAMES, AITRAPP_BENCH_TICKS_PER_FRAME,
//! AITRAPP_BENCH_WAIT).

mod support;
#[path = "../tests/ws_fixture/mod.rs"]
mod ws_fixture;
use aitrapp::clock::mono_ns;
use aitrapp::domain::{Event, Slot, TickMode};
use aitrapp::feed::codec::{decode_frame, encode_frame};
use aitrapp::feed::{FrameSource, SourcePoll};
use aitrapp::pipeline::{ring, WaitStrategy};
use aitrapp::telemetry::Metrics;
use hdrhistogram::Histogram;
use std::net::TcpListener;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::{env_or, print_hist};
use ws_fixture::{allocs_here, count_here, full_ticks, local_ticker};

/// The floor under the wire figure: one raw TCP write on loopback until a non-blocking
/// reader that yields between tries has the bytes, paced like the WebSocket run.
fn loopback_floor(n: usize) -> Histogram<u64> {
    use std::io::{Read, Write};
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (next_tx, next_rx) = crossbeam_channel::bounded::<()>(1);
    let stamp = Arc::new(AtomicU64::new(0));
    let stamp2 = stamp.clone();
    let server = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.set_nodelay(true).unwrap();
        let msg = [7u8; 64];
        for i in 0..n {
            if i > 0 && next_rx.recv().is_err() {
                return;
            }
            stamp2.store(mono_ns(), Ordering::Release);
            s.write_all(&msg).unwrap();
        }
    });
    let mut c = std::net::TcpStream::connect(addr).unwrap();
    c.set_nonblocking(true).unwrap();
    let mut h = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).unwrap();
    let mut buf = [0u8; 64];
    for i in 0..n {
        let mut got = 0;
        while got < 64 {
            match c.read(&mut buf[got..]) {
                Ok(k) => got += k,
                Err(_) => std::thread::yield_now(),
            }
        }
        if i >= n / 10 {
            let _ = h.record(
                mono_ns()
                    .saturating_sub(stamp.load(Ordering::Acquire))
                    .max(1),
            );
        }
        let _ = next_tx.try_send(());
    }
    server.join().unwrap();
    h
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let frames = env_or("AITRAPP_BENCH_FRAMES", 20_000);
    let per_frame = env_or("AITRAPP_BENCH_TICKS_PER_FRAME", 8).max(1);
    let wait = WaitStrategy::parse(
        &std::env::var("AITRAPP_BENCH_WAIT").unwrap_or_else(|_| "yield".into()),
    )
    .unwrap();
    let warmup = frames / 10;
    // `AITRAPP_BENCH_TLS=1`: the same over TLS (rustls both ends, a self-signed certificate).
    let tls = std::env::var("AITRAPP_BENCH_TLS").is_ok_and(|v| v == "1");
    let (server_tls, client_tls) = ws_fixture::tls_pair();

    // Send times by frame sequence; the sequence rides in the first tick's volume field.
    let sent: Arc<Vec<AtomicU64>> = Arc::new((0..frames).map(|_| AtomicU64::new(0)).collect());
    let seen = Arc::new(AtomicU64::new(0));
    // The consumer wakes the server for the next frame; the server sleeps in between, so the
    // bench's own sender does not take a core from the feed and consumer threads.
    let (next_tx, next_rx) = crossbeam_channel::bounded::<()>(1);

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (sent2, seen2) = (sent.clone(), seen.clone());
    let server = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut ws = ws_fixture::accept_ws(stream, tls.then_some(&server_tls));
        // The client's subscribe and mode messages.
        for _ in 0..2 {
            let _ = ws.read();
        }
        let mut ticks = full_ticks(per_frame);
        let mut buf = Vec::new();
        for seq in 0..frames {
            ticks[0].volume_traded = seq as u32;
            encode_frame(ticks.iter(), TickMode::Full, &mut buf);
            // One frame in flight: the next goes once the consumer saw this one.
            if seq > 0 && next_rx.recv().is_err() {
                return;
            }
            sent2[seq].store(mono_ns(), Ordering::Release);
            ws.send(tungstenite::Message::Binary(buf.clone().into()))
                .unwrap();
        }
        // Let the client drain before the socket closes.
        while seen2.load(Ordering::Acquire) < frames as u64 {
            std::thread::sleep(Duration::from_millis(1));
        }
    });

    let metrics = Arc::new(Metrics::default());
    let mut ticker = local_ticker(
        format!("{}://{addr}", if tls { "wss" } else { "ws" }),
        per_frame,
        tls.then_some(client_tls),
        metrics.clone(),
    );

    let (mut tx, mut rx) = ring(4096, wait, metrics.clone(), |m| &m.ring_a_full_total);
    let (sent3, seen3) = (sent.clone(), seen.clone());
    let consumer = std::thread::spawn(move || {
        let mut wire = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).unwrap();
        let mut hop = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).unwrap();
        let mut in_frame = 0usize;
        let mut seq = 0usize;
        loop {
            let r = rx.drain(|slot: &Slot| {
                if let Event::Tick(t) = &slot.ev {
                    if in_frame == 0 {
                        seq = t.volume_traded as usize;
                    }
                    in_frame += 1;
                    if in_frame == per_frame {
                        in_frame = 0;
                        let now = mono_ns();
                        if seq >= warmup {
                            let _ = wire.record(
                                now.saturating_sub(sent3[seq].load(Ordering::Acquire))
                                    .max(1),
                            );
                            let _ = hop.record(now.saturating_sub(slot.recv_ns).max(1));
                        }
                        seen3.store(seq as u64 + 1, Ordering::Release);
                        let _ = next_tx.try_send(());
                    }
                }
            });
            match r {
                Ok(0) => wait.idle(),
                Ok(_) => {}
                Err(_) => return (wire, hop),
            }
        }
    });

    let mut buf = Vec::with_capacity(1 << 16);
    let started = Instant::now();
    let mut got = 0usize;
    let mut counted_frames = 0u64;
    let mut frame_hist = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).unwrap();
    let mut process = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).unwrap();
    while got < frames {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "bench stalled"
        );
        let poll_ns = mono_ns();
        match ticker.poll(&mut buf) {
            SourcePoll::Frame if buf.len() > 1 => {
                let recv_ns = ticker.received_ns().unwrap();
                if got == warmup {
                    count_here(true);
                }
                if got >= warmup {
                    counted_frames += 1;
                }
                let _ = decode_frame(&buf, |t| {
                    tx.publish(Slot {
                        ev: Event::Tick(*t),
                        recv_ns,
                    })
                });
                if got >= warmup {
                    let done = mono_ns();
                    let _ = frame_hist.record(done.saturating_sub(recv_ns).max(1));
                    let _ = process.record(done.saturating_sub(poll_ns).max(1));
                }
                got += 1;
            }
            SourcePoll::Frame => {}
            SourcePoll::Idle => wait.idle(),
            SourcePoll::End => break,
        }
    }
    count_here(false);
    let allocs = allocs_here();
    let elapsed = started.elapsed();
    drop(tx);
    let (wire, hop) = consumer.join().unwrap();
    server.join().unwrap();
    println!(
        "ws_feed: {} loopback, {frames} frames x {per_frame} full ticks, one frame in flight, wait {}, {:.1} s",
        if tls { "TLS (rustls, ring)" } else { "plain TCP" },
        wait.name(),
        elapsed.as_secs_f64()
    );
    print_hist(
        "  loopback floor: raw 64-byte TCP write -> read",
        &loopback_floor(frames),
    );
    print_hist(
        "  wire: server send -> last tick of the frame in ring A",
        &wire,
    );
    print_hist(
        "  frame: bytes off the socket -> last tick published in ring A (feed thread)",
        &frame_hist,
    );
    print_hist(
        "  hop: bytes off the socket -> last tick seen by ring A's consumer",
        &hop,
    );
    print_hist(
        "  poll: start of the poll that reads the frame (epoll, read syscall, TLS, WebSocket) -> last tick published",
        &process,
    );
    println!(
        "  allocations on the feed thread after warm-up: {allocs} over {counted_frames} frames ({:.3} per frame, {:.4} per tick)",
        allocs as f64 / counted_frames.max(1) as f64,
        allocs as f64 / (counted_frames.max(1) as f64 * per_frame as f64)
    );
}
