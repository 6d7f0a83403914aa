//! Quantity freeze limits from the dated tables of `configs/freeze_qty.yaml`, and the slicer
//! that splits an order above the limit into child orders the exchange accepts.
//!
//! NSE revises the limits monthly by circular and Kite's instrument dump has none
//! (india-market-facts.md §3.2), so they are config, each table in force from its date.

use super::{Date, Instrument};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

/// One table: the limits (units per order, by underlying) from a date on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FreezeTable {
    pub from: Date,
    pub circular: String,
    pub limits: BTreeMap<String, i64>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FreezeSchedule {
    /// Whether an order of exactly the limit is accepted (UNCONFIRMED; see the file).
    pub accept_equal: bool,
    /// Oldest first, no two from the same date.
    pub tables: Vec<FreezeTable>,
}

/// A freeze file that does not parse, with every problem in it.
pub type FreezeError = super::FileProblems;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    accept_equal: bool,
    tables: Vec<RawTable>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTable {
    from: String,
    circular: String,
    limits: BTreeMap<String, i64>,
}

impl FreezeSchedule {
    pub fn shipped() -> FreezeSchedule {
        FreezeSchedule::parse(
            include_str!("../../configs/freeze_qty.yaml"),
            "configs/freeze_qty.yaml (built in)",
        )
        .expect("the shipped freeze table parses (its tests say so)")
    }

    pub fn load(path: &Path) -> Result<FreezeSchedule, FreezeError> {
        let (text, file) = FreezeError::read(path)?;
        FreezeSchedule::parse(&text, &file)
    }

    /// Parses and checks a freeze file, listing every problem.
    pub fn parse(text: &str, file: &str) -> Result<FreezeSchedule, FreezeError> {
        let fail = |problems| FreezeError {
            file: file.to_string(),
            problems,
        };
        let raw: RawFile = serde_yaml_ng::from_str(text).map_err(|e| fail(vec![e.to_string()]))?;
        let mut problems = Vec::new();
        let mut tables: Vec<FreezeTable> = Vec::new();
        for (i, t) in raw.tables.into_iter().enumerate() {
            let Some(from) = Date::parse(&t.from) else {
                problems.push(format!("tables[{i}].from: `{}` is not YYYY-MM-DD", t.from));
                continue;
            };
            for (name, q) in &t.limits {
                if *q <= 0 {
                    problems.push(format!("tables[{i}] ({}): {name} must be > 0", t.from));
                }
            }
            if let Some(prev) = tables.last() {
                if prev.from >= from {
                    problems.push(format!(
                        "tables[{i}] ({}): not after the table before it",
                        t.from
                    ));
                }
            }
            tables.push(FreezeTable {
                from,
                circular: t.circular,
                limits: t.limits,
            });
        }
        if tables.is_empty() && problems.is_empty() {
            problems.push("no tables".into());
        }
        if !problems.is_empty() {
            return Err(fail(problems));
        }
        Ok(FreezeSchedule {
            accept_equal: raw.accept_equal,
            tables,
        })
    }

    /// The table in force on `d` (None before the first).
    pub fn table_for(&self, d: Date) -> Option<&FreezeTable> {
        self.tables.iter().rev().find(|t| t.from <= d)
    }

    /// The most units one order in `inst` may carry on `d`: the largest lot multiple within
    /// the limit (NIFTY 1800 at lot 65 is 1755). None: no limit known for it.
    pub fn max_order_qty(&self, inst: &Instrument, d: Date) -> Option<i64> {
        if !inst.is_derivative() {
            return None;
        }
        let limit = *self.table_for(d)?.limits.get(inst.name.as_str())?;
        let cap = if self.accept_equal { limit } else { limit - 1 };
        let lot = inst.lot_size.max(1) as i64;
        Some((cap / lot * lot).max(lot))
    }
}

/// Splits a quantity into child orders of at most `max` units each, all lot multiples
/// (largest first), so an order above the freeze limit goes out as slices the exchange takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FreezeQtySlicer {
    left: i64,
    max: i64,
}

