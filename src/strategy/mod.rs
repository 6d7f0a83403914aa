//! The strategy stage: bars in every configured window on exchange time (closed by the
//! session clock), the indicators on each, and the strategies over the trading universe:
//! ORB on ticks and 1-minute bars, TrendPullback and VWAPReversion on bar closes. Every signal
//! is scored by the ranking and only the best `ranking.top_n` of a bar go on to risk. It holds
//! no positions: risk decides everything.

pub mod bars;
pub mod indicators;
pub mod options;
pub mod orb;
pub mod ranking;
pub mod sit_out;
pub mod trend_pullback;
pub mod vwap_reversion;
mod warm_up;

use crate::clock::TimeOfDay;
use crate::config::{AppConfig, RankingConfig, StrategiesConfig};
use crate::domain::{
    ControlCommand, Event, InstrumentMaster, InstrumentType, Signal, Slot, StrategyId, Tick,
};
use crate::telemetry::hot_log::{HotEvent, HotLog};
use bars::{BarSeries, VolumeDelta};
use crossbeam_channel::{Receiver, Sender};
use indicators::{IndicatorPeriods, IndicatorSet};
use options::OptionsRanker;
use orb::Orb;
use ranking::{Quote, SignalRanker};
use std::sync::Arc;
use trend_pullback::TrendPullback;
use vwap_reversion::VwapReversion;

/// What a reload hands the strategy stage. It travels beside the ring (a universe is not a
/// Copy slot); the sequenced `ControlCommand` that follows it says when to apply it.
#[derive(Clone, Debug)]
pub enum StrategyUpdate {
    Strategies {
        request: u64,
        strategies: Box<StrategiesConfig>,
        ranking: Box<RankingConfig>,
    },
    Universe {
        request: u64,
        universe: Vec<bool>,
    },
}

impl StrategyUpdate {
    fn request(&self) -> u64 {
        match self {
            StrategyUpdate::Strategies { request, .. }
            | StrategyUpdate::Universe { request, .. } => *request,
        }
    }
}

/// The strategy stage's answer to a reload, for the control thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReloadAck {
    pub request: u64,
    /// Instruments the strategies may trade after the reload.
    pub tradable: u32,
    pub orb_enabled: bool,
    /// By `StrategyId::index`.
    pub enabled: [bool; crate::domain::STRATEGY_COUNT],
}

/// Everything the stage is built from (the config's strategies, indicators, ranking and
/// bar sections).
#[derive(Clone, Debug)]
pub struct StrategySettings {
    pub windows: Vec<u32>,
    pub bar_history: usize,
    pub open: TimeOfDay,
    /// The session close: option expiries are at this time on their day.
    pub close: TimeOfDay,
    pub indicators: IndicatorPeriods,
    pub strategies: StrategiesConfig,
    pub ranking: RankingConfig,
}

impl StrategySettings {
    pub fn from_config(cfg: &AppConfig, open: TimeOfDay, close: TimeOfDay) -> StrategySettings {
        StrategySettings {
            windows: cfg.websocket.aggregation_windows.clone(),
            bar_history: cfg.websocket.bar_history as usize,
            open,
            close,
            indicators: IndicatorPeriods::from(&cfg.indicators),
            strategies: cfg.strategies.clone(),
            ranking: cfg.ranking.clone(),
        }
    }
}

/// Which instruments a bar strategy may trade: the universe's futures and equities (options
/// are OptionsRanker's), narrowed by its `instruments`.
fn allowed(master: &InstrumentMaster, universe: &[bool], filter: &[String]) -> Vec<bool> {
    master
        .iter()
        .zip(universe)
        .map(|(i, &u)| {
            u && !i.instrument_type.is_option()
                && (filter.is_empty() || filter.iter().any(|s| s == i.tradingsymbol.as_str()))
        })
        .collect()
}

