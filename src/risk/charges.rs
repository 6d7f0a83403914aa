//! Indian charges on intraday trades, from the dated rate tables of `configs/charges.yaml`.
//!
//! Zerodha's contract-note conventions (india-market-facts.md §1): brokerage per executed
//! order (one order id however many trades fill it), STT on the sell side rounded to the
//! rupee, every other line to the paisa, GST 18% on brokerage, exchange transaction charge
//! and SEBI fee (never on STT or stamp duty), stamp duty on the buy side. A round trip is
//! charged by the table in force on its trade date. Rates are held as parts per 10^9 of
//! turnover and money as integer paise, so every figure is reproducible from the fills.

use crate::domain::{Date, InstrumentType, Paise, Price, Qty, Side};
use serde::Deserialize;
use std::path::Path;

/// Parts per 10^9: 0.00307% is 30_700.
const NANO: i128 = 1_000_000_000;

/// Which column of the rate table a trade uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ChargeSegment {
    /// Equity intraday (MIS).
    Intraday,
    Futures,
    /// Options: every rate on premium turnover.
    Options,
}

impl ChargeSegment {
    pub const ALL: [ChargeSegment; 3] = [
        ChargeSegment::Intraday,
        ChargeSegment::Futures,
        ChargeSegment::Options,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            ChargeSegment::Intraday => "intraday",
            ChargeSegment::Futures => "futures",
            ChargeSegment::Options => "options",
        }
    }
    pub fn parse(s: &str) -> Option<ChargeSegment> {
        ChargeSegment::ALL.into_iter().find(|c| c.as_str() == s)
    }
    /// The column an instrument's trades are charged from (indices are never traded).
    pub fn of(t: InstrumentType) -> ChargeSegment {
        match t {
            InstrumentType::Future => ChargeSegment::Futures,
            InstrumentType::Call | InstrumentType::Put => ChargeSegment::Options,
            InstrumentType::Equity | InstrumentType::Index => ChargeSegment::Intraday,
        }
    }
    fn index(self) -> usize {
        self as usize
    }
}

/// One segment's rates in one period.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentRates {
    /// Brokerage per executed order: `flat` paise, or `pct` of the order's value capped at `max`.
    pub brokerage: Brokerage,
    pub stt_sell: i64,
    /// NSE transaction charge including IPFT, each side.
    pub exchange_txn: i64,
    /// SEBI turnover fee, each side.
    pub sebi_fee: i64,
    pub stamp_buy: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Brokerage {
    Flat { paise: i64 },
    PctCapped { rate: i64, max_paise: i64 },
}

impl Brokerage {
    /// Brokerage of one executed order of `value` (native units x qty, over `divisor`).
    fn of_order(self, value: i128, divisor: i64) -> i64 {
        match self {
            Brokerage::Flat { paise } => paise,
            Brokerage::PctCapped { rate, max_paise } => {
                paise_of(value, divisor, rate, Rounding::Paisa).min(max_paise)
            }
        }
    }
}

/// How the SEBI fee's own GST is shown: in the GST line (contract notes today) or inside the
/// SEBI line (the 2021-23 calculator). The total is the same to the paisa either way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SebiGstShown {
    InGstLine,
    InSebiLine,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Rounding {
    Paisa,
    Rupee,
}

/// The rates in force from `from` to `to` (inclusive; `None`: until a later table says).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChargeTable {
    pub from: Date,
    pub to: Option<Date>,
    pub gst: i64,
    pub sebi_gst_shown: SebiGstShown,
    pub rates: [SegmentRates; 3],
}

impl ChargeTable {
    pub fn rates(&self, seg: ChargeSegment) -> &SegmentRates {
        &self.rates[seg.index()]
    }
    fn covers(&self, d: Date) -> bool {
        d >= self.from && self.to.is_none_or(|to| d <= to)
    }
}

/// Every dated table, oldest first, without gaps or overlaps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChargeSchedule {
    pub tables: Vec<ChargeTable>,
    stamp_rounding: Rounding,
}