impl FreezeQtySlicer {
    /// `max` is `max_order_qty` (None: one slice of everything).
    pub fn new(qty: i64, max: Option<i64>) -> FreezeQtySlicer {
        FreezeQtySlicer {
            left: qty.max(0),
            max: max.unwrap_or(i64::MAX).max(1),
        }
    }
    pub fn slices(qty: i64, max: Option<i64>) -> usize {
        let m = max.unwrap_or(i64::MAX).max(1);
        if qty <= 0 {
            0
        } else {
            ((qty - 1) / m + 1) as usize
        }
    }
}

impl Iterator for FreezeQtySlicer {
    type Item = i64;
    fn next(&mut self) -> Option<i64> {
        if self.left <= 0 {
            return None;
        }
        let q = self.left.min(self.max);
        self.left -= q;
        Some(q)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{InstrumentMaster, INSTRUMENTS_HEADER};

    fn fut(name: &str, lot: u32) -> Instrument {
        let csv = format!(
            "{INSTRUMENTS_HEADER}\n1,1,{name}26DECFUT,{name},25000,2026-12-29,0,0.1,{lot},FUT,NFO-FUT,NFO\n"
        );
        *InstrumentMaster::parse_csv(&csv, "t").unwrap().by_index(0)
    }

    #[test]
    fn shipped_file_has_the_aug_2026_limits() {
        let s = FreezeSchedule::shipped();
        let d = Date::parse("2026-08-03").unwrap();
        let t = s.table_for(d).unwrap();
        assert_eq!(t.circular, "NSE/FAOP/75521 (2026-07-31)");
        let want = [
            ("NIFTY", 1800),
            ("BANKNIFTY", 600),
            ("FINNIFTY", 1800),
            ("MIDCPNIFTY", 2800),
            ("NIFTYNXT50", 600),
        ];
        for (n, q) in want {
            assert_eq!(t.limits[n], q, "{n}");
        }
        // April 2026: BANKNIFTY was 900.
        let apr = s.table_for(Date::parse("2026-04-15").unwrap()).unwrap();
        assert_eq!(apr.limits["BANKNIFTY"], 900);
        assert!(s.table_for(Date::parse("2025-07-31").unwrap()).is_none());
    }

    #[test]
    fn max_order_is_the_largest_lot_multiple_within_the_limit() {
        let s = FreezeSchedule::shipped();
        let d = Date::parse("2026-12-01").unwrap();
        assert_eq!(s.max_order_qty(&fut("NIFTY", 65), d), Some(1755));
        assert_eq!(s.max_order_qty(&fut("BANKNIFTY", 30), d), Some(600));
        let strict = FreezeSchedule {
            accept_equal: false,
            ..s.clone()
        };
        assert_eq!(strict.max_order_qty(&fut("BANKNIFTY", 30), d), Some(570));
        assert_eq!(s.max_order_qty(&fut("RELIANCE", 500), d), None);
    }

    #[test]
    fn slicer_cuts_lot_multiples_and_sums_to_the_order() {
        let v: Vec<i64> = FreezeQtySlicer::new(3900, Some(1755)).collect();
        assert_eq!(v, vec![1755, 1755, 390]);
        assert_eq!(FreezeQtySlicer::slices(3900, Some(1755)), 3);
        assert_eq!(FreezeQtySlicer::new(65, None).collect::<Vec<_>>(), vec![65]);
        assert_eq!(FreezeQtySlicer::slices(0, Some(10)), 0);
    }

    #[test]
    fn bad_files_list_every_problem() {
        let e = FreezeSchedule::parse(
            "accept_equal: true\ntables:\n  - {from: 2026-13-01, circular: x, limits: {NIFTY: 1}}\n  - {from: 2026-01-01, circular: y, limits: {NIFTY: 0}}\n  - {from: 2025-01-01, circular: z, limits: {}}\n",
            "f.yaml",
        )
        .unwrap_err();
        assert_eq!(e.problems.len(), 3, "{e}");
        assert!(FreezeSchedule::parse("accept_equal: true\ntables: []\n", "f").is_err());
        assert!(FreezeSchedule::parse("tables: []\nbogus: 1\n", "f").is_err());
    }
}
