//! IST session calendar and time arithmetic. Exchange timestamps are epoch seconds; India has
//! no daylight saving, so IST is a fixed +05:30 and needs no tz database.

pub mod phase;
pub use phase::SessionPhase;

use crate::domain::Date;
use std::collections::BTreeSet;
use std::time::{SystemTime, UNIX_EPOCH};

pub const IST_OFFSET_SECS: i64 = 5 * 3600 + 30 * 60;

/// Seconds since IST midnight.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct TimeOfDay(pub u32);

impl TimeOfDay {
    pub const fn hm(h: u32, m: u32) -> TimeOfDay {
        TimeOfDay(h * 3600 + m * 60)
    }
    /// Parses "HH:MM" or "HH:MM:SS".
    pub fn parse(s: &str) -> Option<TimeOfDay> {
        let mut parts = s.trim().split(':');
        let h: u32 = parts.next()?.parse().ok()?;
        let m: u32 = parts.next()?.parse().ok()?;
        let sec: u32 = match parts.next() {
            Some(x) => x.parse().ok()?,
            None => 0,
        };
        if parts.next().is_some() || h > 23 || m > 59 || sec > 59 {
            return None;
        }
        Some(TimeOfDay(h * 3600 + m * 60 + sec))
    }
    pub fn add_minutes(self, m: u32) -> TimeOfDay {
        TimeOfDay(self.0 + m * 60)
    }
}

impl std::fmt::Display for TimeOfDay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:02}:{:02}:{:02}",
            self.0 / 3600,
            (self.0 / 60) % 60,
            self.0 % 60
        )
    }
}

/// Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
pub fn civil_from_days(z: i64) -> (i32, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    ((if m <= 2 { y + 1 } else { y }) as i32, m, d)
}

pub fn days_from_civil(y: i32, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y as i64 - 1 } else { y as i64 };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

pub fn ist_date(epoch_secs: i64) -> Date {
    let (y, m, d) = civil_from_days((epoch_secs + IST_OFFSET_SECS).div_euclid(86_400));
    Date(y as u32 * 10000 + m * 100 + d)
}

pub fn ist_time_of_day(epoch_secs: i64) -> TimeOfDay {
    TimeOfDay((epoch_secs + IST_OFFSET_SECS).rem_euclid(86_400) as u32)
}

/// Epoch seconds of an IST wall time on a date.
pub fn ist_epoch(date: Date, t: TimeOfDay) -> i64 {
    let (y, m, d) = date.ymd();
    days_from_civil(y, m, d) * 86_400 + t.0 as i64 - IST_OFFSET_SECS
}

/// 0 = Monday .. 6 = Sunday.
pub fn weekday(date: Date) -> u32 {
    let (y, m, d) = date.ymd();
    (days_from_civil(y, m, d) + 3).rem_euclid(7) as u32
}

/// Epoch seconds as Kite writes candle dates: `2026-11-25T09:15:00+0530`.
pub fn kite_time(epoch_secs: i64) -> String {
    let (y, m, d) = civil_from_days((epoch_secs + IST_OFFSET_SECS).div_euclid(86_400));
    let t = ist_time_of_day(epoch_secs);
    format!("{y:04}-{m:02}-{d:02}T{t}+0530")
}

/// Epoch seconds as Kite writes JSON datetimes: `2026-11-25 09:15:00` (IST, no zone).
pub fn kite_datetime(epoch_secs: i64) -> String {
    let (y, m, d) = civil_from_days((epoch_secs + IST_OFFSET_SECS).div_euclid(86_400));
    let t = ist_time_of_day(epoch_secs);
    format!("{y:04}-{m:02}-{d:02} {t}")
}

pub fn now_epoch() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

pub fn today_ist() -> Date {
    ist_date(now_epoch())
}

