//! Risk stage scenarios: days, limits, exits, spreads.

use super::*;
use crate::clock::{ist_epoch, ist_time_of_day, TimeOfDay};
use crate::config::{AppConfig, EntryOrderType};
use crate::domain::{OrderUpdate, TickMode};

const INFY: Token = Token(408_065);

/// NSE hours with the square-off at 15:20 for every segment.
fn calendar() -> SessionCalendar {
    SessionCalendar {
        squareoff: TimeOfDay::hm(15, 20),
        squareoff_fo: TimeOfDay::hm(15, 20),
        ..SessionCalendar::nse_hours()
    }
}

/// The shipped config without the broker stop: these scenarios are the engine's own exits
/// (tests/protective.rs has the broker's stop).
fn engine_params() -> RiskParams {
    let mut cfg = AppConfig::default();
    cfg.execution.protective_stop = false;
    RiskParams::from_config(&cfg)
}

fn stage() -> RiskStage {
    let csv = format!(
        "{}\n408065,1594,INFY,\"INFOSYS\",1550.0,,0.0,0.1,1,EQ,NSE,NSE\n",
        crate::domain::INSTRUMENTS_HEADER
    );
    let master = Arc::new(InstrumentMaster::parse_csv(&csv, "t.csv").unwrap());
    let calendar = calendar();
    RiskStage::new(
        engine_params(),
        calendar,
        master,
        Arc::new(Metrics::default()),
    )
}

fn ts(date: u32, hm: &str) -> u32 {
    ist_epoch(Date(date), TimeOfDay::parse(hm).unwrap()) as u32
}

/// Runs one event through the stage and returns the order intents it emitted.
fn feed(r: &mut RiskStage, ev: Event) -> Vec<OrderIntent> {
    let mut out = Vec::new();
    r.on_slot(&Slot { ev, recv_ns: 0 }, &mut |s| {
        if let Event::Intent(i) = s.ev {
            out.push(i)
        }
    });
    out
}

fn tick(at: u32, paise: i32) -> Event {
    Event::Tick(Tick {
        token: INFY,
        mode: TickMode::Ltp,
        last_price: paise,
        exchange_timestamp: at,
        ..Tick::default()
    })
}

fn fill(r: &mut RiskStage, i: &OrderIntent, paise: i64) -> Vec<OrderIntent> {
    feed(
        r,
        Event::Order(OrderUpdate {
            id: i.id,
            token: i.token,
            kind: OrderUpdateKind::Fill {
                cum_qty: i.qty,
                last_qty: i.qty,
                last_price: Price(paise),
            },
            ts: i.ts,
        }),
    )
}

/// An ORB long on INFY at 1550.00, stop 1540.00, target 1570.00.
fn long_infy(at: u32) -> Signal {
    Signal {
        token: INFY,
        strategy: StrategyId::Orb,
        side: Side::Buy,
        entry: Price(155_000),
        stop: Price(154_000),
        target: Price(157_000),
        ts: at,
        score: SignalScore::default(),
        spread: None,
    }
}

/// Day one: a long entry stopped out. Day two starts with daily P&L, trade count and
/// win rate at zero while the realized total carries over.
#[test]
fn daily_pnl_and_trade_count_restart_each_day() {
    let mut r = stage();
    let d1 = 20261125;
    feed(&mut r, tick(ts(d1, "09:31"), 155_000));
    let sig = long_infy(ts(d1, "09:31"));
    let entry = feed(&mut r, Event::Signal(sig));
    assert_eq!(entry.len(), 1, "the signal should size to an entry");
    assert!(entry[0].qty.0 > 0);
    fill(&mut r, &entry[0], 155_000);
    let exit = feed(&mut r, tick(ts(d1, "09:40"), 153_900));
    assert_eq!(exit.len(), 1, "the stop should send an exit");
    assert_eq!(exit[0].purpose, OrderPurpose::StopLoss);
    fill(&mut r, &exit[0], 153_900);
    let loss = r.daily_pnl();
    assert!(loss.0 < 0, "{loss:?}");
    assert_eq!(r.trades_today().len(), 1);

    let d2 = 20261126;
    feed(&mut r, tick(ts(d2, "09:15"), 154_000));
    assert_eq!(r.daily_pnl(), Paise(0));
    assert_eq!(r.trades_today().len(), 0);
    assert_eq!(r.trades().len(), 1);
    assert_eq!(r.realized(), loss);
}

