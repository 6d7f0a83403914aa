//! Past sessions' one-minute candles from Kite's historical API, through the process's rate
//! limiter (3 requests a second): what LIVE warms its bars and indicators on and takes the
//! previous day's turnover from. One request per instrument; an instrument whose request
//! fails is skipped with a warning (it starts cold), never the whole start.

use super::rest::KiteRest;
use crate::clock::{ist_epoch, kite_time, TimeOfDay};
use crate::domain::{Candle, Date, InstrumentMaster, Token};

/// Kite's float candle in native units and epoch seconds; `None` for an unreadable time.
fn native(c: &super::rest::Candle, divisor: i64) -> Option<Candle> {
    let start = crate::domain::candle::parse_kite_time(&c.ts)? as u32;
    let px = |x: f64| (x * divisor as f64).round() as i64;
    Some(Candle {
        start,
        open: px(c.open),
        high: px(c.high),
        low: px(c.low),
        close: px(c.close),
        volume: c.volume,
    })
}

/// Minute candles from the first of `sessions` (oldest first) to `to` (epoch seconds) for
/// the instruments at `wanted` master indices, with a progress line every 10 s.
pub fn minute_history(
    rest: &KiteRest,
    master: &InstrumentMaster,
    wanted: &[usize],
    sessions: &[Date],
    open: TimeOfDay,
    to: i64,
) -> Vec<(Token, Vec<Candle>)> {
    let Some(first) = sessions.first() else {
        return Vec::new();
    };
    let from = kite_time(ist_epoch(*first, open)).replace('T', " ");
    let to = kite_time(to).replace('T', " ");
    let (from, to) = (&from[..19], &to[..19]);
    let started = std::time::Instant::now();
    let mut said = started;
    let mut out = Vec::with_capacity(wanted.len());
    let mut failed = 0;
    for (n, &k) in wanted.iter().enumerate() {
        let inst = master.by_index(k);
        match rest.historical(inst.token.0, "minute", from, to) {
            Ok(candles) => {
                let div = inst.divisor();
                out.push((
                    inst.token,
                    candles.iter().filter_map(|c| native(c, div)).collect(),
                ));
            }
            Err(e) => {
                failed += 1;
                log::warn!(target: "strategy", symbol = inst.tradingsymbol.as_str(), error = e.to_string().as_str();
                    "Historical candles for {} failed ({e}): it starts cold", inst.tradingsymbol.as_str());
            }
        }
        if said.elapsed().as_secs() >= 10 {
            said = std::time::Instant::now();
            log::info!(target: "strategy", done = n + 1, total = wanted.len();
                "Historical candles: {} of {} instruments", n + 1, wanted.len());
        }
    }
    log::info!(target: "strategy", instruments = out.len(), failed = failed, ms = started.elapsed().as_millis() as u64;
        "Historical candles for {} instruments ({failed} failed) in {} ms, {from} to {to}", out.len(), started.elapsed().as_millis());
    out
}
