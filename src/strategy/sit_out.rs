//! Instruments a strategy sits out today because it saw only part of the session it needs
//! (ORB's opening window, VWAP reversion's session VWAP), counted as they sit out so the
//! stage can say so once the count grows.

use crate::clock::ist_date;
use crate::domain::Date;

/// Instruments sitting out on `day`.
#[derive(Clone, Copy, Debug, Default)]
pub struct SitOutCount {
    day: Date,
    n: u32,
}

impl SitOutCount {
    pub fn count(&mut self, day: Date) {
        if self.day != day {
            *self = SitOutCount { day, n: 0 };
        }
        self.n += 1;
    }

    /// Instruments sitting out on the day of exchange time `ts`.
    pub fn on_day_of(&self, ts: u32) -> u32 {
        if self.day == ist_date(ts as i64) {
            self.n
        } else {
            0
        }
    }
}
