//! The risk thread's published state: a fixed-layout record in a memory-mapped file, guarded
//! by a seqlock so readers (the control thread, `aitrapp snapshot` in another process) never
//! lock and never see a torn copy. Only the risk thread writes.

use memmap2::{MmapMut, MmapOptions};
use std::fs::OpenOptions;
use std::path::Path;
use std::sync::atomic::{fence, AtomicU64, Ordering};

pub const MAGIC: u64 = 0x4149_5452_4150_5031; // "AITRAPP1"
pub const VERSION: u32 = 4;
pub const MAX_POSITIONS: usize = 128;
pub const MAX_ORDERS: usize = 256;

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct PositionRecord {
    pub token: u32,
    pub strategy: u8,
    pub _pad: [u8; 3],
    pub symbol: [u8; 32],
    pub qty: i64,
    pub avg_price: i64,
    pub ltp: i64,
    pub realized_paise: i64,
    pub unrealized_paise: i64,
    pub stop: i64,
    pub target: i64,
    /// Position delta in units of the underlying x 1000 (options by Black-76 from the LTP's
    /// implied volatility and the future; futures and shares: the quantity).
    /// `DELTA_UNKNOWN` when no IV could be read.
    pub delta_milli: i64,
    /// The spread this position is a leg of; 0 for none.
    pub spread: u32,
    /// Price units per rupee (100 for paise); u32 keeps the record at two cache lines.
    pub divisor: u32,
    /// P&L realized by partial exits of the round trip in progress.
    pub trip_realized_paise: i64,
    /// Charges of the round trip's fills so far.
    pub charges_paise: i64,
}

/// `PositionRecord::delta_milli` when the delta could not be computed.
pub const DELTA_UNKNOWN: i64 = i64::MIN;

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct OrderRecord {
    pub id: u64,
    pub token: u32,
    pub status: u8,
    pub side: u8,
    pub order_type: u8,
    pub purpose: u8,
    pub symbol: [u8; 32],
    /// One order's quantity (capped by the freeze quantity, far inside i32).
    pub qty: i32,
    pub filled: i32,
    pub price: i64,
    pub avg_fill: i64,
    pub divisor: u32,
    pub ts: u32,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SnapshotBody {
    pub published_unix_ms: u64,
    pub pid: u32,
    pub mode_live: u8,
    /// 0 active, 1 paused, 2 halted.
    pub trading_state: u8,
    pub market_open: u8,
    pub feed_connected: u8,
    /// `clock::SessionPhase::code`.
    pub session_phase: u8,
    pub _pad: [u8; 3],
    pub exchange_ts: u32,
    pub positions_count: u32,
    pub orders_count: u32,
    pub trades_today: u32,
    pub wins: u32,
    pub losses: u32,
    pub capital_paise: i64,
    pub realized_paise: i64,
    pub unrealized_paise: i64,
    pub open_risk_paise: i64,
    pub daily_loss_limit_paise: i64,
    pub ticks_seen: u64,
    /// Charges of the day's fills (the daily loss stop acts on P&L net of them).
    pub charges_today_paise: i64,
    /// risk.max_portfolio_heat_pct of capital.
    pub heat_limit_paise: i64,
    pub positions: [PositionRecord; MAX_POSITIONS],
    pub orders: [OrderRecord; MAX_ORDERS],
}

impl Default for SnapshotBody {
    fn default() -> Self {
        SnapshotBody {
            published_unix_ms: 0,
            pid: 0,
            mode_live: 0,
            trading_state: 0,
            market_open: 0,
            feed_connected: 0,
            session_phase: 0,
            _pad: [0; 3],
            exchange_ts: 0,
            positions_count: 0,
            orders_count: 0,
            trades_today: 0,
            wins: 0,
            losses: 0,
            capital_paise: 0,
            realized_paise: 0,
            unrealized_paise: 0,
            open_risk_paise: 0,
            daily_loss_limit_paise: 0,
            ticks_seen: 0,
            charges_today_paise: 0,
            heat_limit_paise: 0,
            positions: [PositionRecord::default(); MAX_POSITIONS],
            orders: [OrderRecord::default(); MAX_ORDERS],
        }
    }
}

// A full book is copied on every read of it: the records' sizes are the read's cost.
const _: () = assert!(std::mem::size_of::<PositionRecord>() == 128);
const _: () = assert!(std::mem::size_of::<OrderRecord>() == 80);

const HEADER: usize = 64;
const SEQ_OFFSET: usize = 16;

fn file_len() -> usize {
    HEADER + std::mem::size_of::<SnapshotBody>()
}

pub fn symbol_bytes(s: &str) -> [u8; 32] {
    let mut b = [0u8; 32];
    let n = s.len().min(32);
    b[..n].copy_from_slice(&s.as_bytes()[..n]);
    b
}

pub fn symbol_str(b: &[u8; 32]) -> String {
    let n = b.iter().position(|&c| c == 0).unwrap_or(32);
    String::from_utf8_lossy(&b[..n]).into_owned()
}

#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("snapshot {path}: {reason}")]
    Io { path: String, reason: String },
    #[error("snapshot {path}: not an aitrapp snapshot (bad magic or version)")]
    Format { path: String },
    #[error("snapshot {path}: writer kept it busy; no consistent copy after {tries} tries")]
    Busy { path: String, tries: u32 },
}