pub struct StrategyStage {
    master: Arc<InstrumentMaster>,
    /// Instruments the strategies may trade, by master index.
    universe: Vec<bool>,
    /// Per strategy (by `StrategyId::index`), narrowed by its `instruments` filter.
    allowed: [Vec<bool>; 3],
    /// Instruments whose bars and indicators are kept: the universe and the indices. Ticks
    /// of anything else (the option chains, today) cost one lookup.
    tracked: Vec<bool>,
    windows: Vec<u32>,
    /// `series[idx * windows + w]`, and the indicators on each.
    series: Vec<BarSeries>,
    indicators: Vec<IndicatorSet>,
    volume: Vec<VolumeDelta>,
    quotes: Vec<Quote>,
    orb: Orb,
    /// Window index of each strategy's timeframe: ORB (1 minute or the smallest), trend, vwap.
    orb_w: usize,
    trend_w: usize,
    vwap_w: usize,
    trend: TrendPullback,
    vwap: VwapReversion,
    options: OptionsRanker,
    options_w: usize,
    ranker: SignalRanker,
    /// Bar-close signals waiting to be ranked; allocated once.
    batch: Vec<Signal>,
    /// Finished bars of the smallest window for risk's exit rules (ATR, volatility stop);
    /// allocated once, sent before the bar's signals.
    bars_out: Vec<crate::domain::BarStat>,
    exit_w: usize,
    /// Sit-out counts last said: ORB, VWAP reversion.
    sit_outs_noted: [u32; 2],
    /// Replaying past candles: bars and indicators only; options and signals are off, and
    /// ORB sees only the bars of `warm_today` (today's range from historical candles).
    warming: bool,
    warm_today: crate::domain::Date,
    reloads: Option<(Receiver<StrategyUpdate>, Sender<ReloadAck>)>,
    hot: Option<HotLog>,
    /// Where the feed-to-strategy latency goes.
    metrics: Option<Arc<crate::telemetry::Metrics>>,
}

impl StrategyStage {
    pub fn new(
        master: Arc<InstrumentMaster>,
        universe: Vec<bool>,
        settings: StrategySettings,
    ) -> StrategyStage {
        let n = master.len();
        let StrategySettings {
            windows,
            bar_history,
            open,
            close,
            indicators: periods,
            strategies: s,
            ranking,
        } = settings;
        let mut series = Vec::with_capacity(n * windows.len());
        let mut indicators = Vec::with_capacity(n * windows.len());
        for _ in 0..n {
            for &w in &windows {
                series.push(BarSeries::new(w, open.0, bar_history));
                indicators.push(IndicatorSet::new(&periods));
            }
        }
        // ORB's range is built from 1-minute bars, or the smallest size configured.
        let orb_minutes = if windows.contains(&1) {
            1
        } else {
            windows.iter().copied().min().unwrap_or(1)
        };
        let mut stage = StrategyStage {
            allowed: [Vec::new(), Vec::new(), Vec::new()],
            tracked: Vec::new(),
            orb: Orb::new(s.orb, open, n),
            trend: TrendPullback::new(s.trend_pullback, n),
            vwap: VwapReversion::new(s.vwap_reversion, open, n),
            options: OptionsRanker::new(
                s.options_ranker,
                &master,
                close,
                Arc::new(crate::telemetry::Metrics::default()),
            ),
            options_w: 0,
            ranker: SignalRanker::new(ranking),
            batch: Vec::with_capacity(3 * n + 8),
            bars_out: Vec::with_capacity(n + 8),
            exit_w: windows
                .iter()
                .enumerate()
                .min_by_key(|(_, w)| **w)
                .map_or(0, |(i, _)| i),
            orb_w: windows.iter().position(|&w| w == orb_minutes).unwrap_or(0),
            trend_w: 0,
            vwap_w: 0,
            master,
            universe,
            windows,
            series,
            indicators,
            volume: vec![VolumeDelta::default(); n],
            quotes: vec![Quote::default(); n],
            sit_outs_noted: [0; 2],
            warming: false,
            warm_today: crate::domain::Date(0),
            reloads: None,
            hot: None,
            metrics: None,
        };
        stage.apply_settings();
        stage
    }

