//! TrendPullback: trade with an established trend after a pullback to the fast EMA.
//!
//! Long (short mirrored): the fast EMA is above the slow one, ADX is at least `min_adx` with
//! +DI above -DI; the previous bar pulled back to within `pullback_atr_mult` × ATR of the fast
//! EMA without closing below the slow one; this bar bounces (closes up, above the previous
//! bar's high and above the fast EMA). Entry at the close, stop beyond the swing low of the last
//! `swing_lookback` bars (or the slow EMA − 1 ATR), target `rr_min` × risk. After a signal the
//! instrument waits `cooldown_bars` bars.

use super::bars::{Bar, BarRing};
use super::indicators::{Ema, IndicatorValues};
use crate::config::{PullbackStop, TrendPullbackConfig};
use crate::domain::{Price, Side, Signal, StrategyId, Token};

#[derive(Clone, Copy, Debug)]
struct InstrumentState {
    fast: Ema,
    slow: Ema,
    /// The fast EMA after the previous bar.
    prev_fast: Option<f64>,
    bars: u64,
    cooldown_until: u64,
}

#[derive(Clone, Debug)]
pub struct TrendPullback {
    cfg: TrendPullbackConfig,
    state: Vec<InstrumentState>,
}

impl TrendPullback {
    pub fn new(cfg: TrendPullbackConfig, instruments: usize) -> TrendPullback {
        let fresh = InstrumentState {
            fast: Ema::new(cfg.ema_fast as usize),
            slow: Ema::new(cfg.ema_slow as usize),
            prev_fast: None,
            bars: 0,
            cooldown_until: 0,
        };
        TrendPullback {
            cfg,
            state: vec![fresh; instruments],
        }
    }

    pub fn config(&self) -> &TrendPullbackConfig {
        &self.cfg
    }

    /// New parameters; EMAs restart only if their periods changed.
    pub fn set_config(&mut self, cfg: TrendPullbackConfig) {
        if (cfg.ema_fast, cfg.ema_slow) != (self.cfg.ema_fast, self.cfg.ema_slow) {
            *self = TrendPullback::new(cfg, self.state.len());
        } else {
            self.cfg = cfg;
        }
    }

