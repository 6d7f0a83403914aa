//! Instruments and the instrument master, read from Kite's instruments CSV. In LIVE mode the
//! broker's daily dump is the source of truth; `configs/instruments.csv` carries the synthetic
//! market's instruments in the same format.

use super::{Price, Segment, Symbol, Token};
use std::collections::HashMap;
use std::path::Path;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum InstrumentType {
    Equity,
    Future,
    Call,
    Put,
    Index,
}

impl InstrumentType {
    pub fn parse(s: &str) -> Option<InstrumentType> {
        match s {
            "EQ" => Some(InstrumentType::Equity),
            "FUT" => Some(InstrumentType::Future),
            "CE" => Some(InstrumentType::Call),
            "PE" => Some(InstrumentType::Put),
            // Kite lists indices with instrument_type EQ and segment INDICES; accept both.
            "INDEX" => Some(InstrumentType::Index),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            InstrumentType::Equity => "EQ",
            InstrumentType::Future => "FUT",
            InstrumentType::Call => "CE",
            InstrumentType::Put => "PE",
            InstrumentType::Index => "INDEX",
        }
    }
    pub fn is_option(self) -> bool {
        matches!(self, InstrumentType::Call | InstrumentType::Put)
    }
}

/// A calendar date as yyyymmdd, Copy and ordered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Date(pub u32);

impl Date {
    pub fn parse(s: &str) -> Option<Date> {
        let b = s.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return None;
        }
        let y: u32 = s[0..4].parse().ok()?;
        let m: u32 = s[5..7].parse().ok()?;
        let d: u32 = s[8..10].parse().ok()?;
        if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
            return None;
        }
        Some(Date(y * 10000 + m * 100 + d))
    }
    pub fn ymd(self) -> (i32, u32, u32) {
        ((self.0 / 10000) as i32, (self.0 / 100) % 100, self.0 % 100)
    }
}