/// The single writer's side.
pub struct SnapshotWriter {
    map: MmapMut,
}

impl SnapshotWriter {
    pub fn create(path: &Path) -> Result<SnapshotWriter, SnapshotError> {
        let err = |e: std::io::Error| SnapshotError::Io {
            path: path.display().to_string(),
            reason: e.to_string(),
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(err)?;
        }
        let f = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(err)?;
        f.set_len(file_len() as u64).map_err(err)?;
        // SAFETY: the file is ours and sized above; other processes only read it.
        let mut map = unsafe { MmapOptions::new().len(file_len()).map_mut(&f) }.map_err(err)?;
        map[0..8].copy_from_slice(&MAGIC.to_le_bytes());
        map[8..12].copy_from_slice(&VERSION.to_le_bytes());
        let mut w = SnapshotWriter { map };
        w.seq().store(0, Ordering::Release);
        w.publish(&SnapshotBody::default());
        Ok(w)
    }

    fn seq(&mut self) -> &AtomicU64 {
        // SAFETY: offset 16 is 8-aligned in a page-aligned map and lives as long as `self`.
        unsafe { &*(self.map.as_mut_ptr().add(SEQ_OFFSET) as *const AtomicU64) }
    }

    /// Seqlock write: odd sequence while copying, even when done. No allocation, no syscall.
    /// Copies the scalar fields and the records up to the counts (readers slice to them).
    pub fn publish(&mut self, body: &SnapshotBody) {
        let seq = self.seq().load(Ordering::Relaxed);
        self.seq().store(seq.wrapping_add(1), Ordering::Relaxed);
        fence(Ordering::Release);
        // SAFETY: the body region is `size_of::<SnapshotBody>()` bytes after the header.
        unsafe {
            copy_used(
                body as *const SnapshotBody as *const u8,
                self.map.as_mut_ptr().add(HEADER),
                body.positions_count,
                body.orders_count,
            );
        }
        fence(Ordering::Release);
        self.seq().store(seq.wrapping_add(2), Ordering::Release);
    }
}

/// Copies a body's scalar fields and its first `positions`/`orders` records (clamped to the
/// arrays) from `src` to `dst`, both laid out as `SnapshotBody`.
///
/// # Safety
/// `src` and `dst` must each point at `size_of::<SnapshotBody>()` bytes that do not overlap.
unsafe fn copy_used(src: *const u8, dst: *mut u8, positions: u32, orders: u32) {
    const POSITIONS: usize = std::mem::offset_of!(SnapshotBody, positions);
    const ORDERS: usize = std::mem::offset_of!(SnapshotBody, orders);
    let np = (positions as usize).min(MAX_POSITIONS);
    let no = (orders as usize).min(MAX_ORDERS);
    // SAFETY: all three ranges lie inside the body, as the caller promises.
    unsafe {
        std::ptr::copy_nonoverlapping(src, dst, POSITIONS);
        std::ptr::copy_nonoverlapping(
            src.add(POSITIONS),
            dst.add(POSITIONS),
            np * std::mem::size_of::<PositionRecord>(),
        );
        std::ptr::copy_nonoverlapping(
            src.add(ORDERS),
            dst.add(ORDERS),
            no * std::mem::size_of::<OrderRecord>(),
        );
    }
}

/// Reads a consistent copy of the snapshot at `path` (any process).
pub fn read(path: &Path) -> Result<Box<SnapshotBody>, SnapshotError> {
    SnapshotReader::open(path)?.read()
}

