//! What the desk journals and how it is rebuilt after a crash.
//!
//! The journal holds the risk stage's state as it changes, not its inputs: after each event,
//! every part of the state the event changed is written whole (one instrument's slot, one
//! order's OMS record, the desk's counters, a closed trade, a spread). Market ticks are not
//! journaled (they stay in the frame recording); what they change that matters (the best
//! price, a trailed stop, an exit sent) shows up as a changed slot. The last price is left
//! out: the next tick brings it. Rebuilding is then replaying the records in order, each
//! overwriting its part: exact by construction, with no decision made twice.
//!
//! Which parts to compare is chosen per event so that the common case, a tick of an
//! instrument with no position, costs nothing: such a tick changes only the last price.

use super::*;
use crate::telemetry::journal::{kind, JournalSink, Read, Wire};

/// One instrument's share of the desk, as journaled.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct SlotImage {
    pub pos: Position,
    pub realized_at_open: Paise,
    pub exit: exits::ExitState,
    pub atr: i64,
    pub exit_rejects: u8,
    pub exit_retry_at: u32,
    pub stop: protective::ProtectiveStop,
    pub deferred: Option<(OrderPurpose, i64)>,
    pub chase: limit_chase::Chase,
    pub trip: TripCosts,
    pub trip_charges: Charges,
    pub leg_of: Option<u32>,
}

/// The desk's own state, as journaled.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DeskImage {
    pub state: TradingState,
    pub squared_off: [Option<Date>; 2],
    pub day: Option<Date>,
    pub wins: u32,
    pub losses: u32,
    pub day_realized_base: Paise,
    pub day_first_trade: u32,
    pub flattening: Option<OrderPurpose>,
    pub charges_today: Charges,
    pub oms_first_id: u64,
    pub spread_next_id: u32,
    /// The exchange time the desk had reached: a restart resumes the session clock here.
    pub now_ts: u32,
    /// A simulated (lockstep) session: the frames the whole pipeline had finished. A
    /// restart replays that many frames into the strategies and carries on after them.
    pub frames_done: u64,
}

/// A position a stop leaves open at the broker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeftOpen {
    pub token: Token,
    pub symbol: String,
    /// Signed units (long > 0).
    pub qty: i64,
    pub avg: Price,
    pub divisor: i64,
    /// The broker stop: its type, trigger and our order id.
    pub stop: Option<(OrderType, Price, OrderId)>,
    /// A leg of a spread (spreads carry no broker stop: the bought leg caps the loss).
    pub spread_leg: bool,
}

/// The journaled part of the desk, whole.
#[derive(Clone, Debug, PartialEq)]
pub struct JournaledState {
    pub slots: Vec<SlotImage>,
    pub desk: DeskImage,
    pub orders: Vec<oms::OrderRecord>,
    pub trades: Vec<TradeRecord>,
    pub spreads: Vec<spreads::SpreadPosition>,
}

/// What was last written, to compare against.
pub(super) struct JournalMirror {
    sink: JournalSink,
    slots: Vec<SlotImage>,
    /// Slots whose journaled image is not the empty one (the ones a full pass compares
    /// besides the event's own).
    live: Vec<u32>,
    orders: Vec<oms::OrderRecord>,
    /// Indices into `orders` not yet terminal.
    unsettled: Vec<u32>,
    desk: DeskImage,
    trades: usize,
    spreads: Vec<spreads::SpreadPosition>,
    pub(super) decisions: bool,
    /// Journal once per finished frame (lockstep sources) instead of after every event.
    pub(super) at_frames: bool,
}

/// A record that cannot be applied: which kind, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("journal record {seq} ({what}): {why}")]
pub struct BadRecord {
    pub seq: u64,
    pub what: &'static str,
    pub why: String,
}

/// What a rebuild found, for the start's log line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rebuilt {
    pub records: u64,
    pub open_positions: usize,
    pub working_orders: usize,
    pub trades: usize,
    pub decisions: u64,
}