impl std::fmt::Display for Date {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (y, m, d) = self.ymd();
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Instrument {
    pub token: Token,
    pub exchange_token: u32,
    pub tradingsymbol: Symbol,
    pub name: Symbol,
    pub expiry: Option<Date>,
    /// Strike in native price units; zero for non-options.
    pub strike: Price,
    /// Tick size in native price units (0.05 rupee on NSE = 5).
    pub tick_size: Price,
    pub lot_size: u32,
    /// The dump's snapshot price (previous close); the synthetic market starts from it.
    pub last_price: Price,
    pub instrument_type: InstrumentType,
    pub segment: Segment,
    pub segment_name: Symbol,
    pub exchange: Symbol,
}

impl Instrument {
    pub fn divisor(&self) -> i64 {
        self.segment.price_divisor()
    }
    pub fn tradable(&self) -> bool {
        self.segment.tradable() && self.instrument_type != InstrumentType::Index
    }
    pub fn is_derivative(&self) -> bool {
        matches!(
            self.instrument_type,
            InstrumentType::Future | InstrumentType::Call | InstrumentType::Put
        )
    }
    /// Rounds a price to the nearest multiple of the tick size (half away from zero).
    pub fn round_to_tick(&self, p: Price) -> Price {
        let t = self.tick_size.0.max(1);
        let r = p.0.rem_euclid(t);
        if r * 2 >= t {
            Price(p.0 - r + t)
        } else {
            Price(p.0 - r)
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum InstrumentError {
    #[error("{file}: cannot read: {reason}")]
    Io { file: String, reason: String },
    #[error("{file}: line 1: header must be `{expected}`, got `{got}`")]
    Header {
        file: String,
        expected: &'static str,
        got: String,
    },
    #[error("{file}: line {line}: column `{column}`: {reason} (value `{value}`)")]
    Row {
        file: String,
        line: usize,
        column: &'static str,
        value: String,
        reason: &'static str,
    },
}

pub const INSTRUMENTS_HEADER: &str = "instrument_token,exchange_token,tradingsymbol,name,last_price,expiry,strike,tick_size,lot_size,instrument_type,segment,exchange";

/// Parses a decimal string into integer units with the given divisor, exactly (no floats):
/// `parse_units("0.05", 100) == Some(5)`. Extra precision beyond the divisor is rejected.
pub fn parse_units(s: &str, divisor: i64) -> Option<i64> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    let (neg, s) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (int_part, frac_part) = match s.split_once('.') {
        Some((i, f)) => (i, f),
        None => (s, ""),
    };
    if int_part.is_empty() && frac_part.is_empty() {
        return None;
    }
    if !int_part.bytes().all(|b| b.is_ascii_digit())
        || !frac_part.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let int: i64 = if int_part.is_empty() {
        0
    } else {
        int_part.parse().ok()?
    };
    let mut frac: i64 = 0;
    let mut scale = divisor;
    for b in frac_part.bytes() {
        if scale <= 1 {
            if b != b'0' {
                return None;
            }
            continue;
        }
        scale /= 10;
        frac += (b - b'0') as i64 * scale;
    }
    let v = int.checked_mul(divisor)?.checked_add(frac)?;
    Some(if neg { -v } else { v })
}

/// Splits one CSV line, honouring double quotes (Kite quotes names that contain commas).
fn split_csv(line: &str, out: &mut Vec<String>) {
    out.clear();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
}

/// Token -> dense index, looked up on every tick by every stage. Open addressing with a
/// multiplicative hash and linear probing: a few ns against ~20 ns for SipHash `HashMap`.
#[derive(Clone, Debug)]
pub struct TokenIndex {
    /// (token, index + 1); index 0 marks an empty slot.
    slots: Vec<(u32, u32)>,
    shift: u32,
    len: usize,
}

impl Default for TokenIndex {
    fn default() -> Self {
        TokenIndex {
            slots: vec![(0, 0); 2],
            shift: 31,
            len: 0,
        }
    }
}

impl TokenIndex {
    #[inline(always)]
    fn home(&self, token: u32) -> usize {
        (token.wrapping_mul(0x9E37_79B1) >> self.shift) as usize
    }

    /// Maps `token` to `index`; a repeated token takes the later index.
    pub fn insert(&mut self, token: u32, index: usize) {
        if (self.len + 1) * 2 > self.slots.len() {
            let old = std::mem::take(&mut self.slots);
            let cap = (old.len() * 2).max(4);
            self.slots = vec![(0, 0); cap];
            self.shift = 32 - cap.trailing_zeros();
            self.len = 0;
            for (t, i) in old.into_iter().filter(|s| s.1 != 0) {
                self.put(t, i);
            }
        }
        self.put(token, index as u32 + 1);
    }

    fn put(&mut self, token: u32, stored: u32) {
        let mask = self.slots.len() - 1;
        let mut at = self.home(token);
        loop {
            let s = &mut self.slots[at];
            if s.1 == 0 || s.0 == token {
                self.len += usize::from(s.1 == 0);
                *s = (token, stored);
                return;
            }
            at = (at + 1) & mask;
        }
    }

    #[inline]
    pub fn get(&self, token: u32) -> Option<usize> {
        let mask = self.slots.len() - 1;
        let mut at = self.home(token);
        loop {
            let (t, stored) = self.slots[at];
            if stored == 0 {
                return None;
            }
            if t == token {
                return Some(stored as usize - 1);
            }
            at = (at + 1) & mask;
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Every instrument of the session, with O(1) lookups by token and by (exchange, symbol).
#[derive(Clone, Debug, Default)]
pub struct InstrumentMaster {
    instruments: Vec<Instrument>,
    by_token: TokenIndex,
    by_symbol: HashMap<(Symbol, Symbol), usize>,
}

impl InstrumentMaster {
    pub fn from_instruments(list: Vec<Instrument>) -> InstrumentMaster {
        let mut m = InstrumentMaster::default();
        for i in list {
            m.by_token.insert(i.token.0, m.instruments.len());
            m.by_symbol
                .insert((i.exchange, i.tradingsymbol), m.instruments.len());
            m.instruments.push(i);
        }
        m
    }

    pub fn load(path: &Path) -> Result<InstrumentMaster, InstrumentError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| InstrumentError::Io {
            file: file.clone(),
            reason: e.to_string(),
        })?;
        Self::parse_csv(&text, &file)
    }

    pub fn parse_csv(text: &str, file: &str) -> Result<InstrumentMaster, InstrumentError> {
        let mut lines = text.lines().enumerate();
        let header = lines.next().map(|(_, l)| l.trim()).unwrap_or("");
        if header != INSTRUMENTS_HEADER {
            return Err(InstrumentError::Header {
                file: file.to_string(),
                expected: INSTRUMENTS_HEADER,
                got: header.chars().take(120).collect(),
            });
        }
        let mut list = Vec::new();
        let mut cols = Vec::with_capacity(12);
        for (idx, line) in lines {
            if line.trim().is_empty() {
                continue;
            }
            let line_no = idx + 1;
            split_csv(line.trim_end_matches('\r'), &mut cols);
            let err =
                |column: &'static str, value: &str, reason: &'static str| InstrumentError::Row {
                    file: file.to_string(),
                    line: line_no,
                    column,
                    value: value.chars().take(60).collect(),
                    reason,
                };
            if cols.len() != 12 {
                return Err(err("*", line, "expected 12 columns"));
            }
            let token: u32 = cols[0]
                .trim()
                .parse()
                .map_err(|_| err("instrument_token", &cols[0], "not an unsigned integer"))?;
            let exchange_token: u32 = cols[1]
                .trim()
                .parse()
                .map_err(|_| err("exchange_token", &cols[1], "not an unsigned integer"))?;
            if cols[2].trim().is_empty() {
                return Err(err("tradingsymbol", &cols[2], "empty"));
            }
            let segment = Token(token).segment();
            let divisor = segment.price_divisor();
            let expiry = if cols[5].trim().is_empty() {
                None
            } else {
                Some(
                    Date::parse(cols[5].trim())
                        .ok_or_else(|| err("expiry", &cols[5], "not a yyyy-mm-dd date"))?,
                )
            };
            let strike = if cols[6].trim().is_empty() {
                0
            } else {
                parse_units(&cols[6], divisor)
                    .ok_or_else(|| err("strike", &cols[6], "not a decimal number"))?
            };
            let tick = parse_units(&cols[7], divisor)
                .ok_or_else(|| err("tick_size", &cols[7], "not a decimal number"))?;
            let lot_size: u32 = cols[8]
                .trim()
                .parse()
                .map_err(|_| err("lot_size", &cols[8], "not an unsigned integer"))?;
            let mut instrument_type = InstrumentType::parse(cols[9].trim()).ok_or_else(|| {
                err(
                    "instrument_type",
                    &cols[9],
                    "expected EQ, FUT, CE, PE or INDEX",
                )
            })?;
            if segment == Segment::Indices || cols[10].trim() == "INDICES" {
                instrument_type = InstrumentType::Index;
            }
            // Kite ships indices with lot 0 and tick 0: they are not tradable.
            if instrument_type != InstrumentType::Index {
                if lot_size == 0 {
                    return Err(err("lot_size", &cols[8], "must be at least 1"));
                }
                if tick <= 0 {
                    return Err(err("tick_size", &cols[7], "must be positive"));
                }
            }
            let last_price = parse_units(&cols[4], divisor)
                .ok_or_else(|| err("last_price", &cols[4], "not a decimal number"))?;
            list.push(Instrument {
                token: Token(token),
                exchange_token,
                tradingsymbol: Symbol::new(cols[2].trim()),
                name: Symbol::new(cols[3].trim()),
                expiry,
                strike: Price(strike),
                tick_size: Price(tick.max(1)),
                lot_size: lot_size.max(1),
                last_price: Price(last_price),
                instrument_type,
                segment,
                segment_name: Symbol::new(cols[10].trim()),
                exchange: Symbol::new(cols[11].trim()),
            });
        }
        Ok(Self::from_instruments(list))
    }

    /// The master as Kite's instruments CSV (what `parse_csv` reads back to the same master):
    /// the simulator serves its listed contracts this way.
    pub fn to_csv(&self) -> String {
        fn units(v: i64, div: i64) -> String {
            let digits = (div.max(1) as f64).log10().round() as usize;
            if digits == 0 {
                return v.to_string();
            }
            let sign = if v < 0 { "-" } else { "" };
            let a = v.unsigned_abs();
            let d = div as u64;
            format!("{sign}{}.{:0digits$}", a / d, a % d)
        }
        fn quoted(s: &str) -> String {
            if s.contains([',', '"', ' ']) {
                format!("\"{}\"", s.replace('"', "\"\""))
            } else {
                s.to_string()
            }
        }
        let mut out = String::with_capacity(self.instruments.len() * 96);
        out.push_str(INSTRUMENTS_HEADER);
        out.push('\n');
        for i in &self.instruments {
            let div = i.divisor();
            let index = i.instrument_type == InstrumentType::Index;
            let row = format!(
                "{},{},{},{},{},{},{},{},{},{},{},{}\n",
                i.token.0,
                i.exchange_token,
                quoted(i.tradingsymbol.as_str()),
                quoted(i.name.as_str()),
                units(i.last_price.0, div),
                i.expiry.map(|d| d.to_string()).unwrap_or_default(),
                units(i.strike.0, div),
                if index {
                    "0.0".into()
                } else {
                    units(i.tick_size.0, div)
                },
                if index { 0 } else { i.lot_size },
                if index {
                    "EQ"
                } else {
                    i.instrument_type.as_str()
                },
                i.segment_name.as_str(),
                i.exchange.as_str(),
            );
            out.push_str(&row);
        }
        out
    }

    pub fn get(&self, token: Token) -> Option<&Instrument> {
        self.by_token.get(token.0).map(|i| &self.instruments[i])
    }
    /// Dense index of an instrument, for per-instrument arrays in the stages.
    #[inline]
    pub fn index_of(&self, token: Token) -> Option<usize> {
        self.by_token.get(token.0)
    }
    pub fn by_index(&self, idx: usize) -> &Instrument {
        &self.instruments[idx]
    }
    pub fn find(&self, exchange: &str, tradingsymbol: &str) -> Option<&Instrument> {
        self.by_symbol
            .get(&(Symbol::new(exchange), Symbol::new(tradingsymbol)))
            .map(|&i| &self.instruments[i])
    }
    pub fn len(&self) -> usize {
        self.instruments.len()
    }
    pub fn is_empty(&self) -> bool {
        self.instruments.is_empty()
    }
    pub fn iter(&self) -> impl Iterator<Item = &Instrument> {
        self.instruments.iter()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn token_index_matches_a_hash_map() {
        use std::collections::HashMap;
        let mut idx = super::TokenIndex::default();
        let mut reference = HashMap::new();
        let mut x = 12345u32;
        for i in 0..20_000usize {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            // Kite-like tokens: (exchange_token << 8) | segment, with repeats.
            let token = ((x >> 8) % 5_000) << 8 | (x & 7);
            idx.insert(token, i);
            reference.insert(token, i);
        }
        assert_eq!(idx.len(), reference.len());
        for (&t, &i) in &reference {
            assert_eq!(idx.get(t), Some(i));
        }
        for t in [0u32, 1, u32::MAX, 5_001 << 8] {
            assert_eq!(idx.get(t), reference.get(&t).copied());
        }
    }

    use super::*;

    #[test]
    fn parse_units_is_exact() {
        assert_eq!(parse_units("0.05", 100), Some(5));
        assert_eq!(parse_units("1573.7", 100), Some(157370));
        assert_eq!(parse_units("22000", 100), Some(2200000));
        assert_eq!(parse_units("-0.25", 100), Some(-25));
        assert_eq!(parse_units("0.0025", 10_000_000), Some(25000));
        assert_eq!(parse_units("0.001", 100), None);
        assert_eq!(parse_units("abc", 100), None);
        assert_eq!(parse_units("", 100), None);
    }

    #[test]
    fn shipped_csv_loads() {
        let m = InstrumentMaster::load(Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/configs/instruments.csv"
        )))
        .unwrap();
        let nifty = m.get(Token(256265)).unwrap();
        assert_eq!(nifty.instrument_type, InstrumentType::Index);
        let infy = m.find("NSE", "INFY").unwrap();
        assert_eq!(infy.token, Token(408065));
        assert!(m
            .iter()
            .any(|i| i.instrument_type == InstrumentType::Future));
        // Option chains are listed for the session date (feed/listing.rs), never shipped:
        // a shipped chain would be expired within a week.
        assert!(!m.iter().any(|i| i.instrument_type.is_option()));
        for i in m.iter() {
            assert_eq!(
                i.token.0 & 0xFF,
                i.segment.id() as u32,
                "{}",
                i.tradingsymbol
            );
            assert_eq!(i.token.0 >> 8, i.exchange_token, "{}", i.tradingsymbol);
        }
    }

    #[test]
    fn csv_round_trips() {
        let file = InstrumentMaster::load(Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/configs/instruments.csv"
        )))
        .unwrap();
        let again = InstrumentMaster::parse_csv(&file.to_csv(), "again").unwrap();
        assert_eq!(file.len(), again.len());
        for (a, b) in file.iter().zip(again.iter()) {
            assert_eq!(a, b);
        }
    }

    #[test]
    fn broken_row_names_its_line() {
        let csv = format!("{INSTRUMENTS_HEADER}\n408065,1594,INFY,INFOSYS,0,,0,0.1,1,EQ,NSE,NSE\n779521,3045,SBIN,SBI,0,,0,0.05,x,EQ,NSE,NSE\n");
        let e = InstrumentMaster::parse_csv(&csv, "t.csv").unwrap_err();
        assert!(e.to_string().contains("line 3"), "{e}");
        assert!(e.to_string().contains("lot_size"), "{e}");
    }

    #[test]
    fn round_to_tick() {
        let m = InstrumentMaster::parse_csv(
            &format!("{INSTRUMENTS_HEADER}\n408065,1594,INFY,INFOSYS,0,,0,0.05,1,EQ,NSE,NSE\n"),
            "t",
        )
        .unwrap();
        let i = m.by_index(0);
        assert_eq!(i.round_to_tick(Price(157372)), Price(157370));
        assert_eq!(i.round_to_tick(Price(157373)), Price(157375));
    }
}