/// Seqlock read of the mapping into `out`: the scalar fields, then only the first
/// `positions_count` positions and `orders_count` orders (every reader slices to the counts;
/// the unused slots are most of the 37 KB). Records past the counts keep what `out` held.
fn read_map(map: &[u8], p: &str, out: &mut SnapshotBody) -> Result<(), SnapshotError> {
    let magic = u64::from_le_bytes(map[0..8].try_into().unwrap_or([0; 8]));
    let version = u32::from_le_bytes(map[8..12].try_into().unwrap_or([0; 4]));
    if magic != MAGIC || version != VERSION {
        return Err(SnapshotError::Format {
            path: p.to_string(),
        });
    }
    // SAFETY: aligned u64 inside the mapping, which outlives this function's use of it.
    let seq = unsafe { &*(map.as_ptr().add(SEQ_OFFSET) as *const AtomicU64) };
    let body = map[HEADER..].as_ptr();
    let dst = out as *mut SnapshotBody as *mut u8;
    const NP: usize = std::mem::offset_of!(SnapshotBody, positions_count);
    const NO: usize = std::mem::offset_of!(SnapshotBody, orders_count);
    for _ in 0..100_000u32 {
        let s1 = seq.load(Ordering::Acquire);
        if s1 & 1 == 1 {
            std::hint::spin_loop();
            continue;
        }
        // SAFETY: the mapping is `file_len()` long, so the body region is a whole
        // `SnapshotBody`, and `out` is one; the counts are read from the mapping and clamped,
        // and a torn copy is caught by the sequence check below.
        unsafe {
            let np = std::ptr::read_unaligned(body.add(NP) as *const u32);
            let no = std::ptr::read_unaligned(body.add(NO) as *const u32);
            copy_used(body, dst, np, no);
        }
        fence(Ordering::Acquire);
        if seq.load(Ordering::Relaxed) == s1 {
            return Ok(());
        }
    }
    Err(SnapshotError::Busy {
        path: p.to_string(),
        tries: 100_000,
    })
}

/// Keeps a reader mapping open (the control thread reads often).
pub struct SnapshotReader {
    map: memmap2::Mmap,
    path: String,
}

impl SnapshotReader {
    /// Maps the snapshot at `path`, refusing a file of the wrong size (mapping past its end
    /// would fault on read).
    pub fn open(path: &Path) -> Result<SnapshotReader, SnapshotError> {
        let p = path.display().to_string();
        let io = |e: std::io::Error| SnapshotError::Io {
            path: p.clone(),
            reason: e.to_string(),
        };
        let f = OpenOptions::new().read(true).open(path).map_err(io)?;
        let len = f.metadata().map(|m| m.len()).unwrap_or(0) as usize;
        if len != file_len() {
            return Err(SnapshotError::Format { path: p });
        }
        // SAFETY: read-only map of a file whose size we checked; the writer keeps it fixed.
        let map = unsafe { MmapOptions::new().len(file_len()).map(&f) }.map_err(io)?;
        Ok(SnapshotReader { map, path: p })
    }
    /// A consistent copy, in a new allocation.
    pub fn read(&self) -> Result<Box<SnapshotBody>, SnapshotError> {
        // SAFETY: every field is an integer or an array of them, so all-zero bytes are a
        // valid body (the `Default` one); this skips building 37 KB on the stack first.
        let mut out = unsafe { Box::<SnapshotBody>::new_zeroed().assume_init() };
        self.read_into(&mut out)?;
        Ok(out)
    }

    /// A consistent copy into `out`, allocating nothing: its scalar fields and the records
    /// up to its counts are the snapshot's; records past the counts are left as they were.
    pub fn read_into(&self, out: &mut SnapshotBody) -> Result<(), SnapshotError> {
        read_map(&self.map, &self.path, out)
    }
}

pub fn state_name(s: u8) -> &'static str {
    match s {
        0 => "ACTIVE",
        1 => "PAUSED",
        2 => "HALTED",
        _ => "UNKNOWN",
    }
}

pub fn order_status_name(s: u8) -> &'static str {
    crate::domain::OrderStatus::from_u8(s)
        .map(|s| s.as_str())
        .unwrap_or("UNKNOWN")
}

fn rupees(v: i64, div: impl Into<i64>) -> f64 {
    v as f64 / div.into().max(1) as f64
}

/// A quantity or divisor into a record's narrower field, clamped to `lo..=hi` (never
/// wrapping) if a value were ever out of range.
pub fn narrow<T: TryFrom<i64> + Into<i64> + Copy>(v: i64, lo: T, hi: T) -> T {
    T::try_from(v.clamp(lo.into(), hi.into())).unwrap_or(hi)
}