impl RiskStage {
    /// Journals the desk's changes into `sink` from now on; with `decisions`, every signal
    /// and what became of it too (the audit trail of `journal.audit_all_decisions`).
    ///
    /// With `at_frames` (a simulated, lockstep session) the desk is journaled once per frame
    /// the pipeline finished, so a restart resumes on a frame boundary and replays exactly;
    /// what a frame sent but did not journal died with the in-process paper broker.
    pub fn with_journal(mut self, sink: JournalSink, decisions: bool, at_frames: bool) -> Self {
        let n = self.positions.len();
        let mut m = JournalMirror {
            sink,
            slots: (0..n).map(|i| self.empty_slot(i)).collect(),
            live: Vec::with_capacity(64),
            orders: Vec::with_capacity(4096),
            unsettled: Vec::with_capacity(64),
            desk: self.desk_image(),
            trades: 0,
            spreads: Vec::with_capacity(64),
            decisions,
            at_frames,
        };
        // Whatever the stage already holds (a rebuild) counts as written.
        for i in 0..n {
            m.slots[i] = self.slot_image(i);
            if m.slots[i] != self.empty_slot(i) {
                m.live.push(i as u32);
            }
        }
        for (k, r) in self.oms.iter().enumerate() {
            m.orders.push(*r);
            if !r.status.is_terminal() {
                m.unsettled.push(k as u32);
            }
        }
        m.trades = self.trades.len();
        m.spreads.extend_from_slice(&self.spreads.spreads);
        // The desk first: a rebuild learns where order ids start before any order.
        let desk = m.desk;
        m.sink.put(kind::DESK, |w| put_desk(w, &desk));
        self.journal = Some(Box::new(m));
        self
    }

    fn empty_slot(&self, idx: usize) -> SlotImage {
        SlotImage {
            pos: Position {
                divisor: self.positions[idx].divisor,
                ..Position::default()
            },
            ..SlotImage::default()
        }
    }

    pub(super) fn slot_image(&self, idx: usize) -> SlotImage {
        SlotImage {
            pos: Position {
                ltp: Price(0),
                ..self.positions[idx]
            },
            realized_at_open: self.realized_at_open[idx],
            exit: self.exit_state[idx],
            atr: self.atr[idx],
            exit_rejects: self.exit_rejects[idx],
            exit_retry_at: self.exit_retry_at[idx],
            stop: self.stops[idx],
            deferred: self.deferred_exit[idx],
            chase: self.chases[idx],
            trip: self.trips[idx],
            trip_charges: self.trip_charges[idx],
            leg_of: self.spreads.leg_of[idx],
        }
    }

    fn set_slot(&mut self, idx: usize, s: &SlotImage) {
        let ltp = self.positions[idx].ltp;
        self.positions[idx] = Position { ltp, ..s.pos };
        self.realized_at_open[idx] = s.realized_at_open;
        self.exit_state[idx] = s.exit;
        self.atr[idx] = s.atr;
        self.exit_rejects[idx] = s.exit_rejects;
        self.exit_retry_at[idx] = s.exit_retry_at;
        self.stops[idx] = s.stop;
        self.deferred_exit[idx] = s.deferred;
        self.chases[idx] = s.chase;
        self.trips[idx] = s.trip;
        self.trip_charges[idx] = s.trip_charges;
        self.spreads.leg_of[idx] = s.leg_of;
    }

    pub(super) fn desk_image(&self) -> DeskImage {
        DeskImage {
            state: self.state,
            squared_off: self.squared_off,
            day: self.day,
            wins: self.wins,
            losses: self.losses,
            day_realized_base: self.day_realized_base,
            day_first_trade: self.day_first_trade as u32,
            flattening: self.flattening,
            charges_today: self.charges_today,
            oms_first_id: self.oms.first_id(),
            spread_next_id: self.spreads.next_id(),
            now_ts: self.now_ts,
            frames_done: self.frames_done,
        }
    }

    fn set_desk(&mut self, d: &DeskImage) {
        self.state = d.state;
        self.squared_off = d.squared_off;
        self.day = d.day;
        self.wins = d.wins;
        self.losses = d.losses;
        self.day_realized_base = d.day_realized_base;
        self.day_first_trade = d.day_first_trade as usize;
        self.flattening = d.flattening;
        self.charges_today = d.charges_today;
        self.oms.set_first_id(d.oms_first_id);
        self.spreads.set_next_id(d.spread_next_id);
        self.now_ts = d.now_ts;
        self.frames_done = d.frames_done;
        self.frames_base = d.frames_done;
        self.phase = self.calendar.phase(d.now_ts as i64);
        if let Some(day) = d.day {
            self.set_freeze_limits(day);
        }
    }

