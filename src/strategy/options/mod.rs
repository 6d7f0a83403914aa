//! OptionsRanker: on each closed bar of an underlying's index (NIFTY 50, NIFTY BANK) it takes
//! the first expiry inside `min_dte..=max_dte`, reads the forward from put-call parity at the
//! money (the nearest future's mid when parity has no quotes), the ATM implied volatility by
//! Black-76 from the call's and put's mids, and its percentile over the lookback (IVP). Inside
//! `ivp_min..=ivp_max` it builds every spread (or single option) `strategy_type` allows within
//! `strikes_from_atm` in the direction of the index's Supertrend, keeps those whose legs pass
//! `options_filters` and whose max profit / max loss is at least `rr_min`, and ranks them by
//! liquidity, reward/risk and nearness to the money. The best becomes one signal: a spread is
//! one multi-leg signal that risk sizes by its max loss.
//!
//! Zero, one-sided and crossed quotes never yield an IV: they are counted
//! (`aitrapp_options_quotes_*_total`) and skipped.

pub mod chain;
pub mod iv_history;

use super::bars::Bar;
use super::indicators::IndicatorValues;
use super::ranking::Components;
use crate::clock::{ist_date, TimeOfDay};
use crate::config::{OptionsRankerConfig, OptionsStrategyType};
use crate::domain::black76::{years_between, Black76, OptionKind};
use crate::domain::{
    Date, InstrumentMaster, Price, Side, Signal, SignalScore, SpreadKind, SpreadSpec, StrategyId,
    Tick,
};
use crate::telemetry::Metrics;
use chain::{OptionChain, OptionQuote, QuoteFault};
use iv_history::IvHistory;
use std::sync::Arc;

/// What one evaluation of a chain decided (for the stage's log and for tests).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Look {
    /// Not a chain's index, disabled, cooling down or outside the session.
    Idle,
    NoTrend,
    NoExpiry,
    NoForward,
    NoAtmIv,
    /// Too little IV history for a percentile (LIVE without `iv_history_file`).
    NoHistory,
    IvpOutside {
        ivp: f64,
    },
    NoCandidate {
        ivp: f64,
    },
    Signal {
        ivp: f64,
        atm_iv: f64,
    },
}

/// A chosen trade: the signal and what the ranking scores it by.
#[derive(Clone, Copy, Debug)]
pub struct OptionsSignal {
    pub signal: Signal,
    pub components: Components,
    pub ivp: f64,
    pub atm_iv: f64,
}

pub struct OptionsRanker {
    cfg: OptionsRankerConfig,
    chains: Vec<OptionChain>,
    history: Vec<IvHistory>,
    /// Today's last ATM IV per chain, pushed into the history when the day changes.
    last_iv: Vec<Option<f64>>,
    day: Vec<Date>,
    cooldown: Vec<u32>,
    /// Master index -> chain whose index it is.
    chain_of_index: Vec<Option<u8>>,
    /// Master index -> is one of our chains' options (its ticks update `quotes`).
    watched: Vec<bool>,
    /// The options this strategy may trade: its `instruments` filter and the universe (a
    /// banned underlying's options leave it).
    allowed: Vec<bool>,
    by_config: Vec<bool>,
    in_universe: Vec<bool>,
    quotes: Vec<OptionQuote>,
    tick_size: Vec<i64>,
    metrics: Arc<Metrics>,
    last_look: Look,
    /// The session close: the bar ending there gives the day's closing ATM IV.
    close: TimeOfDay,
    closed: Vec<Date>,
    close_note: Option<(usize, Date, f64)>,
}

fn allowed_options(master: &InstrumentMaster, cfg: &OptionsRankerConfig) -> Vec<bool> {
    master
        .iter()
        .map(|i| {
            i.instrument_type.is_option()
                && cfg.underlyings.iter().any(|u| u == i.name.as_str())
                && (cfg.instruments.is_empty()
                    || cfg
                        .instruments
                        .iter()
                        .any(|s| s == i.tradingsymbol.as_str()))
        })
        .collect()
}

