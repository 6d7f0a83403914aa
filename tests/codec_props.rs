//! Property tests for the Kite codec: encode then decode returns every field, and no byte
//! string makes the decoder panic.

use aitrapp::domain::{DepthLevel, Ohlc, Tick, TickMode, Token};
use aitrapp::feed::codec::{decode_frame, encode_frame};
use proptest::prelude::*;

fn depth() -> impl Strategy<Value = DepthLevel> {
    (any::<u32>(), any::<i32>(), any::<u16>()).prop_map(|(quantity, price, orders)| DepthLevel {
        quantity,
        price,
        orders,
    })
}

prop_compose! {
    fn tradable_tick()(exch in 0u32..0xFF_FFFF, seg in prop::sample::select(vec![1u32, 2, 3, 4, 5, 6, 7]),
        lp in any::<i32>(), ltq in any::<u32>(), atp in any::<i32>(), vol in any::<u32>(), tbq in any::<u32>(),
        tsq in any::<u32>(), o in any::<i32>(), h in any::<i32>(), l in any::<i32>(), c in any::<i32>(),
        ltt in any::<u32>(), oi in any::<u32>(), oih in any::<u32>(), oil in any::<u32>(), ts in any::<u32>(),
        buy in prop::array::uniform5(depth()), sell in prop::array::uniform5(depth())) -> Tick {
        Tick { token: Token(exch << 8 | seg), mode: TickMode::Full, is_index: false, last_price: lp,
            last_traded_quantity: ltq, average_traded_price: atp, volume_traded: vol, total_buy_quantity: tbq,
            total_sell_quantity: tsq, ohlc: Ohlc { open: o, high: h, low: l, close: c }, price_change: 0,
            last_trade_time: ltt, oi, oi_day_high: oih, oi_day_low: oil, exchange_timestamp: ts, buy, sell }
    }
}

fn in_mode(t: &Tick, mode: TickMode) -> Tick {
    let mut e = *t;
    e.mode = mode;
    if mode != TickMode::Full {
        e.last_trade_time = 0;
        e.oi = 0;
        e.oi_day_high = 0;
        e.oi_day_low = 0;
        e.exchange_timestamp = 0;
        e.buy = Default::default();
        e.sell = Default::default();
    }
    if mode == TickMode::Ltp {
        e = Tick {
            token: t.token,
            mode,
            last_price: t.last_price,
            ..Tick::default()
        };
    }
    e
}

proptest! {
    #[test]
    fn tradable_round_trip(ticks in prop::collection::vec(tradable_tick(), 1..8),
                           mode in prop::sample::select(vec![TickMode::Ltp, TickMode::Quote, TickMode::Full])) {
        let mut buf = Vec::new();
        encode_frame(ticks.iter(), mode, &mut buf);
        let mut got = Vec::new();
        let s = decode_frame(&buf, |t| got.push(*t)).unwrap();
        prop_assert_eq!(s.ticks as usize, ticks.len());
        let want: Vec<Tick> = ticks.iter().map(|t| in_mode(t, mode)).collect();
        prop_assert_eq!(got, want);
    }

    #[test]
    fn index_round_trip(exch in 0u32..0xFF_FFFF, lp in any::<i32>(), h in any::<i32>(), l in any::<i32>(),
                        o in any::<i32>(), c in any::<i32>(), chg in any::<i32>(), ts in any::<u32>(), full in any::<bool>()) {
        let t = Tick { token: Token(exch << 8 | 9), mode: if full { TickMode::Full } else { TickMode::Quote }, is_index: true,
            last_price: lp, ohlc: Ohlc { open: o, high: h, low: l, close: c }, price_change: chg,
            exchange_timestamp: if full { ts } else { 0 }, ..Tick::default() };
        let mut buf = Vec::new();
        encode_frame([&t], t.mode, &mut buf);
        let mut got = None;
        decode_frame(&buf, |x| got = Some(*x)).unwrap();
        prop_assert_eq!(got, Some(t));
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let _ = decode_frame(&bytes, |_| {});
    }
}
