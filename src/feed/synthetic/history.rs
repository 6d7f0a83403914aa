//! The synthetic market's past: the closing ATM IVs of the days before today (for IV
//! percentiles) and one-minute candles of past sessions (for warm-up), each underlying's
//! path from its own seeded generator, scaled to end at today's starting price.

use super::*;

impl SyntheticMarket {
    /// Closing ATM IVs of the days before today for `underlying`, at `years` to expiry
    /// (oldest first): what a percentile of today's IV is taken over.
    pub fn iv_history(&self, underlying: &str, years: f64) -> Vec<f64> {
        self.underlyings
            .iter()
            .find(|u| u.name == underlying)
            .map(|u| {
                u.iv_levels
                    .iter()
                    .map(|&l| {
                        VolSurface {
                            atm_long: l,
                            ..u.surface
                        }
                        .atm(years)
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// One-minute candles of the `days` trading sessions before today for every instrument
    /// that is not an option (options have no bars to warm), oldest first: what the strategy
    /// stage warms its bars and indicators on, as LIVE would on Kite's historical candles.
    /// Each underlying's path is simulated with its own seeded generator (its volatility,
    /// a style per day) and scaled so the last close is today's starting price.
    pub fn history_candles(&self, days: usize) -> Vec<(Token, Vec<Candle>)> {
        if days == 0 {
            return Vec::new();
        }
        let sessions = self.calendar.previous_sessions(self.date, days);
        let minutes = ((self.close_ms - self.open_ms) / 60_000) as usize;
        let year_secs: f64 = 252.0 * 22_500.0;
        // paths[u] = per minute (open, high, low, close) as multiples of the path's start.
        let paths: Vec<Vec<[f64; 4]>> = self
            .underlyings
            .iter()
            .enumerate()
            .map(|(k, u)| {
                let mut rng = SimRng::new(self.rng_seed ^ (0xA5A5_0000 + k as u64));
                let mut px = 1.0f64;
                let mut out = Vec::with_capacity(minutes * sessions.len());
                let sigma = u.vol * (15.0 / year_secs).sqrt();
                for _ in &sessions {
                    let style = rng.range(0, 2);
                    let anchor = px;
                    for _ in 0..minutes {
                        let open = px;
                        let (mut hi, mut lo) = (px, px);
                        for _ in 0..4 {
                            let drift = match style {
                                0 => 6.5e-7,
                                1 => -6.5e-7,
                                _ => -(px / anchor).ln() / 900.0,
                            };
                            px *= (drift * 15.0 + sigma * rng.normal()).exp();
                            hi = hi.max(px);
                            lo = lo.min(px);
                        }
                        out.push([open, hi, lo, px]);
                    }
                }
                let scale = u.price / px;
                out.iter()
                    .map(|c| [c[0] * scale, c[1] * scale, c[2] * scale, c[3] * scale])
                    .collect()
            })
            .collect();
        let mut vol_rng = SimRng::new(self.rng_seed ^ 0x5EED_F00D);
        let mut out = Vec::new();
        for s in &self.instruments {
            if s.inst.instrument_type.is_option() {
                continue;
            }
            let path = &paths[s.underlying];
            let div = s.inst.divisor() as f64;
            let tick = s.inst.tick_size.0.max(1) as f64;
            let factor = match s.inst.instrument_type {
                InstrumentType::Future => {
                    (SIM_CARRY * self.years_to_expiry(&s.inst)).exp() * (1.0 + s.basis)
                }
                _ => 1.0,
            };
            let native = |x: f64| (((x * factor * div) / tick).round() * tick).max(tick) as i64;
            let is_index = s.inst.instrument_type == InstrumentType::Index;
            let lot = s.inst.lot_size.max(1) as u64;
            let mut candles = Vec::with_capacity(path.len());
            for (day_no, day) in sessions.iter().enumerate() {
                let open = ist_epoch(*day, self.calendar.open);
                for m in 0..minutes {
                    let c = path[day_no * minutes + m];
                    candles.push(Candle {
                        start: (open + 60 * m as i64) as u32,
                        open: native(c[0]),
                        high: native(c[1]),
                        low: native(c[2]),
                        close: native(c[3]),
                        volume: if is_index {
                            0
                        } else {
                            lot * vol_rng.range(200, 4000) as u64
                        },
                    });
                }
            }
            out.push((s.inst.token, candles));
        }
        out
    }
}
