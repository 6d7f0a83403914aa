//! Exits the risk stage sends on its own: the exit rules of `exits:` on every price and
//! every clock second (hard stop, ATR trailing stop, TP1 partial then breakeven, TP2, time
//! stop, MAE stop; the volatility stop on each finished bar), the EOD square-off per segment,
//! and the daily loss stop. One stop per position: the rules move `Position::stop`.

use super::*;
use crate::config::ExitsConfig;

/// The `exits:` section in the units the hot path uses.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ExitRules {
    pub stop_loss: bool,
    pub take_profit: bool,
    pub trail: bool,
    pub trail_atr_mult: f64,
    pub tp1_rr: f64,
    pub tp1_fraction: f64,
    pub tp2_rr: f64,
    pub tp2_fraction: f64,
    pub breakeven_after_tp1: bool,
    /// Seconds; 0 when off.
    pub time_stop_secs: u32,
    /// 0 when off.
    pub vol_spike_mult: f64,
    /// Fraction of entry; 0 when off.
    pub mae_fraction: f64,
}

impl ExitRules {
    pub fn from_config(x: &ExitsConfig) -> ExitRules {
        ExitRules {
            stop_loss: x.stop_loss_enabled,
            take_profit: x.take_profit_enabled,
            trail: x.trail_enabled,
            trail_atr_mult: x.trail_atr_mult,
            tp1_rr: x.tp1_rr,
            tp1_fraction: x.tp1_partial_pct / 100.0,
            tp2_rr: x.tp2_rr,
            tp2_fraction: x.tp2_partial_pct / 100.0,
            breakeven_after_tp1: x.move_to_be_after_tp1,
            time_stop_secs: if x.time_stop_enabled {
                x.time_stop_min * 60
            } else {
                0
            },
            vol_spike_mult: if x.vol_stop_enabled {
                x.vol_spike_mult
            } else {
                0.0
            },
            mae_fraction: if x.mae_stop_enabled {
                x.mae_stop_pct / 100.0
            } else {
                0.0
            },
        }
    }
}

/// What the rules remember about one round trip.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExitState {
    /// The strategy's stop when the trip opened: R is measured from it.
    pub initial_stop: Price,
    pub opened_ts: u32,
    /// The best price since entry (highest for a long, lowest for a short).
    pub best: Price,
    /// The largest quantity the trip held (partials are fractions of it).
    pub entry_qty: i64,
    pub tp1_done: bool,
    pub tp2_done: bool,
    /// The stop has been trailed past the initial stop.
    pub trailed: bool,
    /// Every exit purpose that filled in this trip (`OrderPurpose::bit`).
    pub reasons: u16,
    /// Exit fills, for the trade's average exit price.
    pub exit_value: i128,
    pub exit_qty: i64,
}

/// One position as the rules see it.
#[derive(Clone, Copy, Debug)]
pub struct ExitView {
    pub long: bool,
    /// Units still held and not already being closed.
    pub free_qty: i64,
    pub avg: Price,
    pub ltp: Price,
    pub now: u32,
    /// ATR in native units (0: not warm, no trailing).
    pub atr: i64,
    pub lot: i64,
    pub tick: i64,
}

