//! The snapshot the control API reads: the risk stage publishes it on state changes at once
//! and on ticks every `monitoring.snapshot_interval_ms`.

use super::RiskStage;
use crate::clock::ist_epoch;
use crate::domain::black76::{years_between, Black76, OptionKind};
use crate::domain::*;
use crate::telemetry::snapshot::{narrow, symbol_bytes, DELTA_UNKNOWN, MAX_ORDERS, MAX_POSITIONS};
use crate::telemetry::Metrics;

impl RiskStage {
    /// Publishes when the snapshot interval has passed since the last publish; `now_ns` is the
    /// slot's receive time, so the per-tick check reads no clock.
    pub(super) fn publish_due(&mut self, now_ns: u64) {
        if self.snapshot.is_none() {
            return;
        }
        if let Some(last) = self.last_publish_ns {
            if now_ns.saturating_sub(last) < self.params.snapshot_interval.as_nanos() as u64 {
                return;
            }
        }
        self.publish();
    }

    /// Publishes the snapshot now (state changes publish at once; ticks via `publish_due`).
    pub fn publish(&mut self) {
        if self.snapshot.is_none() {
            return;
        }
        self.last_publish_ns = Some(crate::clock::mono_ns());
        let trades_today = self.trades_today().len() as u32;
        let working = self.working_orders() as u64;
        // Deltas first: they read the whole stage, the body is borrowed below.
        let mut deltas = [0i64; MAX_POSITIONS];
        let open = self
            .positions
            .iter()
            .enumerate()
            .filter(|(_, p)| p.is_open());
        for (k, (i, _)) in open.take(MAX_POSITIONS).enumerate() {
            deltas[k] = delta_milli(self, i);
        }
        let b = &mut *self.body;
        b.published_unix_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        b.pid = std::process::id();
        b.mode_live = self.params.live as u8;
        b.trading_state = self.state.code();
        b.market_open =
            (self.now_ts != 0 && self.calendar.is_market_open(self.now_ts as i64)) as u8;
        b.feed_connected = (self.ticks_seen > 0) as u8;
        b.session_phase = self.phase.code();
        b.exchange_ts = self.now_ts;
        b.trades_today = trades_today;
        b.wins = self.wins;
        b.losses = self.losses;
        b.capital_paise = self.params.sizing.capital_paise;
        b.daily_loss_limit_paise = self.params.daily_loss_limit_paise;
        b.heat_limit_paise = self.params.heat_limit_paise;
        b.charges_today_paise = self.charges_today.total().0;
        b.ticks_seen = self.ticks_seen;
        let mut n = 0;
        let (mut realized, mut unrealized, mut risk) = (0i64, 0i64, 0i64);
        for (i, p) in self.positions.iter().enumerate() {
            realized += p.realized.0;
            unrealized += p.unrealized().0;
            risk += p.open_risk().0;
            if p.is_open() && n < MAX_POSITIONS {
                let inst = self.master.by_index(i);
                let r = &mut b.positions[n];
                r.token = inst.token.0;
                r.strategy = p.strategy.unwrap_or(StrategyId::Risk).code();
                r.symbol = symbol_bytes(inst.tradingsymbol.as_str());
                r.qty = p.qty;
                r.avg_price = p.avg_price.0;
                r.ltp = p.ltp.0;
                r.realized_paise = p.realized.0;
                r.unrealized_paise = p.unrealized().0;
                r.stop = p.stop.0;
                r.target = p.target.0;
                r.divisor = narrow(p.divisor, 1, u32::MAX);
                r.delta_milli = deltas[n];
                r.trip_realized_paise = p.realized.0 - self.realized_at_open[i].0;
                r.charges_paise = self.trip_charges[i].total().0;
                r.spread = self
                    .spreads
                    .of_leg(i)
                    .map_or(0, |k| self.spreads.spreads[k].id);
                n += 1;
            }
        }
        b.positions_count = n as u32;
        risk += self
            .spreads
            .live()
            .map(|s| s.heat_paise(self.positions[s.buy].divisor))
            .sum::<i64>();
        b.realized_paise = realized - self.day_realized_base.0;
        b.unrealized_paise = unrealized;
        b.open_risk_paise = risk;
        let total = self.oms.len();
        let start = total.saturating_sub(MAX_ORDERS);
        for (slot, o) in self.oms.iter().skip(start).enumerate() {
            let inst = self.master.get(o.intent.token);
            let r = &mut b.orders[slot];
            r.id = o.intent.id.0;
            r.token = o.intent.token.0;
            r.status = o.status.as_u8();
            r.side = (o.intent.side == Side::Sell) as u8;
            r.order_type = (o.intent.order_type == OrderType::Limit) as u8;
            r.purpose = o.intent.purpose as u8;
            r.symbol = symbol_bytes(inst.map(|i| i.tradingsymbol.as_str()).unwrap_or(""));
            r.qty = narrow(o.intent.qty.0, i32::MIN, i32::MAX);
            r.filled = narrow(o.filled.0, i32::MIN, i32::MAX);
            r.price = o.intent.price.0;
            r.avg_fill = o.avg_fill.0;
            r.divisor = narrow(inst.map(|i| i.divisor()).unwrap_or(100), 1, u32::MAX);
            r.ts = o.intent.ts;
        }
        b.orders_count = (total - start) as u32;
        use std::sync::atomic::Ordering::Relaxed;
        self.metrics.positions_open.store(n as u64, Relaxed);
        self.metrics.orders_working.store(working, Relaxed);
        let heat = risk.max(0) as u64;
        self.metrics.portfolio_heat_paise.store(heat, Relaxed);
        let cap = self.params.heat_limit_paise.max(0) as u64;
        self.metrics.portfolio_heat_limit_paise.store(cap, Relaxed);
        self.metrics
            .realized_pnl_paise
            .store((realized - self.day_realized_base.0) as u64, Relaxed);
        self.metrics
            .unrealized_pnl_paise
            .store(unrealized as u64, Relaxed);
        self.metrics
            .charges_today_paise
            .store(self.charges_today.total().0 as u64, Relaxed);
        Metrics::add(&self.metrics.snapshot_publishes_total, 1);
        if let Some(w) = &mut self.snapshot {
            w.publish(b);
        }
    }
}

/// Position delta x 1000 in underlying units: Black-76 for options (IV from the LTP,
/// forward from the nearest future), the quantity otherwise.
pub(super) fn delta_milli(r: &RiskStage, i: usize) -> i64 {
    let p = &r.positions[i];
    let inst = r.master.by_index(i);
    if !inst.instrument_type.is_option() {
        return p.qty * 1000;
    }
    let forward = r.future_of[i].map(|f| r.positions[f as usize].ltp.0);
    let (Some(fwd), Some(expiry)) = (forward, inst.expiry) else {
        return DELTA_UNKNOWN;
    };
    let model = Black76 {
        forward: fwd as f64,
        strike: inst.strike.0 as f64,
        years: years_between(r.now_ts as i64, ist_epoch(expiry, r.calendar.close)),
        rate: r.params.options_rate,
        kind: if inst.instrument_type == InstrumentType::Call {
            OptionKind::Call
        } else {
            OptionKind::Put
        },
    };
    match model.implied_vol(p.ltp.0 as f64) {
        Ok(vol) => (model.delta(vol) * p.qty as f64 * 1000.0).round() as i64,
        Err(_) => DELTA_UNKNOWN,
    }
}