/// The NSE trading day's timetable.
#[derive(Clone, Debug)]
pub struct SessionCalendar {
    pub pre_open: TimeOfDay,
    pub open: TimeOfDay,
    pub close: TimeOfDay,
    /// The engine's square-off of equity (cash MIS) positions: before the broker's 15:20.
    pub squareoff: TimeOfDay,
    /// The engine's square-off of F&O positions: before the broker's 15:25.
    pub squareoff_fo: TimeOfDay,
    pub squareoff_enabled: bool,
    /// No new entries in this many minutes before the segment's square-off.
    pub no_entries_before_squareoff_min: u32,
    pub holidays: BTreeSet<Date>,
    /// The years the holiday file lists: a trading day outside them has unknown holidays.
    pub holiday_years: BTreeSet<i32>,
}

impl SessionCalendar {
    /// NSE's hours (pre-open 09:00, open 09:15, close 15:30) with square-off at 15:25 for
    /// every segment, no entry buffer and no holidays: for tools and tests.
    pub fn nse_hours() -> SessionCalendar {
        SessionCalendar {
            pre_open: TimeOfDay::hm(9, 0),
            open: TimeOfDay::hm(9, 15),
            close: TimeOfDay::hm(15, 30),
            squareoff: TimeOfDay::hm(15, 25),
            squareoff_fo: TimeOfDay::hm(15, 25),
            squareoff_enabled: true,
            no_entries_before_squareoff_min: 0,
            holidays: BTreeSet::new(),
            holiday_years: BTreeSet::new(),
        }
    }
    /// The square-off time of a segment (`fo`: futures and options).
    pub fn squareoff_for(&self, fo: bool) -> TimeOfDay {
        if fo {
            self.squareoff_fo
        } else {
            self.squareoff
        }
    }
    /// Whether the holiday file covers `date`'s year (a weekday outside it may be a holiday
    /// nobody listed).
    pub fn covers(&self, date: Date) -> bool {
        self.holiday_years.contains(&date.ymd().0)
    }
    pub fn is_trading_day(&self, date: Date) -> bool {
        weekday(date) < 5 && !self.holidays.contains(&date)
    }
    /// Continuous session: open <= t < close on a trading day.
    pub fn is_market_open(&self, epoch_secs: i64) -> bool {
        let t = ist_time_of_day(epoch_secs);
        self.is_trading_day(ist_date(epoch_secs)) && t >= self.open && t < self.close
    }
    /// New entries in a segment are allowed only in the continuous session and until
    /// `no_entries_before_squareoff_min` before its square-off.
    pub fn entries_allowed_for(&self, epoch_secs: i64, fo: bool) -> bool {
        let t = ist_time_of_day(epoch_secs);
        let last = TimeOfDay(
            self.squareoff_for(fo)
                .0
                .saturating_sub(self.no_entries_before_squareoff_min * 60),
        );
        self.is_market_open(epoch_secs) && !(self.squareoff_enabled && t >= last)
    }
    /// The `n` trading days before `today`, oldest first (fewer only for a calendar of
    /// nothing but holidays).
    pub fn previous_sessions(&self, today: Date, n: usize) -> Vec<Date> {
        let mut out = Vec::with_capacity(n);
        let (y, m, d) = today.ymd();
        let mut day = days_from_civil(y, m, d);
        for _ in 0..n * 7 + 30 {
            if out.len() == n {
                break;
            }
            day -= 1;
            let (y, m, d) = civil_from_days(day);
            let date = Date(y as u32 * 10000 + m * 100 + d);
            if self.is_trading_day(date) {
                out.push(date);
            }
        }
        out.reverse();
        out
    }
    /// Past the segment's square-off time on a trading day (positions there must close).
    pub fn is_squareoff_due_for(&self, epoch_secs: i64, fo: bool) -> bool {
        self.squareoff_enabled && ist_time_of_day(epoch_secs) >= self.squareoff_for(fo)
    }
}