/// Each line of a trade's charges, in paise.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Charges {
    pub brokerage: Paise,
    pub stt: Paise,
    pub exchange_txn: Paise,
    pub sebi_fee: Paise,
    pub stamp_duty: Paise,
    pub gst: Paise,
}

impl Charges {
    pub fn total(&self) -> Paise {
        Paise(
            self.brokerage.0
                + self.stt.0
                + self.exchange_txn.0
                + self.sebi_fee.0
                + self.stamp_duty.0
                + self.gst.0,
        )
    }
    pub fn add(&mut self, o: &Charges) {
        self.add_signed(o, 1);
    }
    pub fn sub(&mut self, o: &Charges) {
        self.add_signed(o, -1);
    }
    fn add_signed(&mut self, o: &Charges, sign: i64) {
        self.brokerage.0 += sign * o.brokerage.0;
        self.stt.0 += sign * o.stt.0;
        self.exchange_txn.0 += sign * o.exchange_txn.0;
        self.sebi_fee.0 += sign * o.sebi_fee.0;
        self.stamp_duty.0 += sign * o.stamp_duty.0;
        self.gst.0 += sign * o.gst.0;
    }
    /// The lines in the order `aitrapp charges` and the trade export print them.
    pub fn lines(&self) -> [(&'static str, Paise); 6] {
        [
            ("brokerage", self.brokerage),
            ("stt", self.stt),
            ("exchange_txn", self.exchange_txn),
            ("sebi_fee", self.sebi_fee),
            ("stamp_duty", self.stamp_duty),
            ("gst", self.gst),
        ]
    }
}

/// `value` native-units x qty over `divisor`, times `rate` parts per 10^9, in paise, half up.
fn paise_of(value: i128, divisor: i64, rate: i64, r: Rounding) -> i64 {
    let num = value * 100 * rate as i128;
    let den = divisor.max(1) as i128 * NANO;
    let unit = match r {
        Rounding::Paisa => 1,
        Rounding::Rupee => 100,
    };
    let den = den * unit;
    ((num + den / 2).div_euclid(den) * unit) as i64
}

/// The turnover of one round trip so far, and the brokerage of its executed orders: what its
/// charges are computed from. One per position; Copy, no allocation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TripCosts {
    /// Native units x qty.
    pub buy_value: i128,
    pub sell_value: i128,
    pub brokerage: i64,
    /// The table's date (the trip's first fill), 0 until then.
    pub date: Date,
}

impl TripCosts {
    /// A fill of `qty` at `price` on an order that had `order_value_before` (native x qty)
    /// filled already: turnover grows, and the order's brokerage moves to that of its new
    /// value (so an order filled in many trades pays once, capped once).
    #[allow(clippy::too_many_arguments)]
    pub fn on_fill(
        &mut self,
        table: &ChargeTable,
        seg: ChargeSegment,
        side: Side,
        qty: Qty,
        price: Price,
        order_value_before: i128,
        divisor: i64,
        date: Date,
    ) {
        if self.date.0 == 0 {
            self.date = date;
        }
        let value = price.0 as i128 * qty.0 as i128;
        match side {
            Side::Buy => self.buy_value += value,
            Side::Sell => self.sell_value += value,
        }
        let b = table.rates(seg).brokerage;
        let before = if order_value_before == 0 {
            0
        } else {
            b.of_order(order_value_before, divisor)
        };
        self.brokerage += b.of_order(order_value_before + value, divisor) - before;
    }

