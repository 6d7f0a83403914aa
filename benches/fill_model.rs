//! The shared fill model per call: a MARKET order walking all 5 levels, a resting LIMIT
//! checked against a book it does not cross, an SL-M that triggers and walks, and the full
//! pre-trade check (lot, tick, freeze, circuit limits, margin). `cargo bench --bench fill_model`
use aitrapp::domain::*;
use aitrapp::exec::fill_model::*;
use criterion::{black_box, criterion_group, criterion_main, Criterion};

fn book() -> Book {
    let lvl = |price: i32, quantity: u32| DepthLevel {
        quantity,
        price,
        orders: 3,
    };
    Book {
        bids: [
            lvl(157_300, 40),
            lvl(157_295, 40),
            lvl(157_290, 40),
            lvl(157_285, 40),
            lvl(157_280, 40),
        ],
        asks: [
            lvl(157_305, 40),
            lvl(157_310, 40),
            lvl(157_315, 40),
            lvl(157_320, 40),
            lvl(157_325, 40),
        ],
        last_price: 157_300,
        ts: 1,
    }
}

fn bench(c: &mut Criterion) {
    let model = DepthWalk {
        no_depth_slippage_bps: 2.0,
    };
    let b = book();
    c.bench_function("market_walks_5_levels", |bn| {
        bn.iter(|| {
            let mut o = WorkingOrder::new(Side::Buy, OrderType::Market, 200, 0, 0);
            black_box(match_order(&model, &mut o, black_box(&b), 5, 0))
        })
    });
    let mut resting = WorkingOrder::new(Side::Buy, OrderType::Limit, 100, 157_000, 0);
    resting.arrived = true;
    c.bench_function("resting_limit_no_cross", |bn| {
        bn.iter(|| {
            let mut o = resting;
            black_box(match_order(&model, &mut o, black_box(&b), 5, 0))
        })
    });
    c.bench_function("sl_m_triggers_and_walks", |bn| {
        bn.iter(|| {
            let mut o = WorkingOrder::new(Side::Sell, OrderType::StopMarket, 120, 0, 157_300);
            black_box(match_order(&model, &mut o, black_box(&b), 5, 0))
        })
    });
    let csv = format!(
        "{INSTRUMENTS_HEADER}\n1,1,NIFTY26DECFUT,NIFTY,25000,2026-12-29,0,0.1,65,FUT,NFO-FUT,NFO\n"
    );
    let inst = *InstrumentMaster::parse_csv(&csv, "b").unwrap().by_index(0);
    let rms = RmsView {
        band: PriceBand::around(2_500_000, 10.0, 10),
        freeze_qty: Some(1755),
        margin_free: Some(500_000_000),
        margin_bps: 2000,
        last_price: 2_500_000,
        closes: 0,
    };
    let req = OrderRequest {
        side: Side::Buy,
        order_type: OrderType::Limit,
        qty: 650,
        price: 2_500_000,
        trigger: 0,
        market_protection: -1.0,
    };
    c.bench_function("check_order_all_rules", |bn| {
        bn.iter(|| black_box(check_order(black_box(&inst), black_box(&req), &rms)))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