    fn window_index(&self, minutes: u32) -> usize {
        self.windows.iter().position(|&w| w == minutes).unwrap_or(0)
    }

    /// Recomputes the per-strategy instrument filters and timeframes.
    fn apply_settings(&mut self) {
        let (orb, trend, vwap) = (self.orb.config(), self.trend.config(), self.vwap.config());
        self.allowed = [
            allowed(&self.master, &self.universe, &orb.instruments),
            allowed(&self.master, &self.universe, &trend.instruments),
            allowed(&self.master, &self.universe, &vwap.instruments),
        ];
        self.tracked = self
            .master
            .iter()
            .zip(&self.universe)
            .map(|(i, &u)| {
                (u && !i.instrument_type.is_option()) || i.instrument_type == InstrumentType::Index
            })
            .collect();
        self.options.set_universe(&self.universe);
        self.trend_w = self.window_index(trend.timeframe_min);
        self.vwap_w = self.window_index(vwap.timeframe_min);
        self.options_w = self.window_index(self.options.config().timeframe_min);
    }

    /// Connects the reload channel from the control thread and the acknowledgement back.
    pub fn with_reloads(mut self, rx: Receiver<StrategyUpdate>, ack: Sender<ReloadAck>) -> Self {
        self.reloads = Some((rx, ack));
        self
    }

    /// Where OptionsRanker counts the quotes it skips.
    pub fn with_metrics(mut self, metrics: Arc<crate::telemetry::Metrics>) -> Self {
        self.options.set_metrics(metrics.clone());
        self.metrics = Some(metrics);
        self
    }

    /// Seeds OptionsRanker's IV history of one underlying (daily closing ATM IVs, oldest
    /// first).
    pub fn seed_iv_history(&mut self, underlying: &str, days: &[f64]) {
        self.options.seed_history(underlying, days);
    }

    pub fn iv_history_len(&self, underlying: &str) -> usize {
        self.options.history_len(underlying)
    }

    /// The chains OptionsRanker found, by underlying, with their expiries.
    pub fn option_chains(&self) -> &[options::chain::OptionChain] {
        self.options.chains()
    }

    /// Log lines for signals' score breakdowns and strategy notes.
    pub fn with_hot_log(mut self, hot: HotLog) -> Self {
        self.hot = Some(hot);
        self
    }

    pub fn tradable(&self) -> usize {
        self.universe.iter().filter(|&&u| u).count()
    }

    fn enabled(&self) -> [bool; crate::domain::STRATEGY_COUNT] {
        [
            self.orb.config().enabled,
            self.trend.config().enabled,
            self.vwap.config().enabled,
            self.options.config().enabled,
        ]
    }

    fn on_reload(&mut self, request: u64) {
        let Some((rx, _)) = &self.reloads else {
            return;
        };
        // Older updates whose command never came (a timed-out request) are dropped.
        let update = loop {
            match rx.try_recv() {
                Ok(u) if u.request() == request => break Some(u),
                Ok(_) => continue,
                Err(_) => break None,
            }
        };
        match update {
            Some(StrategyUpdate::Strategies {
                strategies,
                ranking,
                ..
            }) => {
                self.orb.set_config(strategies.orb.clone());
                self.trend.set_config(strategies.trend_pullback.clone());
                self.vwap.set_config(strategies.vwap_reversion.clone());
                self.options
                    .set_config(strategies.options_ranker.clone(), &self.master);
                self.ranker.set_config(*ranking);
                self.apply_settings();
            }
            Some(StrategyUpdate::Universe { universe, .. })
                if universe.len() == self.universe.len() =>
            {
                self.universe = universe;
                self.apply_settings();
            }
            Some(StrategyUpdate::Universe { .. }) | None => return,
        }
        if let Some((_, ack)) = &self.reloads {
            let enabled = self.enabled();
            let _ = ack.try_send(ReloadAck {
                request,
                tradable: self.tradable() as u32,
                orb_enabled: enabled[0],
                enabled,
            });
        }
    }