/// A loss beyond the daily limit halts the day; the next day trades again.
#[test]
fn daily_loss_halt_lifts_next_day() {
    let mut r = stage();
    let d1 = 20261125;
    feed(&mut r, tick(ts(d1, "09:31"), 155_000));
    let sig = long_infy(ts(d1, "09:31"));
    let entry = feed(&mut r, Event::Signal(sig));
    fill(&mut r, &entry[0], 155_000);
    // Just inside the limit after the entry's charges: the next paisa down halts.
    r.params.daily_loss_limit_paise = r.daily_pnl_net().0 - 1;
    let exit = feed(&mut r, tick(ts(d1, "09:32"), 154_900));
    assert_eq!(exit.len(), 1);
    assert_eq!(exit[0].purpose, OrderPurpose::DailyLossStop);
    assert_eq!(r.state(), TradingState::Halted);
    fill(&mut r, &exit[0], 154_900);
    assert!(feed(
        &mut r,
        Event::Signal(Signal {
            ts: ts(d1, "10:00"),
            ..sig
        })
    )
    .is_empty());

    let d2 = 20261126;
    feed(&mut r, tick(ts(d2, "09:30"), 155_000));
    assert_eq!(r.state(), TradingState::Active);
    let again = feed(
        &mut r,
        Event::Signal(Signal {
            ts: ts(d2, "09:31"),
            ..sig
        }),
    );
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].qty, entry[0].qty);
}

/// The NIFTY chain listed for 2 Dec 2026 (8 Dec weekly) and a risk stage over it.
fn chain_stage() -> (RiskStage, Arc<InstrumentMaster>) {
    let file = InstrumentMaster::load(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/configs/instruments.csv"
    )))
    .unwrap();
    let calendar = calendar();
    let master = Arc::new(crate::universe::listing::list_contracts(
        &file,
        Date(20261202),
        &calendar,
        2,
        10,
    ));
    let r = RiskStage::new(
        engine_params(),
        calendar,
        master.clone(),
        Arc::new(Metrics::default()),
    );
    (r, master)
}

fn token(m: &InstrumentMaster, symbol: &str) -> Token {
    m.iter()
        .find(|i| i.tradingsymbol.as_str() == symbol)
        .unwrap()
        .token
}

fn ltp(token: Token, at: u32, paise: i32) -> Event {
    Event::Tick(Tick {
        token,
        mode: TickMode::Ltp,
        last_price: paise,
        exchange_timestamp: at,
        ..Tick::default()
    })
}

/// Buy the 26,000 call at 120.00, sell the 26,100 call at 80.00: a 40.00 debit, max profit
/// 60.00; stop at half the max loss (value 20.00), target at 60% of max profit (76.00).
fn call_debit_spread(m: &InstrumentMaster, at: u32) -> Signal {
    Signal {
        token: token(m, "NIFTY26D0826000CE"),
        strategy: StrategyId::OptionsRanker,
        side: Side::Buy,
        entry: Price(4_000),
        stop: Price(2_000),
        target: Price(7_600),
        ts: at,
        score: SignalScore::default(),
        spread: Some(SpreadSpec {
            kind: SpreadKind::Debit,
            sell_token: token(m, "NIFTY26D0826100CE"),
            buy_price: Price(12_000),
            sell_price: Price(8_000),
            max_loss: Price(4_000),
            max_profit: Price(6_000),
        }),
    }
}