    /// The trip's charges by `table`'s rates.
    pub fn charges(
        &self,
        sched: &ChargeSchedule,
        table: &ChargeTable,
        seg: ChargeSegment,
        divisor: i64,
    ) -> Charges {
        let r = table.rates(seg);
        let turnover = self.buy_value + self.sell_value;
        if turnover == 0 {
            return Charges::default();
        }
        let brokerage = self.brokerage;
        let stt = paise_of(self.sell_value, divisor, r.stt_sell, Rounding::Rupee);
        let exchange_txn = paise_of(turnover, divisor, r.exchange_txn, Rounding::Paisa);
        let sebi = paise_of(turnover, divisor, r.sebi_fee, Rounding::Paisa);
        let stamp = paise_of(self.buy_value, divisor, r.stamp_buy, sched.stamp_rounding);
        let gst_rate = table.gst as i128;
        let gst_of = |p: i64| ((p as i128 * gst_rate + NANO / 2) / NANO) as i64;
        let (gst, sebi_fee) = match table.sebi_gst_shown {
            SebiGstShown::InGstLine => (gst_of(brokerage + exchange_txn + sebi), sebi),
            // The SEBI fee with its GST, then GST on the rest (the 2021-23 calculator).
            SebiGstShown::InSebiLine => {
                let sebi_exact = turnover * 100 * r.sebi_fee as i128 * (NANO + gst_rate);
                let den = divisor.max(1) as i128 * NANO * NANO;
                (
                    gst_of(brokerage + exchange_txn),
                    ((sebi_exact + den / 2) / den) as i64,
                )
            }
        };
        Charges {
            brokerage: Paise(brokerage),
            stt: Paise(stt),
            exchange_txn: Paise(exchange_txn),
            sebi_fee: Paise(sebi_fee),
            stamp_duty: Paise(stamp),
            gst: Paise(gst),
        }
    }
}

/// What `aitrapp charges` prints: one round trip of `qty` bought and sold, prices in paise.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RoundTrip {
    pub charges: Charges,
    pub gross_pnl: Paise,
    pub net_pnl: Paise,
    /// Total charges per unit, in paise (rounded half up to the paisa).
    pub points_to_breakeven: Paise,
}

impl ChargeSchedule {
    /// The tables of the shipped configs/charges.yaml, built in: what the risk stage charges
    /// by until the configured file is handed to it.
    pub fn shipped() -> ChargeSchedule {
        ChargeSchedule::parse(
            include_str!("../../configs/charges.yaml"),
            "configs/charges.yaml (built in)",
        )
        .expect("the shipped charges table parses (its tests say so)")
    }

    /// The table in force on `d`, or the oldest for a date before every table (a replay of
    /// an old recording: charged, and by the closest rates there are).
    pub fn table_or_oldest(&self, d: Date) -> &ChargeTable {
        self.table_for(d).unwrap_or(&self.tables[0])
    }

    /// The table in force on `d`.
    pub fn table_for(&self, d: Date) -> Option<&ChargeTable> {
        self.tables.iter().find(|t| t.covers(d))
    }

    /// A round trip as the broker's calculator charges it: one buy order and one sell order.
    pub fn round_trip(
        &self,
        seg: ChargeSegment,
        buy: Price,
        sell: Price,
        qty: Qty,
        date: Date,
    ) -> Option<RoundTrip> {
        let table = self.table_for(date)?;
        let mut trip = TripCosts::default();
        trip.on_fill(table, seg, Side::Buy, qty, buy, 0, 100, date);
        trip.on_fill(table, seg, Side::Sell, qty, sell, 0, 100, date);
        let charges = trip.charges(self, table, seg, 100);
        let gross = Paise((sell.0 - buy.0) * qty.0);
        let total = charges.total().0;
        Some(RoundTrip {
            charges,
            gross_pnl: gross,
            net_pnl: Paise(gross.0 - total),
            points_to_breakeven: Paise(if qty.0 > 0 {
                (total + qty.0 / 2) / qty.0
            } else {
                0
            }),
        })
    }

    pub fn load(path: &Path) -> Result<ChargeSchedule, ChargesError> {
        let (text, file) = ChargesError::read(path)?;
        ChargeSchedule::parse(&text, &file)
    }

