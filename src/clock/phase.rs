//! NSE session phases (india-market-facts.md §3.4, DESIGN.md §4): what the exchange accepts
//! at each moment of a trading day. The risk stage moves through them on clock events, so a
//! silent feed still changes phase, squares off and closes the day.

use super::{ist_date, ist_time_of_day, SessionCalendar, TimeOfDay};
use crate::domain::{Date, OrderType};

/// The pre-open rules NSE applies from Monday 7 Sep 2026 (CMTR74969 / FAOP74970): market
/// orders only until 09:05, limit orders until a random close in 09:08-09:10, matching to
/// 09:12. Before it: order entry to a random close in 09:07-09:08, matching 09:08-09:12.
pub const PRE_OPEN_2026_RULES_FROM: Date = Date(20260907);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SessionPhase {
    /// Not a trading day, or outside every session.
    Closed,
    /// 09:00-09:05 (older rules: 09:00 to the random close): limit and market orders enter,
    /// modify and cancel.
    PreOpenEntry,
    /// 09:05-09:08 (2026 rules): limit orders only; market orders can no longer change.
    PreOpenLimitOnly,
    /// The last minutes of order entry (09:08-09:10; older rules 09:07-09:08): the book may
    /// close at any second, so nothing new is sent.
    PreOpenRandomClose,
    /// Price discovery, matching and the buffer until the open (to 09:15).
    PreOpenMatching,
    /// The continuous session, 09:15-15:30.
    Continuous,
    /// After the close: the closing-price session until 16:00; intraday positions are gone.
    Closing,
}

impl SessionPhase {
    pub const ALL: [SessionPhase; 7] = [
        SessionPhase::Closed,
        SessionPhase::PreOpenEntry,
        SessionPhase::PreOpenLimitOnly,
        SessionPhase::PreOpenRandomClose,
        SessionPhase::PreOpenMatching,
        SessionPhase::Continuous,
        SessionPhase::Closing,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SessionPhase::Closed => "CLOSED",
            SessionPhase::PreOpenEntry => "PRE_OPEN",
            SessionPhase::PreOpenLimitOnly => "PRE_OPEN_LIMIT_ONLY",
            SessionPhase::PreOpenRandomClose => "PRE_OPEN_RANDOM_CLOSE",
            SessionPhase::PreOpenMatching => "PRE_OPEN_MATCHING",
            SessionPhase::Continuous => "CONTINUOUS",
            SessionPhase::Closing => "CLOSING",
        }
    }

    pub fn code(self) -> u8 {
        self as u8
    }

    pub fn from_code(c: u8) -> SessionPhase {
        SessionPhase::ALL
            .get(c as usize)
            .copied()
            .unwrap_or(SessionPhase::Closed)
    }

    /// Whether the exchange takes a new order of this type now (equity and F&O pre-open
    /// take only limit and market orders; only the continuous session takes everything).
    pub fn accepts(self, t: OrderType) -> bool {
        match (self, t) {
            (SessionPhase::Continuous, _) => true,
            (SessionPhase::PreOpenEntry, OrderType::Market | OrderType::Limit) => true,
            (SessionPhase::PreOpenLimitOnly, OrderType::Limit) => true,
            (SessionPhase::PreOpenLimitOnly, OrderType::Market) => false,
            // Stop orders wait for the continuous session.
            (
                SessionPhase::PreOpenEntry | SessionPhase::PreOpenLimitOnly,
                OrderType::StopLimit | OrderType::StopMarket,
            ) => false,
            (
                SessionPhase::Closed
                | SessionPhase::PreOpenRandomClose
                | SessionPhase::PreOpenMatching
                | SessionPhase::Closing,
                _,
            ) => false,
        }
    }
}

/// NSE's closing session ends here; after it the day is closed.
const CLOSING_END: TimeOfDay = TimeOfDay::hm(16, 0);

impl SessionCalendar {
    /// The phase at an instant (IST wall time on the calendar's trading days).
    pub fn phase(&self, epoch_secs: i64) -> SessionPhase {
        let date = ist_date(epoch_secs);
        if !self.is_trading_day(date) {
            return SessionPhase::Closed;
        }
        let t = ist_time_of_day(epoch_secs);
        let new_rules = date >= PRE_OPEN_2026_RULES_FROM;
        let (limit_only, random_close, matching) = if new_rules {
            (
                TimeOfDay::hm(9, 5),
                TimeOfDay::hm(9, 8),
                TimeOfDay::hm(9, 10),
            )
        } else {
            // No limit-only window: entry runs to the random close.
            (
                TimeOfDay::hm(9, 7),
                TimeOfDay::hm(9, 7),
                TimeOfDay::hm(9, 8),
            )
        };
        if t < self.pre_open {
            SessionPhase::Closed
        } else if t < limit_only {
            SessionPhase::PreOpenEntry
        } else if t < random_close {
            SessionPhase::PreOpenLimitOnly
        } else if t < matching {
            SessionPhase::PreOpenRandomClose
        } else if t < self.open {
            SessionPhase::PreOpenMatching
        } else if t < self.close {
            SessionPhase::Continuous
        } else if t < CLOSING_END {
            SessionPhase::Closing
        } else {
            SessionPhase::Closed
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ist_epoch;

    fn at(date: u32, hm: &str) -> i64 {
        ist_epoch(Date(date), TimeOfDay::parse(hm).unwrap())
    }

    #[test]
    fn the_2026_pre_open_and_the_day() {
        use SessionPhase::*;
        let c = SessionCalendar::nse_hours();
        let d = 20261125; // a Wednesday under the 7 Sep 2026 rules
        let want = [
            ("08:59:59", Closed),
            ("09:00", PreOpenEntry),
            ("09:04:59", PreOpenEntry),
            ("09:05", PreOpenLimitOnly),
            ("09:07:59", PreOpenLimitOnly),
            ("09:08", PreOpenRandomClose),
            ("09:10", PreOpenMatching),
            ("09:12", PreOpenMatching),
            ("09:15", Continuous),
            ("15:29:59", Continuous),
            ("15:30", Closing),
            ("16:00", Closed),
        ];
        for (hm, phase) in want {
            assert_eq!(c.phase(at(d, hm)), phase, "{hm}");
        }
        // Market orders stop at 09:05, limits at the random close.
        assert!(PreOpenEntry.accepts(OrderType::Market));
        assert!(!PreOpenLimitOnly.accepts(OrderType::Market));
        assert!(PreOpenLimitOnly.accepts(OrderType::Limit));
        assert!(!PreOpenRandomClose.accepts(OrderType::Limit));
        assert!(Continuous.accepts(OrderType::Market));
        assert!(!Closing.accepts(OrderType::Market));
        // A weekend is closed all day.
        assert_eq!(c.phase(at(20261128, "10:00")), Closed);
        for p in SessionPhase::ALL {
            assert_eq!(SessionPhase::from_code(p.code()), p);
        }
    }

    #[test]
    fn before_7_sep_2026_entry_runs_to_the_random_close() {
        let c = SessionCalendar::nse_hours();
        let d = 20260904; // the Friday before the change
        assert_eq!(c.phase(at(d, "09:06")), SessionPhase::PreOpenEntry);
        assert_eq!(c.phase(at(d, "09:07:30")), SessionPhase::PreOpenRandomClose);
        assert_eq!(c.phase(at(d, "09:08")), SessionPhase::PreOpenMatching);
    }
}