    /// After an event: journals what it changed. `slot` is the event's instrument; `full`
    /// compares every instrument (commands, fills, the clock: anything may have moved).
    pub(super) fn journal_changes(&mut self, slot: Option<usize>, full: bool) {
        let Some(mut m) = self.journal.take() else {
            return;
        };
        let full = full || self.oms.len() != m.orders.len();
        if full {
            for i in 0..self.positions.len() {
                self.journal_slot(&mut m, i);
            }
        } else {
            if let Some(i) = slot {
                self.journal_slot(&mut m, i);
            }
            let mut k = 0;
            while k < m.live.len() {
                let i = m.live[k] as usize;
                if Some(i) != slot {
                    self.journal_slot(&mut m, i);
                }
                k += 1;
            }
        }
        self.journal_orders(&mut m);
        let desk = self.desk_image();
        if desk != m.desk {
            m.desk = desk;
            m.sink.put(kind::DESK, |w| put_desk(w, &desk));
        }
        while m.trades < self.trades.len() {
            let t = self.trades[m.trades];
            let inst = self
                .master
                .index_of(Token(t.token))
                .map(|i| *self.master.by_index(i));
            m.sink.put(kind::TRADE, |w| {
                put_trade(w, &t);
                // What the trade export needs and a later day's instrument list may lack.
                put_text(
                    w,
                    inst.as_ref().map_or("", |i| i.tradingsymbol.as_str()),
                    32,
                );
                put_text(w, inst.as_ref().map_or("", |i| i.exchange.as_str()), 8);
                put_text(
                    w,
                    inst.as_ref().map_or("", |i| i.instrument_type.as_str()),
                    8,
                );
                w.u32(t.divisor_hint(inst.as_ref()));
            });
            m.trades += 1;
        }
        for (k, s) in self.spreads.spreads.iter().enumerate() {
            if m.spreads.get(k) != Some(s) {
                m.sink.put(kind::SPREAD, |w| put_spread(w, k as u32, s));
                if k < m.spreads.len() {
                    m.spreads[k] = *s;
                } else {
                    m.spreads.push(*s);
                }
            }
        }
        self.journal = Some(m);
    }

    fn journal_slot(&self, m: &mut JournalMirror, i: usize) {
        let img = self.slot_image(i);
        if img == m.slots[i] {
            return;
        }
        m.slots[i] = img;
        let empty = img == self.empty_slot(i);
        let at = m.live.iter().position(|&x| x as usize == i);
        match (empty, at) {
            (true, Some(k)) => {
                m.live.swap_remove(k);
            }
            (false, None) => m.live.push(i as u32),
            _ => {}
        }
        m.sink.put(kind::SLOT, |w| put_slot(w, i as u32, &img));
    }

    fn journal_orders(&self, m: &mut JournalMirror) {
        let mut k = 0;
        while k < m.unsettled.len() {
            let i = m.unsettled[k] as usize;
            match self.oms.at(i) {
                Some(r) if *r != m.orders[i] => {
                    m.orders[i] = *r;
                    let r = *r;
                    m.sink.put(kind::ORDER, |w| put_order(w, &r));
                    if r.status.is_terminal() {
                        m.unsettled.swap_remove(k);
                        continue;
                    }
                }
                _ => {}
            }
            k += 1;
        }
        // Orders sent by this event.
        for r in self.oms.iter().skip(m.orders.len()) {
            m.orders.push(*r);
            let r = *r;
            m.sink.put(kind::ORDER, |w| put_order(w, &r));
            if !r.status.is_terminal() {
                m.unsettled.push(m.orders.len() as u32 - 1);
            }
        }
    }

    /// A signal and what risk did with it (`reason` empty: taken), for the audit trail.
    pub(super) fn journal_decision(&self, s: &Signal, reason: &str) {
        if let Some(m) = self.journal.as_ref().filter(|m| m.decisions) {
            m.sink.put(kind::DECISION, |w| {
                put_signal(w, s);
                w.bytes(&reason.as_bytes()[..reason.len().min(200)]);
            });
        }
    }

    /// An operator command as risk applied it, for the audit trail.
    pub(super) fn journal_control(&self, c: &ControlCommand) {
        if let Some(m) = self.journal.as_ref() {
            m.sink
                .put(kind::CONTROL, |w| put_control(w, c, self.now_ts));
        }
    }