    /// Parses and checks a charges file: every problem (bad rate, missing segment, overlap,
    /// gap) is listed, not just the first.
    pub fn parse(text: &str, file: &str) -> Result<ChargeSchedule, ChargesError> {
        let fail = |problems| ChargesError {
            file: file.to_string(),
            problems,
        };
        let raw: RawFile = serde_yaml_ng::from_str(text).map_err(|e| fail(vec![e.to_string()]))?;
        let mut problems = Vec::new();
        let stamp_rounding = match raw.stamp_rounding.as_deref().unwrap_or("paisa") {
            "paisa" => Rounding::Paisa,
            "rupee" => Rounding::Rupee,
            other => {
                problems.push(format!(
                    "stamp_rounding: must be paisa or rupee (got `{other}`)"
                ));
                Rounding::Paisa
            }
        };
        let mut tables = Vec::new();
        if raw.tables.is_empty() {
            problems.push("tables: no rate table".into());
        }
        for (i, t) in raw.tables.iter().enumerate() {
            let at = format!("tables[{i}] (from {})", t.from);
            let Some(from) = Date::parse(&t.from) else {
                problems.push(format!("{at}: from: not a yyyy-mm-dd date"));
                continue;
            };
            let to = match t.to.as_deref() {
                None => None,
                Some(s) => match Date::parse(s) {
                    Some(d) if d >= from => Some(d),
                    Some(_) => {
                        problems.push(format!("{at}: to {s} is before from"));
                        None
                    }
                    None => {
                        problems.push(format!("{at}: to: not a yyyy-mm-dd date (got `{s}`)"));
                        None
                    }
                },
            };
            let gst = rate(t.gst_pct, &format!("{at}: gst_pct"), &mut problems);
            let sebi_gst_shown = match t.sebi_gst_shown.as_deref().unwrap_or("gst_line") {
                "gst_line" => SebiGstShown::InGstLine,
                "sebi_line" => SebiGstShown::InSebiLine,
                other => {
                    problems.push(format!(
                        "{at}: sebi_gst_shown: must be gst_line or sebi_line (got `{other}`)"
                    ));
                    SebiGstShown::InGstLine
                }
            };
            let mut rates = [None; 3];
            for seg in ChargeSegment::ALL {
                let raw_seg = match seg {
                    ChargeSegment::Intraday => &t.intraday,
                    ChargeSegment::Futures => &t.futures,
                    ChargeSegment::Options => &t.options,
                };
                match raw_seg {
                    None => problems.push(format!("{at}: missing segment `{}`", seg.as_str())),
                    Some(s) => {
                        rates[seg.index()] =
                            s.check(&format!("{at}.{}", seg.as_str()), &mut problems)
                    }
                }
            }
            if let [Some(a), Some(b), Some(c)] = rates {
                tables.push(ChargeTable {
                    from,
                    to,
                    gst,
                    sebi_gst_shown,
                    rates: [a, b, c],
                });
            }
        }
        tables.sort_by_key(|t| t.from);
        for w in tables.windows(2) {
            let (a, b) = (&w[0], &w[1]);
            match a.to {
                None => problems.push(format!(
                    "table from {} has no `to` but the table from {} follows it",
                    a.from, b.from
                )),
                Some(to) if b.from <= to => problems.push(format!(
                    "tables overlap: {}..{} and the table from {}",
                    a.from, to, b.from
                )),
                Some(to) if next_day(to) != b.from => problems.push(format!(
                    "gap: no table covers {} to the day before {}",
                    next_day(to),
                    b.from
                )),
                Some(_) => {}
            }
        }
        if let Some(last) = tables.last() {
            if let Some(to) = last.to {
                problems.push(format!(
                    "the last table (from {}) ends {to}: leave its `to` out so today's fills are charged",
                    last.from
                ));
            }
        }
        if problems.is_empty() {
            Ok(ChargeSchedule {
                tables,
                stamp_rounding,
            })
        } else {
            Err(fail(problems))
        }
    }
}

