//! The built-in synthetic NSE market. Seeded and reproducible: a simulated IST session clock
//! (optionally faster than real time), prices with volatility regimes and a style per
//! underlying and day (trending up, trending down or ranging around its open), index futures
//! at spot with cost of carry, options priced by Black-76 from their forward on a volatility
//! surface with a smile and a term structure (`VolSurface`), quotes with spreads that widen
//! away from the money, volumes, OI and 5-level depth. Each underlying also has a seeded
//! history of daily at-the-money IVs, today's level being its latest, for IV percentiles.
//! It emits full-mode Kite binary frames, which the feed thread decodes with the real
//! decoder, so paper mode with no account exercises the real path.

use super::codec::encode_frame;
use super::{FrameSource, SourcePoll};
use crate::clock::{ist_epoch, SessionCalendar};
use crate::domain::black76::{years_between, Black76, OptionKind};
use crate::domain::{
    Candle, Date, DepthLevel, Instrument, InstrumentMaster, InstrumentType, Ohlc, Tick, TickMode,
    Token,
};
use std::time::Instant;

mod history;
mod rng;

pub use rng::SimRng;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Regime {
    Calm,
    Normal,
    Volatile,
}

impl Regime {
    fn vol_multiplier(self) -> f64 {
        match self {
            Regime::Calm => 0.6,
            Regime::Normal => 1.0,
            Regime::Volatile => 2.2,
        }
    }
}

/// A simulated price process for one underlying (an index or a stock).
#[derive(Clone, Debug)]
struct Underlying {
    name: String,
    price: f64,
    /// Annualised volatility.
    vol: f64,
    /// Drift per simulated second, as a fraction; changes with trend episodes.
    drift: f64,
    beta: f64,
    style: DayStyle,
    /// Ranging days revert to this (the session's first price).
    anchor: f64,
    surface: VolSurface,
    /// Daily ATM IV levels before today (oldest first); `surface.atm_long` is today's.
    iv_levels: Vec<f64>,
}

/// What an underlying does today.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DayStyle {
    TrendUp,
    TrendDown,
    /// Mean-reverting around the open (half-life of about ten minutes).
    Range,
}

/// Days of IV history each underlying carries.
pub const IV_HISTORY_DAYS: usize = 260;

#[derive(Clone, Debug)]
struct SimInstrument {
    inst: Instrument,
    underlying: usize,
    basis: f64,
    open: i32,
    high: i32,
    low: i32,
    close: i32,
    volume: u32,
    value_traded: f64,
    oi: u32,
    oi_high: u32,
    oi_low: u32,
    last_price: i32,
}

pub struct SyntheticMarket {
    rng: SimRng,
    underlyings: Vec<Underlying>,
    instruments: Vec<SimInstrument>,
    regime: Regime,
    market_factor_drift: f64,
    calendar: SessionCalendar,
    date: Date,
    /// Simulated epoch milliseconds.
    sim_ms: i64,
    start_ms: i64,
    open_ms: i64,
    close_ms: i64,
    step_ms: i64,
    speed: f64,
    started: Option<Instant>,
    exit_at_close: bool,
    ticks: Vec<Tick>,
    steps: u64,
    rng_seed: u64,
}

pub struct SyntheticParams {
    pub seed: u64,
    pub speed: f64,
    pub date: Date,
    pub start: crate::clock::TimeOfDay,
    pub step_ms: u32,
    pub exit_at_close: bool,
}

fn underlying_name(i: &Instrument) -> String {
    match i.instrument_type {
        InstrumentType::Index => match i.tradingsymbol.as_str() {
            "NIFTY 50" => "NIFTY".to_string(),
            "NIFTY BANK" => "BANKNIFTY".to_string(),
            other => other.to_string(),
        },
        InstrumentType::Equity => i.tradingsymbol.as_str().to_string(),
        _ => i.name.as_str().to_string(),
    }
}

