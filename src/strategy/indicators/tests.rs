//! Indicators against TA-Lib's output for the same candles (tests/fixtures, written by
//! tools/talib_reference.py) and against small cases worked by hand.

use super::*;
use crate::domain::candle::parse_candles;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

fn fixture_candles() -> Vec<Candle> {
    let path = format!("{FIXTURES}/candles_5m.csv");
    parse_candles(&std::fs::read_to_string(&path).unwrap(), &path, 100).unwrap()
}

/// TA-Lib's columns by name, in rupees; None where TA-Lib gives NaN.
fn reference() -> Vec<std::collections::HashMap<String, Option<f64>>> {
    let text = std::fs::read_to_string(format!("{FIXTURES}/talib_reference.csv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    lines
        .map(|l| {
            header
                .iter()
                .zip(l.split(','))
                .skip(1)
                .map(|(h, v)| (h.to_string(), v.parse::<f64>().ok()))
                .collect()
        })
        .collect()
}

fn close(ours: Option<f64>, theirs: Option<f64>, what: &str, bar: usize) {
    match (ours, theirs) {
        (None, None) => {}
        (Some(a), Some(b)) => assert!(
            (a - b).abs() <= 1e-6 * b.abs().max(1.0),
            "{what} bar {bar}: ours {a}, TA-Lib {b}"
        ),
        _ => panic!("{what} bar {bar}: ours {ours:?}, TA-Lib {theirs:?} (warm-up differs)"),
    }
}

#[test]
fn every_indicator_matches_talib_bar_for_bar() {
    let candles = fixture_candles();
    let refs = reference();
    assert_eq!(candles.len(), refs.len());
    let rupees = |x: Option<f64>| x.map(|v| v / 100.0);
    let mut set = IndicatorSet::new(&IndicatorPeriods::default());
    let mut sma = Sma::new(20);
    for (i, (c, r)) in candles.iter().zip(&refs).enumerate() {
        let v = set.update(c);
        close(rupees(v.ema_fast), r["ema34"], "EMA 34", i);
        close(rupees(v.ema_slow), r["ema89"], "EMA 89", i);
        close(rupees(sma.update(c.close)), r["sma20"], "SMA 20", i);
        close(rupees(v.atr), r["atr14"], "ATR 14", i);
        close(v.rsi, r["rsi14"], "RSI 14", i);
        close(v.adx.and_then(|a| a.adx), r["adx14"], "ADX 14", i);
        close(v.adx.map(|a| a.plus_di), r["plus_di14"], "+DI 14", i);
        close(v.adx.map(|a| a.minus_di), r["minus_di14"], "-DI 14", i);
        close(rupees(v.bb.map(|b| b.upper)), r["bb_upper"], "BB upper", i);
        close(
            rupees(v.bb.map(|b| b.middle)),
            r["bb_middle"],
            "BB middle",
            i,
        );
        close(rupees(v.bb.map(|b| b.lower)), r["bb_lower"], "BB lower", i);
    }
    // The fixture is long enough to warm every indicator up.
    assert!(set.values().ema_slow.is_some() && set.values().adx.unwrap().adx.is_some());
}

fn bar(start: u32, o: i64, h: i64, l: i64, c: i64, v: u64) -> Candle {
    Candle {
        start,
        open: o,
        high: h,
        low: l,
        close: c,
        volume: v,
    }
}

#[test]
fn ema_and_wilder_seeds_by_hand() {
    // EMA(3): mean of 1,2,3 = 2, then 2 + 0.5 * (4 - 2) = 3.
    let mut e = Ema::new(3);
    assert_eq!(e.update(1.0), None);
    assert_eq!(e.update(2.0), None);
    assert_eq!(e.update(3.0), Some(2.0));
    assert_eq!(e.update(4.0), Some(3.0));
    // ATR(2): TR from the second bar: 10, 20 -> 15; then (15 + 5) / 2 = 10.
    let mut a = Atr::new(2);
    assert_eq!(a.update(&bar(0, 100, 105, 95, 100, 0)), None);
    assert_eq!(a.update(&bar(60, 100, 110, 100, 105, 0)), None);
    assert_eq!(a.update(&bar(120, 105, 125, 105, 120, 0)), Some(15.0));
    assert_eq!(a.update(&bar(180, 120, 122, 117, 120, 0)), Some(10.0));
    // RSI(2): changes +2, -1 -> gains 1.0, losses 0.5 -> 66.67; then +3: (1*1+3)/2=2, 0.25 -> 88.9.
    let mut r = Rsi::new(2);
    assert_eq!(r.update(10.0), None);
    assert_eq!(r.update(12.0), None);
    let v = r.update(11.0).unwrap();
    assert!((v - 200.0 / 3.0).abs() < 1e-9, "{v}");
    let v = r.update(14.0).unwrap();
    assert!((v - 100.0 * 2.0 / 2.25).abs() < 1e-9, "{v}");
    // No movement at all: TA-Lib's RSI is 0.
    let mut flat = Rsi::new(2);
    for _ in 0..4 {
        flat.update(5.0);
    }
    assert_eq!(flat.update(5.0), Some(0.0));
}

#[test]
fn bollinger_uses_population_sigma() {
    let mut b = Bollinger::new(4, 2.0);
    for x in [2, 4, 4, 4] {
        b.update(x);
    }
    // Window 4,4,4,5: mean 4.25, population variance 0.1875.
    let v = b.update(5).unwrap();
    assert!((v.middle - 4.25).abs() < 1e-12);
    assert!((v.std_dev - 0.1875f64.sqrt()).abs() < 1e-12);
    assert!((v.upper - (4.25 + 2.0 * 0.1875f64.sqrt())).abs() < 1e-12);
}

#[test]
fn session_vwap_weights_typical_price_and_resets_each_day() {
    use crate::clock::{ist_epoch, TimeOfDay};
    use crate::domain::Date;
    let d1 = ist_epoch(Date(20261125), TimeOfDay::hm(9, 15)) as u32;
    let d2 = ist_epoch(Date(20261126), TimeOfDay::hm(9, 15)) as u32;
    let mut v = SessionVwap::default();
    // Typical prices 100 (vol 1) and 130 (vol 2): VWAP 120, σ² = (400 + 2*100)/3 = 200.
    v.update(&bar(d1, 100, 110, 90, 100, 1));
    let x = v.update(&bar(d1 + 60, 130, 140, 120, 130, 2)).unwrap();
    assert!((x.vwap - 120.0).abs() < 1e-9, "{x:?}");
    assert!((x.std_dev - 200f64.sqrt()).abs() < 1e-9, "{x:?}");
    // Next session starts again from its first bar.
    let y = v.update(&bar(d2, 50, 60, 40, 50, 5)).unwrap();
    assert!((y.vwap - 50.0).abs() < 1e-9 && y.std_dev == 0.0);
    // No volume (an index): no VWAP.
    let mut idx = SessionVwap::default();
    assert_eq!(idx.update(&bar(d1, 1, 1, 1, 1, 0)), None);
}

#[test]
fn supertrend_flips_when_the_close_crosses_its_band() {
    // ATR(1) is the bar's true range: flat bars of range 2 -> bands hl2 ± 3 * 2.
    let mut s = Supertrend::new(1, 3.0);
    assert_eq!(s.update(&bar(0, 100, 101, 99, 100, 0)), None);
    let first = s.update(&bar(60, 100, 101, 99, 100, 0)).unwrap();
    // Starts on the upper band: 100 + 6.
    assert_eq!(
        first,
        SupertrendValue {
            value: 106.0,
            up: false
        }
    );
    // Still below: the upper band only moves down.
    let v = s.update(&bar(120, 100, 101, 99, 100, 0)).unwrap();
    assert_eq!(
        v,
        SupertrendValue {
            value: 106.0,
            up: false
        }
    );
    // A close above 106 flips to the lower band. Its basic value 105 - 3 * 10 = 75 is below
    // the previous lower band 94 (100 - 6), and the lower band only ratchets up: 94.
    let v = s.update(&bar(180, 100, 110, 100, 109, 0)).unwrap();
    assert_eq!(
        v,
        SupertrendValue {
            value: 94.0,
            up: true
        }
    );
    // A close below the lower band (94) flips back down onto the upper band.
    let v = s.update(&bar(240, 100, 103, 93, 93, 0)).unwrap();
    assert!(!v.up, "{v:?}");
}

#[test]
fn updates_do_not_allocate_after_construction() {
    // Windowed indicators own their buffers from the start: the capacity never changes.
    let mut set = IndicatorSet::new(&IndicatorPeriods::default());
    let before = set.bb_capacity();
    for c in fixture_candles() {
        set.update(&c);
    }
    assert_eq!(set.bb_capacity(), before);
}
