//! OHLCV candles: the bars the strategy stage builds, and candles in Kite's historical
//! format (a CSV `date,open,high,low,close,volume[,oi]` or the historical API's JSON body),
//! which `aitrapp indicators` and warm-up read. Dates are as Kite writes them,
//! `2026-11-25T09:15:00+0530`; prices are rupees in the file and native units (paise) here.

use crate::clock::days_from_civil;

/// One bar. Prices in the instrument's native units.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Candle {
    /// Epoch seconds the bar starts at.
    pub start: u32,
    pub open: i64,
    pub high: i64,
    pub low: i64,
    pub close: i64,
    pub volume: u64,
}

/// A candle file that cannot be read, naming where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: line {line}: {message}")]
pub struct CandleError {
    pub file: String,
    pub line: usize,
    pub message: String,
}

/// Parses `yyyy-mm-ddThh:mm:ss+hhmm` (also `+hh:mm`, a space for `T`, or no offset, read as
/// IST) to epoch seconds.
pub fn parse_kite_time(s: &str) -> Option<i64> {
    let s = s.trim().trim_matches('"');
    let b = s.as_bytes();
    if b.len() < 19 || !matches!(b[10], b'T' | b' ') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        if !t.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        t.parse().ok()
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if b[4] != b'-' || b[7] != b'-' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let rest = s[19..].trim_start_matches(|c: char| c == '.' || c.is_ascii_digit());
    let offset = match rest {
        "" => 5 * 3600 + 1800,
        "Z" => 0,
        r => {
            let sign = match r.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let digits: String = r[1..].chars().filter(|c| *c != ':').collect();
            if digits.len() != 4 || !digits.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            let hh: i64 = digits[..2].parse().ok()?;
            let mm: i64 = digits[2..].parse().ok()?;
            sign * (hh * 3600 + mm * 60)
        }
    };
    let days = days_from_civil(y as i32, mo as u32, d as u32);
    Some(days * 86_400 + h * 3600 + mi * 60 + se - offset)
}

fn to_native(x: f64, divisor: i64) -> i64 {
    (x * divisor as f64).round() as i64
}

fn candle(start: i64, ohlc: [f64; 4], volume: f64, divisor: i64) -> Result<Candle, &'static str> {
    if ohlc.iter().any(|x| !x.is_finite() || *x <= 0.0) {
        return Err("prices must be positive numbers");
    }
    if !volume.is_finite() || volume < 0.0 {
        return Err("volume must be a number >= 0");
    }
    let [o, h, l, c] = ohlc.map(|x| to_native(x, divisor));
    if h < l || h < o.max(c) || l > o.min(c) {
        return Err("high/low do not contain open and close");
    }
    let start = u32::try_from(start).map_err(|_| "date out of range")?;
    Ok(Candle {
        start,
        open: o,
        high: h,
        low: l,
        close: c,
        volume: volume as u64,
    })
}

