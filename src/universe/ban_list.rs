//! The F&O ban list as NSE publishes it (`fo_secban.csv`): a header line naming the trade date
//! (`Securities in Ban For Trade Date 02-DEC-2026:`), then one security per line, numbered
//! (`1,SAIL`) or bare (`SAIL`). Blank lines and `#` comments are ignored. A list whose date is
//! not the session's is stale: it is still applied (a stale ban is safer than none) and the
//! operator is warned. Banned underlyings get no new positions; exits always run.

use crate::domain::Date;
use std::path::Path;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BanList {
    /// The trade date in the header, if it names one.
    pub date: Option<Date>,
    pub symbols: Vec<String>,
}

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];

/// `02-DEC-2026` (NSE's header) or `2026-12-02`.
fn parse_trade_date(s: &str) -> Option<Date> {
    let s = s.trim().trim_end_matches(':').trim();
    if let Some(d) = Date::parse(s) {
        return Some(d);
    }
    let mut parts = s.split('-');
    let (d, m, y) = (parts.next()?, parts.next()?, parts.next()?);
    let day: u32 = d.parse().ok()?;
    let month = MONTHS.iter().position(|x| x.eq_ignore_ascii_case(m))? as u32 + 1;
    let year: u32 = y.parse().ok()?;
    ((1..=31).contains(&day) && parts.next().is_none())
        .then_some(Date(year * 10000 + month * 100 + day))
}

impl BanList {
    pub fn parse(text: &str, file: &str) -> Result<BanList, String> {
        let mut list = BanList::default();
        let mut seen_header = false;
        for (i, raw) in text.lines().enumerate() {
            let line = raw.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let lower = line.to_ascii_lowercase();
            if !seen_header
                && (lower.starts_with("securities in ban") || lower.contains("trade date"))
            {
                seen_header = true;
                list.date = line
                    .rsplit(|c: char| c.is_whitespace())
                    .next()
                    .and_then(parse_trade_date);
                continue;
            }
            seen_header = true;
            let symbol = match line.split_once(',') {
                Some((n, sym)) if n.trim().chars().all(|c| c.is_ascii_digit()) => sym.trim(),
                Some(_) => {
                    return Err(format!(
                        "{file}: line {}: expected `N,SYMBOL` or `SYMBOL`, got `{line}`",
                        i + 1
                    ))
                }
                None => line,
            };
            let ok = !symbol.is_empty()
                && symbol
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '&' | '-' | '_'));
            if !ok {
                return Err(format!(
                    "{file}: line {}: not a security symbol: `{symbol}`",
                    i + 1
                ));
            }
            list.symbols.push(symbol.to_ascii_uppercase());
        }
        Ok(list)
    }

    /// A missing file means no bans (and says nothing about dates).
    pub fn read(path: &Path) -> Result<BanList, String> {
        match std::fs::read_to_string(path) {
            Ok(t) => BanList::parse(&t, &path.display().to_string()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BanList::default()),
            Err(e) => Err(format!("cannot read ban list {}: {e}", path.display())),
        }
    }

    /// Why this list may not be today's, if it may not.
    pub fn staleness(&self, today: Date) -> Option<String> {
        match self.date {
            Some(d) if d == today => None,
            Some(d) => Some(format!(
                "the F&O ban list is for trade date {d}, not today ({today}): download today's fo_secban.csv from NSE"
            )),
            None if self.symbols.is_empty() => None,
            None => Some("the F&O ban list names no trade date: cannot tell whether it is today's".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_nse_format_and_checks_the_date() {
        let text = "Securities in Ban For Trade Date 02-DEC-2026:\n1,SAIL\n2,RBLBANK\n";
        let b = BanList::parse(text, "fo_secban.csv").unwrap();
        assert_eq!(b.date, Some(Date(20261202)));
        assert_eq!(b.symbols, vec!["SAIL", "RBLBANK"]);
        assert_eq!(b.staleness(Date(20261202)), None);
        assert!(b.staleness(Date(20261203)).unwrap().contains("2026-12-02"));
        // Bare symbols and comments (our older file) still read.
        let old = BanList::parse("# a comment\nIDEA\n\n", "f").unwrap();
        assert_eq!(
            (old.date, old.symbols.clone()),
            (None, vec!["IDEA".to_string()])
        );
        assert!(old.staleness(Date(20261202)).is_some());
        // An empty list with a date in the header: no bans, dated.
        let none = BanList::parse("Securities in Ban For Trade Date 02-DEC-2026:\n", "f").unwrap();
        assert!(none.symbols.is_empty() && none.date == Some(Date(20261202)));
        let bad = BanList::parse(
            "Securities in Ban For Trade Date 02-DEC-2026:\n1,SA IL\n",
            "f.csv",
        )
        .unwrap_err();
        assert!(bad.starts_with("f.csv: line 2:"), "{bad}");
        assert_eq!(
            BanList::read(Path::new("/nonexistent/fo_secban.csv")),
            Ok(BanList::default())
        );
    }
}
