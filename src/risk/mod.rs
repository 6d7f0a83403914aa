//! The risk stage: the single writer of positions, orders (the OMS), P&L, limits and trading
//! state. It sizes and approves strategy signals, runs stop/target exits, the EOD square-off,
//! the daily loss stop and the kill switch, and publishes the snapshot the control API reads.

pub mod charges;
mod entries;
mod exits;
mod fills;
mod kill_switch;
pub mod limit_chase;
pub mod mode;
pub mod oms;
mod params;
pub mod portfolio;
pub mod protective;
mod publish;
mod reconcile;
pub mod recovery;
pub mod sizing;
pub mod spreads;

use crate::clock::{ist_date, SessionCalendar, SessionPhase};
use crate::domain::*;
use crate::telemetry::hot_log::{HotEvent, HotLog};
use crate::telemetry::snapshot::{SnapshotBody, SnapshotWriter};
use crate::telemetry::Metrics;
use charges::{ChargeSchedule, ChargeSegment, Charges, TripCosts};
use crossbeam_channel::{Receiver, Sender};
use oms::{Oms, OrderStatus, Transition};
use portfolio::{Position, TradeRecord};
use std::sync::Arc;

pub use params::RiskParams;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TradingState {
    Active,
    /// No new entries; exits still run. Set by /pause and by the kill switch.
    Paused,
    /// Daily loss limit hit: flat and no entries until tomorrow.
    Halted,
}

impl TradingState {
    pub fn as_str(self) -> &'static str {
        match self {
            TradingState::Active => "ACTIVE",
            TradingState::Paused => "PAUSED",
            TradingState::Halted => "HALTED",
        }
    }
    pub fn code(self) -> u8 {
        match self {
            TradingState::Active => 0,
            TradingState::Paused => 1,
            TradingState::Halted => 2,
        }
    }
}

pub struct RiskStage {
    params: RiskParams,
    calendar: SessionCalendar,
    master: Arc<InstrumentMaster>,
    positions: Vec<Position>,
    /// Realized P&L of each instrument when its current round trip opened.
    realized_at_open: Vec<Paise>,
    oms: Oms,
    state: TradingState,
    /// The day each segment (0 equity, 1 F&O) was last squared off.
    squared_off: [Option<Date>; 2],
    phase: SessionPhase,
    /// Per instrument: a derivative (F&O square-off time) or not (equity).
    is_fo: Vec<bool>,
    day: Option<Date>,
    now_ts: u32,
    trades: Vec<TradeRecord>,
    wins: u32,
    losses: u32,
    /// Realized P&L (all days) when the current trading day began: daily P&L is measured
    /// from here, so the daily loss stop and `/state` restart at zero each day.
    day_realized_base: Paise,
    /// Index into `trades` of the current day's first trade.
    day_first_trade: usize,
    ticks_seen: u64,
    snapshot: Option<SnapshotWriter>,
    body: Box<SnapshotBody>,
    /// Monotonic ns of the last publish (`clock::mono_ns`, the slots' clock).
    last_publish_ns: Option<u64>,
    hot: Option<HotLog>,
    metrics: Arc<Metrics>,
    flatten_replies: Option<Sender<FlattenReport>>,
    mode_replies: Option<Sender<ModeReport>>,
    spreads: spreads::SpreadBook,
    /// Master index of each option's nearest future (its forward for delta).
    future_of: Vec<Option<u32>>,
    charges: Arc<ChargeSchedule>,
    /// Per instrument: the charge column, the round trip in progress and its charges so far.
    charge_seg: Vec<ChargeSegment>,
    trips: Vec<TripCosts>,
    trip_charges: Vec<Charges>,
    /// Charges of the day's fills: closed trips plus the open trips' so far.
    charges_today: Charges,
    /// Per instrument: the exit rules' memory of the trip, and the last bar's ATR.
    exit_state: Vec<exits::ExitState>,
    atr: Vec<i64>,
    /// The kill switch or the daily loss stop is closing the book (with that reason).
    flattening: Option<OrderPurpose>,
    /// Per instrument: rejected exits in a row, and the exchange second before which no exit
    /// is re-sent (backoff 1, 2, 4 .. 30 s).
    exit_rejects: Vec<u8>,
    exit_retry_at: Vec<u32>,
    /// Per instrument: the protective stop at the broker, and an engine exit waiting for
    /// that stop's cancel to be final (its reason and quantity).
    stops: Vec<protective::ProtectiveStop>,
    deferred_exit: Vec<Option<(OrderPurpose, i64)>>,
    /// Dated freeze limits, and per instrument the most units one order may carry today
    /// (None: no limit): exits go out in slices of it, entries are capped at it.
    freeze: Arc<FreezeSchedule>,
    freeze_max: Vec<Option<i64>>,
    /// Per instrument: the LIMIT entry being chased toward the market.
    chases: Vec<limit_chase::Chase>,
    /// The journal of the desk's changes (None: not journaled).
    journal: Option<Box<recovery::JournalMirror>>,
    /// Lockstep frames finished (the journal's resume point), and those a restart replayed.
    frames_done: u64,
    frames_base: u64,
    /// LIVE reconciliation's memory (foreign positions, drift seen), and the channels a
    /// running look comes in and its report goes back by.
    reconcile: reconcile::ReconcileMemory,
    reconcile_books: Option<Receiver<BrokerBook>>,
    reconcile_reports: Option<Sender<ReconcileReport>>,
}

