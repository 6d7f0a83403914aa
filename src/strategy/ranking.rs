//! Ranking: every signal gets a score from five components, each 0..1, weighted by
//! `ranking.weights` (momentum .25, trend .25, liquidity .20, regime .15, rr .15 by default),
//! less penalties (illiquid spread, entry far from VWAP). Of the signals in one bar (minute),
//! only the best `top_n` go on to risk; ties break by instrument token, then strategy, so the
//! order is deterministic.
//!
//! - momentum: the move over `momentum_bars` bars in the signal's direction, in ATRs, /3.
//! - trend: ADX/50, halved when the EMAs disagree with the signal's side.
//! - liquidity: half spread (1 − spread/max_spread_bps), half depth (5-level book, 0..1 at
//!   twenty times the last traded quantity).
//! - regime: ADX/40 for trend-following strategies, 1 − ADX/40 for VWAP reversion.
//! - rr: reward/risk / 3.

use super::bars::BarRing;
use super::indicators::IndicatorValues;
use crate::config::RankingConfig;
use crate::domain::{Signal, SignalScore, StrategyId};

/// The book as last seen for an instrument, for the liquidity score.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Quote {
    pub bid: i64,
    pub ask: i64,
    pub depth_qty: u64,
    pub last_qty: u32,
}

fn unit(x: f64) -> f64 {
    if x.is_finite() {
        x.clamp(0.0, 1.0)
    } else {
        0.0
    }
}

fn bp(x: f64) -> u16 {
    (unit(x) * 10_000.0).round() as u16
}

/// What a strategy measured for the score beside the underlying's indicators.
#[derive(Clone, Copy, Debug)]
pub struct Components {
    pub strategy: StrategyId,
    /// The market direction the trade wants (a bought put is a Sell direction).
    pub direction: crate::domain::Side,
    /// 0..1.
    pub liquidity: f64,
    pub illiquid: bool,
    pub far_from_vwap: bool,
    /// Reward over risk.
    pub rr: f64,
}

#[derive(Clone, Debug)]
pub struct SignalRanker {
    cfg: RankingConfig,
    minute: u32,
    passed: u32,
}

impl SignalRanker {
    pub fn new(cfg: RankingConfig) -> SignalRanker {
        SignalRanker {
            cfg,
            minute: 0,
            passed: 0,
        }
    }

    pub fn config(&self) -> &RankingConfig {
        &self.cfg
    }

    pub fn set_config(&mut self, cfg: RankingConfig) {
        self.cfg = cfg;
    }

    /// Scores a signal from its instrument's indicators, bars and book.
    pub fn score(
        &self,
        s: &Signal,
        ind: &IndicatorValues,
        history: &BarRing,
        quote: &Quote,
    ) -> SignalScore {
        let c = &self.cfg;
        let spread_bps = if quote.bid > 0 && quote.ask > quote.bid {
            (quote.ask - quote.bid) as f64 / ((quote.ask + quote.bid) as f64 / 2.0) * 10_000.0
        } else {
            f64::INFINITY
        };
        let depth = if quote.last_qty > 0 {
            quote.depth_qty as f64 / (20.0 * quote.last_qty as f64)
        } else {
            0.0
        };
        let liquidity = 0.5 * unit(1.0 - spread_bps / c.max_spread_bps) + 0.5 * unit(depth);
        let entry = s.entry.0 as f64;
        let risk = (entry - s.stop.0 as f64).abs();
        let reward = (s.target.0 as f64 - entry).abs();
        let rr = if risk > 0.0 { reward / risk } else { 0.0 };
        let far = s.strategy != StrategyId::VwapReversion
            && ind.vwap.is_some_and(|v| {
                v.std_dev > 0.0 && (entry - v.vwap).abs() > c.far_from_vwap_sigma * v.std_dev
            });
        self.compose(
            Components {
                strategy: s.strategy,
                direction: s.side,
                liquidity,
                illiquid: spread_bps > c.max_spread_bps,
                far_from_vwap: far,
                rr,
            },
            ind,
            history,
        )
    }

    /// The score from what the signal's strategy measured itself (OptionsRanker: the
    /// underlying's indicators and bars for momentum, trend and regime; liquidity and rr of
    /// the legs).
    pub fn compose(&self, k: Components, ind: &IndicatorValues, history: &BarRing) -> SignalScore {
        let c = &self.cfg;
        let sign = k.direction.sign() as f64;
        let atr = ind.atr.unwrap_or(0.0);
        let momentum = match (history.ago(0), history.ago(c.momentum_bars as usize)) {
            (Some(now), Some(then)) if atr > 0.0 => {
                sign * (now.candle.close - then.candle.close) as f64 / atr / 3.0
            }
            _ => 0.0,
        };
        let adx = ind.adx.and_then(|a| a.adx).unwrap_or(0.0);
        let aligned = match (ind.ema_fast, ind.ema_slow) {
            (Some(f), Some(sl)) => sign * (f - sl) >= 0.0,
            _ => true,
        };
        let trend = adx / 50.0 * if aligned { 1.0 } else { 0.5 };
        let regime = match k.strategy {
            StrategyId::VwapReversion => 1.0 - adx / 40.0,
            _ => adx / 40.0,
        };
        let rr = k.rr / 3.0;
        let mut penalty = 0.0;
        if k.illiquid {
            penalty += c.penalties.illiquid;
        }
        if k.far_from_vwap {
            penalty += c.penalties.far_from_vwap;
        }
        let w = &c.weights;
        let total = w.momentum * unit(momentum)
            + w.trend * unit(trend)
            + w.liquidity * unit(k.liquidity)
            + w.regime * unit(regime)
            + w.rr * unit(rr)
            - penalty;
        SignalScore {
            momentum: bp(momentum),
            trend: bp(trend),
            liquidity: bp(k.liquidity),
            regime: bp(regime),
            rr: bp(rr),
            penalty: bp(penalty),
            total: (total.clamp(-1.0, 1.0) * 10_000.0).round() as i16,
        }
    }

