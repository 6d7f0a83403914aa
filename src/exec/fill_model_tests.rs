use super::*;

fn lvl(price: i32, quantity: u32) -> DepthLevel {
    DepthLevel {
        quantity,
        price,
        orders: 1,
    }
}

/// Asks 100.05 x 10, 100.10 x 20, 100.20 x 30; bids 99.95 x 10, 99.90 x 20; last 100.00.
fn book() -> Book {
    let mut b = Book {
        last_price: 10_000,
        ts: 1,
        ..Book::default()
    };
    b.asks[0] = lvl(10_005, 10);
    b.asks[1] = lvl(10_010, 20);
    b.asks[2] = lvl(10_020, 30);
    b.bids[0] = lvl(9_995, 10);
    b.bids[1] = lvl(9_990, 20);
    b
}

const M: DepthWalk = DepthWalk {
    no_depth_slippage_bps: 2.0,
};

fn run(o: &mut WorkingOrder, b: &Book) -> Vec<(i64, i64)> {
    match_order(&M, o, b, 5, 0)
        .executions
        .as_slice()
        .iter()
        .map(|e| (e.qty, e.price))
        .collect()
}

#[test]
fn market_walks_the_levels_and_waits_for_more() {
    let mut o = WorkingOrder::new(Side::Buy, OrderType::Market, 100, 0, 0);
    assert_eq!(
        run(&mut o, &book()),
        vec![(10, 10_005), (20, 10_010), (30, 10_020)]
    );
    assert_eq!(o.pending(), 40);
    // The next book fills the rest at its new best.
    let mut b = book();
    b.asks[0] = lvl(10_030, 100);
    assert_eq!(run(&mut o, &b), vec![(40, 10_030)]);
    assert_eq!(o.pending(), 0);
    assert!(run(&mut o, &b).is_empty());
}

#[test]
fn protected_market_stops_at_its_cap() {
    let cap = protection_cap(Side::Buy, 10_000, 0.1, 5);
    assert_eq!(cap, 10_010);
    let mut o = WorkingOrder::new(Side::Buy, OrderType::Market, 100, cap, 0);
    assert_eq!(run(&mut o, &book()), vec![(10, 10_005), (20, 10_010)]);
    assert_eq!(o.pending(), 70);
    assert_eq!(protection_cap(Side::Sell, 10_000, 0.1, 5), 9_990);
    assert_eq!(protection_cap(Side::Sell, 10_000, -1.0, 5), 0);
}

#[test]
fn marketable_limit_takes_only_levels_inside_its_price_then_rests() {
    let mut o = WorkingOrder::new(Side::Buy, OrderType::Limit, 50, 10_010, 0);
    assert_eq!(run(&mut o, &book()), vec![(10, 10_005), (20, 10_010)]);
    // Resting: a trade at the limit is not through it; a trade below is.
    let mut b = book();
    b.asks = [DepthLevel::default(); 5];
    b.last_price = 10_010;
    assert!(run(&mut o, &b).is_empty());
    b.last_price = 10_005;
    assert_eq!(run(&mut o, &b), vec![(20, 10_010)]);
}

#[test]
fn a_limit_is_not_filled_by_a_trade_through_on_arrival() {
    let mut b = book();
    b.bids = [DepthLevel::default(); 5];
    b.last_price = 9_900;
    let mut o = WorkingOrder::new(Side::Sell, OrderType::Limit, 10, 9_950, 0);
    assert!(run(&mut o, &b).is_empty(), "arrival takes depth only");
    assert_eq!(run(&mut o, &b), vec![]); // at 99.00 the sell at 99.50 is not traded through
    b.last_price = 9_960;
    assert_eq!(run(&mut o, &b), vec![(10, 9_950)]);
}

#[test]
fn stop_market_triggers_on_the_last_price_then_walks() {
    let mut o = WorkingOrder::new(Side::Sell, OrderType::StopMarket, 15, 0, 9_980);
    let m = match_order(&M, &mut o, &book(), 5, 0);
    assert!(!m.triggered && m.executions.is_empty());
    let mut b = book();
    b.last_price = 9_980;
    let m = match_order(&M, &mut o, &b, 5, 0);
    assert!(m.triggered);
    assert_eq!(
        m.executions.as_slice(),
        &[
            Execution {
                qty: 10,
                price: 9_995
            },
            Execution {
                qty: 5,
                price: 9_990
            }
        ]
    );
}

