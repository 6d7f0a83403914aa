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

mod layout;
use layout::*;
pub use layout::{decode_trade, put_desk, put_order, JournaledTrade};

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
                w.u32(inst.as_ref().map_or(100, |i| i.divisor() as u32));
                w.u64(t.entry_order.0);
                w.u64(t.exit_order.0);
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

    /// A trading day began inside the run: the journal moves to that day's file (the DAY
    /// record) and everything the desk holds is written again after it, so the day's file
    /// alone rebuilds the day. The earlier day's trades stay in its own file.
    pub(super) fn journal_new_day(&mut self, day: crate::domain::Date) {
        let Some(mut m) = self.journal.take() else {
            return;
        };
        m.sink.put(kind::DAY, |w| w.u32(day.0));
        // The new day's file says where orders go, as a restart that day must.
        let (ts, live) = (self.now_ts, self.params.live);
        m.sink.put(kind::MODE, |w| put_mode(w, ts, live));
        // The new file has nothing yet: every non-empty image differs from what it holds.
        for i in 0..m.slots.len() {
            m.slots[i] = self.empty_slot(i);
        }
        m.live.clear();
        m.orders.clear();
        m.unsettled.clear();
        m.spreads.clear();
        m.trades = self.trades.len();
        m.desk = self.desk_image();
        let desk = m.desk;
        m.sink.put(kind::DESK, |w| put_desk(w, &desk));
        self.journal = Some(m);
        self.journal_changes(None, true);
    }

    /// A mode switch as a journal record.
    pub(super) fn journal_mode(&self) {
        if let Some(m) = self.journal.as_ref() {
            let (ts, live) = (self.now_ts, self.params.live);
            m.sink.put(kind::MODE, |w| put_mode(w, ts, live));
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
                    let t = decode_trade(payload).map_err(bad("trade"))?.trade;
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
                kind::MODE => self.params.live = get_mode(&mut rd).map_err(bad("mode"))?,
                _ => {}
            }
        }
        r.open_positions = self.positions.iter().filter(|p| p.is_open()).count();
        r.working_orders = self.oms.open_orders().count();
        // One file holds one trading day (a day begun inside a run starts its own file):
        // every trade in it is today's, whatever index the day began at in that run.
        self.day_first_trade = 0;
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

/// The last mode a day's journal records (true: LIVE), None when it holds no switch: what a
/// restart the same day starts in instead of the configured mode. A damaged MODE record is
/// passed over here; the desk's rebuild refuses it.
pub fn journaled_mode<'a>(records: impl IntoIterator<Item = (u8, &'a [u8])>) -> Option<bool> {
    records
        .into_iter()
        .filter(|(k, _)| *k == kind::MODE)
        .filter_map(|(_, p)| get_mode(&mut Read::new(p)).ok())
        .last()
}