impl RiskStage {
    pub fn new(
        params: RiskParams,
        calendar: SessionCalendar,
        master: Arc<InstrumentMaster>,
        metrics: Arc<Metrics>,
    ) -> RiskStage {
        let n = master.len();
        let positions = (0..n)
            .map(|i| Position {
                divisor: master.by_index(i).divisor(),
                ..Position::default()
            })
            .collect();
        let future_of = (0..n)
            .map(|i| {
                let inst = master.by_index(i);
                if !inst.instrument_type.is_option() {
                    return None;
                }
                master
                    .iter()
                    .enumerate()
                    .filter(|(_, f)| {
                        f.instrument_type == InstrumentType::Future && f.name == inst.name
                    })
                    .min_by_key(|(_, f)| f.expiry)
                    .map(|(k, _)| k as u32)
            })
            .collect();
        let is_fo = (0..n).map(|i| master.by_index(i).is_derivative()).collect();
        let charge_seg = (0..n)
            .map(|i| ChargeSegment::of(master.by_index(i).instrument_type))
            .collect();
        RiskStage {
            charges: Arc::new(ChargeSchedule::shipped()),
            charge_seg,
            trips: vec![TripCosts::default(); n],
            trip_charges: vec![Charges::default(); n],
            charges_today: Charges::default(),
            exit_state: vec![exits::ExitState::default(); n],
            atr: vec![0; n],
            flattening: None,
            journal: None,
            frames_done: 0,
            frames_base: 0,
            reconcile: reconcile::ReconcileMemory::new(n),
            reconcile_books: None,
            reconcile_reports: None,
            exit_rejects: vec![0; n],
            exit_retry_at: vec![0; n],
            stops: vec![protective::ProtectiveStop::default(); n],
            deferred_exit: vec![None; n],
            freeze: Arc::new(FreezeSchedule::shipped()),
            freeze_max: vec![None; n],
            chases: vec![limit_chase::Chase::default(); n],
            params,
            calendar,
            master,
            positions,
            realized_at_open: vec![Paise(0); n],
            oms: Oms::with_capacity(4096, 1),
            state: TradingState::Active,
            squared_off: [None; 2],
            phase: SessionPhase::Closed,
            is_fo,
            day: None,
            now_ts: 0,
            trades: Vec::with_capacity(1024),
            wins: 0,
            losses: 0,
            day_realized_base: Paise(0),
            day_first_trade: 0,
            ticks_seen: 0,
            snapshot: None,
            body: Box::default(),
            last_publish_ns: None,
            hot: None,
            metrics,
            flatten_replies: None,
            mode_replies: None,
            spreads: spreads::SpreadBook::new(n),
            future_of,
        }
    }