#[test]
fn stop_limit_triggers_and_rests_at_its_limit() {
    // Buy stop: trigger 100.10, limit 100.05.
    let mut o = WorkingOrder::new(Side::Buy, OrderType::StopLimit, 30, 10_005, 10_010);
    let mut b = book();
    b.last_price = 10_010;
    let m = match_order(&M, &mut o, &b, 5, 0);
    assert!(m.triggered);
    assert_eq!(o.filled, 10);
    // Still resting at 100.05 until something trades below it.
    b.last_price = 10_000;
    b.asks[0] = lvl(10_015, 50);
    assert_eq!(run(&mut o, &b), vec![(20, 10_005)]);
}

#[test]
fn ioc_cancels_what_arrival_cannot_fill() {
    let mut o = WorkingOrder::new(Side::Sell, OrderType::Limit, 50, 9_990, 0);
    o.ioc = true;
    let m = match_order(&M, &mut o, &book(), 5, 0);
    assert!(m.expired);
    assert_eq!(m.executions.qty(), 30);
}

#[test]
fn no_depth_market_fills_at_last_with_slippage_on_the_grid() {
    let mut b = book();
    b.asks = [DepthLevel::default(); 5];
    let mut o = WorkingOrder::new(Side::Buy, OrderType::Market, 7, 0, 0);
    // 100.00 + 2 bps = 100.02, rounded up to the 0.05 grid.
    assert_eq!(run(&mut o, &b), vec![(7, 10_005)]);
}

#[test]
fn latency_holds_an_order_until_it_reaches_the_exchange() {
    let mut o = WorkingOrder::new(Side::Buy, OrderType::Market, 10, 0, 0);
    o.at_exchange_ns = FixedLatency { ns: 50_000_000 }.to_exchange_ns();
    assert!(!match_order(&M, &mut o, &book(), 5, 49_999_999).changed());
    assert_eq!(
        match_order(&M, &mut o, &book(), 5, 50_000_000)
            .executions
            .qty(),
        10
    );
}

#[test]
fn zero_or_missing_prices_never_fill() {
    let mut b = book();
    b.last_price = 0;
    let mut o = WorkingOrder::new(Side::Buy, OrderType::Market, 10, 0, 0);
    assert!(run(&mut o, &b).is_empty());
}

fn inst() -> Instrument {
    let csv = format!(
        "{INSTRUMENTS_HEADER}\n1,1,NIFTY26DECFUT,NIFTY,25000,2026-12-29,0,0.1,65,FUT,NFO-FUT,NFO\n"
    );
    *InstrumentMaster::parse_csv(&csv, "t").unwrap().by_index(0)
}

fn req(ot: OrderType, qty: i64, price: i64, trigger: i64) -> OrderRequest {
    OrderRequest {
        side: Side::Buy,
        order_type: ot,
        qty,
        price,
        trigger,
        market_protection: -1.0,
    }
}

#[test]
fn kite_rejections_in_kites_order() {
    let i = inst();
    let rms = RmsView {
        band: PriceBand::around(2_500_000, 10.0, 10),
        freeze_qty: Some(1800),
        margin_free: Some(50_000_000),
        margin_bps: 2000,
        last_price: 2_500_000,
        closes: 0,
    };
    let ok = req(OrderType::Limit, 65, 2_500_000, 0);
    assert_eq!(check_order(&i, &ok, &rms), Ok(()));
    let e = |r: OrderRequest| check_order(&i, &r, &rms).unwrap_err();
    assert_eq!(
        e(req(OrderType::Limit, 60, 2_500_000, 0)),
        Rejection::LotMultiple { lot: 65 }
    );
    assert_eq!(
        e(req(OrderType::Limit, 65, 2_500_005, 0)),
        Rejection::TickMultiple { tick: 10 }
    );
    assert_eq!(
        e(req(OrderType::StopMarket, 65, 0, 0)),
        Rejection::BadTrigger
    );
    let mut no_mp = req(OrderType::Market, 65, 0, 0);
    no_mp.market_protection = 0.0;
    assert_eq!(e(no_mp), Rejection::NoMarketProtection);
    assert_eq!(
        e(req(OrderType::Market, 1820, 0, 0)),
        Rejection::FreezeQty { max: 1800 }
    );
    assert!(matches!(
        e(req(OrderType::Limit, 65, 2_800_000, 0)),
        Rejection::PriceBand { .. }
    ));
    // 65 units at 25,000 is 16.25 lakh notional: 20 % is 3.25 lakh, inside 5 lakh free;
    // 650 units need 32.5 lakh.
    let r = e(req(OrderType::Market, 650, 0, 0));
    assert_eq!(
        r,
        Rejection::Margin {
            required: 325_000_000,
            free: 50_000_000
        }
    );
    assert!(!r.is_input_error() && Rejection::LotMultiple { lot: 65 }.is_input_error());
    assert!(r
        .message(&req(OrderType::Market, 650, 0, 0), 100)
        .contains("3250000.00"));
}

