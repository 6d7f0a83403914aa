//! VWAPReversion: fade a stretch away from the session VWAP in a ranging market.
//!
//! Long (short mirrored): a bar closes below VWAP − `vwap_band_mult` × σ (the session's
//! volume-weighted σ of typical price); the first later bar that closes back inside the band,
//! while ADX is below `max_adx`, enters at its close. The stop is beyond the lowest low seen
//! while outside, the target the VWAP (or `rr_min` × risk). The band is trusted only after
//! `min_session_bars` bars of the day.
//!
//! The session VWAP is only trusted from the whole session: when an instrument's first bar of
//! the day starts after the open (started late with no candles or recording of today), it sits
//! out the day rather than fade a VWAP of part of it, and `sitting_out_today` says so.

use super::bars::Bar;
use super::indicators::IndicatorValues;
use super::sit_out::SitOutCount;
use crate::clock::{ist_date, ist_epoch, TimeOfDay};
use crate::config::{ReversionTarget, VwapReversionConfig};
use crate::domain::{Date, Price, Side, Signal, StrategyId, Token};

#[derive(Clone, Copy, Debug, Default)]
struct InstrumentState {
    day: Date,
    session_bars: u32,
    /// The day's first bar started after the open: no trusted VWAP today.
    sits_out: bool,
    /// Outside the band: the side to enter on coming back, and the extreme so far.
    stretched: Option<(Side, i64)>,
    bars: u64,
    cooldown_until: u64,
}

#[derive(Clone, Debug)]
pub struct VwapReversion {
    cfg: VwapReversionConfig,
    open: TimeOfDay,
    state: Vec<InstrumentState>,
    sit_outs: SitOutCount,
}

impl VwapReversion {
    pub fn new(cfg: VwapReversionConfig, open: TimeOfDay, instruments: usize) -> VwapReversion {
        VwapReversion {
            cfg,
            open,
            state: vec![InstrumentState::default(); instruments],
            sit_outs: SitOutCount::default(),
        }
    }

    /// Instruments with no trusted session VWAP today (their day began after the open).
    pub fn sitting_out_today(&self, ts: u32) -> u32 {
        self.sit_outs.on_day_of(ts)
    }

    pub fn config(&self) -> &VwapReversionConfig {
        &self.cfg
    }

    pub fn set_config(&mut self, cfg: VwapReversionConfig) {
        self.cfg = cfg;
    }