    /// Order ids (and so Kite tags) start here. LIVE starts them from the wall clock so a
    /// restart never reuses a tag already in today's Kite order book.
    pub fn with_first_order_id(mut self, first: u64) -> Self {
        self.oms = Oms::with_capacity(4096, first.max(1));
        self
    }

    /// The dated charge tables fills are charged by (default: the shipped tables).
    pub fn with_charges(mut self, c: Arc<ChargeSchedule>) -> Self {
        self.charges = c;
        self
    }

    /// The dated freeze limits orders are sliced by (default: the shipped tables).
    pub fn with_freeze(mut self, f: Arc<FreezeSchedule>) -> Self {
        self.freeze = f;
        if let Some(d) = self.day {
            self.set_freeze_limits(d);
        }
        self
    }

    fn set_freeze_limits(&mut self, d: Date) {
        for (i, m) in self.freeze_max.iter_mut().enumerate() {
            *m = self.freeze.max_order_qty(self.master.by_index(i), d);
        }
    }

    pub fn with_snapshot(mut self, w: SnapshotWriter) -> Self {
        self.snapshot = Some(w);
        self.publish();
        self
    }
    pub fn with_hot_log(mut self, h: HotLog) -> Self {
        self.hot = Some(h);
        self
    }
    pub fn with_flatten_replies(mut self, tx: Sender<FlattenReport>) -> Self {
        self.flatten_replies = Some(tx);
        self
    }
    /// LIVE: books to reconcile against arrive on `books` (each announced by a
    /// `ControlCommand::Reconcile`), and what each look found goes back on `reports`.
    pub fn with_reconciliation(
        mut self,
        books: Receiver<BrokerBook>,
        reports: Sender<ReconcileReport>,
    ) -> Self {
        self.reconcile_books = Some(books);
        self.reconcile_reports = Some(reports);
        self
    }

    pub fn state(&self) -> TradingState {
        self.state
    }
    pub fn trades(&self) -> &[TradeRecord] {
        &self.trades
    }
    pub fn oms(&self) -> &Oms {
        &self.oms
    }
    pub fn open_positions(&self) -> usize {
        self.positions.iter().filter(|p| p.is_open()).count()
    }
    /// The protective stop the broker holds for `token`'s position, if any is working.
    pub fn broker_stop(&self, token: Token) -> Option<protective::ProtectiveStop> {
        let idx = self.master.index_of(token)?;
        (self.stop_state(idx) != protective::StopOrderState::Absent).then_some(self.stops[idx])
    }
    pub fn position(&self, token: Token) -> Option<&Position> {
        self.master.index_of(token).map(|i| &self.positions[i])
    }
    /// Realized P&L since the process started (all days).
    pub fn realized(&self) -> Paise {
        Paise(self.positions.iter().map(|p| p.realized.0).sum())
    }
    /// Realized plus unrealized P&L of the current trading day.
    pub fn daily_pnl(&self) -> Paise {
        Paise(self.realized().0 - self.day_realized_base.0 + self.unrealized().0)
    }
    /// The trading day the clock has reached (None before the first time).
    pub fn day(&self) -> Option<Date> {
        self.day
    }
    /// Trades closed during the current trading day.
    pub fn trades_today(&self) -> &[TradeRecord] {
        &self.trades[self.day_first_trade.min(self.trades.len())..]
    }
    pub fn unrealized(&self) -> Paise {
        Paise(self.positions.iter().map(|p| p.unrealized().0).sum())
    }
    /// Charges of today's fills (closed trips and the open ones' fills so far).
    pub fn charges_today(&self) -> Charges {
        self.charges_today
    }
    /// Charges so far of the positions still open.
    pub fn open_trip_charges(&self) -> Paise {
        Paise(self.trip_charges.iter().map(|c| c.total().0).sum())
    }
    /// Today's P&L after charges: what the daily loss stop acts on.
    pub fn daily_pnl_net(&self) -> Paise {
        Paise(self.daily_pnl().0 - self.charges_today.total().0)
    }

