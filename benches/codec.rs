//! Decode cost per packet kind. `cargo bench --bench codec`
use aitrapp::domain::{DepthLevel, Ohlc, Tick, TickMode, Token};
use aitrapp::feed::codec::{decode_frame, decode_packet, encode_frame};
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};

fn sample(token: u32) -> Tick {
    let lvl = |i: i32| DepthLevel {
        quantity: 100 + i as u32,
        price: 157_300 - i * 5,
        orders: 3,
    };
    Tick {
        token: Token(token),
        mode: TickMode::Full,
        last_price: 157_370,
        last_traded_quantity: 7,
        average_traded_price: 157_037,
        volume_traded: 1_192_471,
        total_buy_quantity: 256_443,
        total_sell_quantity: 363_009,
        ohlc: Ohlc {
            open: 156_915,
            high: 157_500,
            low: 156_105,
            close: 156_780,
        },
        last_trade_time: 1_625_461_887,
        exchange_timestamp: 1_625_461_887,
        buy: [lvl(0), lvl(1), lvl(2), lvl(3), lvl(4)],
        sell: [lvl(-1), lvl(-2), lvl(-3), lvl(-4), lvl(-5)],
        ..Tick::default()
    }
}

fn packet(t: &Tick, mode: TickMode) -> Vec<u8> {
    let mut f = Vec::new();
    encode_frame([t], mode, &mut f);
    f[4..].to_vec()
}

fn bench(c: &mut Criterion) {
    let stock = sample(408_065);
    let index = sample(256_265);
    let mut g = c.benchmark_group("decode_packet");
    g.throughput(Throughput::Elements(1));
    for (name, t, mode) in [
        ("ltp_8", &stock, TickMode::Ltp),
        ("index_quote_28", &index, TickMode::Quote),
        ("index_full_32", &index, TickMode::Full),
        ("quote_44", &stock, TickMode::Quote),
        ("full_184", &stock, TickMode::Full),
    ] {
        let p = packet(t, mode);
        let mut out = Tick::default();
        g.bench_function(name, |b| {
            b.iter(|| {
                decode_packet(black_box(&p), &mut out);
                black_box(&out);
            })
        });
    }
    g.finish();
    let ticks: Vec<Tick> = (0..50).map(|i| sample(408_065 + i * 256)).collect();
    let mut frame = Vec::new();
    encode_frame(ticks.iter(), TickMode::Full, &mut frame);
    let mut g = c.benchmark_group("decode_frame");
    g.throughput(Throughput::Elements(50));
    g.bench_function("full_x50", |b| {
        b.iter(|| {
            let mut n = 0u32;
            decode_frame(black_box(&frame), |t| {
                n = n.wrapping_add(t.last_price as u32)
            })
            .ok();
            black_box(n)
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