    pub fn on_bar(
        &mut self,
        idx: usize,
        token: Token,
        bar: &Bar,
        ind: &IndicatorValues,
        tick: i64,
    ) -> Option<Signal> {
        let cfg = &self.cfg;
        let st = &mut self.state[idx];
        let c = bar.candle;
        let day = ist_date(c.start as i64);
        if st.day != day {
            let sits_out = c.start as i64 > ist_epoch(day, self.open);
            if sits_out {
                self.sit_outs.count(day);
            }
            *st = InstrumentState {
                day,
                sits_out,
                bars: st.bars,
                cooldown_until: st.cooldown_until,
                ..InstrumentState::default()
            };
        }
        st.session_bars += 1;
        st.bars += 1;
        let v = ind.vwap?;
        if st.sits_out || st.session_bars < cfg.min_session_bars || v.std_dev <= 0.0 {
            return None;
        }
        let band = cfg.vwap_band_mult * v.std_dev;
        let close = c.close as f64;
        if close < v.vwap - band {
            let low = st
                .stretched
                .filter(|s| s.0 == Side::Buy)
                .map_or(c.low, |s| s.1.min(c.low));
            st.stretched = Some((Side::Buy, low));
            return None;
        }
        if close > v.vwap + band {
            let high = st
                .stretched
                .filter(|s| s.0 == Side::Sell)
                .map_or(c.high, |s| s.1.max(c.high));
            st.stretched = Some((Side::Sell, high));
            return None;
        }
        // Back inside the band.
        let (side, extreme) = st.stretched.take()?;
        let ranging = ind.adx.and_then(|a| a.adx).is_some_and(|a| a < cfg.max_adx);
        if !ranging || st.bars < st.cooldown_until {
            return None;
        }
        let stop = extreme - side.sign() * tick;
        let risk = (c.close - stop) * side.sign();
        if risk <= 0 {
            return None;
        }
        let target = match cfg.target {
            ReversionTarget::Vwap => (v.vwap / tick as f64).round() as i64 * tick,
            ReversionTarget::Rr => {
                c.close + side.sign() * (risk as f64 * cfg.rr_min).round() as i64
            }
        };
        if (target - c.close) * side.sign() <= 0 {
            return None;
        }
        st.cooldown_until = st.bars + cfg.cooldown_bars as u64 + 1;
        Some(Signal {
            token,
            strategy: StrategyId::VwapReversion,
            side,
            entry: Price(c.close),
            stop: Price(stop),
            target: Price(target),
            ts: bar.end(),
            score: Default::default(),
            spread: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::strategy::indicators::{AdxValue, VwapValue};

    const OPEN: TimeOfDay = TimeOfDay::hm(9, 15);

    fn bar(i: u32, h: i64, l: i64, c: i64) -> Bar {
        let mut b = Bar {
            window: 300,
            ..Bar::default()
        };
        b.candle = crate::domain::Candle {
            start: 1_764_042_300 + i * 300, // 2025-11-25 09:15 IST onwards, one session
            open: c,
            high: h,
            low: l,
            close: c,
            volume: 100,
        };
        b
    }

    fn ind(adx: f64) -> IndicatorValues {
        IndicatorValues {
            vwap: Some(VwapValue {
                vwap: 1000.0,
                std_dev: 10.0,
            }),
            adx: Some(AdxValue {
                plus_di: 20.0,
                minus_di: 20.0,
                adx: Some(adx),
            }),
            ..Default::default()
        }
    }

    fn run(bars: &[Bar], adx: f64, cfg: VwapReversionConfig) -> Vec<Signal> {
        let mut v = VwapReversion::new(cfg, OPEN, 1);
        bars.iter()
            .filter_map(|b| v.on_bar(0, Token(3), b, &ind(adx), 5))
            .collect()
    }

    fn cfg() -> VwapReversionConfig {
        VwapReversionConfig {
            min_session_bars: 0,
            ..VwapReversionConfig::default()
        }
    }

    #[test]
    fn enters_on_the_first_bar_back_inside_the_band() {
        // Band 1000 ± 2 × 10. Two closes below 980 (lows 970, 965), then back in at 990.
        let bars = [
            bar(0, 1005, 995, 1000),
            bar(1, 985, 970, 975),
            bar(2, 980, 965, 972),
            bar(3, 992, 975, 990),
            bar(4, 996, 985, 995),
        ];
        let s = run(&bars, 15.0, cfg());
        assert_eq!(s.len(), 1, "{s:?}");
        let s = s[0];
        assert_eq!(
            (s.side, s.entry, s.stop, s.target),
            (Side::Buy, Price(990), Price(960), Price(1000))
        );
        // The short side, with an rr target.
        let up = [
            bar(0, 1030, 1015, 1025),
            bar(1, 1040, 1020, 1035),
            bar(2, 1030, 1005, 1010),
        ];
        let c = VwapReversionConfig {
            target: ReversionTarget::Rr,
            rr_min: 1.5,
            ..cfg()
        };
        let s = run(&up, 15.0, c);
        assert_eq!(s.len(), 1, "{s:?}");
        assert_eq!((s[0].side, s[0].stop), (Side::Sell, Price(1045)));
        assert_eq!(s[0].target, Price(1010 - 53));
    }

    #[test]
    fn no_entry_in_a_trend_or_before_the_band_is_trusted() {
        let bars = [bar(0, 985, 970, 975), bar(1, 992, 975, 990)];
        assert!(run(&bars, 35.0, cfg()).is_empty(), "ADX says trending");
        let early = VwapReversionConfig {
            min_session_bars: 6,
            ..cfg()
        };
        assert!(
            run(&bars, 15.0, early).is_empty(),
            "too early in the session"
        );
        // Never left the band: nothing to revert.
        let calm = [bar(0, 1005, 995, 1000), bar(1, 1002, 990, 995)];
        assert!(run(&calm, 15.0, cfg()).is_empty());
    }

    #[test]
    fn a_day_that_began_after_the_open_sits_out() {
        // The entry of the first test, seen from 09:20: the VWAP would be of part of the day.
        let late = [
            bar(1, 985, 970, 975),
            bar(2, 980, 965, 972),
            bar(3, 992, 975, 990),
        ];
        let mut v = VwapReversion::new(cfg(), OPEN, 1);
        let fired: Vec<_> = late
            .iter()
            .filter_map(|b| v.on_bar(0, Token(3), b, &ind(15.0), 5))
            .collect();
        assert!(fired.is_empty(), "{fired:?}");
        assert_eq!(v.sitting_out_today(late[0].end()), 1);
        // The next day it starts at the open and trades again.
        let day = 86_400;
        let next: Vec<Bar> = [
            bar(0, 1005, 995, 1000),
            bar(1, 985, 970, 975),
            bar(3, 992, 975, 990),
        ]
        .into_iter()
        .map(|mut b| {
            b.candle.start += day;
            b
        })
        .collect();
        let fired = next
            .iter()
            .filter_map(|b| v.on_bar(0, Token(3), b, &ind(15.0), 5))
            .count();
        assert_eq!(fired, 1);
        assert_eq!(v.sitting_out_today(next[0].end()), 0);
    }
}