    /// A finished bar of its timeframe; `history` already holds it as the newest.
    pub fn on_bar(
        &mut self,
        idx: usize,
        token: Token,
        bar: &Bar,
        history: &BarRing,
        ind: &IndicatorValues,
        tick: i64,
    ) -> Option<Signal> {
        let cfg = &self.cfg;
        let st = &mut self.state[idx];
        let c = bar.candle;
        let fast = st.fast.update(c.close as f64);
        let slow = st.slow.update(c.close as f64);
        let prev_fast = st.prev_fast;
        st.prev_fast = fast;
        st.bars += 1;
        if st.bars < st.cooldown_until {
            return None;
        }
        let (fast, slow, prev_fast) = (fast?, slow?, prev_fast?);
        let (atr, adx) = (ind.atr?, ind.adx?);
        if adx.adx? < cfg.min_adx || atr <= 0.0 {
            return None;
        }
        let prev = history.ago(1)?.candle;
        let band = cfg.pullback_atr_mult * atr;
        let close = c.close as f64;
        let side = if fast > slow && adx.plus_di > adx.minus_di {
            let pulled_back = (prev.low as f64) <= prev_fast + band && (prev.close as f64) > slow;
            let bounce = c.close > c.open && c.close > prev.high && close > fast;
            (pulled_back && bounce).then_some(Side::Buy)?
        } else if fast < slow && adx.minus_di > adx.plus_di {
            let pulled_back = (prev.high as f64) >= prev_fast - band && (prev.close as f64) < slow;
            let bounce = c.close < c.open && c.close < prev.low && close < fast;
            (pulled_back && bounce).then_some(Side::Sell)?
        } else {
            return None;
        };
        let stop = match cfg.stop {
            PullbackStop::Swing => {
                let n = (cfg.swing_lookback as usize).min(history.len());
                let bars = (0..n).filter_map(|i| history.ago(i));
                match side {
                    Side::Buy => bars.map(|b| b.candle.low).min()? - tick,
                    Side::Sell => bars.map(|b| b.candle.high).max()? + tick,
                }
            }
            PullbackStop::SlowEma => {
                let s = slow - side.sign() as f64 * atr;
                (s / tick as f64).round() as i64 * tick
            }
        };
        let risk = (c.close - stop) * side.sign();
        if risk <= 0 {
            return None;
        }
        st.cooldown_until = st.bars + cfg.cooldown_bars as u64 + 1;
        let target = c.close + side.sign() * (risk as f64 * cfg.rr_min).round() as i64;
        Some(Signal {
            token,
            strategy: StrategyId::TrendPullback,
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
    use crate::strategy::indicators::AdxValue;

    fn bar(i: u32, o: i64, h: i64, l: i64, c: i64) -> Bar {
        let mut b = Bar {
            window: 300,
            ..Bar::default()
        };
        b.candle = crate::domain::Candle {
            start: 1_764_000_000 + i * 300,
            open: o,
            high: h,
            low: l,
            close: c,
            volume: 100,
        };
        b
    }

    fn ind(adx: f64, plus: f64, minus: f64) -> IndicatorValues {
        IndicatorValues {
            atr: Some(10.0),
            adx: Some(AdxValue {
                plus_di: plus,
                minus_di: minus,
                adx: Some(adx),
            }),
            ..Default::default()
        }
    }

    fn cfg() -> TrendPullbackConfig {
        TrendPullbackConfig {
            ema_fast: 3,
            ema_slow: 6,
            ..TrendPullbackConfig::default()
        }
    }

    /// Ten rising bars, a pullback to the fast EMA, then `last`; the signals fired.
    fn scenario(last: Bar, values: IndicatorValues, cfg: TrendPullbackConfig) -> Vec<Signal> {
        let mut tp = TrendPullback::new(cfg, 1);
        let mut hist = BarRing::new(50);
        let mut bars: Vec<Bar> = (0..10)
            .map(|i| {
                let c = 1000 + 20 * i as i64;
                bar(i, c - 20, c + 5, c - 5, c)
            })
            .collect();
        bars.push(bar(10, 1180, 1185, 1158, 1162));
        bars.push(last);
        let mut out = Vec::new();
        for b in bars {
            hist.push(b);
            out.extend(tp.on_bar(0, Token(7), &b, &hist, &values, 5));
        }
        out
    }

    #[test]
    fn fires_on_a_bounce_after_a_pullback_in_an_uptrend() {
        let s = scenario(
            bar(11, 1163, 1195, 1160, 1190),
            ind(30.0, 30.0, 10.0),
            cfg(),
        );
        assert_eq!(s.len(), 1, "{s:?}");
        let s = s[0];
        assert_eq!(
            (s.side, s.entry, s.strategy),
            (Side::Buy, Price(1190), StrategyId::TrendPullback)
        );
        // Swing stop: the lowest low of the last 5 bars (1135) less one tick.
        assert_eq!(s.stop, Price(1130));
        assert_eq!(s.target, Price(1190 + 2 * 60));
    }

    #[test]
    fn stays_quiet_without_trend_strength_or_a_bounce() {
        // ADX below min_adx.
        assert!(scenario(
            bar(11, 1163, 1195, 1160, 1190),
            ind(15.0, 30.0, 10.0),
            cfg()
        )
        .is_empty());
        // -DI above +DI: no long.
        assert!(scenario(
            bar(11, 1163, 1195, 1160, 1190),
            ind(30.0, 10.0, 30.0),
            cfg()
        )
        .is_empty());
        // No bounce: closes below the pullback bar's high.
        assert!(scenario(
            bar(11, 1163, 1184, 1160, 1180),
            ind(30.0, 30.0, 10.0),
            cfg()
        )
        .is_empty());
    }

    #[test]
    fn slow_ema_stop_and_the_cooldown_gate() {
        let c = TrendPullbackConfig {
            stop: PullbackStop::SlowEma,
            ..cfg()
        };
        let s = scenario(
            bar(11, 1163, 1195, 1160, 1190),
            ind(30.0, 30.0, 10.0),
            c.clone(),
        );
        assert_eq!(s.len(), 1);
        assert!(s[0].stop.0 < 1190 && s[0].stop.0 % 5 == 0, "{:?}", s[0]);
        // Inside the cooldown the instrument is not traded.
        let mut tp = TrendPullback::new(cfg(), 1);
        tp.state[0].cooldown_until = u64::MAX;
        let hist = BarRing::new(4);
        let b = bar(0, 1163, 1195, 1160, 1190);
        assert!(tp
            .on_bar(0, Token(7), &b, &hist, &ind(30.0, 30.0, 10.0), 5)
            .is_none());
    }
}
