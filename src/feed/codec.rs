//! Kite binary ticker codec: frame = u16 packet count, then (u16 length, packet) pairs, all
//! big-endian. The packet kind is its length: 8 (LTP), 28 (index quote), 32 (index full),
//! 44 (quote), 184 (full with 5+5 depth). Decoding never allocates and never panics: a frame
//! whose lengths do not add up is rejected whole; a packet of unknown length is skipped.

use crate::domain::{DepthLevel, Ohlc, Tick, TickMode, Token};

pub const LTP_LEN: usize = 8;
pub const INDEX_QUOTE_LEN: usize = 28;
pub const INDEX_FULL_LEN: usize = 32;
pub const QUOTE_LEN: usize = 44;
pub const FULL_LEN: usize = 184;

pub use crate::domain::CodecError;

/// What one frame held.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FrameSummary {
    pub heartbeat: bool,
    pub packets: u16,
    pub ticks: u16,
    /// Packets whose length is not a known kind: counted and skipped.
    pub unknown: u16,
}

#[inline(always)]
fn be_u16(b: &[u8], o: usize) -> u16 {
    u16::from_be_bytes([b[o], b[o + 1]])
}
#[inline(always)]
fn be_u32<const N: usize>(b: &[u8; N], o: usize) -> u32 {
    u32::from_be_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]])
}
#[inline(always)]
fn be_i32<const N: usize>(b: &[u8; N], o: usize) -> i32 {
    be_u32(b, o) as i32
}

/// Checks that a frame's declared lengths are consistent; returns the packet count.
pub fn validate_frame(frame: &[u8]) -> Result<u16, CodecError> {
    if frame.len() < 2 {
        return Err(CodecError::ShortHeader { len: frame.len() });
    }
    let count = be_u16(frame, 0);
    let mut off = 2usize;
    for index in 0..count {
        if off + 2 > frame.len() {
            return Err(CodecError::TruncatedLength {
                index,
                offset: off,
                frame_len: frame.len(),
            });
        }
        let len = be_u16(frame, off) as usize;
        off += 2;
        if off + len > frame.len() {
            return Err(CodecError::TruncatedPacket {
                index,
                declared: len,
                remaining: frame.len() - off,
            });
        }
        off += len;
    }
    if off != frame.len() {
        return Err(CodecError::TrailingBytes {
            count,
            extra: frame.len() - off,
        });
    }
    Ok(count)
}

/// Decodes every packet of a frame into `sink`. Messages shorter than 2 bytes are heartbeats.
/// A structurally broken frame emits nothing and returns the error.
#[inline]
pub fn decode_frame(frame: &[u8], mut sink: impl FnMut(&Tick)) -> Result<FrameSummary, CodecError> {
    if frame.len() < 2 {
        return Ok(FrameSummary {
            heartbeat: true,
            ..FrameSummary::default()
        });
    }
    let count = validate_frame(frame)?;
    let mut summary = FrameSummary {
        packets: count,
        ..FrameSummary::default()
    };
    let mut off = 2usize;
    let mut tick = Tick::default();
    for _ in 0..count {
        let len = be_u16(frame, off) as usize;
        off += 2;
        let packet = &frame[off..off + len];
        off += len;
        if decode_packet(packet, &mut tick) {
            summary.ticks += 1;
            sink(&tick);
        } else {
            summary.unknown += 1;
        }
    }
    Ok(summary)
}

/// Decodes one packet (without its length prefix) into `out`, overwriting every field.
/// Returns false for a length that is no known packet kind.
#[inline]
pub fn decode_packet(p: &[u8], out: &mut Tick) -> bool {
    match p.len() {
        LTP_LEN => {
            let b: &[u8; LTP_LEN] = p.try_into().unwrap_or(&[0; LTP_LEN]);
            *out = Tick {
                token: Token(be_u32(b, 0)),
                mode: TickMode::Ltp,
                is_index: be_u32(b, 0) & 0xFF == 9,
                last_price: be_i32(b, 4),
                ..Tick::default()
            };
            true
        }
        INDEX_QUOTE_LEN => {
            let b: &[u8; INDEX_QUOTE_LEN] = p.try_into().unwrap_or(&[0; INDEX_QUOTE_LEN]);
            *out = index_fields(b, TickMode::Quote, 0);
            true
        }
        INDEX_FULL_LEN => {
            let b: &[u8; INDEX_FULL_LEN] = p.try_into().unwrap_or(&[0; INDEX_FULL_LEN]);
            *out = index_fields(b, TickMode::Full, be_u32(b, 28));
            true
        }
        QUOTE_LEN => {
            let b: &[u8; QUOTE_LEN] = p.try_into().unwrap_or(&[0; QUOTE_LEN]);
            *out = Tick {
                mode: TickMode::Quote,
                ..quote_fields(b)
            };
            true
        }
        FULL_LEN => {
            let b: &[u8; FULL_LEN] = p.try_into().unwrap_or(&[0; FULL_LEN]);
            let mut t = quote_fields(b);
            t.mode = TickMode::Full;
            t.last_trade_time = be_u32(b, 44);
            t.oi = be_u32(b, 48);
            t.oi_day_high = be_u32(b, 52);
            t.oi_day_low = be_u32(b, 56);
            t.exchange_timestamp = be_u32(b, 60);
            for i in 0..5 {
                t.buy[i] = depth(b, 64 + 12 * i);
                t.sell[i] = depth(b, 124 + 12 * i);
            }
            *out = t;
            true
        }
        _ => false,
    }
}

