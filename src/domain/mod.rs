//! Small Copy domain types shared by every stage: prices, quantities, tokens, sides, ticks,
//! orders, fills and the pipeline event. Prices are integers in the instrument's native unit
//! (paise for NSE); money is integer paise. Conversions to rupees happen only at the edges.

pub mod black76;
pub mod broker_book;
pub mod broker_order;
pub mod candle;
pub mod event;
pub mod freeze;
pub mod instrument;
pub mod order_update;
pub mod refusal;
pub mod tick;

pub use broker_book::*;
pub use broker_order::KiteOrder;
pub use candle::{Candle, CandleError};
pub use event::*;
pub use freeze::{FreezeQtySlicer, FreezeSchedule};
pub use instrument::*;
pub use order_update::*;
pub use refusal::Refusal;
pub use tick::*;

/// A price moved onto the tick grid away from an order on `side` (a buy pays up, a sell
/// gets less): fills, protection caps, stop limits, and stops placed for that side.
pub fn round_against(px: i64, side: Side, tick: i64) -> i64 {
    let t = tick.max(1);
    match side {
        Side::Buy => (px + t - 1).div_euclid(t) * t,
        Side::Sell => px.div_euclid(t) * t,
    }
}

/// A data file (charges, freeze limits) that does not parse: the file and every problem in
/// it, not just the first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileProblems {
    pub file: String,
    pub problems: Vec<String>,
}

impl std::fmt::Display for FileProblems {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "{}: {} problem(s):", self.file, self.problems.len())?;
        for p in &self.problems {
            writeln!(f, "  - {p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for FileProblems {}

impl FileProblems {
    /// A data file's text and the name it is reported under; a file that cannot be read is
    /// its one problem.
    pub fn read(path: &std::path::Path) -> Result<(String, String), FileProblems> {
        let file = path.display().to_string();
        match std::fs::read_to_string(path) {
            Ok(text) => Ok((text, file)),
            Err(e) => Err(FileProblems {
                file,
                problems: vec![format!("cannot read: {e}")],
            }),
        }
    }
}

/// Instrument token as Kite assigns it: `(exchange_token << 8) | segment`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Token(pub u32);

impl Token {
    pub fn segment(self) -> Segment {
        Segment::from_id((self.0 & 0xFF) as u8)
    }
}

/// A price in the instrument's native integer unit (paise for NSE/BSE/MCX).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Price(pub i64);

/// Money in paise. Separate from `Price` so a price is never added to a P&L by mistake.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Paise(pub i64);

impl Paise {
    pub fn rupees(self) -> f64 {
        self.0 as f64 / 100.0
    }
}

/// A quantity in units (shares or contracts), never lots.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Qty(pub i64);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    Buy,
    Sell,
}

impl Side {
    pub fn sign(self) -> i64 {
        match self {
            Side::Buy => 1,
            Side::Sell => -1,
        }
    }
    pub fn opposite(self) -> Side {
        match self {
            Side::Buy => Side::Sell,
            Side::Sell => Side::Buy,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Buy => "BUY",
            Side::Sell => "SELL",
        }
    }
}

/// Kite segment id, the low byte of an instrument token.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Segment {
    NseCm,
    NseFo,
    Cds,
    BseCm,
    BseFo,
    Bcd,
    Mcx,
    McxSx,
    Indices,
    /// NSE commodity derivatives (`nco`, added by the official Python client 5.2.2).
    Nco,
    Unknown(u8),
}

impl Segment {
    pub fn from_id(id: u8) -> Segment {
        match id {
            1 => Segment::NseCm,
            2 => Segment::NseFo,
            3 => Segment::Cds,
            4 => Segment::BseCm,
            5 => Segment::BseFo,
            6 => Segment::Bcd,
            7 => Segment::Mcx,
            8 => Segment::McxSx,
            9 => Segment::Indices,
            12 => Segment::Nco,
            other => Segment::Unknown(other),
        }
    }
    pub fn id(self) -> u8 {
        match self {
            Segment::NseCm => 1,
            Segment::NseFo => 2,
            Segment::Cds => 3,
            Segment::BseCm => 4,
            Segment::BseFo => 5,
            Segment::Bcd => 6,
            Segment::Mcx => 7,
            Segment::McxSx => 8,
            Segment::Indices => 9,
            Segment::Nco => 12,
            Segment::Unknown(x) => x,
        }
    }
    /// Integer units per rupee for prices on the wire (Kite: CDS 1e7, BCD and NCO 1e4,
    /// else 100).
    pub fn price_divisor(self) -> i64 {
        match self {
            Segment::Cds => 10_000_000,
            Segment::Bcd | Segment::Nco => 10_000,
            _ => 100,
        }
    }
    pub fn tradable(self) -> bool {
        !matches!(self, Segment::Indices)
    }
}

/// A short fixed-capacity ASCII string (trading symbols, tags) that stays `Copy`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Symbol {
    len: u8,
    bytes: [u8; 31],
}

impl Symbol {
    pub const EMPTY: Symbol = Symbol {
        len: 0,
        bytes: [0; 31],
    };

    /// Truncates at 31 bytes; instrument symbols on NSE are well under that.
    pub fn new(s: &str) -> Symbol {
        let b = s.as_bytes();
        let n = b.len().min(31);
        let mut bytes = [0u8; 31];
        bytes[..n].copy_from_slice(&b[..n]);
        Symbol {
            len: n as u8,
            bytes,
        }
    }
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..self.len as usize]).unwrap_or("?")
    }
}

impl Default for Symbol {
    fn default() -> Self {
        Symbol::EMPTY
    }
}

impl std::fmt::Debug for Symbol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

impl std::fmt::Display for Symbol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Formats an integer amount in native units as rupees with two decimals, for reports.
pub fn format_rupees(value: i64, divisor: i64) -> String {
    let sign = if value < 0 { "-" } else { "" };
    let v = value.unsigned_abs();
    let d = divisor.unsigned_abs().max(1);
    if d == 100 {
        format!("{sign}{}.{:02}", v / 100, v % 100)
    } else {
        format!("{sign}{}", v as f64 / d as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_segment_and_divisor() {
        assert_eq!(Token(408065).segment(), Segment::NseCm);
        assert_eq!(Token(256265).segment(), Segment::Indices);
        assert_eq!(Segment::Cds.price_divisor(), 10_000_000);
        assert_eq!(Segment::Bcd.price_divisor(), 10_000);
        assert_eq!(Segment::NseFo.price_divisor(), 100);
        // Segment 12 (nco): divided by 10,000 as the official client 5.2.2 does.
        assert_eq!(Token((77 << 8) | 12).segment(), Segment::Nco);
        assert_eq!(Segment::Nco.price_divisor(), 10_000);
        assert_eq!(Segment::from_id(12).id(), 12);
        assert!(!Segment::Indices.tradable());
    }

    #[test]
    fn symbol_round_trips_and_truncates() {
        assert_eq!(Symbol::new("NIFTY26DECFUT").as_str(), "NIFTY26DECFUT");
        assert_eq!(Symbol::new(&"X".repeat(40)).as_str().len(), 31);
    }

    #[test]
    fn rupee_formatting() {
        assert_eq!(format_rupees(157370, 100), "1573.70");
        assert_eq!(format_rupees(-5, 100), "-0.05");
    }
}