#[test]
fn a_spread_is_sized_by_max_loss_bought_first_and_exited_short_first() {
    let (mut r, m) = chain_stage();
    let at = ts(20261202, "11:00");
    let sig = call_debit_spread(&m, at);
    let (buy, sell) = (sig.token, sig.spread.unwrap().sell_token);
    feed(&mut r, ltp(buy, at, 12_000));
    feed(&mut r, ltp(sell, at, 8_000));
    let first = feed(&mut r, Event::Signal(sig));
    // Budget 0.5% of 10 lakh = 5,000 rupees; 40 rupees a unit -> 125 units -> 1 lot of 65.
    assert_eq!(first.len(), 1, "only the bought leg goes first");
    assert_eq!(
        (first[0].token, first[0].side, first[0].qty),
        (buy, Side::Buy, Qty(65))
    );
    // Heat: the spread's max loss, 40 x 65 = 2,600 rupees, before any fill.
    assert_eq!(r.heat_paise(), 260_000);
    assert_eq!(r.positions_held(None), 1);
    let second = fill(&mut r, &first[0], 12_000);
    assert_eq!(second.len(), 1, "the short follows the long's fill");
    assert_eq!(
        (second[0].token, second[0].side, second[0].qty),
        (sell, Side::Sell, Qty(65))
    );
    assert!(fill(&mut r, &second[0], 8_000).is_empty());
    // Two legs, one position against the caps.
    assert_eq!(r.open_positions(), 2);
    assert_eq!(r.positions_held(Some(StrategyId::OptionsRanker)), 1);
    // The value falls to 19.00 (long 99, short 80): the stop closes both, short first.
    // Value 99 - 80 = 19 <= 20: both exits in one event.
    assert_eq!(feed(&mut r, ltp(buy, at + 60, 9_900)).len(), 2);
    let o = r.oms();
    let exits: Vec<_> = o
        .iter()
        .filter(|x| x.intent.purpose == OrderPurpose::StopLoss)
        .map(|x| x.intent)
        .collect();
    assert_eq!(exits.len(), 2);
    assert_eq!((exits[0].token, exits[0].side), (sell, Side::Buy));
    assert_eq!((exits[1].token, exits[1].side), (buy, Side::Sell));
    fill(&mut r, &exits[0], 8_000);
    fill(&mut r, &exits[1], 9_900);
    assert_eq!(r.open_positions(), 0);
    assert_eq!(r.positions_held(None), 0);
    assert_eq!(r.heat_paise(), 0);
    // P&L: long -21.00 x 65, short 0: -1,365 rupees.
    assert_eq!(r.realized(), Paise(-136_500));
}

#[test]
fn a_short_leg_that_fails_closes_the_long() {
    let (mut r, m) = chain_stage();
    let at = ts(20261202, "11:00");
    feed(&mut r, Event::Clock { ts: at });
    let sig = call_debit_spread(&m, at);
    let first = feed(&mut r, Event::Signal(sig));
    let second = fill(&mut r, &first[0], 12_000);
    let closes = feed(
        &mut r,
        Event::Order(OrderUpdate {
            id: second[0].id,
            token: second[0].token,
            kind: OrderUpdateKind::Rejected(RejectReason::Broker),
            ts: at,
        }),
    );
    assert_eq!(closes.len(), 1);
    assert_eq!(
        (closes[0].token, closes[0].side, closes[0].qty),
        (sig.token, Side::Sell, Qty(65))
    );
    fill(&mut r, &closes[0], 11_900);
    assert_eq!(r.positions_held(None), 0);
    // A spread never filled at all leaves nothing behind either.
    let again = feed(&mut r, Event::Signal(call_debit_spread(&m, at + 60)));
    feed(
        &mut r,
        Event::Order(OrderUpdate {
            id: again[0].id,
            token: again[0].token,
            kind: OrderUpdateKind::Rejected(RejectReason::Broker),
            ts: at,
        }),
    );
    assert_eq!((r.positions_held(None), r.heat_paise()), (0, 0));
}