/// The rules on one price (a tick, or the clock with the last price): may move `stop`, may
/// ask to close some quantity. Pure, so each rule is tested alone.
pub fn evaluate(
    r: &ExitRules,
    s: &mut ExitState,
    stop: &mut Price,
    v: &ExitView,
) -> Option<(OrderPurpose, i64)> {
    if v.free_qty <= 0 || v.ltp.0 <= 0 {
        return None;
    }
    let sign = if v.long { 1 } else { -1 };
    // Signed favourable move of `a` over `b`.
    let better = |a: i64, b: i64| (a - b) * sign;
    if s.best.0 == 0 || better(v.ltp.0, s.best.0) > 0 {
        s.best = v.ltp;
    }
    if r.trail && v.atr > 0 && stop.0 != 0 {
        let dist = (r.trail_atr_mult * v.atr as f64).round() as i64;
        // On the tick grid, rounded away from the price (never a tighter stop than asked):
        // against the stop order's side.
        let raw = s.best.0 - sign * dist;
        let exit_side = if v.long { Side::Sell } else { Side::Buy };
        let cand = round_against(raw, exit_side, v.tick);
        if cand > 0 && better(cand, stop.0) > 0 {
            *stop = Price(cand);
            if better(cand, s.initial_stop.0) > 0 {
                s.trailed = true;
            }
        }
    }
    let all = v.free_qty;
    if r.stop_loss && stop.0 != 0 && better(v.ltp.0, stop.0) <= 0 {
        let why = if s.trailed && better(stop.0, v.avg.0) != 0 {
            OrderPurpose::TrailingStop
        } else {
            OrderPurpose::StopLoss
        };
        return Some((why, all));
    }
    if r.mae_fraction > 0.0 {
        let adverse = -better(v.ltp.0, v.avg.0);
        if adverse as f64 >= r.mae_fraction * v.avg.0 as f64 {
            return Some((OrderPurpose::MaeStop, all));
        }
    }
    let risk = (v.avg.0 - s.initial_stop.0).abs();
    if r.take_profit && s.initial_stop.0 != 0 && risk > 0 {
        let gain = better(v.ltp.0, v.avg.0) as f64;
        let lot = v.lot.max(1);
        let part = |f: f64| -> i64 {
            let q = ((s.entry_qty as f64 * f) as i64 / lot) * lot;
            q.max(lot).min(all)
        };
        if !s.tp1_done && gain >= r.tp1_rr * risk as f64 {
            s.tp1_done = true;
            if r.breakeven_after_tp1 && better(v.avg.0, stop.0) > 0 {
                *stop = v.avg;
            }
            return Some((OrderPurpose::TakeProfit1, part(r.tp1_fraction)));
        }
        if !s.tp2_done && gain >= r.tp2_rr * risk as f64 {
            s.tp2_done = true;
            return Some((OrderPurpose::TakeProfit2, part(r.tp2_fraction)));
        }
    }
    if r.time_stop_secs > 0
        && v.now.saturating_sub(s.opened_ts) >= r.time_stop_secs
        && better(v.ltp.0, v.avg.0) <= 0
    {
        return Some((OrderPurpose::TimeStop, all));
    }
    None
}

/// The volatility stop on a finished bar: wider than `mult` ATRs and closing in the half of
/// its range that is against the position.
pub fn volatility_stop(r: &ExitRules, long: bool, bar: &BarStat) -> bool {
    let range = bar.high.0 - bar.low.0;
    if r.vol_spike_mult <= 0.0 || bar.atr.0 <= 0 || range <= 0 {
        return false;
    }
    let wide = range as f64 > r.vol_spike_mult * bar.atr.0 as f64;
    let low_half = (bar.close.0 - bar.low.0) * 2 < range;
    wide && (if long { low_half } else { !low_half })
}

impl RiskStage {
    /// The exit rules on instrument `idx` at its last price: moves its stop, sends an exit.
    /// One engine exit in flight at a time; spreads run their own stop and target.
    pub(super) fn check_exits(&mut self, idx: usize, emit: &mut impl FnMut(Event)) {
        let p = self.positions[idx];
        if !p.is_open()
            || self.spreads.leg_of[idx].is_some()
            || p.exit_working > 0
            || self.deferred_exit[idx].is_some()
            || self.now_ts < self.exit_retry_at[idx]
            || !self.phase.accepts(OrderType::Market)
        {
            return;
        }
        let inst = self.master.by_index(idx);
        let view = ExitView {
            long: p.qty > 0,
            free_qty: p.qty.abs() - p.exit_working,
            avg: p.avg_price,
            ltp: p.ltp,
            now: self.now_ts,
            atr: self.atr[idx],
            lot: inst.lot_size.max(1) as i64,
            tick: inst.tick_size.0,
        };
        let mut stop = p.stop;
        let out = evaluate(
            &self.params.exits,
            &mut self.exit_state[idx],
            &mut stop,
            &view,
        );
        self.positions[idx].stop = stop;
        match out {
            // The broker's stop is resting at this stop: it gets its grace to fill first.
            Some((OrderPurpose::StopLoss | OrderPurpose::TrailingStop, _))
                if self.broker_stop_has_it(idx) => {}
            Some((purpose, qty)) => self.exit_qty(idx, qty, purpose, emit),
            None => {
                self.stops[idx].hit_since = 0;
                if stop != p.stop {
                    // Trailed or moved to breakeven: the broker's stop follows.
                    self.ensure_stop(idx, emit);
                }
            }
        }
    }

