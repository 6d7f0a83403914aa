//! The contract listing for a session date, which the synthetic market and kite-sim trade. A
//! static instruments file goes stale the day its options expire, so for PAPER the index futures
//! and option chains are listed the way NSE lists them (india-market-facts.md §3): NIFTY
//! weekly every Tuesday, BANKNIFTY monthly on the last Tuesday, each moved to the previous
//! trading day on a holiday; monthly futures on the last Tuesday. Expired derivatives in the
//! file are dropped. Symbols follow Kite's formats (`NIFTY26D0826000CE` weekly,
//! `BANKNIFTY26DEC59000CE` monthly, `NIFTY26DECFUT`).

use crate::clock::{civil_from_days, days_from_civil, weekday, SessionCalendar};
use crate::domain::{
    Date, Instrument, InstrumentMaster, InstrumentType, Price, Segment, Symbol, Token,
};

/// How one index's contracts are listed.
#[derive(Clone, Copy, Debug)]
pub struct ChainSpec {
    /// The index's Kite name (`NIFTY 50`) and its derivatives' `name` (`NIFTY`).
    pub index: &'static str,
    pub underlying: &'static str,
    pub strike_step: i64,
    /// Lot size from 2025-10-28 (india-market-facts.md §3.1).
    pub lot: u32,
    pub weekly: bool,
}

/// NSE's two index chains the ranker trades by default.
pub const CHAINS: [ChainSpec; 2] = [
    ChainSpec {
        index: "NIFTY 50",
        underlying: "NIFTY",
        strike_step: 50,
        lot: 65,
        weekly: true,
    },
    ChainSpec {
        index: "NIFTY BANK",
        underlying: "BANKNIFTY",
        strike_step: 100,
        lot: 30,
        weekly: false,
    },
];

fn date_from_days(days: i64) -> Date {
    let (y, m, d) = civil_from_days(days);
    Date(y as u32 * 10000 + m * 100 + d)
}

fn days(date: Date) -> i64 {
    let (y, m, d) = date.ymd();
    days_from_civil(y, m, d)
}

/// Moves an expiry that falls on a holiday or weekend back to the previous trading day.
fn previous_trading_day(mut d: Date, cal: &SessionCalendar) -> Date {
    for _ in 0..10 {
        if cal.is_trading_day(d) {
            break;
        }
        d = date_from_days(days(d) - 1);
    }
    d
}

/// The last Tuesday of a month, holiday-adjusted.
fn monthly_expiry(y: i32, m: u32, cal: &SessionCalendar) -> Date {
    let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    let mut d = days_from_civil(ny, nm, 1) - 1;
    while weekday(date_from_days(d)) != 1 {
        d -= 1;
    }
    previous_trading_day(date_from_days(d), cal)
}

/// The next `n` monthly expiries on or after `from`.
pub fn monthly_expiries(from: Date, n: usize, cal: &SessionCalendar) -> Vec<Date> {
    let (mut y, mut m, _) = from.ymd();
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let e = monthly_expiry(y, m, cal);
        if e >= from {
            out.push(e);
        }
        (y, m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    }
    out
}

/// The next `n` weekly (Tuesday) expiries on or after `from`.
pub fn weekly_expiries(from: Date, n: usize, cal: &SessionCalendar) -> Vec<Date> {
    let mut d = days(from);
    while weekday(date_from_days(d)) != 1 {
        d += 1;
    }
    let mut out = Vec::with_capacity(n);
    // A holiday-moved expiry can land before `from`: look back one week as well.
    let mut tuesday = d - 7;
    while out.len() < n {
        let e = previous_trading_day(date_from_days(tuesday), cal);
        if e >= from && !out.contains(&e) {
            out.push(e);
        }
        tuesday += 7;
    }
    out
}

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];