#[test]
fn square_off_closes_a_spread_as_a_spread() {
    let (mut r, m) = chain_stage();
    let at = ts(20261202, "11:00");
    let sig = call_debit_spread(&m, at);
    let first = feed(&mut r, Event::Signal(sig));
    let second = fill(&mut r, &first[0], 12_000);
    fill(&mut r, &second[0], 8_000);
    // Delta per leg: the long 26,000 call near the money (forward 26,010) about +0.5 x 65,
    // the short 26,100 call less; the future's LTP is the forward.
    let fut = token(&m, "NIFTY26DECFUT");
    feed(&mut r, ltp(fut, at + 1, 2_601_000));
    feed(&mut r, ltp(sig.token, at + 1, 12_000));
    feed(&mut r, ltp(sig.spread.unwrap().sell_token, at + 1, 8_000));
    let long = m.index_of(sig.token).unwrap();
    let short = m.index_of(sig.spread.unwrap().sell_token).unwrap();
    let (dl, ds) = (
        super::publish::delta_milli(&r, long),
        super::publish::delta_milli(&r, short),
    );
    assert!((25_000..40_000).contains(&dl), "{dl}");
    assert!((-40_000..-10_000).contains(&ds) && -ds < dl, "{ds}");
    let out = feed(
        &mut r,
        Event::Clock {
            ts: ts(20261202, "15:20"),
        },
    );
    assert_eq!(out.len(), 2);
    assert_eq!(
        (out[0].side, out[0].purpose),
        (Side::Buy, OrderPurpose::SquareOff)
    );
    assert_eq!(
        (out[1].side, out[1].purpose),
        (Side::Sell, OrderPurpose::SquareOff)
    );
}

/// A round trip through the stage is charged exactly as the calculator charges the same
/// buy and sell (one order each side), the trade keeps its charges, and /state's net P&L
/// is gross less them.
#[test]
fn fills_are_charged_by_the_dated_table() {
    let mut r = stage();
    let d = 20261125;
    feed(&mut r, tick(ts(d, "09:31"), 155_000));
    let entry = feed(&mut r, Event::Signal(long_infy(ts(d, "09:31"))));
    let qty = entry[0].qty;
    fill(&mut r, &entry[0], 155_000);
    // The entry leg alone: brokerage, exchange, SEBI, stamp and GST, no STT yet.
    let open = r.charges_today();
    assert!(
        open.brokerage.0 > 0 && open.stamp_duty.0 > 0 && open.stt.0 == 0,
        "{open:?}"
    );
    let exit = feed(&mut r, tick(ts(d, "09:40"), 153_900));
    fill(&mut r, &exit[0], 153_900);
    let want = charges::ChargeSchedule::shipped()
        .round_trip(
            charges::ChargeSegment::Intraday,
            Price(155_000),
            Price(153_900),
            qty,
            Date(d),
        )
        .unwrap();
    let t = r.trades_today()[0];
    assert_eq!(t.charges, want.charges);
    assert_eq!(t.pnl, want.gross_pnl);
    assert_eq!(t.net_pnl(), want.net_pnl);
    assert_eq!(r.charges_today(), want.charges);
    assert_eq!(r.daily_pnl_net(), want.net_pnl);
    assert_eq!(r.open_trip_charges(), Paise(0));
}

/// The daily loss stop acts on P&L net of charges: a gross loss just inside the limit,
/// pushed past it by the charges, halts.
#[test]
fn daily_loss_stop_counts_charges() {
    let mut r = stage();
    let d = 20261125;
    feed(&mut r, tick(ts(d, "09:31"), 155_000));
    let entry = feed(&mut r, Event::Signal(long_infy(ts(d, "09:31"))));
    let qty = entry[0].qty.0;
    fill(&mut r, &entry[0], 155_000);
    // Gross loss of 10 paise a share at 1549.90; the limit sits 1 paisa below it.
    r.params.daily_loss_limit_paise = -(10 * qty) - 1;
    let out = feed(&mut r, tick(ts(d, "09:32"), 154_990));
    assert_eq!(r.daily_pnl(), Paise(-10 * qty));
    assert_eq!(
        out.len(),
        1,
        "net of the entry's charges the loss is past the limit"
    );
    assert_eq!(out[0].purpose, OrderPurpose::DailyLossStop);
    assert_eq!(r.state(), TradingState::Halted);
}