pub fn state_json(b: &SnapshotBody) -> serde_json::Value {
    let daily = b.realized_paise + b.unrealized_paise;
    let decided = b.wins + b.losses;
    serde_json::json!({
        "mode": crate::domain::mode_name(b.mode_live == 1),
        "state": state_name(b.trading_state),
        "is_paused": b.trading_state != 0,
        "is_market_open": b.market_open == 1,
        "session_phase": crate::clock::SessionPhase::from_code(b.session_phase).as_str(),
        "positions_count": b.positions_count,
        "trades_today": b.trades_today,
        "win_rate": if decided > 0 { b.wins as f64 / decided as f64 } else { 0.0 },
        "daily_pnl": rupees(daily, 100),
        "daily_pnl_pct": if b.capital_paise > 0 { daily as f64 * 100.0 / b.capital_paise as f64 } else { 0.0 },
        "daily_pnl_net": rupees(daily - b.charges_today_paise, 100),
        "charges_today": rupees(b.charges_today_paise, 100),
        "realized_pnl": rupees(b.realized_paise, 100),
        "unrealized_pnl": rupees(b.unrealized_paise, 100),
        "portfolio_heat_pct": if b.capital_paise > 0 { b.open_risk_paise as f64 * 100.0 / b.capital_paise as f64 } else { 0.0 },
        "exchange_time": b.exchange_ts,
        "ticks_seen": b.ticks_seen,
        "snapshot_unix_ms": b.published_unix_ms,
    })
}

pub fn positions_json(b: &SnapshotBody) -> serde_json::Value {
    let n = (b.positions_count as usize).min(MAX_POSITIONS);
    serde_json::Value::Array(
        b.positions[..n]
            .iter()
            .map(|p| {
                serde_json::json!({
                    "instrument_token": p.token,
                    "tradingsymbol": symbol_str(&p.symbol),
                    "quantity": p.qty,
                    "average_price": rupees(p.avg_price, p.divisor),
                    "last_price": rupees(p.ltp, p.divisor),
                    "stop": rupees(p.stop, p.divisor),
                    "target": rupees(p.target, p.divisor),
                    "unrealized_pnl": rupees(p.unrealized_paise, 100),
                    "realized_pnl": rupees(p.realized_paise, 100),
                    "pnl": rupees(p.trip_realized_paise + p.unrealized_paise, 100),
                    "charges": rupees(p.charges_paise, 100),
                    "net_pnl": rupees(p.trip_realized_paise + p.unrealized_paise - p.charges_paise, 100),
                    "strategy": crate::domain::StrategyId::from_code(p.strategy).as_str(),
                    "delta": if p.delta_milli == DELTA_UNKNOWN { serde_json::Value::Null } else { serde_json::json!(p.delta_milli as f64 / 1000.0) },
                    "spread_id": if p.spread == 0 { serde_json::Value::Null } else { serde_json::json!(p.spread) },
                })
            })
            .collect(),
    )
}

pub fn orders_json(b: &SnapshotBody) -> serde_json::Value {
    let n = (b.orders_count as usize).min(MAX_ORDERS);
    serde_json::Value::Array(
        b.orders[..n]
            .iter()
            .map(|o| {
                serde_json::json!({
                    "order_id": o.id,
                    "tag": crate::domain::OrderId(o.id).tag().as_str(),
                    "instrument_token": o.token,
                    "tradingsymbol": symbol_str(&o.symbol),
                    "status": order_status_name(o.status),
                    "transaction_type": if o.side == 0 { "BUY" } else { "SELL" },
                    "order_type": if o.order_type == 0 { "MARKET" } else { "LIMIT" },
                    "purpose": purpose_name(o.purpose),
                    "quantity": o.qty,
                    "filled_quantity": o.filled,
                    "price": rupees(o.price, o.divisor),
                    "average_price": rupees(o.avg_fill, o.divisor),
                    "exchange_time": o.ts,
                })
            })
            .collect(),
    )
}

pub fn purpose_name(p: u8) -> &'static str {
    crate::domain::OrderPurpose::from_code(p)
        .map(|p| p.as_str())
        .unwrap_or("unknown")
}

pub fn risk_json(b: &SnapshotBody) -> serde_json::Value {
    let daily = b.realized_paise + b.unrealized_paise;
    serde_json::json!({
        "capital": rupees(b.capital_paise, 100),
        "open_risk": rupees(b.open_risk_paise, 100),
        "portfolio_heat_pct": if b.capital_paise > 0 { b.open_risk_paise as f64 * 100.0 / b.capital_paise as f64 } else { 0.0 },
        "daily_pnl": rupees(daily, 100),
        "daily_pnl_net": rupees(daily - b.charges_today_paise, 100),
        "charges_today": rupees(b.charges_today_paise, 100),
        "daily_loss_limit": rupees(b.daily_loss_limit_paise, 100),
        "portfolio_heat_limit_pct": if b.capital_paise > 0 { b.heat_limit_paise as f64 * 100.0 / b.capital_paise as f64 } else { 0.0 },
        "distance_to_daily_loss_limit": rupees(daily - b.charges_today_paise - b.daily_loss_limit_paise, 100),
        "state": state_name(b.trading_state),
    })
}

