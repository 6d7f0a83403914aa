//! Zero heap allocations on the feed thread's WebSocket path after warm-up: `KiteTicker::poll`
//! (mio + tungstenite, over plain TCP and over TLS), the Kite decoder and ring A, counted by
//! a global allocator that counts only on the feed thread.

mod ws_fixture;
use ws_fixture::{allocs_here, count_here, full_ticks, local_ticker};

use aitrapp::clock::mono_ns;
use aitrapp::domain::{Event, Slot, TickMode};
use aitrapp::feed::codec::{decode_frame, encode_frame};
use aitrapp::feed::{FrameSource, SourcePoll};
use aitrapp::pipeline::{ring, WaitStrategy};
use aitrapp::telemetry::Metrics;
use std::net::TcpListener;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[test]
fn ws_frames_to_ring_do_not_allocate_after_warmup() {
    allocations_after_warmup(false);
}

/// wss://, as Kite serves it: records are decrypted in place (TlsRecordStream).
#[test]
fn wss_frames_to_ring_do_not_allocate_after_warmup() {
    allocations_after_warmup(true);
}

fn allocations_after_warmup(tls: bool) {
    const FRAMES: usize = 3000;
    const WARMUP: usize = 300;
    const PER_FRAME: usize = 8;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (server_tls, client_tls) = ws_fixture::tls_pair();
    let server = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut ws = ws_fixture::accept_ws(stream, tls.then_some(&server_tls));
        for _ in 0..2 {
            let _ = ws.read(); // subscribe + mode
        }
        let mut ticks = full_ticks(PER_FRAME);
        let mut buf = Vec::new();
        for seq in 0..FRAMES {
            ticks[0].volume_traded = seq as u32;
            encode_frame(ticks.iter(), TickMode::Full, &mut buf);
            ws.send(tungstenite::Message::Binary(buf.clone().into()))
                .unwrap();
            // Paced like a live feed: a flood would measure the read buffer growing to the
            // size of the backlog (a one-off high-water mark), not the steady state.
            std::thread::sleep(Duration::from_micros(50));
        }
        // Hold the socket open until the client has read everything.
        let _ = ws.read();
    });

    let metrics = Arc::new(Metrics::default());
    let mut ticker = local_ticker(
        format!("{}://{addr}", if tls { "wss" } else { "ws" }),
        PER_FRAME,
        tls.then_some(client_tls),
        metrics.clone(),
    );
    let (mut tx, mut rx) = ring(
        4096,
        WaitStrategy::parse("yield").unwrap(),
        metrics.clone(),
        |m| &m.ring_a_full_total,
    );
    let consumed = Arc::new(AtomicU64::new(0));
    let consumed2 = consumed.clone();
    let consumer = std::thread::spawn(move || loop {
        match rx.drain(|s: &Slot| {
            if matches!(s.ev, Event::Tick(_)) {
                consumed2.fetch_add(1, Ordering::Relaxed);
            }
        }) {
            Ok(0) => std::thread::yield_now(),
            Ok(_) => {}
            Err(_) => return,
        }
    });

    let mut buf = Vec::with_capacity(1 << 16);
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut got = 0usize;
    while got < FRAMES {
        assert!(Instant::now() < deadline, "frames stopped after {got}");
        match ticker.poll(&mut buf) {
            SourcePoll::Frame if buf.len() > 1 => {
                if got == WARMUP {
                    count_here(true);
                }
                let recv_ns = mono_ns();
                decode_frame(&buf, |t| {
                    tx.publish(Slot {
                        ev: Event::Tick(*t),
                        recv_ns,
                    })
                })
                .unwrap();
                got += 1;
            }
            SourcePoll::Frame | SourcePoll::Idle => std::thread::yield_now(),
            SourcePoll::End => break,
        }
    }
    count_here(false);
    let allocs = allocs_here();
    drop(tx);
    consumer.join().unwrap();
    drop(ticker);
    let _ = server.join();
    assert_eq!(
        consumed.load(Ordering::Relaxed),
        (FRAMES * PER_FRAME) as u64,
        "ticks lost between the socket and ring A"
    );
    assert_eq!(
        allocs,
        0,
        "{allocs} allocations over {} frames on the WS path",
        FRAMES - WARMUP
    );
}