/// The premium discount rate in the synthetic market (OptionsRanker's default
/// `risk_free_rate` is the same, so its parity forwards match the market's).
pub const SIM_RATE: f64 = 0.065;
/// Cost of carry of the index futures (rate less dividend yield).
const SIM_CARRY: f64 = 0.053;

/// The synthetic market's implied volatility surface for one underlying: an at-the-money
/// term structure (short expiries richer, decaying to the long level over `tau` years) and a
/// smile in standardised moneyness x = ln(K/F) / (atm * sqrt(T)), with put skew. The shape
/// is the usual index-option one (skewed smile, downward-sloping short end); the numbers
/// are ours, not fitted to NSE data.
#[derive(Clone, Copy, Debug)]
pub struct VolSurface {
    pub atm_long: f64,
    pub short_premium: f64,
    pub tau: f64,
    pub skew: f64,
    pub curvature: f64,
}

impl VolSurface {
    pub fn atm(&self, years: f64) -> f64 {
        self.atm_long * (1.0 + self.short_premium * (-years / self.tau).exp())
    }
    pub fn vol(&self, forward: f64, strike: f64, years: f64) -> f64 {
        let atm = self.atm(years);
        let x = (strike / forward).ln() / (atm * years.max(1e-6).sqrt());
        let x = x.clamp(-4.0, 4.0);
        (atm * (1.0 + self.skew * x + self.curvature * x * x)).clamp(0.4 * atm, 3.0 * atm)
    }
}

impl SyntheticMarket {
    /// Builds the market from the instruments to simulate. Prices start at each underlying's
    /// `last_price` in the instruments file.
    pub fn new(
        master: &InstrumentMaster,
        symbols: &[String],
        calendar: SessionCalendar,
        p: SyntheticParams,
    ) -> Self {
        let mut rng = SimRng::new(p.seed);
        let chosen: Vec<Instrument> = master
            .iter()
            .filter(|i| symbols.is_empty() || symbols.iter().any(|s| s == i.tradingsymbol.as_str()))
            .copied()
            .collect();
        let mut underlyings: Vec<Underlying> = Vec::new();
        // Underlyings come from indices and equities (and futures whose index is absent).
        let mut find_or_add = |name: &str, price: f64, vol: f64, rng: &mut SimRng| -> usize {
            if let Some(i) = underlyings.iter().position(|u| u.name == name) {
                return i;
            }
            let style = match rng.range(0, 3) {
                0 => DayStyle::TrendUp,
                1 => DayStyle::TrendDown,
                _ => DayStyle::Range,
            };
            // Log IV level as an AR(1) around 1.05 x realised vol; today is the last step.
            let mut x = 0.0f64;
            let mut levels = Vec::with_capacity(IV_HISTORY_DAYS + 1);
            for _ in 0..=IV_HISTORY_DAYS {
                x = 0.94 * x + 0.07 * rng.normal();
                levels.push(vol * 1.05 * x.exp());
            }
            let today = levels.pop().unwrap_or(vol);
            underlyings.push(Underlying {
                name: name.to_string(),
                price,
                vol,
                drift: 0.0,
                beta: if vol < 0.2 {
                    1.0
                } else {
                    0.6 + rng.unit() * 0.8
                },
                style,
                anchor: price,
                surface: VolSurface {
                    atm_long: today,
                    short_premium: 0.08,
                    tau: 0.05,
                    skew: -0.06,
                    curvature: 0.025,
                },
                iv_levels: levels,
            });
            underlyings.len() - 1
        };
        let mut sims = Vec::new();
        let ref_price = |name: &str| {
            master
                .iter()
                .find(|i| {
                    underlying_name(i) == name
                        && matches!(
                            i.instrument_type,
                            InstrumentType::Index | InstrumentType::Equity | InstrumentType::Future
                        )
                        && i.last_price.0 > 0
                })
                .map(|i| i.last_price.0 as f64 / i.divisor() as f64)
        };
        for inst in chosen {
            let name = underlying_name(&inst);
            let is_index_family = matches!(
                name.as_str(),
                "NIFTY" | "BANKNIFTY" | "FINNIFTY" | "MIDCPNIFTY"
            );
            let vol = if is_index_family {
                0.14
            } else {
                0.22 + rng.unit() * 0.12
            };
            let Some(px) = ref_price(&name) else { continue };
            let u = find_or_add(&name, px, vol, &mut rng);
            let basis = if inst.instrument_type == InstrumentType::Future {
                0.002 + rng.unit() * 0.004
            } else {
                0.0
            };
            sims.push(SimInstrument {
                inst,
                underlying: u,
                basis,
                open: 0,
                high: 0,
                low: 0,
                close: 0,
                volume: 0,
                value_traded: 0.0,
                oi: if inst.is_derivative() {
                    rng.range(50_000, 5_000_000)
                } else {
                    0
                },
                oi_high: 0,
                oi_low: 0,
                last_price: 0,
            });
        }
        let start_ms = ist_epoch(p.date, p.start) * 1000;
        let open_ms = ist_epoch(p.date, calendar.open) * 1000;
        let close_ms = ist_epoch(p.date, calendar.close) * 1000;
        let mut m = SyntheticMarket {
            rng,
            underlyings,
            instruments: sims,
            regime: Regime::Normal,
            market_factor_drift: 0.0,
            calendar,
            date: p.date,
            sim_ms: start_ms,
            start_ms,
            open_ms,
            close_ms,
            step_ms: p.step_ms as i64,
            speed: p.speed,
            started: None,
            exit_at_close: p.exit_at_close,
            ticks: Vec::new(),
            steps: 0,
            rng_seed: p.seed,
        };
        let n = m.instruments.len();
        m.ticks = Vec::with_capacity(n);
        for i in 0..n {
            let px = m.price_of(i);
            let s = &mut m.instruments[i];
            s.close = px;
            s.last_price = px;
        }
        m
    }