/// A JSON view of the snapshot.
pub type JsonView = fn(&SnapshotBody) -> serde_json::Value;

/// The view an HTTP path serves (the API and the dashboard share these).
pub fn json_view(path: &str) -> Option<JsonView> {
    match path {
        "/state" => Some(state_json),
        "/positions" => Some(positions_json),
        "/orders" => Some(orders_json),
        "/risk" => Some(risk_json),
        _ => None,
    }
}

/// Everything in one JSON document, as `aitrapp snapshot` prints it.
pub fn full_json(b: &SnapshotBody) -> serde_json::Value {
    serde_json::json!({
        "pid": b.pid,
        "state": state_json(b),
        "risk": risk_json(b),
        "positions": positions_json(b),
        "orders": orders_json(b),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_then_read_from_file() {
        let path = std::env::temp_dir().join(format!("aitrapp-snap-{}.bin", std::process::id()));
        let mut w = SnapshotWriter::create(&path).unwrap();
        let mut b = SnapshotBody {
            positions_count: 1,
            trades_today: 4,
            wins: 3,
            losses: 1,
            ..SnapshotBody::default()
        };
        b.positions[0].symbol = symbol_bytes("INFY");
        b.positions[0].qty = 10;
        b.positions[0].divisor = 100;
        w.publish(&b);
        let r = read(&path).unwrap();
        assert_eq!(*r, b);
        let j = full_json(&r);
        assert_eq!(j["positions"][0]["tradingsymbol"], "INFY");
        assert_eq!(j["state"]["win_rate"], 0.75);
        assert_eq!(narrow(5_000_000_000i64, i32::MIN, i32::MAX), i32::MAX);
        assert_eq!(narrow(-5_000_000_000i64, i32::MIN, i32::MAX), i32::MIN);
        assert_eq!(narrow(-3i64, 1u32, u32::MAX), 1);
        assert_eq!(narrow(1_800i64, i32::MIN, i32::MAX), 1_800);
        std::fs::write(&path, b"junk").unwrap();
        assert!(read(&path).is_err());
    }

    #[test]
    fn read_into_copies_the_used_records_and_is_never_torn() {
        let path =
            std::env::temp_dir().join(format!("aitrapp-snap-into-{}.bin", std::process::id()));
        let mut w = SnapshotWriter::create(&path).unwrap();
        let r = SnapshotReader::open(&path).unwrap();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let writer = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut b = SnapshotBody::default();
                let mut k = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    k += 1;
                    // Every record carries the publish number, and the counts vary with it.
                    b.published_unix_ms = k;
                    b.positions_count = (k % 7) as u32;
                    b.orders_count = (k % 11) as u32;
                    for p in b.positions.iter_mut().take(7) {
                        p.qty = k as i64;
                    }
                    for o in b.orders.iter_mut().take(11) {
                        o.id = k;
                    }
                    w.publish(&b);
                    // The risk thread publishes a few thousand times a second, not back to
                    // back; a writer that never pauses would starve the seqlock's readers.
                    std::thread::sleep(std::time::Duration::from_micros(20));
                }
            })
        };
        let mut out = SnapshotBody::default();
        let mut seen = std::collections::HashSet::new();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        for _ in 0..200_000 {
            r.read_into(&mut out).unwrap();
            let k = out.published_unix_ms;
            assert_eq!(out.positions_count as u64, k % 7);
            assert_eq!(out.orders_count as u64, k % 11);
            let n = out.positions_count as usize;
            assert!(
                out.positions[..n].iter().all(|p| p.qty == k as i64),
                "torn at {k}"
            );
            let n = out.orders_count as usize;
            assert!(out.orders[..n].iter().all(|o| o.id == k), "torn at {k}");
            seen.insert(k);
            if std::time::Instant::now() > deadline {
                break;
            }
        }
        stop.store(true, Ordering::Relaxed);
        writer.join().unwrap();
        assert!(seen.len() > 1, "the reader saw the writer move");
        let _ = std::fs::remove_file(&path);
    }
}