    /// Rebuilds the desk from a day's journal records (kind, payload, seq) in file order.
    /// Records of other producers (the run's own notes) are skipped.
    pub fn restore<'a>(
        &mut self,
        records: impl IntoIterator<Item = (u64, u8, &'a [u8])>,
    ) -> Result<Rebuilt, BadRecord> {
        let mut r = Rebuilt::default();
        for (seq, k, payload) in records {
            r.records += 1;
            let bad = |what: &'static str| move |why: String| BadRecord { seq, what, why };
            let mut rd = Read::new(payload);
            match k {
                kind::SLOT => {
                    let (i, img) = get_slot(&mut rd).map_err(bad("slot"))?;
                    if i as usize >= self.positions.len() {
                        return Err(bad("slot")(format!(
                            "instrument index {i}: today's instrument list has {}",
                            self.positions.len()
                        )));
                    }
                    self.set_slot(i as usize, &img);
                }
                kind::ORDER => {
                    let o = get_order(&mut rd).map_err(bad("order"))?;
                    self.oms.restore(o).map_err(bad("order"))?;
                }
                kind::DESK => {
                    let d = get_desk(&mut rd).map_err(bad("desk"))?;
                    self.set_desk(&d);
                }
                kind::TRADE => {
                    let t = get_trade(&mut rd).map_err(bad("trade"))?;
                    self.trades.push(t);
                }
                kind::SPREAD => {
                    let (k, s) = get_spread(&mut rd).map_err(bad("spread"))?;
                    let sp = &mut self.spreads.spreads;
                    match (k as usize).cmp(&sp.len()) {
                        std::cmp::Ordering::Less => sp[k as usize] = s,
                        std::cmp::Ordering::Equal => sp.push(s),
                        std::cmp::Ordering::Greater => {
                            return Err(bad("spread")(format!(
                                "spread {k} before spread {}",
                                sp.len()
                            )))
                        }
                    }
                }
                kind::DECISION => r.decisions += 1,
                _ => {}
            }
        }
        r.open_positions = self.positions.iter().filter(|p| p.is_open()).count();
        r.working_orders = self.oms.open_orders().count();
        r.trades = self.trades.len();
        self.publish();
        Ok(r)
    }

    /// The positions a stop leaves open, each with the protective stop the broker holds for
    /// it (None: no stop is working there).
    pub fn left_open(&self) -> Vec<LeftOpen> {
        (0..self.positions.len())
            .filter(|&i| self.positions[i].is_open())
            .map(|i| {
                let inst = self.master.by_index(i);
                let p = self.positions[i];
                let stop = self.broker_stop(inst.token).and_then(|s| {
                    let id = s.id?;
                    let o = self.oms.get(id)?;
                    Some((o.intent.order_type, s.trigger, id))
                });
                LeftOpen {
                    spread_leg: self.spreads.leg_of[i].is_some(),
                    token: inst.token,
                    symbol: inst.tradingsymbol.as_str().to_string(),
                    qty: p.qty,
                    avg: p.avg_price,
                    divisor: inst.divisor(),
                    stop,
                }
            })
            .collect()
    }

    /// Journals whatever changed since the last record, whatever the mode: a stop's final
    /// state (the fills drained after the last frame) is kept whole.
    pub fn journal_flush(&mut self) {
        self.journal_changes(None, true);
    }

    /// A line of text into the journal (what a stop left open, for the audit trail).
    pub fn journal_note(&self, text: &str) {
        if let Some(m) = self.journal.as_ref() {
            let b = text.as_bytes();
            m.sink.put(kind::NOTE, |w| w.bytes(&b[..b.len().min(390)]));
        }
    }

    /// Frames of a simulated session the journal says were finished (0: none, or live).
    pub fn frames_done(&self) -> u64 {
        self.frames_done
    }

    /// A catching-up restart's tick: the last price only (positions' P&L and the exits'
    /// view), no decision; the journal already holds what was decided on it.
    pub fn note_last_price(&mut self, t: &Tick) {
        if let Some(i) = self.master.index_of(t.token) {
            self.positions[i].ltp = Price(t.last_price as i64);
        }
    }

    /// Everything the journal carries, to compare a rebuilt desk with the one it came from.
    pub fn journaled_state(&self) -> JournaledState {
        JournaledState {
            slots: (0..self.positions.len())
                .map(|i| self.slot_image(i))
                .collect(),
            desk: self.desk_image(),
            orders: self.oms.iter().copied().collect(),
            trades: self.trades.clone(),
            spreads: self.spreads.spreads.clone(),
        }
    }

    /// Orders still working after a rebuild, with what each has filled (the paper broker
    /// takes them back; LIVE reconciles them with Kite).
    pub fn working_intents(&self) -> Vec<ResumedOrder> {
        self.oms
            .open_orders()
            .map(|r| ResumedOrder {
                intent: r.intent,
                filled: r.filled.0,
                acknowledged: r.status != OrderStatus::PendingNew,
            })
            .collect()
    }