impl OptionsRanker {
    pub fn new(
        cfg: OptionsRankerConfig,
        master: &InstrumentMaster,
        close: TimeOfDay,
        metrics: Arc<Metrics>,
    ) -> OptionsRanker {
        let n = master.len();
        let chains: Vec<OptionChain> = cfg
            .underlyings
            .iter()
            .filter_map(|u| OptionChain::build(master, u, close))
            .collect();
        let mut chain_of_index = vec![None; n];
        let mut watched = vec![false; n];
        for (c, ch) in chains.iter().enumerate() {
            chain_of_index[ch.index] = Some(c as u8);
            for e in &ch.expiries {
                for r in &e.strikes {
                    for k in [r.call, r.put].into_iter().flatten() {
                        watched[k] = true;
                    }
                }
            }
        }
        let lookback = cfg.iv_lookback_days as usize;
        let n_chains = chains.len();
        OptionsRanker {
            history: chains.iter().map(|_| IvHistory::new(lookback)).collect(),
            last_iv: vec![None; chains.len()],
            day: vec![Date(0); chains.len()],
            cooldown: vec![0; chains.len()],
            allowed: allowed_options(master, &cfg),
            by_config: allowed_options(master, &cfg),
            in_universe: vec![true; n],
            quotes: vec![OptionQuote::default(); n],
            tick_size: master.iter().map(|i| i.tick_size.0.max(1)).collect(),
            chains,
            chain_of_index,
            watched,
            cfg,
            metrics,
            last_look: Look::Idle,
            close,
            closed: vec![Date(0); n_chains],
            close_note: None,
        }
    }

    pub fn config(&self) -> &OptionsRankerConfig {
        &self.cfg
    }

    /// Where the quote-fault and IV-failure counters go.
    pub fn set_metrics(&mut self, metrics: Arc<Metrics>) {
        self.metrics = metrics;
    }

    pub fn set_config(&mut self, cfg: OptionsRankerConfig, master: &InstrumentMaster) {
        self.by_config = allowed_options(master, &cfg);
        self.cfg = cfg;
        self.combine();
    }

    /// The trading universe by master index (options of banned underlyings are out).
    pub fn set_universe(&mut self, universe: &[bool]) {
        if universe.len() == self.in_universe.len() {
            self.in_universe.copy_from_slice(universe);
            self.combine();
        }
    }

    fn combine(&mut self) {
        for k in 0..self.allowed.len() {
            self.allowed[k] = self.by_config[k] && self.in_universe[k];
        }
    }

    /// The chains found in the master (an underlying without its index or options has none).
    pub fn chains(&self) -> &[OptionChain] {
        &self.chains
    }

    /// Seeds one underlying's IV history, oldest day first.
    pub fn seed_history(&mut self, underlying: &str, days: &[f64]) {
        if let Some(c) = self.chains.iter().position(|c| c.underlying == underlying) {
            for &iv in days {
                self.history[c].push(iv);
            }
        }
    }

    pub fn history_len(&self, underlying: &str) -> usize {
        self.chains
            .iter()
            .position(|c| c.underlying == underlying)
            .map_or(0, |c| self.history[c].len())
    }

    pub fn last_look(&self) -> Look {
        self.last_look
    }

    /// True for the options whose quotes this strategy keeps.
    #[inline]
    pub fn watches(&self, idx: usize) -> bool {
        self.watched[idx]
    }

    #[inline]
    pub fn on_quote(&mut self, idx: usize, t: &Tick) {
        self.quotes[idx] = OptionQuote::of(t);
    }

    pub fn is_chain_index(&self, idx: usize) -> bool {
        self.chain_of_index[idx].is_some()
    }

    /// The day's closing ATM IV of a chain, once, when the bar ending at the close has
    /// been read: (chain, date, IV).
    pub fn take_close(&mut self) -> Option<(usize, Date, f64)> {
        self.close_note.take()
    }

    /// The nearest future of the chain whose index is `idx`.
    pub fn future_of(&self, idx: usize) -> Option<usize> {
        self.chains[self.chain_of_index[idx]? as usize].future
    }