fn next_day(d: Date) -> Date {
    let (y, m, dd) = d.ymd();
    let (y, m, dd) = crate::clock::civil_from_days(crate::clock::days_from_civil(y, m, dd) + 1);
    Date(y as u32 * 10000 + m * 100 + dd)
}

/// A percent (0.00307) as parts per 10^9 (30_700), refused when negative or finer than that.
fn rate(pct: Option<f64>, at: &str, problems: &mut Vec<String>) -> i64 {
    let Some(pct) = pct else {
        problems.push(format!("{at}: missing"));
        return 0;
    };
    let nano = pct * 1e7;
    if !nano.is_finite() || nano < 0.0 || (nano - nano.round()).abs() > 1e-6 || pct > 100.0 {
        problems.push(format!(
            "{at}: must be a percent from 0 to 100 with at most 7 decimals (got {pct})"
        ));
        return 0;
    }
    nano.round() as i64
}

/// Rupees (20, or 10 per crore) as paise, refused when negative or finer than a paisa.
fn rupees_to_paise(r: Option<f64>, at: &str, problems: &mut Vec<String>) -> i64 {
    let Some(r) = r else {
        problems.push(format!("{at}: missing"));
        return 0;
    };
    let p = r * 100.0;
    if !p.is_finite() || p < 0.0 || (p - p.round()).abs() > 1e-6 {
        problems.push(format!(
            "{at}: must be rupees, at most 2 decimals (got {r})"
        ));
        return 0;
    }
    p.round() as i64
}

/// A charges file that does not parse, with every problem in it.
pub type ChargesError = crate::domain::FileProblems;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    stamp_rounding: Option<String>,
    #[serde(default)]
    tables: Vec<RawTable>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTable {
    from: String,
    to: Option<String>,
    gst_pct: Option<f64>,
    sebi_gst_shown: Option<String>,
    intraday: Option<RawSegment>,
    futures: Option<RawSegment>,
    options: Option<RawSegment>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSegment {
    brokerage_pct: Option<f64>,
    brokerage_max: Option<f64>,
    brokerage_flat: Option<f64>,
    stt_sell_pct: Option<f64>,
    exchange_txn_pct: Option<f64>,
    sebi_per_crore: Option<f64>,
    stamp_buy_pct: Option<f64>,
}

impl RawSegment {
    fn check(&self, at: &str, problems: &mut Vec<String>) -> Option<SegmentRates> {
        let before = problems.len();
        let brokerage = match (self.brokerage_flat, self.brokerage_pct, self.brokerage_max) {
            (Some(_), None, None) => Brokerage::Flat {
                paise: rupees_to_paise(
                    self.brokerage_flat,
                    &format!("{at}.brokerage_flat"),
                    problems,
                ),
            },
            (None, Some(_), Some(_)) => Brokerage::PctCapped {
                rate: rate(self.brokerage_pct, &format!("{at}.brokerage_pct"), problems),
                max_paise: rupees_to_paise(
                    self.brokerage_max,
                    &format!("{at}.brokerage_max"),
                    problems,
                ),
            },
            _ => {
                problems.push(format!(
                    "{at}: brokerage needs brokerage_flat, or brokerage_pct with brokerage_max"
                ));
                Brokerage::Flat { paise: 0 }
            }
        };
        // SEBI: rupees per crore of turnover; 1 crore = 10^9 paise, so paise per 10^9 paise.
        let sebi_fee = rupees_to_paise(
            self.sebi_per_crore,
            &format!("{at}.sebi_per_crore"),
            problems,
        );
        let r = SegmentRates {
            brokerage,
            stt_sell: rate(self.stt_sell_pct, &format!("{at}.stt_sell_pct"), problems),
            exchange_txn: rate(
                self.exchange_txn_pct,
                &format!("{at}.exchange_txn_pct"),
                problems,
            ),
            sebi_fee,
            stamp_buy: rate(self.stamp_buy_pct, &format!("{at}.stamp_buy_pct"), problems),
        };
        (problems.len() == before).then_some(r)
    }
}

#[cfg(test)]
mod tests;