    /// Forwards the slot, then any signal it fired.
    pub fn on_slot(&mut self, slot: &Slot, out: &mut impl FnMut(&Slot)) {
        out(slot);
        match &slot.ev {
            Event::Tick(t) => self.on_tick(t, slot.recv_ns, out),
            Event::Clock { ts } => {
                let nw = self.windows.len();
                for i in 0..self.series.len() {
                    if let Some(bar) = self.series[i].close_due(*ts) {
                        self.on_bar_closed(i / nw, i % nw, &bar);
                    }
                }
                self.flush(slot.recv_ns, out);
                self.note_sit_outs(*ts);
            }
            Event::Control(
                ControlCommand::ReloadStrategies { request, .. }
                | ControlCommand::ReloadUniverse { request },
            ) => self.on_reload(*request),
            _ => {}
        }
    }

    fn on_tick(&mut self, t: &Tick, recv_ns: u64, out: &mut impl FnMut(&Slot)) {
        if let (Some(m), true) = (&self.metrics, recv_ns > 0) {
            m.stage_latency[0].observe_ns(crate::clock::mono_ns().saturating_sub(recv_ns));
        }
        let Some(idx) = self.master.index_of(t.token) else {
            return;
        };
        if self.options.watches(idx) {
            self.options.on_quote(idx, t);
        }
        let ts = t.exchange_timestamp;
        if ts == 0 || !self.tracked[idx] {
            return;
        }
        let ltp = t.last_price as i64;
        let vol = self.volume[idx].delta(ts, t.volume_traded);
        if let (Some(bid), Some(ask)) = (t.best_bid(), t.best_ask()) {
            let depth: u64 = t.buy.iter().chain(&t.sell).map(|l| l.quantity as u64).sum();
            self.quotes[idx] = Quote {
                bid: bid as i64,
                ask: ask as i64,
                depth_qty: depth,
                last_qty: t.last_traded_quantity,
            };
        }
        let nw = self.windows.len();
        for w in 0..nw {
            let i = idx * nw + w;
            if let Some(bar) = self.series[i].close_due(ts) {
                self.on_bar_closed(idx, w, &bar);
            }
            self.series[i].on_print(ts, ltp, vol, t.oi);
        }
        if !self.batch.is_empty() || !self.bars_out.is_empty() {
            self.flush(recv_ns, out);
        }
        if !self.allowed[0][idx] || !self.orb.config().enabled {
            return;
        }
        if let Some(mut sig) = self.orb.on_tick(idx, t.token, ts, ltp) {
            let i = idx * nw + self.orb_w;
            sig.score = self.ranker.score(
                &sig,
                self.indicators[i].values(),
                self.series[i].history(),
                &self.quotes[idx],
            );
            self.pass(sig, recv_ns, out);
        }
    }

    /// Says how many instruments ORB has no range for and VWAP reversion no trusted VWAP
    /// for today (started after the open with neither candles nor a recording of today to
    /// rebuild them from), on the clock, when a count has grown since it last said.
    fn note_sit_outs(&mut self, ts: u32) {
        let now = [
            (StrategyId::Orb, self.orb.skipped_today(ts),
                "started after the open with no candles or recording of today: no opening range today (it is never built from part of the window)"),
            (StrategyId::VwapReversion, self.vwap.sitting_out_today(ts),
                "started after the open with no candles or recording of today: sits out today (its session VWAP is never built from part of the session)"),
        ];
        for (k, (strategy, count, note)) in now.into_iter().enumerate() {
            if count > self.sit_outs_noted[k] {
                if let Some(h) = &self.hot {
                    h.emit(HotEvent::StrategyNote {
                        strategy,
                        count,
                        note,
                    });
                }
            }
            // Fewer on a new day: start counting again.
            self.sit_outs_noted[k] = count;
        }
    }