    fn mid(&self, idx: Option<usize>) -> Option<f64> {
        let q = self.quotes[idx?];
        match q.mid() {
            Ok(m) => Some(m),
            Err(QuoteFault::Missing) => {
                Metrics::add(&self.metrics.options_quotes_missing_total, 1);
                None
            }
            Err(QuoteFault::Crossed) => {
                Metrics::add(&self.metrics.options_quotes_crossed_total, 1);
                None
            }
        }
    }

    fn iv(&self, model: Black76, premium: f64) -> Option<f64> {
        match model.implied_vol(premium) {
            Ok(v) => Some(v),
            Err(_) => {
                Metrics::add(&self.metrics.options_iv_failed_total, 1);
                None
            }
        }
    }

    /// A bar of an index closed: look at its chain. `future_mid` is the nearest future's mid
    /// (native units), the forward when parity has no quotes.
    pub fn on_index_bar(
        &mut self,
        idx: usize,
        bar: &Bar,
        values: &IndicatorValues,
        future_mid: Option<f64>,
        token_of: impl Fn(usize) -> crate::domain::Token,
    ) -> Option<OptionsSignal> {
        let c = self.chain_of_index[idx]? as usize;
        let ts = bar.end();
        let today = ist_date(ts as i64);
        if self.day[c] != today {
            if let Some(iv) = self.last_iv[c].take() {
                if self.day[c].0 != 0 {
                    self.history[c].push(iv);
                }
            }
            self.day[c] = today;
            self.cooldown[c] = 0;
        }
        let look = self.look(c, bar, values, future_mid, today, &token_of);
        // The day's closing ATM IV, once a day: from the bar ending one bar before the close
        // (15:25 for 5-minute bars), which closes even when the feed stops at 15:30.
        let close_ts = crate::clock::ist_epoch(today, self.close) - bar.window as i64;
        if ts as i64 >= close_ts && self.closed[c] != today {
            if let Some(iv) = self.last_iv[c] {
                self.closed[c] = today;
                self.close_note = Some((c, today, iv));
            }
        }
        self.last_look = match look {
            Ok(s) => {
                self.cooldown[c] = self.cfg.cooldown_bars;
                self.last_look = Look::Signal {
                    ivp: s.ivp,
                    atm_iv: s.atm_iv,
                };
                return Some(s);
            }
            Err(l) => l,
        };
        self.cooldown[c] = self.cooldown[c].saturating_sub(1);
        None
    }

    fn look(
        &mut self,
        c: usize,
        bar: &Bar,
        values: &IndicatorValues,
        future_mid: Option<f64>,
        today: Date,
        token_of: &impl Fn(usize) -> crate::domain::Token,
    ) -> Result<OptionsSignal, Look> {
        let cfg = &self.cfg;
        let ch = &self.chains[c];
        let ts = bar.end();
        let e = ch
            .expiry_for(today, cfg.min_dte, cfg.max_dte)
            .ok_or(Look::NoExpiry)?;
        let years = years_between(ts as i64, e.expiry_ts);
        if years <= 0.0 {
            return Err(Look::NoExpiry);
        }
        let rate = cfg.risk_free_rate;
        let spot = bar.candle.close as f64;
        // Forward from parity at the strike nearest spot, else the future.
        let near = e.nearest(spot).ok_or(Look::NoForward)?;
        let row = e.strikes[near];
        let forward = match (self.mid(row.call), self.mid(row.put)) {
            (Some(cm), Some(pm)) => row.strike as f64 + (rate * years).exp() * (cm - pm),
            _ => future_mid.ok_or(Look::NoForward)?,
        };
        if !(forward.is_finite() && forward > 0.0) {
            return Err(Look::NoForward);
        }
        let atm = e.nearest(forward).ok_or(Look::NoForward)?;
        let arow = e.strikes[atm];
        let model = |strike: i64, kind| Black76 {
            forward,
            strike: strike as f64,
            years,
            rate,
            kind,
        };
        let civ = self
            .mid(arow.call)
            .and_then(|m| self.iv(model(arow.strike, OptionKind::Call), m));
        let piv = self
            .mid(arow.put)
            .and_then(|m| self.iv(model(arow.strike, OptionKind::Put), m));
        let atm_iv = match (civ, piv) {
            (Some(a), Some(b)) => (a + b) / 2.0,
            (Some(a), None) | (None, Some(a)) => a,
            (None, None) => return Err(Look::NoAtmIv),
        };
        self.last_iv[c] = Some(atm_iv);
        let cfg = &self.cfg;
        if self.cooldown[c] > 0 {
            return Err(Look::Idle);
        }
        if self.history[c].len() < cfg.min_iv_history as usize {
            return Err(Look::NoHistory);
        }
        let ivp = self.history[c].percentile(atm_iv).ok_or(Look::NoHistory)?;
        if ivp < cfg.ivp_min || ivp > cfg.ivp_max {
            return Err(Look::IvpOutside { ivp });
        }
        let st = values.supertrend.ok_or(Look::NoTrend)?;
        let direction = if st.up { Side::Buy } else { Side::Sell };
        let best = self
            .best_candidate(c, e, atm, direction)
            .ok_or(Look::NoCandidate { ivp })?;
        let mut s = self.signal(best, direction, ts, token_of);
        s.ivp = ivp;
        s.atm_iv = atm_iv;
        Ok(s)
    }