/// Index quote and full share the first 28 bytes; fixed-size arrays keep every read
/// bounds-check free (no copy into a scratch buffer).
#[inline(always)]
fn index_fields<const N: usize>(b: &[u8; N], mode: TickMode, exchange_timestamp: u32) -> Tick {
    Tick {
        token: Token(be_u32(b, 0)),
        mode,
        is_index: true,
        last_price: be_i32(b, 4),
        // Index packets order OHLC as high, low, open, close on the wire.
        ohlc: Ohlc {
            high: be_i32(b, 8),
            low: be_i32(b, 12),
            open: be_i32(b, 16),
            close: be_i32(b, 20),
        },
        price_change: be_i32(b, 24),
        exchange_timestamp,
        ..Tick::default()
    }
}

#[inline(always)]
fn quote_fields<const N: usize>(b: &[u8; N]) -> Tick {
    Tick {
        token: Token(be_u32(b, 0)),
        mode: TickMode::Quote,
        is_index: false,
        last_price: be_i32(b, 4),
        last_traded_quantity: be_u32(b, 8),
        average_traded_price: be_i32(b, 12),
        volume_traded: be_u32(b, 16),
        total_buy_quantity: be_u32(b, 20),
        total_sell_quantity: be_u32(b, 24),
        ohlc: Ohlc {
            open: be_i32(b, 28),
            high: be_i32(b, 32),
            low: be_i32(b, 36),
            close: be_i32(b, 40),
        },
        ..Tick::default()
    }
}

#[inline(always)]
fn depth(b: &[u8; FULL_LEN], o: usize) -> DepthLevel {
    DepthLevel {
        quantity: be_u32(b, o),
        price: be_i32(b, o + 4),
        orders: u16::from_be_bytes([b[o + 8], b[o + 9]]),
    }
}

/// Appends one packet in the given mode, with its u16 length prefix. Index tokens use the
/// index layouts for quote and full. Returns the packet length written.
pub fn encode_packet(t: &Tick, mode: TickMode, out: &mut Vec<u8>) -> usize {
    let is_index = t.token.0 & 0xFF == 9;
    let len = match (mode, is_index) {
        (TickMode::Ltp, _) => LTP_LEN,
        (TickMode::Quote, true) => INDEX_QUOTE_LEN,
        (TickMode::Full, true) => INDEX_FULL_LEN,
        (TickMode::Quote, false) => QUOTE_LEN,
        (TickMode::Full, false) => FULL_LEN,
    };
    out.extend_from_slice(&(len as u16).to_be_bytes());
    let put = |out: &mut Vec<u8>, v: u32| out.extend_from_slice(&v.to_be_bytes());
    put(out, t.token.0);
    put(out, t.last_price as u32);
    if len == LTP_LEN {
        return len;
    }
    if is_index {
        put(out, t.ohlc.high as u32);
        put(out, t.ohlc.low as u32);
        put(out, t.ohlc.open as u32);
        put(out, t.ohlc.close as u32);
        put(out, t.price_change as u32);
        if len == INDEX_FULL_LEN {
            put(out, t.exchange_timestamp);
        }
        return len;
    }
    put(out, t.last_traded_quantity);
    put(out, t.average_traded_price as u32);
    put(out, t.volume_traded);
    put(out, t.total_buy_quantity);
    put(out, t.total_sell_quantity);
    put(out, t.ohlc.open as u32);
    put(out, t.ohlc.high as u32);
    put(out, t.ohlc.low as u32);
    put(out, t.ohlc.close as u32);
    if len == QUOTE_LEN {
        return len;
    }
    put(out, t.last_trade_time);
    put(out, t.oi);
    put(out, t.oi_day_high);
    put(out, t.oi_day_low);
    put(out, t.exchange_timestamp);
    for d in t.buy.iter().chain(t.sell.iter()) {
        put(out, d.quantity);
        put(out, d.price as u32);
        out.extend_from_slice(&d.orders.to_be_bytes());
        out.extend_from_slice(&[0, 0]);
    }
    len
}