    /// A bar closed: indicators, then the strategies trading that bar size.
    fn on_bar_closed(&mut self, idx: usize, w: usize, bar: &bars::Bar) {
        let nw = self.windows.len();
        let i = idx * nw + w;
        if w == self.exit_w && !self.warming && self.bars_out.len() < self.bars_out.capacity() {
            let atr = self.indicators[i].values().atr.unwrap_or(0.0);
            let c = &bar.candle;
            self.bars_out.push(crate::domain::BarStat {
                token: self.master.by_index(idx).token,
                minutes: (bar.window / 60) as u16,
                high: crate::domain::Price(c.high),
                low: crate::domain::Price(c.low),
                close: crate::domain::Price(c.close),
                atr: crate::domain::Price(atr.round() as i64),
                end_ts: c.start + bar.window,
            });
        }
        let values = self.indicators[i].update(&bar.candle);
        if w == self.orb_w
            && (!self.warming || crate::clock::ist_date(bar.candle.start as i64) == self.warm_today)
        {
            self.orb.on_bar(idx, bar);
        }
        let inst = self.master.by_index(idx);
        let tick = inst.tick_size.0.max(1);
        let token = inst.token;
        let [_, trend_on, vwap_on, options_on] = self.enabled();
        let history = self.series[i].history();
        let mut fired = [None, None];
        // Both run on every bar of their size so their state stays warm while disabled; only
        // an enabled strategy's signal on an allowed instrument counts.
        if w == self.trend_w {
            let sig = self.trend.on_bar(idx, token, bar, history, &values, tick);
            if trend_on && self.allowed[1][idx] {
                fired[0] = sig;
            }
        }
        if w == self.vwap_w {
            let sig = self.vwap.on_bar(idx, token, bar, &values, tick);
            if vwap_on && self.allowed[2][idx] {
                fired[1] = sig;
            }
        }
        for mut sig in fired.into_iter().flatten() {
            sig.score = self.ranker.score(&sig, &values, history, &self.quotes[idx]);
            if self.batch.len() < self.batch.capacity() {
                self.batch.push(sig);
            }
        }
        if w == self.options_w && options_on && !self.warming && self.options.is_chain_index(idx) {
            let future_mid = self.options.future_of(idx).and_then(|f| {
                let q = self.quotes[f];
                (q.bid > 0 && q.ask > q.bid).then(|| (q.bid + q.ask) as f64 / 2.0)
            });
            let master = &self.master;
            let fired = self
                .options
                .on_index_bar(idx, bar, &values, future_mid, |k| master.by_index(k).token);
            if let (Some((c, date, iv)), Some(h)) = (self.options.take_close(), &self.hot) {
                h.emit(HotEvent::IvClose {
                    underlying: crate::domain::Symbol::new(&self.options.chains()[c].underlying),
                    date,
                    atm_iv: iv,
                });
            }
            if let Some(o) = fired {
                let mut sig = o.signal;
                sig.score = self
                    .ranker
                    .compose(o.components, &values, self.series[i].history());
                if self.batch.len() < self.batch.capacity() {
                    self.batch.push(sig);
                }
            }
        }
    }

    /// Ranks the waiting bar-close signals and passes the best on.
    fn flush(&mut self, recv_ns: u64, out: &mut impl FnMut(&Slot)) {
        for k in 0..self.bars_out.len() {
            out(&Slot {
                ev: Event::Bar(self.bars_out[k]),
                recv_ns,
            });
        }
        self.bars_out.clear();
        if self.batch.is_empty() {
            return;
        }
        SignalRanker::sort(&mut self.batch);
        for k in 0..self.batch.len() {
            let sig = self.batch[k];
            self.pass(sig, recv_ns, out);
        }
        self.batch.clear();
    }

    /// A scored signal goes to risk if it is in this bar's top N; the refusal is logged.
    fn pass(&mut self, sig: Signal, recv_ns: u64, out: &mut impl FnMut(&Slot)) {
        if self.ranker.admit(&sig) {
            out(&Slot {
                ev: Event::Signal(sig),
                recv_ns,
            });
        } else if let Some(h) = &self.hot {
            h.emit(HotEvent::SignalRanked {
                signal: sig,
                top_n: self.ranker.config().top_n,
            });
        }
    }
}

#[cfg(test)]
mod tests;