    /// Every allowed trade around the money in `direction`; the best by rank.
    fn best_candidate(
        &self,
        c: usize,
        e: &chain::ExpiryChain,
        atm: usize,
        direction: Side,
    ) -> Option<Candidate> {
        let cfg = &self.cfg;
        let ch = &self.chains[c];
        let n = cfg.strikes_from_atm as i64;
        let lo = (atm as i64 - n).max(0) as usize;
        let hi = ((atm as i64 + n) as usize).min(e.strikes.len() - 1);
        let f = &cfg.options_filters;
        let leg = |k: Option<usize>| -> Option<(usize, OptionQuote, f64)> {
            let k = k?;
            if !self.allowed[k] {
                return None;
            }
            let q = self.quotes[k];
            q.mid().ok()?;
            let liq = q.liquidity(f, ch.lot);
            (liq > 0.0).then_some((k, q, liq))
        };
        let calls = direction == Side::Buy;
        let pick = |r: usize, call: bool| {
            let row = e.strikes[r];
            leg(if call { row.call } else { row.put })
        };
        let mut best: Option<Candidate> = None;
        let mut consider = |cand: Candidate| {
            if cand.rr + 1e-12 < cfg.rr_min {
                return;
            }
            if best.is_none_or(|b| cand.rank > b.rank) {
                best = Some(cand);
            }
        };
        let nearness = |r: usize| 1.0 - (r as f64 - atm as f64).abs() / (n as f64 + 1.0);
        match cfg.strategy_type {
            OptionsStrategyType::Directional => {
                for r in atm.saturating_sub(1).max(lo)..=(atm + 1).min(hi) {
                    let Some((k, q, liq)) = pick(r, calls) else {
                        continue;
                    };
                    let entry = q.ask;
                    let tick = self.tick_size[k];
                    let stop = ((entry as f64 * (1.0 - cfg.directional_stop_pct / 100.0))
                        / tick as f64)
                        .floor() as i64
                        * tick;
                    if stop <= 0 || stop >= entry {
                        continue;
                    }
                    let target = entry
                        + ((cfg.rr_min * (entry - stop) as f64 / tick as f64).ceil() as i64) * tick;
                    let rr = (target - entry) as f64 / (entry - stop) as f64;
                    consider(Candidate {
                        buy: k,
                        sell: None,
                        buy_price: entry,
                        sell_price: 0,
                        max_loss: entry - stop,
                        max_profit: target - entry,
                        stop,
                        target,
                        rr,
                        liquidity: liq,
                        rank: 0.5 * liq + 0.3 * (rr / 3.0).min(1.0) + 0.2 * nearness(r),
                    });
                }
            }
            OptionsStrategyType::DebitSpread | OptionsStrategyType::CreditSpread => {
                let debit = cfg.strategy_type == OptionsStrategyType::DebitSpread;
                // Debit: calls up / puts down, buy near, sell further in the direction.
                // Credit: puts up / calls down, sell near, buy further away from the money.
                let use_calls = if debit { calls } else { !calls };
                let outward: i64 = if use_calls { 1 } else { -1 };
                for near in lo..=hi {
                    // The near leg sits at or beyond the money on its side.
                    if (near as i64 - atm as i64) * outward < 0 {
                        continue;
                    }
                    for w in 1..=cfg.max_width_strikes as i64 {
                        let far = near as i64 + outward * w;
                        if far < lo as i64 || far > hi as i64 {
                            break;
                        }
                        let far = far as usize;
                        let (Some(nl), Some(fl)) = (pick(near, use_calls), pick(far, use_calls))
                        else {
                            continue;
                        };
                        let width = (e.strikes[far].strike - e.strikes[near].strike).abs();
                        let (buy, sell) = if debit { (nl, fl) } else { (fl, nl) };
                        let (buy_price, sell_price) = (buy.1.ask, sell.1.bid);
                        let value = buy_price - sell_price;
                        let (max_loss, max_profit) = if debit {
                            (value, width - value)
                        } else {
                            (width + value, -value)
                        };
                        if max_loss <= 0 || max_profit <= 0 {
                            continue;
                        }
                        let rr = max_profit as f64 / max_loss as f64;
                        let liq = buy.2.min(sell.2);
                        let stop =
                            value - (cfg.spread_stop_fraction * max_loss as f64).round() as i64;
                        let target =
                            value + (cfg.spread_target_fraction * max_profit as f64).round() as i64;
                        consider(Candidate {
                            buy: buy.0,
                            sell: Some(sell.0),
                            buy_price,
                            sell_price,
                            max_loss,
                            max_profit,
                            stop,
                            target,
                            rr,
                            liquidity: liq,
                            rank: 0.5 * liq + 0.3 * (rr / 3.0).min(1.0) + 0.2 * nearness(near),
                        });
                    }
                }
            }
        }
        best
    }