    /// Every order's fills so far (quantity, value in native units x qty), for the paper
    /// broker's account after a rebuild.
    pub fn fills_so_far(&self) -> Vec<(OrderIntent, i64, i128)> {
        self.oms
            .iter()
            .filter(|r| r.filled.0 > 0)
            .map(|r| (r.intent, r.filled.0, r.filled_value))
            .collect()
    }
}

// ---- codes: each encoder is an exhaustive match; decoders read the same table ----

fn side_code(s: Side) -> u8 {
    match s {
        Side::Buy => 0,
        Side::Sell => 1,
    }
}
const SIDES: [Side; 2] = [Side::Buy, Side::Sell];

fn order_type_code(t: OrderType) -> u8 {
    match t {
        OrderType::Market => 0,
        OrderType::Limit => 1,
        OrderType::StopLimit => 2,
        OrderType::StopMarket => 3,
    }
}
const ORDER_TYPES: [OrderType; 4] = [
    OrderType::Market,
    OrderType::Limit,
    OrderType::StopLimit,
    OrderType::StopMarket,
];

fn validity_code(v: Validity) -> u8 {
    match v {
        Validity::Day => 0,
        Validity::Ioc => 1,
    }
}
const VALIDITIES: [Validity; 2] = [Validity::Day, Validity::Ioc];

const STATES: [TradingState; 3] = [
    TradingState::Active,
    TradingState::Paused,
    TradingState::Halted,
];

fn spread_kind_code(k: SpreadKind) -> u8 {
    match k {
        SpreadKind::Debit => 0,
        SpreadKind::Credit => 1,
    }
}
const SPREAD_KINDS: [SpreadKind; 2] = [SpreadKind::Debit, SpreadKind::Credit];

fn spread_state_code(s: spreads::SpreadState) -> u8 {
    use spreads::SpreadState as S;
    match s {
        S::BuyLegPending => 0,
        S::SellLegPending => 1,
        S::Open => 2,
        S::Exiting => 3,
        S::Closed => 4,
    }
}
const SPREAD_STATES: [spreads::SpreadState; 5] = [
    spreads::SpreadState::BuyLegPending,
    spreads::SpreadState::SellLegPending,
    spreads::SpreadState::Open,
    spreads::SpreadState::Exiting,
    spreads::SpreadState::Closed,
];

fn pick<T: Copy>(all: &[T], c: u8, what: &str) -> Result<T, String> {
    all.get(c as usize)
        .copied()
        .ok_or_else(|| format!("unknown {what} code {c}"))
}

fn purpose(c: u8) -> Result<OrderPurpose, String> {
    OrderPurpose::from_code(c).ok_or_else(|| format!("unknown order purpose code {c}"))
}

// ---- fields ----

fn put_id(w: &mut Wire<'_>, id: Option<OrderId>) {
    w.u64(id.map_or(0, |i| i.0));
}
fn get_id(r: &mut Read<'_>) -> Result<Option<OrderId>, String> {
    Ok(Some(r.u64()?).filter(|&i| i != 0).map(OrderId))
}
fn put_opt_u32(w: &mut Wire<'_>, v: Option<u32>) {
    w.bool(v.is_some());
    w.u32(v.unwrap_or(0));
}
fn get_opt_u32(r: &mut Read<'_>) -> Result<Option<u32>, String> {
    let some = r.bool()?;
    let v = r.u32()?;
    Ok(some.then_some(v))
}
fn put_charges(w: &mut Wire<'_>, c: &Charges) {
    for p in [
        c.brokerage,
        c.stt,
        c.exchange_txn,
        c.sebi_fee,
        c.stamp_duty,
        c.gst,
    ] {
        w.i64(p.0);
    }
}
fn get_charges(r: &mut Read<'_>) -> Result<Charges, String> {
    Ok(Charges {
        brokerage: Paise(r.i64()?),
        stt: Paise(r.i64()?),
        exchange_txn: Paise(r.i64()?),
        sebi_fee: Paise(r.i64()?),
        stamp_duty: Paise(r.i64()?),
        gst: Paise(r.i64()?),
    })
}