    /// Each instrument's previous close (the price the session opens from).
    pub fn previous_closes(&self) -> Vec<(Token, i32)> {
        self.instruments
            .iter()
            .map(|s| (s.inst.token, s.close))
            .collect()
    }

    pub fn date(&self) -> Date {
        self.date
    }
    pub fn instrument_count(&self) -> usize {
        self.instruments.len()
    }
    pub fn sim_epoch_secs(&self) -> i64 {
        self.sim_ms / 1000
    }

    fn years_to_expiry(&self, inst: &Instrument) -> f64 {
        let Some(exp) = inst.expiry else { return 0.0 };
        let expiry_ms = ist_epoch(exp, self.calendar.close) * 1000;
        years_between(self.sim_ms / 1000, expiry_ms / 1000).max(0.0)
    }

    /// Every underlying's style today, by name (for tests and the session log).
    pub fn styles(&self) -> Vec<(String, DayStyle)> {
        self.underlyings
            .iter()
            .map(|u| (u.name.clone(), u.style))
            .collect()
    }

    /// Fair value of instrument `i` in rupees (options: Black-76 from their forward).
    fn fair_rupees(&self, i: usize) -> f64 {
        let s = &self.instruments[i];
        let u = &self.underlyings[s.underlying];
        match s.inst.instrument_type {
            InstrumentType::Future => {
                u.price * (SIM_CARRY * self.years_to_expiry(&s.inst)).exp() * (1.0 + s.basis)
            }
            InstrumentType::Call | InstrumentType::Put => {
                let strike = s.inst.strike.0 as f64 / s.inst.divisor() as f64;
                let years = self
                    .years_to_expiry(&s.inst)
                    .max(1.0 / (365.0 * 24.0 * 4.0));
                let forward = u.price * (SIM_CARRY * years).exp();
                let kind = if s.inst.instrument_type == InstrumentType::Call {
                    OptionKind::Call
                } else {
                    OptionKind::Put
                };
                let model = Black76 {
                    forward,
                    strike,
                    years,
                    rate: SIM_RATE,
                    kind,
                };
                model.price(u.surface.vol(forward, strike, years)).max(0.05)
            }
            _ => u.price,
        }
    }