    /// The operator's close of one position (a spread's leg closes its spread).
    pub(super) fn close_manually(&mut self, token: Token, emit: &mut impl FnMut(Event)) {
        let Some(idx) = self.master.index_of(token) else {
            return;
        };
        if let Some(k) = self.spreads.of_leg(idx) {
            return self.spread_event(k, spreads::SpreadEvent::Exit, OrderPurpose::Manual, emit);
        }
        let p = self.positions[idx];
        if p.is_open() && p.qty.abs() > p.exit_working {
            self.exit_position(idx, OrderPurpose::Manual, emit);
        }
    }

    /// A finished bar: the instrument's ATR for trailing, and the volatility stop.
    pub(super) fn on_bar(&mut self, b: &BarStat, emit: &mut impl FnMut(Event)) {
        let Some(idx) = self.master.index_of(b.token) else {
            return;
        };
        if b.atr.0 > 0 {
            self.atr[idx] = b.atr.0;
        }
        let p = self.positions[idx];
        if p.is_open()
            && self.spreads.leg_of[idx].is_none()
            && p.exit_working == 0
            && volatility_stop(&self.params.exits, p.qty > 0, b)
        {
            self.exit_qty(idx, p.qty.abs(), OrderPurpose::VolatilityStop, emit);
        }
    }

    /// Halts and closes everything when the day's P&L reaches the loss limit. True if it did.
    pub(super) fn check_daily_loss(&mut self, emit: &mut impl FnMut(Event)) -> bool {
        let pnl = self.daily_pnl_net();
        if pnl.0 > self.params.daily_loss_limit_paise || self.state == TradingState::Halted {
            return false;
        }
        self.log(HotEvent::DailyLossStop { pnl });
        self.close_everything(OrderPurpose::DailyLossStop, emit);
        self.set_state(TradingState::Halted, "daily loss limit hit");
        self.publish();
        true
    }

    /// Closes a segment's positions (`fo`: futures and options, spreads included) and, the
    /// first time each day, cancels its working entries.
    pub(super) fn square_off(&mut self, fo: bool, emit: &mut impl FnMut(Event)) {
        let first = self.squared_off[fo as usize] != self.day;
        if fo {
            self.exit_all_spreads(OrderPurpose::SquareOff, emit);
        }
        let mut closing = 0;
        for idx in 0..self.positions.len() {
            let p = &self.positions[idx];
            if self.is_fo[idx] == fo
                && p.is_open()
                && p.pending_exit.is_none()
                && self.spreads.leg_of[idx].is_none()
            {
                closing += 1;
                self.exit_position(idx, OrderPurpose::SquareOff, emit);
            }
        }
        if first {
            self.squared_off[fo as usize] = self.day;
            let mut cancels = 0;
            let master = self.master.clone();
            self.cancel_open(
                |r| {
                    r.intent.purpose == OrderPurpose::Entry
                        && master
                            .get(r.intent.token)
                            .is_some_and(|i| i.is_derivative() == fo)
                },
                emit,
                &mut cancels,
            );
            self.log(HotEvent::SquareOff {
                positions: closing,
                segment: if fo { "F&O" } else { "equity" },
            });
            self.publish();
        }
    }

