//! Daily closing ATM implied volatilities of one underlying and the percentile of today's
//! against them (IVP: the share of the lookback's days whose IV was lower). Seeded at start
//! from history (PAPER: the synthetic market's; LIVE: `iv_history_file`), extended with each
//! day's last reading at the day's change. A fixed ring: no allocation after start.

#[derive(Clone, Debug)]
pub struct IvHistory {
    days: Vec<f64>,
    next: usize,
    len: usize,
}

impl IvHistory {
    pub fn new(lookback_days: usize) -> IvHistory {
        IvHistory {
            days: vec![0.0; lookback_days.max(1)],
            next: 0,
            len: 0,
        }
    }
    /// Adds one day's closing IV (oldest first when seeding); non-finite or non-positive
    /// readings are not history.
    pub fn push(&mut self, iv: f64) {
        if !(iv.is_finite() && iv > 0.0) {
            return;
        }
        let cap = self.days.len();
        self.days[self.next] = iv;
        self.next = (self.next + 1) % cap;
        self.len = (self.len + 1).min(cap);
    }
    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// Percent (0..=100) of the days in the lookback whose IV was below `iv`.
    pub fn percentile(&self, iv: f64) -> Option<f64> {
        if self.len == 0 {
            return None;
        }
        let below = self.days[..self.len].iter().filter(|&&d| d < iv).count();
        Some(below as f64 * 100.0 / self.len as f64)
    }
}

/// Reads an IV history file: `date,underlying,atm_iv` with a header, one day per line, IV as
/// a fraction (0.13) or percent (13.0, anything above 3); dates ascending per underlying.
/// A bad line is an error naming it.
pub fn parse_iv_history(text: &str, file: &str) -> Result<Vec<(String, f64)>, String> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let l = line.trim();
        if i == 0 && l.starts_with("date") || l.is_empty() || l.starts_with('#') {
            continue;
        }
        let bad = |why: &str| format!("{file}: line {}: {why}: `{l}`", i + 1);
        let cols: Vec<&str> = l.split(',').map(str::trim).collect();
        if cols.len() != 3 {
            return Err(bad("expected date,underlying,atm_iv"));
        }
        if crate::domain::Date::parse(cols[0]).is_none() {
            return Err(bad("not a yyyy-mm-dd date"));
        }
        let iv: f64 = cols[2].parse().map_err(|_| bad("atm_iv is not a number"))?;
        if !(iv.is_finite() && iv > 0.0 && iv < 500.0) {
            return Err(bad("atm_iv out of range"));
        }
        out.push((cols[1].to_string(), if iv > 3.0 { iv / 100.0 } else { iv }));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_file_reads_fractions_and_percents_and_names_bad_lines() {
        let ok = parse_iv_history(
            "date,underlying,atm_iv\n2026-11-30,NIFTY,0.121\n2026-12-01,NIFTY,12.5\n",
            "h.csv",
        )
        .unwrap();
        assert_eq!(ok, vec![("NIFTY".into(), 0.121), ("NIFTY".into(), 0.125)]);
        let e = parse_iv_history("date,underlying,atm_iv\n2026-11-30,NIFTY,abc\n", "h.csv")
            .unwrap_err();
        assert!(e.starts_with("h.csv: line 2:"), "{e}");
    }

    #[test]
    fn percentile_over_the_lookback_only() {
        let mut h = IvHistory::new(4);
        assert_eq!(h.percentile(0.2), None);
        for iv in [0.10, 0.20, 0.30, 0.40] {
            h.push(iv);
        }
        assert_eq!(h.percentile(0.25), Some(50.0));
        assert_eq!(h.percentile(0.05), Some(0.0));
        assert_eq!(h.percentile(0.50), Some(100.0));
        // 0.10 falls out of the four-day lookback.
        h.push(0.50);
        assert_eq!(h.percentile(0.25), Some(25.0));
        h.push(f64::NAN);
        h.push(0.0);
        assert_eq!(h.len(), 4);
    }
}