/// With the feed silent from 15:00, clock events alone square off each segment at its own
/// time (equity 15:15, F&O 15:20), move the session phase, and no entry is taken inside the
/// buffer before square-off.
#[test]
fn square_off_per_segment_with_the_feed_stopped() {
    let file = InstrumentMaster::load(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/configs/instruments.csv"
    )))
    .unwrap();
    let master = Arc::new(file);
    let cal = SessionCalendar {
        squareoff: TimeOfDay::hm(15, 15),
        squareoff_fo: TimeOfDay::hm(15, 20),
        no_entries_before_squareoff_min: 10,
        ..SessionCalendar::nse_hours()
    };
    let mut r = RiskStage::new(
        engine_params(),
        cal,
        master.clone(),
        Arc::new(Metrics::default()),
    );
    // Only the square-off here: no time stop on positions held since 10:00 without profit.
    r.params.exits.time_stop_secs = 0;
    let d = 20261125;
    let eq = master.find("NSE", "INFY").unwrap().token;
    let fut = master
        .iter()
        .find(|i| i.instrument_type == InstrumentType::Future && i.name.as_str() == "NIFTY")
        .unwrap()
        .token;
    let px = |t: Token| master.get(t).unwrap().last_price;
    let price_tick = |t: Token, at: u32| {
        Event::Tick(Tick {
            token: t,
            mode: TickMode::Ltp,
            last_price: px(t).0 as i32,
            exchange_timestamp: at,
            ..Tick::default()
        })
    };
    let open = |r: &mut RiskStage, t: Token, at: u32| {
        feed(r, price_tick(t, at));
        let p = px(t).0;
        let sig = Signal {
            token: t,
            strategy: StrategyId::Orb,
            side: Side::Buy,
            entry: Price(p),
            stop: Price(p - p / 1000),
            target: Price(p + p / 500),
            ts: at,
            score: SignalScore::default(),
            spread: None,
        };
        let e = feed(r, Event::Signal(sig));
        assert_eq!(e.len(), 1, "entry for {t:?}");
        fill(r, &e[0], p);
    };
    open(&mut r, eq, ts(d, "10:00"));
    open(&mut r, fut, ts(d, "10:00"));
    assert_eq!(r.phase(), crate::clock::SessionPhase::Continuous);
    // 15:06: inside the equity buffer (15:05), not the F&O one (15:10).
    let late = |t: Token, at: u32| Signal {
        token: t,
        strategy: StrategyId::TrendPullback,
        side: Side::Sell,
        entry: px(t),
        stop: Price(px(t).0 + px(t).0 / 100),
        target: Price(px(t).0 - px(t).0 / 50),
        ts: at,
        score: SignalScore::default(),
        spread: None,
    };
    let other_eq = master.find("NSE", "TCS").unwrap().token;
    feed(&mut r, price_tick(other_eq, ts(d, "15:00")));
    assert!(feed(&mut r, Event::Signal(late(other_eq, ts(d, "15:06")))).is_empty());
    // The feed stops at 15:00; only the clock moves.
    let mut exits = Vec::new();
    for s in (ts(d, "15:00")..=ts(d, "15:31")).step_by(1) {
        for i in feed(&mut r, Event::Clock { ts: s }) {
            exits.push((ist_time_of_day(s as i64), i.token, i.purpose));
        }
    }
    assert_eq!(
        exits,
        vec![
            (TimeOfDay::hm(15, 15), eq, OrderPurpose::SquareOff),
            (TimeOfDay::hm(15, 20), fut, OrderPurpose::SquareOff),
        ]
    );
    assert_eq!(r.phase(), crate::clock::SessionPhase::Closing);
}

mod exit_rules;
mod freeze;
mod kill_switch;
mod reconcile;