    fn signal(
        &self,
        c: Candidate,
        direction: Side,
        ts: u32,
        token_of: &impl Fn(usize) -> crate::domain::Token,
    ) -> OptionsSignal {
        let spread = c.sell.map(|sell| SpreadSpec {
            kind: if self.cfg.strategy_type == OptionsStrategyType::CreditSpread {
                SpreadKind::Credit
            } else {
                SpreadKind::Debit
            },
            sell_token: token_of(sell),
            buy_price: Price(c.buy_price),
            sell_price: Price(c.sell_price),
            max_loss: Price(c.max_loss),
            max_profit: Price(c.max_profit),
        });
        let entry = c.buy_price - c.sell_price;
        OptionsSignal {
            signal: Signal {
                token: token_of(c.buy),
                strategy: StrategyId::OptionsRanker,
                side: Side::Buy,
                entry: Price(entry),
                stop: Price(c.stop),
                target: Price(c.target),
                ts,
                score: SignalScore::default(),
                spread,
            },
            components: Components {
                strategy: StrategyId::OptionsRanker,
                direction,
                liquidity: c.liquidity,
                illiquid: false,
                far_from_vwap: false,
                rr: c.rr,
            },
            ivp: 0.0,
            atm_iv: 0.0,
        }
    }
}

/// Years from `from` (epoch seconds) to the expiry OptionsRanker would trade for
/// `underlying` on `today`: what a seeded IV history is measured at.
pub fn traded_expiry_years(
    master: &InstrumentMaster,
    cfg: &OptionsRankerConfig,
    underlying: &str,
    today: Date,
    from: i64,
    close: TimeOfDay,
) -> Option<f64> {
    let ch = OptionChain::build(master, underlying, close)?;
    let e = ch.expiry_for(today, cfg.min_dte, cfg.max_dte)?;
    Some(years_between(from, e.expiry_ts))
}

#[derive(Clone, Copy, Debug)]
struct Candidate {
    buy: usize,
    sell: Option<usize>,
    buy_price: i64,
    sell_price: i64,
    max_loss: i64,
    max_profit: i64,
    stop: i64,
    target: i64,
    rr: f64,
    liquidity: f64,
    rank: f64,
}

#[cfg(test)]
mod tests;