fn put_slot(w: &mut Wire<'_>, idx: u32, s: &SlotImage) {
    w.u32(idx);
    let p = &s.pos;
    w.i64(p.qty);
    w.i64(p.avg_price.0);
    w.i64(p.realized.0);
    w.i64(p.stop.0);
    w.i64(p.target.0);
    w.u8(p.strategy.map_or(u8::MAX, |s| s.code()));
    put_id(w, p.pending_entry);
    w.i64(p.pending_risk.0);
    w.i64(p.entry_rest);
    put_id(w, p.pending_exit);
    w.i64(p.exit_working);
    w.i64(p.divisor);
    w.i64(p.entry_avg.0);
    w.i64(p.entry_qty);
    w.i64(s.realized_at_open.0);
    let x = &s.exit;
    w.i64(x.initial_stop.0);
    w.u32(x.opened_ts);
    w.i64(x.best.0);
    w.i64(x.entry_qty);
    w.u8(x.tp1_done as u8 | (x.tp2_done as u8) << 1 | (x.trailed as u8) << 2);
    w.u16(x.reasons);
    w.i128(x.exit_value);
    w.i64(x.exit_qty);
    w.i64(s.atr);
    w.u8(s.exit_rejects);
    w.u32(s.exit_retry_at);
    let t = &s.stop;
    put_id(w, t.id);
    w.i64(t.trigger.0);
    w.u8(t.modifications);
    w.u32(t.last_modify_ts);
    w.u32(t.placed_ts);
    w.u32(t.cancel_sent_ts);
    w.u32(t.hit_since);
    w.u8(t.rejects);
    w.u32(t.retry_at);
    w.u8(s.deferred.map_or(u8::MAX, |(p, _)| p.code()));
    w.i64(s.deferred.map_or(0, |(_, q)| q));
    let c = &s.chase;
    put_id(w, c.id);
    w.i64(c.price.0);
    w.u32(c.steps);
    w.u32(c.since);
    w.bool(c.converting);
    w.i128(s.trip.buy_value);
    w.i128(s.trip.sell_value);
    w.i64(s.trip.brokerage);
    w.u32(s.trip.date.0);
    put_charges(w, &s.trip_charges);
    put_opt_u32(w, s.leg_of);
}

fn get_slot(r: &mut Read<'_>) -> Result<(u32, SlotImage), String> {
    let idx = r.u32()?;
    let pos = Position {
        qty: r.i64()?,
        avg_price: Price(r.i64()?),
        ltp: Price(0),
        realized: Paise(r.i64()?),
        stop: Price(r.i64()?),
        target: Price(r.i64()?),
        strategy: match r.u8()? {
            u8::MAX => None,
            c => Some(StrategyId::from_code(c)),
        },
        pending_entry: get_id(r)?,
        pending_risk: Paise(r.i64()?),
        entry_rest: r.i64()?,
        pending_exit: get_id(r)?,
        exit_working: r.i64()?,
        divisor: r.i64()?,
        entry_avg: Price(r.i64()?),
        entry_qty: r.i64()?,
    };
    let realized_at_open = Paise(r.i64()?);
    let initial_stop = Price(r.i64()?);
    let opened_ts = r.u32()?;
    let best = Price(r.i64()?);
    let entry_qty = r.i64()?;
    let flags = r.u8()?;
    let exit = exits::ExitState {
        initial_stop,
        opened_ts,
        best,
        entry_qty,
        tp1_done: flags & 1 != 0,
        tp2_done: flags & 2 != 0,
        trailed: flags & 4 != 0,
        reasons: r.u16()?,
        exit_value: r.i128()?,
        exit_qty: r.i64()?,
    };
    let atr = r.i64()?;
    let exit_rejects = r.u8()?;
    let exit_retry_at = r.u32()?;
    let stop = protective::ProtectiveStop {
        id: get_id(r)?,
        trigger: Price(r.i64()?),
        modifications: r.u8()?,
        last_modify_ts: r.u32()?,
        placed_ts: r.u32()?,
        cancel_sent_ts: r.u32()?,
        hit_since: r.u32()?,
        rejects: r.u8()?,
        retry_at: r.u32()?,
    };
    let deferred = match (r.u8()?, r.i64()?) {
        (u8::MAX, _) => None,
        (c, q) => Some((purpose(c)?, q)),
    };
    let chase = limit_chase::Chase {
        id: get_id(r)?,
        price: Price(r.i64()?),
        steps: r.u32()?,
        since: r.u32()?,
        converting: r.bool()?,
    };
    let trip = TripCosts {
        buy_value: r.i128()?,
        sell_value: r.i128()?,
        brokerage: r.i64()?,
        date: Date(r.u32()?),
    };
    let trip_charges = get_charges(r)?;
    let leg_of = get_opt_u32(r)?;
    Ok((
        idx,
        SlotImage {
            pos,
            realized_at_open,
            exit,
            atr,
            exit_rejects,
            exit_retry_at,
            stop,
            deferred,
            chase,
            trip,
            trip_charges,
            leg_of,
        },
    ))
}