/// Reads a holiday file: one yyyy-mm-dd per line, `#` comments and blank lines ignored.
pub fn parse_holidays(text: &str, file: &str) -> Result<BTreeSet<Date>, String> {
    let mut out = BTreeSet::new();
    for (i, line) in text.lines().enumerate() {
        let l = line.split('#').next().unwrap_or("").trim();
        if l.is_empty() {
            continue;
        }
        let date = Date::parse(l)
            .ok_or_else(|| format!("{file}: line {}: not a yyyy-mm-dd date: `{l}`", i + 1))?;
        out.insert(date);
    }
    Ok(out)
}

/// Monotonic nanoseconds since the first call in this process.
pub fn mono_ns() -> u64 {
    use std::sync::OnceLock;
    use std::time::Instant;
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_nanos() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixture_timestamp_is_ist_10_41_27() {
        // kite-protocol.md §1.8: 1625461887 = 2021-07-05 10:41:27 IST.
        assert_eq!(ist_date(1625461887), Date(20210705));
        assert_eq!(
            ist_time_of_day(1625461887),
            TimeOfDay(10 * 3600 + 41 * 60 + 27)
        );
        assert_eq!(
            ist_epoch(Date(20210705), TimeOfDay(10 * 3600 + 41 * 60 + 27)),
            1625461887
        );
    }

    #[test]
    fn weekdays_and_calendar() {
        assert_eq!(weekday(Date(20261125)), 2); // Wednesday
        assert_eq!(weekday(Date(20261201)), 1); // Tuesday
        let cal = SessionCalendar {
            holidays: parse_holidays("2026-11-24 # test\n", "h").unwrap(),
            ..SessionCalendar::nse_hours()
        };
        let d = Date(20261125);
        assert!(cal.is_market_open(ist_epoch(d, TimeOfDay::hm(9, 15))));
        assert!(!cal.is_market_open(ist_epoch(d, TimeOfDay::hm(9, 14))));
        assert!(cal.entries_allowed_for(ist_epoch(d, TimeOfDay::hm(15, 24)), false));
        assert!(!cal.entries_allowed_for(ist_epoch(d, TimeOfDay::hm(15, 25)), false));
        // Per segment, with a 10-minute buffer: equity 15:15 stops entries at 15:05, F&O
        // 15:20 at 15:10.
        let cal = SessionCalendar {
            squareoff: TimeOfDay::hm(15, 15),
            squareoff_fo: TimeOfDay::hm(15, 20),
            no_entries_before_squareoff_min: 10,
            ..cal
        };
        let at = |h, m| ist_epoch(d, TimeOfDay::hm(h, m));
        assert!(cal.entries_allowed_for(at(15, 4), false));
        assert!(!cal.entries_allowed_for(at(15, 5), false));
        assert!(cal.entries_allowed_for(at(15, 9), true));
        assert!(!cal.entries_allowed_for(at(15, 10), true));
        assert!(cal.is_squareoff_due_for(at(15, 15), false));
        assert!(!cal.is_squareoff_due_for(at(15, 15), true));
        assert!(cal.is_squareoff_due_for(at(15, 20), true));
        assert!(!cal.is_market_open(ist_epoch(Date(20261124), TimeOfDay::hm(10, 0))));
        assert!(!cal.is_market_open(ist_epoch(Date(20261128), TimeOfDay::hm(10, 0))));
    }

    #[test]
    fn kite_datetime_is_ist_without_zone() {
        assert_eq!(kite_datetime(1625461887), "2021-07-05 10:41:27");
    }

    #[test]
    fn time_of_day_parse() {
        assert_eq!(TimeOfDay::parse("15:25"), Some(TimeOfDay::hm(15, 25)));
        assert_eq!(TimeOfDay::parse("25:00"), None);
        assert_eq!(
            TimeOfDay::parse("9:15:30"),
            Some(TimeOfDay(9 * 3600 + 15 * 60 + 30))
        );
    }
}
