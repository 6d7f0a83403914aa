//! Bars on exchange time in the configured windows (`websocket.aggregation_windows`, minutes),
//! aligned to the session open as Kite's candles are (5-minute bars start 09:15, 09:20, ...).
//! A bar closes when exchange time reaches its end: a later tick, or the session clock's event
//! with no tick at all. Volume comes from the day's cumulative `volume_traded` (the delta since
//! the previous tick), open interest is the last seen. Each instrument keeps its last
//! `bar_history` finished bars per window in a ring allocated at start.

use crate::clock::IST_OFFSET_SECS;
use crate::domain::Candle;

/// A finished or forming bar; prices in native units.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Bar {
    pub candle: Candle,
    /// Seconds the bar covers.
    pub window: u32,
    /// Open interest at the bar's last tick (0 for cash instruments).
    pub oi: u32,
    pub ticks: u32,
}

impl Bar {
    pub fn end(&self) -> u32 {
        self.candle.start + self.window
    }
}

/// The last `capacity` finished bars, oldest overwritten first; never reallocates.
#[derive(Clone, Debug)]
pub struct BarRing {
    bars: Vec<Bar>,
    next: usize,
    len: usize,
}

impl BarRing {
    pub fn new(capacity: usize) -> BarRing {
        BarRing {
            bars: vec![Bar::default(); capacity.max(1)],
            next: 0,
            len: 0,
        }
    }
    pub fn push(&mut self, b: Bar) {
        let cap = self.bars.len();
        self.bars[self.next] = b;
        self.next = (self.next + 1) % cap;
        self.len = (self.len + 1).min(cap);
    }
    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// The bar `back` places before the newest (0 = newest).
    pub fn ago(&self, back: usize) -> Option<&Bar> {
        if back >= self.len {
            return None;
        }
        let cap = self.bars.len();
        Some(&self.bars[(self.next + cap - 1 - back) % cap])
    }
    pub fn last(&self) -> Option<&Bar> {
        self.ago(0)
    }
}

/// Start of the window containing `ts`, aligned to `open_secs` after IST midnight.
#[inline]
pub fn window_start(ts: u32, window: u32, open_secs: u32) -> u32 {
    let local = ts as i64 + IST_OFFSET_SECS - open_secs as i64;
    let start = local - local.rem_euclid(window as i64);
    (start - IST_OFFSET_SECS + open_secs as i64) as u32
}

/// One instrument's bars in one window.
#[derive(Clone, Debug)]
pub struct BarSeries {
    window: u32,
    open_secs: u32,
    forming: Option<Bar>,
    history: BarRing,
}

impl BarSeries {
    pub fn new(window_min: u32, open_secs: u32, history: usize) -> BarSeries {
        BarSeries {
            window: window_min.max(1) * 60,
            open_secs,
            forming: None,
            history: BarRing::new(history),
        }
    }

    /// Closes the forming bar if exchange time `now` has reached its end.
    #[inline]
    pub fn close_due(&mut self, now: u32) -> Option<Bar> {
        match self.forming {
            Some(b) if now >= b.end() => {
                self.forming = None;
                self.history.push(b);
                Some(b)
            }
            _ => None,
        }
    }

    /// A trade print at `ts`. A print belonging to an already closed window is late and is
    /// left out (returns false). Call `close_due(ts)` first so the bar it ends is finished.
    #[inline]
    pub fn on_print(&mut self, ts: u32, price: i64, volume: u64, oi: u32) -> bool {
        match &mut self.forming {
            Some(b) if ts < b.end() => {
                if ts < b.candle.start {
                    return false;
                }
                let c = &mut b.candle;
                c.high = c.high.max(price);
                c.low = c.low.min(price);
                c.close = price;
                c.volume += volume;
                b.oi = oi;
                b.ticks += 1;
                true
            }
            _ => {
                let start = window_start(ts, self.window, self.open_secs);
                if self.history.last().is_some_and(|l| start < l.end()) {
                    return false;
                }
                self.forming = Some(Bar {
                    candle: Candle {
                        start,
                        open: price,
                        high: price,
                        low: price,
                        close: price,
                        volume,
                    },
                    window: self.window,
                    oi,
                    ticks: 1,
                });
                true
            }
        }
    }

