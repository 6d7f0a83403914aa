//! No input makes the Kite REST and ticker-text parsers panic: random bytes, and mutations of
//! real response shapes (flipped, dropped, duplicated and inserted bytes). A short run is part
//! of the suite; `cargo test --release --test kite_parsers_fuzz -- --ignored` runs millions.

mod common;
use common::Rng;

use aitrapp::exec::kite::parse_envelope;
use aitrapp::exec::kite::rest::{Candle, KiteOrder, KiteTrade};
use aitrapp::feed::kite_ws::parse_text;
use aitrapp::feed::record::RecordReader;

const SEEDS: &[&str] = &[
    r#"{"status":"success","data":{"order_id":"151220000000000"}}"#,
    r#"{"status":"error","message":"Insufficient funds","error_type":"MarginException","data":null}"#,
    r#"{"status":"success","data":[{"order_id":"1","status":"COMPLETE","tag":"AT1","instrument_token":408065,"quantity":1.0,"filled_quantity":1,"average_price":1573.7}]}"#,
    r#"{"type":"order","data":{"order_id":"151220000000000","status":"OPEN","tag":"AT9","filled_quantity":0}}"#,
    r#"{"type":"error","data":"Invalid mode"}"#,
    r#"{"status":"success","data":{"candles":[["2017-12-15T09:15:00+0530",1704.5,1705,1699.25,1702.8,2499]]}}"#,
    r#"{"trade_id":"1","order_id":"2","instrument_token":1,"transaction_type":"BUY","quantity":1,"average_price":1.5}"#,
    "<html><body>502 Bad Gateway</body></html>",
];

fn mutate(rng: &mut Rng, base: &[u8]) -> Vec<u8> {
    let mut v = base.to_vec();
    for _ in 0..=rng.below(4) {
        let at = rng.below(v.len() + 1);
        match rng.below(5) {
            0 if !v.is_empty() => {
                let i = at.min(v.len() - 1);
                v[i] ^= 1 << rng.below(8);
            }
            1 if at < v.len() => {
                v.remove(at);
            }
            2 => v.insert(at, rng.next() as u8),
            3 => {
                let end = (at + rng.below(16)).min(v.len());
                let chunk = v[at.min(end)..end].to_vec();
                v.splice(at..at, chunk);
            }
            _ => v.insert(at, b"{}[]\",:0-e."[rng.below(11)]),
        }
    }
    v
}

fn exercise(input: &[u8]) {
    let status = [200u16, 400, 403, 429, 500, 503][input.len() % 6];
    if let Ok(v) = parse_envelope(status, input) {
        let _ = KiteOrder::from_json(&v);
        let _ = KiteTrade::from_json(&v);
        if let Some(a) = v.get("candles").and_then(|c| c.as_array()) {
            a.iter().for_each(|c| {
                let _ = Candle::from_json(c);
            });
        }
        if let Some(a) = v.as_array() {
            a.iter().for_each(|o| {
                let _ = KiteOrder::from_json(o);
            });
        }
    }
    let mut text = input.to_vec();
    let _ = parse_text(&mut text);
    for item in RecordReader::new(input) {
        if item.is_err() {
            break;
        }
    }
}

fn run(iterations: u64, seed: u64) {
    let mut rng = Rng(seed | 1);
    for i in 0..iterations {
        let input = if i % 4 == 0 {
            (0..rng.below(256)).map(|_| rng.next() as u8).collect()
        } else {
            let base = SEEDS[rng.below(SEEDS.len())].as_bytes();
            mutate(&mut rng, base)
        };
        exercise(&input);
    }
}

#[test]
fn parsers_never_panic_short() {
    run(20_000, 0x5EED);
}

#[test]
#[ignore]
fn parsers_never_panic_long() {
    let n = std::env::var("AITRAPP_FUZZ_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3_000_000);
    run(n, 0xC0FFEE);
}
