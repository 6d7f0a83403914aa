//! Opening Range Breakout. The range is the high and low of the 1-minute bars from the open
//! over `window_min`; a breakout needs `breakout_confirmation_ticks` consecutive ticks beyond
//! it. Stop at the other side of the range, target at `rr_min` times the risk. One entry per
//! instrument per day; the range resets each day.
//!
//! A range is only built from the whole window: when the first bar of the day starts after the
//! open (the system started inside the window, or the instrument did not trade at the open),
//! that instrument has no range today rather than a partial one, and `skipped_today` says so.

use super::bars::Bar;
use super::sit_out::SitOutCount;
use crate::clock::{ist_date, ist_epoch, TimeOfDay};
use crate::config::OrbConfig;
use crate::domain::{Date, Price, Side, Signal, StrategyId, Token};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
enum Phase {
    /// Before the open or no bar yet.
    #[default]
    Waiting,
    /// Inside the window, collecting bars.
    Building,
    /// Range known, watching for a breakout.
    Armed,
    /// Entered (or gave up) for today.
    Done,
    /// Saw only part of the opening window: no range today.
    Skipped,
}

#[derive(Clone, Copy, Debug, Default)]
pub struct OpeningRange {
    day: Date,
    phase: Phase,
    high: i64,
    low: i64,
    above: u32,
    below: u32,
}

impl OpeningRange {
    pub fn bounds(&self) -> Option<(i64, i64)> {
        matches!(self.phase, Phase::Armed | Phase::Done).then_some((self.high, self.low))
    }
    pub fn skipped(&self) -> bool {
        self.phase == Phase::Skipped
    }
}

#[derive(Clone, Debug)]
pub struct Orb {
    cfg: OrbConfig,
    open: TimeOfDay,
    ranges: Vec<OpeningRange>,
    skips: SitOutCount,
}

impl Orb {
    pub fn new(cfg: OrbConfig, open: TimeOfDay, instruments: usize) -> Orb {
        Orb {
            cfg,
            open,
            ranges: vec![OpeningRange::default(); instruments],
            skips: SitOutCount::default(),
        }
    }

    pub fn config(&self) -> &OrbConfig {
        &self.cfg
    }

    /// New parameters from a reload. Ranges already built or armed keep their levels; a
    /// changed window applies to ranges still forming and to the next day.
    pub fn set_config(&mut self, cfg: OrbConfig) {
        self.cfg = cfg;
    }

    /// Instruments with no range today because the window was only partly seen.
    pub fn skipped_today(&self, ts: u32) -> u32 {
        self.skips.on_day_of(ts)
    }

    pub fn range(&self, idx: usize) -> &OpeningRange {
        &self.ranges[idx]
    }

    /// A finished 1-minute bar for instrument `idx`.
    pub fn on_bar(&mut self, idx: usize, bar: &Bar) {
        let ts = bar.candle.start as i64;
        let day = ist_date(ts);
        let r = &mut self.ranges[idx];
        if r.day != day {
            *r = OpeningRange {
                day,
                ..OpeningRange::default()
            };
        }
        let start = ist_epoch(day, self.open);
        let end = start + self.cfg.window_min as i64 * 60;
        if ts >= start && ts < end && matches!(r.phase, Phase::Waiting | Phase::Building) {
            if r.phase == Phase::Waiting {
                if ts > start {
                    // The window's first minute was missed: a partial range would be wrong.
                    r.phase = Phase::Skipped;
                    self.skips.count(day);
                    return;
                }
                r.phase = Phase::Building;
                r.high = bar.candle.high;
                r.low = bar.candle.low;
            } else {
                r.high = r.high.max(bar.candle.high);
                r.low = r.low.min(bar.candle.low);
            }
        }
    }