    pub fn history(&self) -> &BarRing {
        &self.history
    }
}

/// Turns the day's cumulative volume into per-tick volume for one instrument.
#[derive(Clone, Copy, Debug, Default)]
pub struct VolumeDelta {
    last_cum: u32,
    day: u32,
}

impl VolumeDelta {
    /// Volume traded since the previous tick; the cumulative count restarts each IST day.
    #[inline]
    pub fn delta(&mut self, ts: u32, cum: u32) -> u64 {
        let day = ((ts as i64 + IST_OFFSET_SECS) / 86_400) as u32;
        if day != self.day {
            self.day = day;
            self.last_cum = 0;
        }
        if cum == 0 {
            return 0; // an LTP-mode or index packet carries no volume
        }
        let d = cum.saturating_sub(self.last_cum) as u64;
        self.last_cum = self.last_cum.max(cum);
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{ist_epoch, TimeOfDay};
    use crate::domain::Date;

    const OPEN: u32 = 9 * 3600 + 15 * 60;

    fn t(h: u32, m: u32, s: u32) -> u32 {
        (ist_epoch(Date(20261125), TimeOfDay::hm(h, m)) + s as i64) as u32
    }

    #[test]
    fn windows_align_to_the_session_open() {
        assert_eq!(window_start(t(9, 17, 30), 300, OPEN), t(9, 15, 0));
        assert_eq!(window_start(t(9, 20, 0), 300, OPEN), t(9, 20, 0));
        assert_eq!(window_start(t(10, 14, 59), 3600, OPEN), t(9, 15, 0));
        assert_eq!(window_start(t(10, 15, 0), 3600, OPEN), t(10, 15, 0));
    }

    #[test]
    fn the_clock_closes_a_bar_with_no_tick() {
        let mut s = BarSeries::new(1, OPEN, 4);
        let mut v = VolumeDelta::default();
        for (sec, px, cum) in [(0, 100, 10), (30, 105, 15), (59, 95, 20)] {
            let ts = t(9, 15, sec);
            assert_eq!(s.close_due(ts), None);
            assert!(s.on_print(ts, px, v.delta(ts, cum), 7));
        }
        // No tick at 09:16: the clock event alone finishes the bar.
        let b = s.close_due(t(9, 16, 0)).unwrap();
        assert_eq!(
            (
                b.candle.open,
                b.candle.high,
                b.candle.low,
                b.candle.close,
                b.candle.volume,
                b.oi
            ),
            (100, 105, 95, 95, 20, 7)
        );
        assert_eq!(b.candle.start, t(9, 15, 0));
        assert_eq!(s.close_due(t(9, 16, 1)), None);
        // A late print for the closed minute is left out.
        assert!(!s.on_print(t(9, 15, 59), 1, 0, 0));
        assert_eq!(s.history().len(), 1);
    }

    #[test]
    fn history_ring_keeps_the_newest() {
        let mut r = BarRing::new(3);
        for i in 0..5u32 {
            let mut b = Bar::default();
            b.candle.start = i;
            r.push(b);
        }
        assert_eq!(r.len(), 3);
        assert_eq!(r.ago(0).unwrap().candle.start, 4);
        assert_eq!(r.ago(2).unwrap().candle.start, 2);
        assert!(r.ago(3).is_none());
    }

    #[test]
    fn volume_restarts_each_day() {
        let mut v = VolumeDelta::default();
        assert_eq!(v.delta(t(9, 15, 0), 100), 100);
        assert_eq!(v.delta(t(9, 15, 1), 150), 50);
        assert_eq!(v.delta(t(9, 15, 2), 0), 0);
        let next_day = t(9, 15, 0) + 86_400;
        assert_eq!(v.delta(next_day, 30), 30);
    }
}