/// Kite's option symbol: monthly `NAMEYYMONSTRIKECE`, weekly `NAMEYYMDDSTRIKECE` with the
/// month as 1-9, O, N, D.
fn option_symbol(name: &str, expiry: Date, monthly: bool, strike: i64, call: bool) -> String {
    let (y, m, d) = expiry.ymd();
    let kind = if call { "CE" } else { "PE" };
    if monthly {
        format!(
            "{name}{:02}{}{strike}{kind}",
            y % 100,
            MONTHS[m as usize - 1]
        )
    } else {
        let mc = match m {
            10 => 'O',
            11 => 'N',
            12 => 'D',
            _ => char::from(b'0' + m as u8),
        };
        format!("{name}{:02}{mc}{d:02}{strike}{kind}", y % 100)
    }
}

fn future_symbol(name: &str, expiry: Date) -> String {
    let (y, m, _) = expiry.ymd();
    format!("{name}{:02}{}FUT", y % 100, MONTHS[m as usize - 1])
}

/// The file's instruments on `date` with expired derivatives dropped and, for each index in
/// `CHAINS` present in the file, a live monthly future and `expiries` × (2 × `strikes_from_atm`
/// + 1) × CE/PE options centred on the index's reference price.
pub fn list_contracts(
    file: &InstrumentMaster,
    date: Date,
    cal: &SessionCalendar,
    expiries: usize,
    strikes_from_atm: u32,
) -> InstrumentMaster {
    let mut list: Vec<Instrument> = file
        .iter()
        .filter(|i| !i.is_derivative() || i.expiry.is_some_and(|e| e >= date))
        .copied()
        .collect();
    // Exchange tokens far above the file's; segment 2 (NFO) in the low byte as Kite does.
    let mut next_exchange_token = 900_000u32;
    let mut token = || {
        next_exchange_token += 1;
        (next_exchange_token, Token((next_exchange_token << 8) | 2))
    };
    for spec in CHAINS {
        let Some(index) = file
            .iter()
            .find(|i| {
                i.instrument_type == InstrumentType::Index && i.tradingsymbol.as_str() == spec.index
            })
            .copied()
        else {
            continue;
        };
        let spot_paise = index.last_price.0;
        if spot_paise <= 0 {
            continue;
        }
        let month = monthly_expiries(date, 1, cal)[0];
        let has_future = list.iter().any(|i| {
            i.instrument_type == InstrumentType::Future
                && i.name.as_str() == spec.underlying
                && i.expiry == Some(month)
        });
        let base =
            |tradingsymbol: &str, kind, expiry, strike: i64, tick: i64, tok: (u32, Token)| {
                Instrument {
                    token: tok.1,
                    exchange_token: tok.0,
                    tradingsymbol: Symbol::new(tradingsymbol),
                    name: Symbol::new(spec.underlying),
                    expiry: Some(expiry),
                    strike: Price(strike),
                    tick_size: Price(tick),
                    lot_size: spec.lot,
                    last_price: Price(0),
                    instrument_type: kind,
                    segment: Segment::NseFo,
                    segment_name: Symbol::new(if kind == InstrumentType::Future {
                        "NFO-FUT"
                    } else {
                        "NFO-OPT"
                    }),
                    exchange: Symbol::new("NFO"),
                }
            };
        if !has_future {
            // Index futures tick by index level (kite-protocol.md: >30000 is 0.20).
            let tick = if spot_paise > 3_000_000 { 20 } else { 10 };
            let mut fut = base(
                &future_symbol(spec.underlying, month),
                InstrumentType::Future,
                month,
                0,
                tick,
                token(),
            );
            fut.last_price = index.last_price;
            list.push(fut);
        }
        let chain_expiries = if spec.weekly {
            weekly_expiries(date, expiries, cal)
        } else {
            monthly_expiries(date, expiries, cal)
        };
        let step = spec.strike_step * 100;
        let atm = (spot_paise + step / 2) / step * step;
        let monthlies = monthly_expiries(date, expiries + 2, cal);
        for expiry in chain_expiries {
            let monthly = !spec.weekly || monthlies.contains(&expiry);
            for k in -(strikes_from_atm as i64)..=strikes_from_atm as i64 {
                let strike = atm + k * step;
                for (call, kind) in [(true, InstrumentType::Call), (false, InstrumentType::Put)] {
                    let sym = option_symbol(spec.underlying, expiry, monthly, strike / 100, call);
                    list.push(base(&sym, kind, expiry, strike, 5, token()));
                }
            }
        }
    }
    InstrumentMaster::from_instruments(list)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cal(holidays: &[u32]) -> SessionCalendar {
        SessionCalendar {
            holidays: holidays.iter().map(|&d| Date(d)).collect(),
            ..SessionCalendar::nse_hours()
        }
    }

    #[test]
    fn expiries_fall_on_tuesdays_and_move_back_for_holidays() {
        let c = cal(&[20260331]);
        // March 2026: the monthly moved from Tue 03-31 to Mon 03-30 (FAOP71876).
        assert_eq!(
            monthly_expiries(Date(20260301), 2, &c),
            vec![Date(20260330), Date(20260428)]
        );
        assert_eq!(
            monthly_expiries(Date(20261202), 2, &c),
            vec![Date(20261229), Date(20270126)]
        );
        assert_eq!(
            weekly_expiries(Date(20261202), 3, &c),
            vec![Date(20261208), Date(20261215), Date(20261222)]
        );
        // On an expiry day the day's own expiry is listed first.
        assert_eq!(weekly_expiries(Date(20261208), 1, &c), vec![Date(20261208)]);
        // A Monday before a Tuesday holiday is that week's expiry.
        assert_eq!(
            weekly_expiries(Date(20260330), 2, &c),
            vec![Date(20260330), Date(20260407)]
        );
    }

    #[test]
    fn symbols_follow_kite() {
        assert_eq!(
            option_symbol("NIFTY", Date(20261208), false, 26000, true),
            "NIFTY26D0826000CE"
        );
        assert_eq!(
            option_symbol("NIFTY", Date(20260505), false, 24500, false),
            "NIFTY2650524500PE"
        );
        assert_eq!(
            option_symbol("BANKNIFTY", Date(20261229), true, 59000, true),
            "BANKNIFTY26DEC59000CE"
        );
        assert_eq!(future_symbol("NIFTY", Date(20261229)), "NIFTY26DECFUT");
    }

    #[test]
    fn lists_two_chains_of_21_strikes_and_drops_expired() {
        let file = InstrumentMaster::load(std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/configs/instruments.csv"
        )))
        .unwrap();
        let m = list_contracts(&file, Date(20261202), &cal(&[]), 2, 10);
        let opts = |name: &str| {
            m.iter()
                .filter(|i| i.instrument_type.is_option() && i.name.as_str() == name)
                .count()
        };
        assert_eq!(opts("NIFTY"), 2 * 21 * 2);
        assert_eq!(opts("BANKNIFTY"), 2 * 21 * 2);
        assert!(m
            .iter()
            .all(|i| !i.is_derivative() || i.expiry.unwrap() >= Date(20261202)));
        let nifty_atm = m
            .iter()
            .find(|i| i.tradingsymbol.as_str() == "NIFTY26D0826000CE")
            .unwrap();
        assert_eq!((nifty_atm.lot_size, nifty_atm.strike.0), (65, 2_600_000));
        // One December future each, the file's own.
        let futs: Vec<_> = m
            .iter()
            .filter(|i| i.instrument_type == InstrumentType::Future)
            .collect();
        assert_eq!(futs.len(), 2);
        // The simulator serves it as a Kite dump: it reads back the same.
        let again = InstrumentMaster::parse_csv(&m.to_csv(), "dump").unwrap();
        assert!(m.iter().zip(again.iter()).all(|(a, b)| a == b) && again.len() == m.len());
        // Tokens carry their segment and exchange token as Kite's do, and are unique.
        for i in m.iter() {
            assert_eq!(i.token.0 & 0xFF, i.segment.id() as u32);
            assert_eq!(i.token.0 >> 8, i.exchange_token);
        }
        let mut tokens: Vec<u32> = m.iter().map(|i| i.token.0).collect();
        tokens.sort_unstable();
        tokens.dedup();
        assert_eq!(tokens.len(), m.len());
    }
}