/// Writes a whole frame of ticks in one mode into `out` (cleared first).
pub fn encode_frame<'a>(
    ticks: impl IntoIterator<Item = &'a Tick>,
    mode: TickMode,
    out: &mut Vec<u8>,
) {
    encode_mixed_frame(ticks.into_iter().map(|t| (t, mode)), out);
}

/// Writes a frame whose packets each carry their own mode, as Kite sends one connection's
/// subscriptions (`out` is cleared first). Returns the packet count.
pub fn encode_mixed_frame<'a>(
    ticks: impl IntoIterator<Item = (&'a Tick, TickMode)>,
    out: &mut Vec<u8>,
) -> u16 {
    out.clear();
    out.extend_from_slice(&[0, 0]);
    let mut n: u16 = 0;
    for (t, mode) in ticks {
        encode_packet(t, mode, out);
        n += 1;
    }
    out[0..2].copy_from_slice(&n.to_be_bytes());
    n
}

/// A tick as Kite's client libraries present it: rupees, epoch seconds, Kite field names.
pub fn tick_json(t: &Tick) -> serde_json::Value {
    use serde_json::json;
    let div = t.token.segment().price_divisor() as f64;
    let px = |v: i32| v as f64 / div;
    let mut obj = json!({
        "instrument_token": t.token.0,
        "mode": t.mode.as_str(),
        "tradable": !t.is_index,
        "last_price": px(t.last_price),
    });
    let m = obj.as_object_mut().expect("object literal");
    if t.mode == TickMode::Ltp {
        return obj;
    }
    let change = if t.ohlc.close != 0 {
        (t.last_price - t.ohlc.close) as f64 * 100.0 / t.ohlc.close as f64
    } else {
        0.0
    };
    m.insert(
        "ohlc".into(),
        json!({"open": px(t.ohlc.open), "high": px(t.ohlc.high), "low": px(t.ohlc.low), "close": px(t.ohlc.close)}),
    );
    m.insert("change".into(), json!(change));
    if t.is_index {
        if t.mode == TickMode::Full {
            m.insert("exchange_timestamp".into(), json!(t.exchange_timestamp));
        }
        return obj;
    }
    m.insert("last_traded_quantity".into(), json!(t.last_traded_quantity));
    m.insert(
        "average_traded_price".into(),
        json!(px(t.average_traded_price)),
    );
    m.insert("volume_traded".into(), json!(t.volume_traded));
    m.insert("total_buy_quantity".into(), json!(t.total_buy_quantity));
    m.insert("total_sell_quantity".into(), json!(t.total_sell_quantity));
    if t.mode == TickMode::Full {
        m.insert("last_trade_time".into(), json!(t.last_trade_time));
        m.insert("oi".into(), json!(t.oi));
        m.insert("oi_day_high".into(), json!(t.oi_day_high));
        m.insert("oi_day_low".into(), json!(t.oi_day_low));
        m.insert("exchange_timestamp".into(), json!(t.exchange_timestamp));
        let side = |levels: &[DepthLevel; 5]| {
            levels
                .iter()
                .map(|d| json!({"quantity": d.quantity, "price": px(d.price), "orders": d.orders}))
                .collect::<Vec<_>>()
        };
        m.insert(
            "depth".into(),
            json!({"buy": side(&t.buy), "sell": side(&t.sell)}),
        );
    }
    obj
}

#[cfg(test)]
mod tests {
    use super::*;

    /// kiteconnect-mocks ticker_full.packet, rebuilt from the decoded values in
    /// kite-protocol.md §1.10 (the fixture file itself is base64 of these 184 bytes).
    fn fixture_full() -> Tick {
        let lvl = |q, p, o| DepthLevel {
            quantity: q,
            price: p,
            orders: o,
        };
        Tick {
            token: Token(408065),
            mode: TickMode::Full,
            is_index: false,
            last_price: 157370,
            last_traded_quantity: 7,
            average_traded_price: 157037,
            volume_traded: 1192471,
            total_buy_quantity: 256443,
            total_sell_quantity: 363009,
            ohlc: Ohlc {
                open: 156915,
                high: 157500,
                low: 156105,
                close: 156780,
            },
            price_change: 0,
            last_trade_time: 1625461887,
            oi: 0,
            oi_day_high: 0,
            oi_day_low: 0,
            exchange_timestamp: 1625461887,
            buy: [
                lvl(5, 157340, 1),
                lvl(140, 157300, 2),
                lvl(2, 157295, 1),
                lvl(219, 157290, 7),
                lvl(50, 157285, 1),
            ],
            sell: [
                lvl(172, 157370, 3),
                lvl(44, 157375, 3),
                lvl(302, 157385, 3),
                lvl(141, 157390, 2),
                lvl(724, 157395, 5),
            ],
        }
    }