#[test]
fn price_band_sits_inside_on_the_grid() {
    let b = PriceBand::around(10_003, 20.0, 5).unwrap();
    assert_eq!(
        b,
        PriceBand {
            lower: 8_005,
            upper: 12_000
        }
    );
    assert!(b.contains(8_005) && !b.contains(8_000));
}

/// xorshift64*: a small, seedable source for the fuzz runs below.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % (hi - lo + 1) as u64) as i64
    }
}

/// A book near 100.00 that may be empty, crossed, one-sided or hold zero and negative prices.
fn random_book(g: &mut Rng) -> Book {
    let mut b = Book {
        last_price: g.range(-50, 10_200),
        ts: g.range(0, 100) as u32,
        ..Book::default()
    };
    let levels = g.range(0, 5) as usize;
    for i in 0..levels {
        b.asks[i] = lvl(g.range(-10, 10_300) as i32, g.range(0, 50) as u32);
        b.bids[i] = lvl(g.range(-10, 10_300) as i32, g.range(0, 50) as u32);
    }
    b
}

/// `n` random orders, each matched against a run of random books: whatever the input, the
/// model never panics, never fills more than the order, never fills at a price of zero or
/// less, and never fills a limit at a worse price than its limit.
fn fuzz_fill_model(n: u64, seed: u64) {
    let mut g = Rng(seed | 1);
    let types = [
        OrderType::Market,
        OrderType::Limit,
        OrderType::StopLimit,
        OrderType::StopMarket,
    ];
    for _ in 0..n {
        let side = if g.next() & 1 == 0 {
            Side::Buy
        } else {
            Side::Sell
        };
        let ty = types[(g.next() % 4) as usize];
        let qty = g.range(-2, 60);
        let mut o = WorkingOrder::new(side, ty, qty, g.range(-5, 10_300), g.range(-5, 10_300));
        o.ioc = g.next().is_multiple_of(4);
        if ty.is_market() {
            o.price = protection_cap(side, g.range(0, 10_300), -1.0, 5);
        }
        o.at_exchange_ns = if g.next() & 1 == 0 {
            0
        } else {
            g.range(0, 50) as u64
        };
        let model = DepthWalk {
            no_depth_slippage_bps: g.range(0, 500) as f64,
        };
        for step in 0..g.range(1, 8) {
            let before = o.filled;
            let m = match_order(&model, &mut o, &random_book(&mut g), 5, step as u64 * 10);
            assert!(o.filled >= before && o.filled <= qty.max(0), "{o:?}");
            assert_eq!(m.executions.qty(), o.filled - before, "{o:?}");
            for e in m.executions.as_slice() {
                assert!(e.qty > 0 && e.price > 0, "{e:?} for {o:?}");
                if o.price > 0 && (ty.has_limit() || ty.is_market()) {
                    match side {
                        Side::Buy => assert!(e.price <= o.price, "{e:?} above {o:?}"),
                        Side::Sell => assert!(e.price >= o.price, "{e:?} below {o:?}"),
                    }
                }
            }
            if m.expired || o.pending() == 0 {
                break;
            }
        }
    }
}

#[test]
fn the_fill_model_survives_random_books_and_orders() {
    fuzz_fill_model(20_000, 0x5eed);
}

/// `cargo test --release --lib fill_model_fuzz_millions -- --ignored`
#[test]
#[ignore]
fn fill_model_fuzz_millions() {
    fuzz_fill_model(5_000_000, 0xa17_2026);
}