    /// Current price of instrument `i` in native units, on its tick grid.
    fn price_of(&self, i: usize) -> i32 {
        let s = &self.instruments[i];
        let div = s.inst.divisor() as f64;
        let tick = s.inst.tick_size.0.max(1) as f64;
        let native = ((self.fair_rupees(i) * div) / tick).round() * tick;
        native.clamp(tick, i32::MAX as f64) as i32
    }

    fn evolve(&mut self) {
        let dt = self.step_ms as f64 / 1000.0;
        // Regime switches about every 20 simulated minutes; trend episodes about every 10.
        if self.rng.unit() < dt / 1200.0 {
            self.regime = match self.rng.range(0, 2) {
                0 => Regime::Calm,
                1 => Regime::Normal,
                _ => Regime::Volatile,
            };
        }
        if self.rng.unit() < dt / 600.0 {
            self.market_factor_drift = self.rng.normal() * 4.0e-7;
        }
        let year_secs = 252.0 * 22_500.0;
        let market_shock = self.rng.normal();
        let vm = self.regime.vol_multiplier();
        for u in self.underlyings.iter_mut() {
            // Trend days move about 1.5% over the session on top of the noise; ranging days
            // are pulled back to their open.
            u.drift = match u.style {
                DayStyle::TrendUp => 6.5e-7,
                DayStyle::TrendDown => -6.5e-7,
                DayStyle::Range => -(u.price / u.anchor).ln() / 900.0,
            };
            let sigma = u.vol * vm * (dt / year_secs).sqrt();
            let idio = self.rng.normal();
            let shock = u.beta.min(1.0) * market_shock
                + (1.0 - u.beta.min(1.0) * u.beta.min(1.0)).max(0.0).sqrt() * idio;
            let ret = (u.drift + self.market_factor_drift * u.beta) * dt + sigma * shock;
            u.price *= ret.exp();
        }
    }

    fn make_ticks(&mut self) {
        self.ticks.clear();
        let ts = (self.sim_ms / 1000) as u32;
        for i in 0..self.instruments.len() {
            let mut px = self.price_of(i);
            let inst = self.instruments[i].inst;
            let tick_sz = inst.tick_size.0.max(1) as i32;
            let lot = inst.lot_size.max(1);
            let ltq = lot * self.rng.range(1, 20);
            let mut spread_ticks = if self.regime == Regime::Volatile {
                self.rng.range(1, 3)
            } else {
                1
            } as i32;
            // The touch: options quote about 0.15% of premium wide, wider away from the
            // money, around their fair value; the rest quote one tick over the last price.
            let mut bid_px = px;
            if inst.instrument_type.is_option() {
                let fair = self.fair_rupees(i) * inst.divisor() as f64;
                let u = &self.underlyings[self.instruments[i].underlying];
                let strike = inst.strike.0 as f64 / inst.divisor() as f64;
                let away = 1.0 + 20.0 * (strike / u.price).ln().abs();
                spread_ticks = ((0.0015 * fair * away / tick_sz as f64).round() as i32).max(1)
                    + (self.regime == Regime::Volatile) as i32;
                let half = spread_ticks as f64 * tick_sz as f64 / 2.0;
                let t = tick_sz as f64;
                bid_px = (((fair - half) / t).floor() * t).max(t) as i32;
                px = px.clamp(bid_px, bid_px + spread_ticks * tick_sz);
            }
            let mut buy = [DepthLevel::default(); 5];
            let mut sell = [DepthLevel::default(); 5];
            let mut tbq = 0u32;
            let mut tsq = 0u32;
            for lvl in 0..5 {
                let bq = lot * self.rng.range(1, 40);
                let sq = lot * self.rng.range(1, 40);
                tbq += bq * 30;
                tsq += sq * 30;
                buy[lvl] = DepthLevel {
                    quantity: bq,
                    price: (bid_px - tick_sz * (lvl as i32)).max(tick_sz),
                    orders: self.rng.range(1, 30) as u16,
                };
                sell[lvl] = DepthLevel {
                    quantity: sq,
                    price: bid_px + tick_sz * (spread_ticks + lvl as i32),
                    orders: self.rng.range(1, 30) as u16,
                };
            }
            let oi_step = self.rng.range(0, 2000) as i64 - 1000;
            let s = &mut self.instruments[i];
            if s.open == 0 {
                s.open = px;
                s.high = px;
                s.low = px;
                s.oi_high = s.oi;
                s.oi_low = s.oi;
            }
            s.high = s.high.max(px);
            s.low = s.low.min(px);
            s.volume = s.volume.saturating_add(ltq);
            s.value_traded += px as f64 * ltq as f64;
            if s.inst.is_derivative() {
                s.oi = (s.oi as i64 + oi_step * lot as i64).max(lot as i64) as u32;
                s.oi_high = s.oi_high.max(s.oi);
                s.oi_low = s.oi_low.min(s.oi);
            }
            s.last_price = px;
            let is_index = s.inst.instrument_type == InstrumentType::Index;
            self.ticks.push(Tick {
                token: s.inst.token,
                mode: TickMode::Full,
                is_index,
                last_price: px,
                last_traded_quantity: if is_index { 0 } else { ltq },
                average_traded_price: if is_index {
                    0
                } else {
                    (s.value_traded / s.volume.max(1) as f64) as i32
                },
                volume_traded: if is_index { 0 } else { s.volume },
                total_buy_quantity: if is_index { 0 } else { tbq },
                total_sell_quantity: if is_index { 0 } else { tsq },
                ohlc: Ohlc {
                    open: s.open,
                    high: s.high,
                    low: s.low,
                    close: s.close,
                },
                price_change: if is_index { px - s.close } else { 0 },
                last_trade_time: if is_index { 0 } else { ts },
                oi: s.oi,
                oi_day_high: s.oi_high,
                oi_day_low: s.oi_low,
                exchange_timestamp: ts,
                buy: if is_index { Default::default() } else { buy },
                sell: if is_index { Default::default() } else { sell },
            });
        }
    }