    #[test]
    fn ltp_vector_from_spec() {
        let frame = [0, 1, 0, 8, 0x00, 0x06, 0x3A, 0x01, 0x00, 0x02, 0x66, 0x83];
        let mut got = None;
        let s = decode_frame(&frame, |t| got = Some(*t)).unwrap();
        assert_eq!(s.ticks, 1);
        let t = got.unwrap();
        assert_eq!(t.token, Token(408065));
        assert_eq!(t.last_price, 157315);
        assert_eq!(t.mode, TickMode::Ltp);
    }

    #[test]
    fn index_quote_vector_from_forum_dump() {
        let frame: [u8; 32] = [
            0x00, 0x01, 0x00, 0x1C, 0x00, 0x03, 0xE9, 0x09, 0x00, 0x0D, 0xED, 0x2D, 0x00, 0x0D,
            0xFD, 0x18, 0x00, 0x0D, 0xE9, 0x0E, 0x00, 0x0D, 0xFC, 0xD7, 0x00, 0x0D, 0xED, 0x2D,
            0xFF, 0xFF, 0xFF, 0xDC,
        ];
        let mut got = None;
        decode_frame(&frame, |t| got = Some(*t)).unwrap();
        let t = got.unwrap();
        assert_eq!(t.token, Token(256265));
        assert!(t.is_index);
        assert_eq!(t.last_price, 912685);
        assert_eq!(t.ohlc.high, 916760);
        assert_eq!(t.ohlc.low, 911630);
        assert_eq!(t.ohlc.open, 916695);
        assert_eq!(t.ohlc.close, 912685);
        assert_eq!(t.price_change, -36);
    }

    #[test]
    fn full_fixture_round_trips_and_json_names() {
        let tick = fixture_full();
        let mut buf = Vec::new();
        encode_frame([&tick], TickMode::Full, &mut buf);
        assert_eq!(buf.len(), 2 + 2 + FULL_LEN);
        let mut got = None;
        decode_frame(&buf, |t| got = Some(*t)).unwrap();
        assert_eq!(got.unwrap(), tick);
        let j = tick_json(&tick);
        assert_eq!(j["last_price"], 1573.7);
        assert_eq!(j["depth"]["sell"][4]["price"], 1573.95);
        assert_eq!(j["depth"]["buy"][3]["orders"], 7);
        assert_eq!(j["ohlc"]["close"], 1567.8);
        assert_eq!(j["exchange_timestamp"], 1625461887);
    }

    #[test]
    fn heartbeat_and_empty_frames() {
        assert!(decode_frame(&[0], |_| panic!()).unwrap().heartbeat);
        assert!(decode_frame(&[], |_| panic!()).unwrap().heartbeat);
        assert_eq!(decode_frame(&[0, 0], |_| panic!()).unwrap().packets, 0);
    }

    #[test]
    fn malformed_frames_are_errors_not_panics() {
        let tick = fixture_full();
        let mut buf = Vec::new();
        encode_frame([&tick, &tick], TickMode::Full, &mut buf);
        for cut in 2..buf.len() {
            let r = decode_frame(&buf[..cut], |_| {});
            assert!(r.is_err(), "cut at {cut} should fail");
        }
        let mut extra = buf.clone();
        extra.push(0);
        assert!(matches!(
            decode_frame(&extra, |_| {}),
            Err(CodecError::TrailingBytes { .. })
        ));
    }

    #[test]
    fn unknown_packet_length_is_skipped() {
        // Two packets: one of 5 bytes (unknown), one LTP.
        let frame = [
            0, 2, 0, 5, 1, 2, 3, 4, 5, 0, 8, 0x00, 0x06, 0x3A, 0x01, 0x00, 0x02, 0x66, 0x83,
        ];
        let mut n = 0;
        let s = decode_frame(&frame, |_| n += 1).unwrap();
        assert_eq!((s.packets, s.ticks, s.unknown, n), (2, 1, 1, 1));
    }
}