fn put_intent(w: &mut Wire<'_>, i: &OrderIntent) {
    w.u64(i.id.0);
    w.u32(i.token.0);
    w.u8(side_code(i.side));
    w.i64(i.qty.0);
    w.u8(order_type_code(i.order_type));
    w.i64(i.price.0);
    w.i64(i.trigger.0);
    w.u8(validity_code(i.validity));
    w.u8(i.purpose.code());
    w.u8(i.strategy.code());
    w.u32(i.ts);
}

fn get_intent(r: &mut Read<'_>) -> Result<OrderIntent, String> {
    Ok(OrderIntent {
        id: OrderId(r.u64()?),
        token: Token(r.u32()?),
        side: pick(&SIDES, r.u8()?, "side")?,
        qty: Qty(r.i64()?),
        order_type: pick(&ORDER_TYPES, r.u8()?, "order type")?,
        price: Price(r.i64()?),
        trigger: Price(r.i64()?),
        validity: pick(&VALIDITIES, r.u8()?, "validity")?,
        purpose: purpose(r.u8()?)?,
        strategy: StrategyId::from_code(r.u8()?),
        ts: r.u32()?,
    })
}

/// An order's record as journaled (public for the recovery bench, which writes a day's worth).
pub fn put_order(w: &mut Wire<'_>, o: &oms::OrderRecord) {
    put_intent(w, &o.intent);
    w.u8(o.status.as_u8());
    w.i64(o.filled.0);
    w.i64(o.avg_fill.0);
    w.i128(o.filled_value);
}

fn get_order(r: &mut Read<'_>) -> Result<oms::OrderRecord, String> {
    let intent = get_intent(r)?;
    let s = r.u8()?;
    Ok(oms::OrderRecord {
        intent,
        status: OrderStatus::from_u8(s).ok_or_else(|| format!("unknown order status code {s}"))?,
        filled: Qty(r.i64()?),
        avg_fill: Price(r.i64()?),
        filled_value: r.i128()?,
    })
}

pub fn put_desk(w: &mut Wire<'_>, d: &DeskImage) {
    w.u8(d.state.code());
    for s in d.squared_off {
        put_opt_u32(w, s.map(|d| d.0));
    }
    put_opt_u32(w, d.day.map(|d| d.0));
    w.u32(d.wins);
    w.u32(d.losses);
    w.i64(d.day_realized_base.0);
    w.u32(d.day_first_trade);
    w.u8(d.flattening.map_or(u8::MAX, |p| p.code()));
    put_charges(w, &d.charges_today);
    w.u64(d.oms_first_id);
    w.u32(d.spread_next_id);
    w.u32(d.now_ts);
    w.u64(d.frames_done);
}

fn get_desk(r: &mut Read<'_>) -> Result<DeskImage, String> {
    Ok(DeskImage {
        state: pick(&STATES, r.u8()?, "trading state")?,
        squared_off: [get_opt_u32(r)?.map(Date), get_opt_u32(r)?.map(Date)],
        day: get_opt_u32(r)?.map(Date),
        wins: r.u32()?,
        losses: r.u32()?,
        day_realized_base: Paise(r.i64()?),
        day_first_trade: r.u32()?,
        flattening: match r.u8()? {
            u8::MAX => None,
            c => Some(purpose(c)?),
        },
        charges_today: get_charges(r)?,
        oms_first_id: r.u64()?,
        spread_next_id: r.u32()?,
        now_ts: r.u32()?,
        frames_done: r.u64()?,
    })
}

fn put_text(w: &mut Wire<'_>, s: &str, n: usize) {
    let b = s.as_bytes();
    let mut field = [0u8; 32];
    let k = b.len().min(n).min(32);
    field[..k].copy_from_slice(&b[..k]);
    w.bytes(&field[..n.min(32)]);
}

fn get_text(r: &mut Read<'_>, n: usize) -> Result<String, String> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(r.u8()?);
    }
    let end = out.iter().position(|&b| b == 0).unwrap_or(n);
    Ok(String::from_utf8_lossy(&out[..end]).into_owned())
}

/// A journaled trade with what the export shows of its instrument.
#[derive(Clone, Debug, PartialEq)]
pub struct JournaledTrade {
    pub trade: TradeRecord,
    pub symbol: String,
    pub exchange: String,
    /// EQ, FUT, CE or PE.
    pub instrument_type: String,
    /// Native price units per rupee.
    pub divisor: i64,
}