    fn log(&self, ev: HotEvent) {
        if let Some(h) = &self.hot {
            h.emit(ev);
        }
    }

    fn set_state(&mut self, to: TradingState, reason: &'static str) {
        if self.state != to {
            self.log(HotEvent::StateChanged {
                from: self.state.as_str(),
                to: to.as_str(),
                reason,
            });
            self.state = to;
            self.metrics
                .trading_state
                .store(to.code() as u64, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// Handles one slot: forwards it downstream, then emits any orders it decided on.
    pub fn on_slot(&mut self, slot: &Slot, out: &mut impl FnMut(&Slot)) {
        out(slot);
        let now_before = self.now_ts;
        let recv_ns = slot.recv_ns;
        let mut emit = |ev: Event| out(&Slot { ev, recv_ns });
        match &slot.ev {
            Event::Tick(t) => self.on_tick(t, recv_ns, &mut emit),
            Event::Signal(s) => self.on_signal(s, &mut emit),
            Event::Order(u) => self.on_order_update(u, &mut emit),
            Event::Control(c) => self.on_control(*c, &mut emit),
            Event::Clock { ts } => self.on_time(*ts, &mut emit),
            Event::Bar(b) => self.on_bar(b, &mut emit),
            Event::Barrier { id } => self.frames_done = self.frames_base + barrier_frame(*id),
            Event::Intent(_)
            | Event::Cancel { .. }
            | Event::Modify { .. }
            | Event::Mode { .. }
            | Event::Empty => return,
        }
        if self.journal.is_some() {
            self.journal_after(&slot.ev, now_before);
        }
    }

    /// What of the desk an event may have changed, for the journal: a tick of an instrument
    /// with nothing on it changes only its last price (not journaled), so it costs nothing.
    fn journal_after(&mut self, ev: &Event, now_before: u32) {
        if self.journal.as_ref().is_some_and(|j| j.at_frames) {
            if matches!(ev, Event::Barrier { .. }) {
                self.journal_changes(None, true);
            }
            return;
        }
        let idx = match ev {
            Event::Tick(t) => self.master.index_of(t.token),
            Event::Bar(b) => self.master.index_of(b.token),
            _ => None,
        };
        let full = match ev {
            Event::Tick(_) => {
                if self.now_ts == now_before && idx.is_none_or(|i| !self.positions[i].is_open()) {
                    return;
                }
                self.now_ts != now_before
            }
            Event::Bar(_) => self.now_ts != now_before,
            Event::Barrier { .. } => return,
            _ => true,
        };
        self.journal_changes(idx, full);
    }

    fn on_tick(&mut self, t: &Tick, recv_ns: u64, emit: &mut impl FnMut(Event)) {
        self.ticks_seen += 1;
        if recv_ns > 0 {
            self.metrics.stage_latency[1]
                .observe_ns(crate::clock::mono_ns().saturating_sub(recv_ns));
        }
        self.on_time(t.exchange_timestamp, emit);
        let Some(idx) = self.master.index_of(t.token) else {
            return;
        };
        let p = &mut self.positions[idx];
        p.ltp = Price(t.last_price as i64);
        // Only an open position's price moves P&L, so only its ticks need the exit and
        // daily-loss checks (fills check the daily loss in `on_order_update`).
        if !p.is_open() {
            self.publish_due(recv_ns);
            return;
        }
        if self.spreads.leg_of[idx].is_some() {
            self.check_spread_exit(idx, emit);
        } else {
            self.check_exits(idx, emit);
        }
        if self.check_daily_loss(emit) {
            return;
        }
        self.publish_due(recv_ns);
    }

    /// Exchange time moved (a tick's stamp or the session clock): the day rolls over and the
    /// square-off runs on time, with or without ticks.
    fn on_time(&mut self, ts: u32, emit: &mut impl FnMut(Event)) {
        if ts <= self.now_ts {
            return;
        }
        self.now_ts = ts;
        let today = ist_date(self.now_ts as i64);
        if self.day != Some(today) {
            self.start_day(today);
        }
        let phase = self.calendar.phase(self.now_ts as i64);
        if phase != self.phase {
            self.log(HotEvent::SessionPhase {
                from: self.phase.as_str(),
                to: phase.as_str(),
            });
            self.phase = phase;
            self.metrics
                .session_phase
                .store(phase.code() as u64, std::sync::atomic::Ordering::Relaxed);
        }
        for fo in [false, true] {
            if self.calendar.is_squareoff_due_for(self.now_ts as i64, fo) {
                self.square_off(fo, emit);
            }
        }
        self.continue_flatten(emit);
        self.chase_entries(emit);
        // Time-driven exits (the time stop) run each second with or without ticks, and the
        // broker stops catch up (a throttled move, a re-place after a rejection's backoff).
        for idx in 0..self.positions.len() {
            if self.positions[idx].is_open() {
                self.check_exits(idx, emit);
                self.resume_deferred_exit(idx, emit);
                self.ensure_stop(idx, emit);
            }
        }
    }

    /// The session phase the clock last moved the stage into.
    pub fn phase(&self) -> SessionPhase {
        self.phase
    }

    /// A new trading day: daily P&L, trade count and win rate start again from zero, and a
    /// halt from yesterday's loss stop is lifted (a kill-switch pause is not: a human set it).
    fn start_day(&mut self, today: Date) {
        let rolled = self.day.is_some();
        if rolled {
            self.day_realized_base = self.realized();
            self.day_first_trade = self.trades.len();
            self.wins = 0;
            self.losses = 0;
            self.oms.roll_day();
            // A trip still open at midnight (none should be: intraday) keeps its charges.
            self.charges_today = Charges::default();
            for c in &self.trip_charges {
                self.charges_today.add(c);
            }
        }
        self.day = Some(today);
        self.set_freeze_limits(today);
        if self.state == TradingState::Halted {
            self.set_state(TradingState::Active, "new trading day");
        }
        if rolled {
            self.journal_new_day(today);
        }
    }

    fn on_control(&mut self, c: ControlCommand, emit: &mut impl FnMut(Event)) {
        self.journal_control(&c);
        match c {
            ControlCommand::Pause => self.set_state(TradingState::Paused, "operator pause"),
            ControlCommand::Resume => match self.state {
                TradingState::Halted => self.log(HotEvent::StateChanged {
                    from: "HALTED",
                    to: "HALTED",
                    reason: "resume refused: daily loss limit hit today",
                }),
                _ => self.set_state(TradingState::Active, "operator resume"),
            },
            ControlCommand::Flatten { request } => {
                let (cancelled, closed, exposure) =
                    self.close_everything(OrderPurpose::Flatten, emit);
                if self.state == TradingState::Active {
                    self.set_state(TradingState::Paused, "kill switch (flatten)");
                }
                if let Some(tx) = &self.flatten_replies {
                    let _ = tx.try_send(FlattenReport {
                        request,
                        orders_cancelled: cancelled,
                        positions_closed: closed,
                        exposure_closed: exposure,
                        orders_working: self.working_orders(),
                    });
                }
            }
            ControlCommand::ReloadStrategies { max_positions, .. } => {
                self.params.strategy_max_positions = max_positions
            }
            ControlCommand::ReloadUniverse { .. } => {}
            ControlCommand::ClosePosition { token } => self.close_manually(token, emit),
            ControlCommand::HaltEntries { reason } => {
                if self.state == TradingState::Active {
                    self.set_state(TradingState::Paused, reason.as_str());
                }
            }
            ControlCommand::SetMode { request, live } => self.set_mode(request, live, emit),
            ControlCommand::Reconcile => {
                let book = self
                    .reconcile_books
                    .as_ref()
                    .and_then(|rx| rx.try_recv().ok());
                if let Some(book) = book {
                    let report = self.reconcile(&book, false, emit);
                    if let Some(tx) = &self.reconcile_reports {
                        let _ = tx.try_send(report);
                    }
                }
            }
        }
        self.publish();
    }
}

#[cfg(test)]
mod tests;