    /// Best first; equal scores by token, then strategy.
    pub fn sort(signals: &mut [Signal]) {
        signals.sort_unstable_by(|a, b| {
            b.score
                .total
                .cmp(&a.score.total)
                .then(a.token.cmp(&b.token))
                .then(a.strategy.cmp(&b.strategy))
        });
    }

    /// Whether a signal fits this bar's `top_n`; counts it when it does.
    pub fn admit(&mut self, s: &Signal) -> bool {
        if !self.cfg.enabled {
            return true;
        }
        let minute = s.ts / 60;
        if minute != self.minute {
            self.minute = minute;
            self.passed = 0;
        }
        if self.passed >= self.cfg.top_n {
            return false;
        }
        self.passed += 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Price, Side, Token};
    use crate::strategy::bars::Bar;
    use crate::strategy::indicators::AdxValue;

    fn signal(token: u32, strategy: StrategyId, entry: i64, stop: i64, target: i64) -> Signal {
        Signal {
            token: Token(token),
            strategy,
            side: if stop < entry { Side::Buy } else { Side::Sell },
            entry: Price(entry),
            stop: Price(stop),
            target: Price(target),
            ts: 600,
            score: SignalScore::default(),
            spread: None,
        }
    }

    fn trending() -> IndicatorValues {
        IndicatorValues {
            ema_fast: Some(1010.0),
            ema_slow: Some(1000.0),
            atr: Some(10.0),
            adx: Some(AdxValue {
                plus_di: 30.0,
                minus_di: 10.0,
                adx: Some(35.0),
            }),
            ..Default::default()
        }
    }

    fn rising() -> BarRing {
        let mut r = BarRing::new(10);
        for i in 0..6 {
            let mut b = Bar::default();
            b.candle.close = 1000 + 6 * i;
            r.push(b);
        }
        r
    }

    const BOOK: Quote = Quote {
        bid: 1029,
        ask: 1030,
        depth_qty: 4000,
        last_qty: 100,
    };

    #[test]
    fn components_and_weights_add_up() {
        let r = SignalRanker::new(RankingConfig::default());
        let s = signal(1, StrategyId::TrendPullback, 1030, 1010, 1070);
        let sc = r.score(&s, &trending(), &rising(), &BOOK);
        // momentum: 30 / 10 / 3 = 1.0; trend 35/50 = 0.7; regime 35/40; rr 2/3.
        assert_eq!(sc.momentum, 10_000);
        assert_eq!(sc.trend, 7_000);
        assert_eq!(sc.regime, 8_750);
        assert_eq!(sc.rr, 6_667);
        let spread_bps = 1.0 / 1029.5 * 10_000.0;
        let liq: f64 = 0.5 * (1.0 - spread_bps / 15.0) + 0.5;
        assert_eq!(sc.liquidity, (liq * 10_000.0).round() as u16);
        let total = 0.25 * 1.0 + 0.25 * 0.7 + 0.20 * liq + 0.15 * 0.875 + 0.15 * (2.0 / 3.0);
        assert!(
            (sc.total as f64 / 10_000.0 - total).abs() < 1.5e-4,
            "{sc:?}"
        );
        assert_eq!(sc.penalty, 0);
    }

    #[test]
    fn a_wide_spread_is_penalised_and_reversion_likes_a_range() {
        let r = SignalRanker::new(RankingConfig::default());
        let s = signal(1, StrategyId::TrendPullback, 1030, 1010, 1070);
        let wide = Quote {
            bid: 1000,
            ask: 1030,
            ..BOOK
        };
        let a = r.score(&s, &trending(), &rising(), &BOOK);
        let b = r.score(&s, &trending(), &rising(), &wide);
        assert_eq!(b.penalty, 2_000);
        assert!(b.total < a.total - 2_000);
        let rev = signal(1, StrategyId::VwapReversion, 1030, 1010, 1070);
        assert_eq!(r.score(&rev, &trending(), &rising(), &BOOK).regime, 1_250);
    }

    #[test]
    fn order_is_by_score_then_token_and_top_n_per_bar() {
        let mut v: Vec<Signal> = [(5, 300), (2, 900), (9, 900), (1, 100)]
            .iter()
            .map(|&(t, score)| {
                let mut s = signal(t, StrategyId::Orb, 100, 90, 120);
                s.score.total = score;
                s
            })
            .collect();
        SignalRanker::sort(&mut v);
        let tokens: Vec<u32> = v.iter().map(|s| s.token.0).collect();
        assert_eq!(tokens, vec![2, 9, 5, 1]);
        let mut r = SignalRanker::new(RankingConfig {
            top_n: 2,
            ..RankingConfig::default()
        });
        let admitted: Vec<bool> = v.iter().map(|s| r.admit(s)).collect();
        assert_eq!(admitted, vec![true, true, false, false]);
        // The next bar has room again.
        let mut later = v[3];
        later.ts += 60;
        assert!(r.admit(&later));
    }
}
