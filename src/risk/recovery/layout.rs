//! The payload layouts of journal format 1: each record kind's fields in the order they are
//! written, little-endian through `Wire`, read back in the same order through `Read`. A
//! change here changes the format (`journal::format::FORMAT`; the layout test pins the
//! lengths).

use super::*;

// ---- codes: each encoder is an exhaustive match; decoders read the same table ----

pub(super) fn side_code(s: Side) -> u8 {
    match s {
        Side::Buy => 0,
        Side::Sell => 1,
    }
}
const SIDES: [Side; 2] = [Side::Buy, Side::Sell];

pub(super) fn order_type_code(t: OrderType) -> u8 {
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

pub(super) fn validity_code(v: Validity) -> u8 {
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

pub(super) fn spread_kind_code(k: SpreadKind) -> u8 {
    match k {
        SpreadKind::Debit => 0,
        SpreadKind::Credit => 1,
    }
}
const SPREAD_KINDS: [SpreadKind; 2] = [SpreadKind::Debit, SpreadKind::Credit];

pub(super) fn spread_state_code(s: spreads::SpreadState) -> u8 {
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

pub(super) fn pick<T: Copy>(all: &[T], c: u8, what: &str) -> Result<T, String> {
    all.get(c as usize)
        .copied()
        .ok_or_else(|| format!("unknown {what} code {c}"))
}

pub(super) fn purpose(c: u8) -> Result<OrderPurpose, String> {
    OrderPurpose::from_code(c).ok_or_else(|| format!("unknown order purpose code {c}"))
}

// ---- fields ----

pub(super) fn put_id(w: &mut Wire<'_>, id: Option<OrderId>) {
    w.u64(id.map_or(0, |i| i.0));
}
pub(super) fn get_id(r: &mut Read<'_>) -> Result<Option<OrderId>, String> {
    Ok(Some(r.u64()?).filter(|&i| i != 0).map(OrderId))
}
pub(super) fn put_opt_u32(w: &mut Wire<'_>, v: Option<u32>) {
    w.bool(v.is_some());
    w.u32(v.unwrap_or(0));
}
pub(super) fn get_opt_u32(r: &mut Read<'_>) -> Result<Option<u32>, String> {
    let some = r.bool()?;
    let v = r.u32()?;
    Ok(some.then_some(v))
}
pub(super) fn put_charges(w: &mut Wire<'_>, c: &Charges) {
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
pub(super) fn get_charges(r: &mut Read<'_>) -> Result<Charges, String> {
    Ok(Charges {
        brokerage: Paise(r.i64()?),
        stt: Paise(r.i64()?),
        exchange_txn: Paise(r.i64()?),
        sebi_fee: Paise(r.i64()?),
        stamp_duty: Paise(r.i64()?),
        gst: Paise(r.i64()?),
    })
}

pub(super) fn put_slot(w: &mut Wire<'_>, idx: u32, s: &SlotImage) {
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

pub(super) fn get_slot(r: &mut Read<'_>) -> Result<(u32, SlotImage), String> {
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

pub(super) fn put_intent(w: &mut Wire<'_>, i: &OrderIntent) {
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

pub(super) fn get_intent(r: &mut Read<'_>) -> Result<OrderIntent, String> {
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

pub(super) fn get_order(r: &mut Read<'_>) -> Result<oms::OrderRecord, String> {
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

pub(super) fn get_desk(r: &mut Read<'_>) -> Result<DeskImage, String> {
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

pub(super) fn put_text(w: &mut Wire<'_>, s: &str, n: usize) {
    let b = s.as_bytes();
    let mut field = [0u8; 32];
    let k = b.len().min(n).min(32);
    field[..k].copy_from_slice(&b[..k]);
    w.bytes(&field[..n.min(32)]);
}

pub(super) fn get_text(r: &mut Read<'_>, n: usize) -> Result<String, String> {
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
    .and_then(|mut t| {
        // Appended later: a record of an older build ends before them (ids 0).
        if r.rest().len() >= 16 {
            let mut tail = Read::new(&payload[payload.len() - 16..]);
            t.trade.entry_order = OrderId(tail.u64()?);
            t.trade.exit_order = OrderId(tail.u64()?);
        }
        Ok(t)
    })
}

pub(super) fn put_trade(w: &mut Wire<'_>, t: &TradeRecord) {
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

pub(super) fn get_trade(r: &mut Read<'_>) -> Result<TradeRecord, String> {
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
        entry_order: OrderId(0),
        exit_order: OrderId(0),
    })
}

pub(super) fn put_spread(w: &mut Wire<'_>, k: u32, s: &spreads::SpreadPosition) {
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

pub(super) fn get_spread(r: &mut Read<'_>) -> Result<(u32, spreads::SpreadPosition), String> {
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

pub(super) fn put_signal(w: &mut Wire<'_>, s: &Signal) {
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

/// Where orders go from here: the exchange time of the switch, then 1 LIVE / 0 PAPER.
pub(super) fn put_mode(w: &mut Wire<'_>, ts: u32, live: bool) {
    w.u32(ts);
    w.u8(live as u8);
}

/// A MODE record: true for LIVE.
pub(super) fn get_mode(r: &mut Read<'_>) -> Result<bool, String> {
    let _ts = r.u32()?;
    Ok(r.u8()? == 1)
}

pub(super) fn put_control(w: &mut Wire<'_>, c: &ControlCommand, ts: u32) {
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
                HaltReason::DiskLow => 2,
            },
        ),
        ControlCommand::Reconcile => (7, 0, 0),
        ControlCommand::SetMode { request, live, .. } => (8, request, live as u32),
    };
    w.u8(code);
    w.u64(a);
    w.u32(b);
}