/// Reads a candle file: the historical API's JSON body (`{"data":{"candles":[[...]]}}`, or
/// just the array) or a CSV with a `date,open,high,low,close,volume` header. Every row must
/// parse; the first bad one is the error, with its line.
pub fn parse_candles(text: &str, file: &str, divisor: i64) -> Result<Vec<Candle>, CandleError> {
    let err = |line: usize, message: String| CandleError {
        file: file.to_string(),
        line,
        message,
    };
    let trimmed = text.trim_start();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        let v: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| err(e.line(), format!("not valid JSON: {e}")))?;
        let rows = v
            .pointer("/data/candles")
            .or_else(|| v.get("candles"))
            .unwrap_or(&v)
            .as_array()
            .ok_or_else(|| err(1, "no `data.candles` array".into()))?;
        let mut out = Vec::with_capacity(rows.len());
        for (i, r) in rows.iter().enumerate() {
            let n = i + 1;
            let a = r
                .as_array()
                .ok_or_else(|| err(n, format!("candle {n} is not an array")))?;
            let date = a
                .first()
                .and_then(|x| x.as_str())
                .ok_or_else(|| err(n, format!("candle {n}: no date string")))?;
            let start = parse_kite_time(date)
                .ok_or_else(|| err(n, format!("candle {n}: bad date `{date}`")))?;
            let f = |k: usize| a.get(k).and_then(|x| x.as_f64());
            let (Some(o), Some(h), Some(l), Some(c), Some(vol)) = (f(1), f(2), f(3), f(4), f(5))
            else {
                return Err(err(
                    n,
                    format!("candle {n}: needs [date, open, high, low, close, volume]"),
                ));
            };
            out.push(
                candle(start, [o, h, l, c], vol, divisor)
                    .map_err(|m| err(n, format!("candle {n}: {m}")))?,
            );
        }
        return Ok(out);
    }
    let mut lines = text.lines().enumerate();
    let header = loop {
        match lines.next() {
            Some((_, l)) if l.trim().is_empty() => continue,
            Some((i, l)) => break (i + 1, l),
            None => return Err(err(1, "empty file".into())),
        }
    };
    let cols: Vec<String> = header
        .1
        .split(',')
        .map(|c| c.trim().to_ascii_lowercase())
        .collect();
    let want = ["date", "open", "high", "low", "close", "volume"];
    let idx: Vec<usize> = want
        .iter()
        .map(|w| cols.iter().position(|c| c == w))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| {
            err(
                header.0,
                format!(
                    "header must name {} (got `{}`)",
                    want.join(","),
                    header.1.trim()
                ),
            )
        })?;
    let mut out = Vec::new();
    for (i, line) in lines {
        let n = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        let get = |k: usize| fields.get(idx[k]).copied().unwrap_or("");
        let start =
            parse_kite_time(get(0)).ok_or_else(|| err(n, format!("bad date `{}`", get(0))))?;
        let mut vals = [0f64; 5];
        for k in 1..6 {
            vals[k - 1] = get(k)
                .parse::<f64>()
                .map_err(|_| err(n, format!("{} `{}` is not a number", want[k], get(k))))?;
        }
        out.push(
            candle(
                start,
                [vals[0], vals[1], vals[2], vals[3]],
                vals[4],
                divisor,
            )
            .map_err(|m| err(n, m.to_string()))?,
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kite_dates_parse_to_epoch() {
        // 2017-12-15 09:15 IST = 03:45 UTC.
        assert_eq!(
            parse_kite_time("2017-12-15T09:15:00+0530"),
            Some(1_513_309_500)
        );
        assert_eq!(parse_kite_time("2017-12-15 09:15:00"), Some(1_513_309_500));
        assert_eq!(parse_kite_time("2017-12-15T03:45:00Z"), Some(1_513_309_500));
        assert_eq!(
            parse_kite_time("2017-12-15T09:15:00+05:30"),
            Some(1_513_309_500)
        );
        assert_eq!(parse_kite_time("2017-13-15T09:15:00+0530"), None);
        assert_eq!(parse_kite_time("yesterday"), None);
    }

    #[test]
    fn csv_and_json_give_the_same_candles() {
        let csv =
            "date,open,high,low,close,volume\n2026-11-25T09:15:00+0530,100.5,101,100,100.75,1200\n";
        let json = r#"{"status":"success","data":{"candles":[["2026-11-25T09:15:00+0530",100.5,101,100,100.75,1200,0]]}}"#;
        let a = parse_candles(csv, "a.csv", 100).unwrap();
        let b = parse_candles(json, "b.json", 100).unwrap();
        assert_eq!(a, b);
        assert_eq!(
            (a[0].open, a[0].high, a[0].close, a[0].volume),
            (10050, 10100, 10075, 1200)
        );
    }

    #[test]
    fn a_bad_row_names_its_line() {
        let csv = "date,open,high,low,close,volume\n2026-11-25T09:15:00+0530,100,101,99,100,5\n2026-11-25T09:16:00+0530,100,abc,99,100,5\n";
        let e = parse_candles(csv, "c.csv", 100).unwrap_err();
        assert_eq!(e.line, 3);
        assert!(e.to_string().contains("c.csv: line 3: high `abc`"), "{e}");
        let crossed =
            "date,open,high,low,close,volume\n2026-11-25T09:15:00+0530,100,99,101,100,5\n";
        assert_eq!(parse_candles(crossed, "d.csv", 100).unwrap_err().line, 2);
        let json = r#"[["2026-11-25T09:15:00+0530",1,2,0.5,1,3],["bad",1,2,0.5,1,3]]"#;
        assert_eq!(parse_candles(json, "e.json", 100).unwrap_err().line, 2);
    }
}