    /// A tick for instrument `idx` at exchange time `ts`; may fire an entry signal.
    pub fn on_tick(&mut self, idx: usize, token: Token, ts: u32, ltp: i64) -> Option<Signal> {
        let day = ist_date(ts as i64);
        let r = &mut self.ranges[idx];
        if r.day != day {
            *r = OpeningRange {
                day,
                ..OpeningRange::default()
            };
        }
        let window_end = ist_epoch(day, self.open) + self.cfg.window_min as i64 * 60;
        if r.phase == Phase::Building && ts as i64 >= window_end {
            // The tick that opens the first minute after the window completed the last bar.
            r.phase = if r.high > r.low {
                Phase::Armed
            } else {
                Phase::Done
            };
        }
        if r.phase == Phase::Waiting && ts as i64 >= window_end {
            // Never saw the window (started late): no range today.
            r.phase = Phase::Skipped;
            self.skips.count(day);
        }
        if r.phase != Phase::Armed {
            return None;
        }
        if ltp > r.high {
            r.above += 1;
            r.below = 0;
        } else if ltp < r.low {
            r.below += 1;
            r.above = 0;
        } else {
            r.above = 0;
            r.below = 0;
        }
        let need = self.cfg.breakout_confirmation_ticks;
        let (side, stop) = if r.above >= need {
            (Side::Buy, r.low)
        } else if r.below >= need {
            (Side::Sell, r.high)
        } else {
            return None;
        };
        r.phase = Phase::Done;
        let risk = (ltp - stop).abs() as f64;
        let target = ltp + side.sign() * (risk * self.cfg.rr_min).round() as i64;
        Some(Signal {
            token,
            strategy: StrategyId::Orb,
            side,
            entry: Price(ltp),
            stop: Price(stop),
            target: Price(target),
            ts,
            score: Default::default(),
            spread: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::strategy::bars::BarSeries;

    fn run(prints: &[(i64, i64)]) -> Vec<Signal> {
        run_day(prints).0
    }

    fn cfg() -> OrbConfig {
        OrbConfig {
            enabled: true,
            window_min: 15,
            breakout_confirmation_ticks: 3,
            rr_min: 2.0,
            max_positions: 3,
            instruments: Vec::new(),
        }
    }

    /// Feeds (seconds after 09:15, price) prints through bars and the ORB; the signals and
    /// whether the day was skipped.
    fn run_day(prints: &[(i64, i64)]) -> (Vec<Signal>, bool) {
        let day = Date(20261125);
        let open = ist_epoch(day, TimeOfDay::hm(9, 15));
        let mut orb = Orb::new(cfg(), TimeOfDay::hm(9, 15), 1);
        let mut bars = BarSeries::new(1, TimeOfDay::hm(9, 15).0, 16);
        let mut out = Vec::new();
        for &(dt, px) in prints {
            let ts = (open + dt) as u32;
            if let Some(b) = bars.close_due(ts) {
                orb.on_bar(0, &b);
            }
            bars.on_print(ts, px, 0, 0);
            out.extend(orb.on_tick(0, Token(1), ts, px));
        }
        (out, orb.range(0).skipped())
    }

    #[test]
    fn long_breakout_after_confirmation() {
        let mut prints: Vec<(i64, i64)> = (0..900)
            .step_by(30)
            .map(|s| (s, 1000 + (s / 30) % 5))
            .collect();
        // Range: 1000..1004. Two ticks above then back inside: no signal.
        prints.extend([(901, 1010), (902, 1011), (903, 1002)]);
        // Three consecutive above: long.
        prints.extend([(904, 1006), (905, 1007), (906, 1008), (907, 1009)]);
        let s = run(&prints);
        assert_eq!(s.len(), 1, "{s:?}");
        assert_eq!(s[0].side, Side::Buy);
        assert_eq!(s[0].entry, Price(1008));
        assert_eq!(s[0].stop, Price(1000));
        assert_eq!(s[0].target, Price(1008 + 16));
    }

    #[test]
    fn short_breakout_and_one_per_day() {
        let mut prints: Vec<(i64, i64)> = (0..900)
            .step_by(60)
            .map(|s| (s, 1000 + (s / 60) % 3))
            .collect();
        prints.extend([
            (950, 990),
            (951, 989),
            (952, 988),
            (960, 980),
            (961, 979),
            (962, 978),
        ]);
        let s = run(&prints);
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].side, Side::Sell);
        assert_eq!(s[0].stop, Price(1002));
        assert_eq!(s[0].target, Price(988 - 28));
    }

    #[test]
    fn no_breakout_before_window_ends() {
        let prints: Vec<(i64, i64)> = (0..800).map(|s| (s, 1000 + s)).collect();
        assert!(run(&prints).is_empty());
    }

    #[test]
    fn a_start_inside_the_window_builds_no_partial_range() {
        // First print at 09:22: the range would miss 09:15-09:21, so the day is skipped and
        // a later "breakout" fires nothing.
        let mut prints: Vec<(i64, i64)> = (420..900).step_by(30).map(|s| (s, 1000)).collect();
        prints.extend((0..10).map(|i| (901 + i, 1100 + i)));
        let (signals, skipped) = run_day(&prints);
        assert!(signals.is_empty(), "{signals:?}");
        assert!(skipped);
        // The same breakout with the whole window seen does fire.
        let mut full: Vec<(i64, i64)> = (0..900)
            .step_by(30)
            .map(|s| (s, 1000 + (s / 30) % 3))
            .collect();
        full.extend((0..10).map(|i| (901 + i, 1100 + i)));
        let (signals, skipped) = run_day(&full);
        assert_eq!(signals.len(), 1);
        assert!(!skipped);
    }
}