    /// Closes what is left of a position (held and not already being closed) at market.
    pub(super) fn exit_position(
        &mut self,
        idx: usize,
        purpose: OrderPurpose,
        emit: &mut impl FnMut(Event),
    ) {
        let p = self.positions[idx];
        self.exit_qty(idx, p.qty.abs() - p.exit_working, purpose, emit);
    }

    /// Closes `qty` units of a position at market.
    pub(super) fn exit_qty(
        &mut self,
        idx: usize,
        qty: i64,
        purpose: OrderPurpose,
        emit: &mut impl FnMut(Event),
    ) {
        let p = self.positions[idx];
        let Some(side) = p.side() else { return };
        // After a rejected exit: wait out the backoff (the clock retries each second).
        if qty <= 0 || self.now_ts < self.exit_retry_at[idx] {
            return;
        }
        // The exchange takes no MARKET order in this phase (pre-open after 09:05, matching,
        // closing): held, and sent by the clock's next pass once it does.
        if !self.phase.accepts(OrderType::Market) {
            Metrics::add(&self.metrics.exits_held_total, 1);
            return;
        }
        // The broker stop and the working exits may never close more than is held: an exit
        // that does not fit waits for the stop's cancel to be final.
        if !self.exit_fits(idx, qty, purpose, emit) {
            return;
        }
        // A partly filled entry still working: its remainder is cancelled first, so the
        // position being closed cannot grow behind the exit; no further slice goes.
        self.positions[idx].entry_rest = 0;
        if let Some(entry) = p.pending_entry {
            let live = self
                .oms
                .get(entry)
                .is_some_and(|r| !r.status.is_terminal() && r.status != OrderStatus::PendingCancel);
            if live && self.oms.mark_pending_cancel(entry) {
                emit(Event::Cancel {
                    id: entry,
                    token: self.master.by_index(idx).token,
                });
            }
        }
        let token = self.master.by_index(idx).token;
        // Above the freeze quantity the exchange refuses the order: slices of at most that
        // many units, each its own order (the broker's rate limiter paces them).
        let ioc_price = self.ioc_exit_price(idx, side.opposite());
        for slice in FreezeQtySlicer::new(qty, self.freeze_max[idx]) {
            let id = match ioc_price {
                // execution.ioc_for_exits: a LIMIT IOC a band through the last price; what
                // it cannot fill at once is cancelled and goes again a second later.
                Some(price) => {
                    self.positions[idx].exit_working += slice;
                    let intent = OrderIntent {
                        id: self.oms.next_id(),
                        token,
                        side: side.opposite(),
                        qty: Qty(slice),
                        order_type: OrderType::Limit,
                        price,
                        trigger: Price(0),
                        validity: Validity::Ioc,
                        purpose,
                        strategy: StrategyId::Risk,
                        ts: self.now_ts,
                    };
                    self.dispatch(intent, emit)
                }
                None => self.send(
                    token,
                    side.opposite(),
                    Qty(slice),
                    OrderType::Market,
                    Price(0),
                    purpose,
                    StrategyId::Risk,
                    emit,
                ),
            };
            self.positions[idx].pending_exit = Some(id);
        }
    }

    /// With `execution.ioc_for_exits`: the IOC exit's limit, `ioc_exit_band_pct` through the
    /// last price (a sell below it), on the tick grid; None for a protected MARKET exit.
    fn ioc_exit_price(&self, idx: usize, side: Side) -> Option<Price> {
        let band_bps = self.params.ioc_exit_band_bps?;
        let ltp = self.positions[idx].ltp.0;
        if ltp <= 0 {
            return None;
        }
        let tick = self.master.by_index(idx).tick_size.0.max(1);
        let raw = ltp + side.sign() * ltp * band_bps / 10_000;
        // Rounded back toward the last price: never further through it than the band.
        Some(Price(round_against(raw, side.opposite(), tick).max(tick)))
    }
}