    /// Advances one step and writes its frame into `out`; `None` outside the session.
    pub fn step(&mut self, out: &mut Vec<u8>) -> SourcePoll {
        self.sim_ms += self.step_ms;
        self.steps += 1;
        if self.sim_ms < self.open_ms || self.sim_ms >= self.close_ms {
            if self.sim_ms >= self.close_ms && self.exit_at_close {
                return SourcePoll::End;
            }
            // Kite sends a 1-byte heartbeat when there is nothing to stream.
            out.clear();
            out.push(0);
            return SourcePoll::Frame;
        }
        self.evolve();
        self.make_ticks();
        encode_frame(self.ticks.iter(), TickMode::Full, out);
        SourcePoll::Frame
    }
}

impl FrameSource for SyntheticMarket {
    fn poll(&mut self, out: &mut Vec<u8>) -> SourcePoll {
        if self.speed > 0.0 {
            let started = *self.started.get_or_insert_with(Instant::now);
            let due_ms =
                self.start_ms + (started.elapsed().as_secs_f64() * 1000.0 * self.speed) as i64;
            if self.sim_ms + self.step_ms > due_ms {
                return SourcePoll::Idle;
            }
        }
        self.step(out)
    }
    fn lockstep(&self) -> bool {
        true
    }
    fn exchange_now(&self) -> Option<u32> {
        Some((self.sim_ms / 1000) as u32)
    }
    fn catch_up(&mut self, out: &mut Vec<u8>) -> SourcePoll {
        self.step(out)
    }
    fn resume_pacing(&mut self) {
        self.start_ms = self.sim_ms;
        self.started = None;
    }
    fn describe(&self) -> String {
        format!(
            "synthetic market: {} instruments, session {}, speed {}",
            self.instruments.len(),
            self.date,
            if self.speed > 0.0 {
                format!("{}x", self.speed)
            } else {
                "as fast as possible".into()
            }
        )
    }
}

#[cfg(test)]
mod tests;