/// Reads a TRADE record's payload (the trade export).
pub fn decode_trade(payload: &[u8]) -> Result<JournaledTrade, String> {
    let mut r = Read::new(payload);
    let trade = get_trade(&mut r)?;
    Ok(JournaledTrade {
        trade,
        symbol: get_text(&mut r, 32)?,
        exchange: get_text(&mut r, 8)?,
        instrument_type: get_text(&mut r, 8)?,
        divisor: r.u32()?.max(1) as i64,
    })
}

fn put_trade(w: &mut Wire<'_>, t: &TradeRecord) {
    w.u32(t.token);
    w.u8(side_code(t.side));
    w.i64(t.qty);
    w.i64(t.entry.0);
    w.i64(t.exit.0);
    w.i64(t.pnl.0);
    w.u8(t.exit_purpose.code());
    w.u16(t.exit_reasons);
    w.u8(t.strategy.code());
    w.u32(t.opened_ts);
    w.u32(t.closed_ts);
    put_charges(w, &t.charges);
}

fn get_trade(r: &mut Read<'_>) -> Result<TradeRecord, String> {
    Ok(TradeRecord {
        token: r.u32()?,
        side: pick(&SIDES, r.u8()?, "side")?,
        qty: r.i64()?,
        entry: Price(r.i64()?),
        exit: Price(r.i64()?),
        pnl: Paise(r.i64()?),
        exit_purpose: purpose(r.u8()?)?,
        exit_reasons: r.u16()?,
        strategy: StrategyId::from_code(r.u8()?),
        opened_ts: r.u32()?,
        closed_ts: r.u32()?,
        charges: get_charges(r)?,
    })
}

fn put_spread(w: &mut Wire<'_>, k: u32, s: &spreads::SpreadPosition) {
    w.u32(k);
    w.u32(s.id);
    w.u8(spread_kind_code(s.kind));
    w.u8(s.strategy.code());
    w.u32(s.buy as u32);
    w.u32(s.sell as u32);
    w.i64(s.qty.0);
    w.i64(s.stop.0);
    w.i64(s.target.0);
    w.i64(s.max_loss.0);
    w.i64(s.sell_price.0);
    w.u8(spread_state_code(s.state));
    put_id(w, s.buy_entry);
    put_id(w, s.sell_entry);
    w.u8(s.exit_purpose.code());
}

fn get_spread(r: &mut Read<'_>) -> Result<(u32, spreads::SpreadPosition), String> {
    let k = r.u32()?;
    Ok((
        k,
        spreads::SpreadPosition {
            id: r.u32()?,
            kind: pick(&SPREAD_KINDS, r.u8()?, "spread kind")?,
            strategy: StrategyId::from_code(r.u8()?),
            buy: r.u32()? as usize,
            sell: r.u32()? as usize,
            qty: Qty(r.i64()?),
            stop: Price(r.i64()?),
            target: Price(r.i64()?),
            max_loss: Price(r.i64()?),
            sell_price: Price(r.i64()?),
            state: pick(&SPREAD_STATES, r.u8()?, "spread state")?,
            buy_entry: get_id(r)?,
            sell_entry: get_id(r)?,
            exit_purpose: purpose(r.u8()?)?,
        },
    ))
}

fn put_signal(w: &mut Wire<'_>, s: &Signal) {
    w.u32(s.token.0);
    w.u8(s.strategy.code());
    w.u8(side_code(s.side));
    w.i64(s.entry.0);
    w.i64(s.stop.0);
    w.i64(s.target.0);
    w.u32(s.ts);
    w.u16(s.score.total as u16);
    w.u32(s.spread.map_or(0, |sp| sp.sell_token.0));
}

fn put_control(w: &mut Wire<'_>, c: &ControlCommand, ts: u32) {
    w.u32(ts);
    let (code, a, b): (u8, u64, u32) = match *c {
        ControlCommand::Pause => (0, 0, 0),
        ControlCommand::Resume => (1, 0, 0),
        ControlCommand::Flatten { request } => (2, request, 0),
        ControlCommand::ReloadStrategies { request, .. } => (3, request, 0),
        ControlCommand::ReloadUniverse { request } => (4, request, 0),
        ControlCommand::ClosePosition { token } => (5, 0, token.0),
        ControlCommand::HaltEntries { reason } => (
            6,
            0,
            match reason {
                HaltReason::FeedLost => 0,
                HaltReason::TokenExpired => 1,
            },
        ),
    };
    w.u8(code);
    w.u64(a);
    w.u32(b);
}
