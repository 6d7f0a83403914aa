//! Each exit rule alone, in a scripted scenario through the risk stage: INFY long at
//! 1550.00 with the stop at 1540.00 (R = 10.00).

use super::*;
use crate::domain::BarStat;

/// A stage with every rule off except what the scenario turns on.
fn bare() -> RiskStage {
    let mut r = stage();
    r.params.exits = exits::ExitRules {
        stop_loss: true,
        take_profit: false,
        trail: false,
        trail_atr_mult: 2.0,
        tp1_rr: 1.0,
        tp1_fraction: 0.5,
        tp2_rr: 2.0,
        tp2_fraction: 1.0,
        breakeven_after_tp1: true,
        time_stop_secs: 0,
        vol_spike_mult: 0.0,
        mae_fraction: 0.0,
    };
    r
}

const D: u32 = 20261125;

/// Opens the long and returns its quantity.
fn open_long(r: &mut RiskStage) -> i64 {
    feed(r, tick(ts(D, "09:31"), 155_000));
    let e = feed(r, Event::Signal(long_infy(ts(D, "09:31"))));
    fill(r, &e[0], 155_000);
    e[0].qty.0
}

fn bar(atr: i64, high: i64, low: i64, close: i64, at: u32) -> Event {
    Event::Bar(BarStat {
        token: INFY,
        minutes: 1,
        high: Price(high),
        low: Price(low),
        close: Price(close),
        atr: Price(atr),
        end_ts: at,
    })
}

fn closed(r: &RiskStage) -> portfolio::TradeRecord {
    *r.trades_today().last().expect("a closed trade")
}

#[test]
fn hard_stop() {
    let mut r = bare();
    let qty = open_long(&mut r);
    assert!(feed(&mut r, tick(ts(D, "09:32"), 154_010)).is_empty());
    let out = feed(&mut r, tick(ts(D, "09:33"), 153_990));
    assert_eq!(
        (out[0].purpose, out[0].qty.0),
        (OrderPurpose::StopLoss, qty)
    );
    fill(&mut r, &out[0], 153_990);
    assert_eq!(closed(&r).exit_purpose, OrderPurpose::StopLoss);
}

/// TP1 closes half at 1R, the stop moves to breakeven for the rest (one stop, resized to
/// the remaining quantity), and the rest stops out there: the trade keeps both reasons.
#[test]
fn tp1_partial_then_breakeven() {
    let mut r = bare();
    r.params.exits.take_profit = true;
    let qty = open_long(&mut r);
    let out = feed(&mut r, tick(ts(D, "09:40"), 156_000));
    assert_eq!(out[0].purpose, OrderPurpose::TakeProfit1);
    assert_eq!(out[0].qty.0, qty / 2);
    // Nothing more while the partial works.
    assert!(feed(&mut r, tick(ts(D, "09:40"), 156_010)).is_empty());
    fill(&mut r, &out[0], 156_000);
    let p = *r.position(INFY).unwrap();
    assert_eq!(p.qty, qty - qty / 2);
    assert_eq!(p.stop, Price(155_000), "stop at breakeven");
    let out = feed(&mut r, tick(ts(D, "09:45"), 154_990));
    assert_eq!(
        (out[0].purpose, out[0].qty.0),
        (OrderPurpose::StopLoss, qty - qty / 2)
    );
    fill(&mut r, &out[0], 154_990);
    let t = closed(&r);
    assert_eq!(t.qty, qty);
    assert_eq!(t.exit_purpose, OrderPurpose::StopLoss);
    assert_eq!(
        t.exit_reasons,
        OrderPurpose::TakeProfit1.bit() | OrderPurpose::StopLoss.bit()
    );
    // Average exit: half at 1560.00, half at 1549.90.
    let half = (qty / 2) as i128;
    let rest = (qty - qty / 2) as i128;
    let want = (156_000 * half + 154_990 * rest) / (half + rest);
    assert_eq!(t.exit.0 as i128, want);
    assert!(t.pnl.0 > 0);
}

#[test]
fn tp2_closes_the_rest() {
    let mut r = bare();
    r.params.exits.take_profit = true;
    let qty = open_long(&mut r);
    let tp1 = feed(&mut r, tick(ts(D, "09:40"), 156_000));
    fill(&mut r, &tp1[0], 156_000);
    let tp2 = feed(&mut r, tick(ts(D, "09:50"), 157_000));
    assert_eq!(tp2[0].purpose, OrderPurpose::TakeProfit2);
    assert_eq!(tp2[0].qty.0, qty - qty / 2);
    fill(&mut r, &tp2[0], 157_000);
    assert_eq!(closed(&r).exit_purpose, OrderPurpose::TakeProfit2);
    assert_eq!(r.open_positions(), 0);
}

/// The trailing stop follows the best price at 2 ATRs, never loosens, and its exit is
/// TRAILING_STOP.
#[test]
fn atr_trailing_stop_ratchets_only_favourably() {
    let mut r = bare();
    r.params.exits.trail = true;
    let qty = open_long(&mut r);
    // ATR 3.00: 6.00 behind the best price.
    feed(&mut r, bar(300, 155_100, 154_900, 155_000, ts(D, "09:32")));
    feed(&mut r, tick(ts(D, "09:33"), 155_500));
    assert_eq!(r.position(INFY).unwrap().stop, Price(154_900));
    feed(&mut r, tick(ts(D, "09:34"), 156_000));
    assert_eq!(r.position(INFY).unwrap().stop, Price(155_400));
    // Back down: the stop stays.
    assert!(feed(&mut r, tick(ts(D, "09:35"), 155_500)).is_empty());
    assert_eq!(r.position(INFY).unwrap().stop, Price(155_400));
    let out = feed(&mut r, tick(ts(D, "09:36"), 155_390));
    assert_eq!(
        (out[0].purpose, out[0].qty.0),
        (OrderPurpose::TrailingStop, qty)
    );
}

/// With no tick at all after 09:31, the clock alone closes a position without profit
/// after time_stop_min.
#[test]
fn time_stop_on_the_clock() {
    let mut r = bare();
    r.params.exits.time_stop_secs = 30 * 60;
    open_long(&mut r);
    assert!(feed(&mut r, Event::Clock { ts: ts(D, "10:00") }).is_empty());
    let out = feed(&mut r, Event::Clock { ts: ts(D, "10:01") });
    assert_eq!(out[0].purpose, OrderPurpose::TimeStop);
    // A position in profit is left alone.
    let mut r = bare();
    r.params.exits.time_stop_secs = 30 * 60;
    open_long(&mut r);
    feed(&mut r, tick(ts(D, "09:50"), 155_100));
    assert!(feed(&mut r, Event::Clock { ts: ts(D, "10:05") }).is_empty());
}

#[test]
fn volatility_stop_on_a_wide_bar_against_us() {
    let mut r = bare();
    r.params.exits.vol_spike_mult = 4.0;
    let qty = open_long(&mut r);
    // ATR 1.00; a 5.00 bar closing near its high is with us: kept.
    assert!(feed(&mut r, bar(100, 155_600, 155_100, 155_550, ts(D, "09:33"))).is_empty());
    // A 5.00 bar closing near its low: out.
    let out = feed(&mut r, bar(100, 155_600, 155_100, 155_150, ts(D, "09:34")));
    assert_eq!(
        (out[0].purpose, out[0].qty.0),
        (OrderPurpose::VolatilityStop, qty)
    );
}

#[test]
fn mae_stop_before_the_hard_stop() {
    let mut r = bare();
    r.params.exits.mae_fraction = 0.005; // 7.75 below 1550.00
    let qty = open_long(&mut r);
    assert!(feed(&mut r, tick(ts(D, "09:32"), 154_230)).is_empty());
    let out = feed(&mut r, tick(ts(D, "09:33"), 154_225));
    assert_eq!((out[0].purpose, out[0].qty.0), (OrderPurpose::MaeStop, qty));
}

/// The pure rule for a short: the trail moves the stop down only, on the tick grid.
#[test]
fn short_trail_moves_down_only() {
    let rules = exits::ExitRules {
        trail: true,
        ..bare().params.exits
    };
    let mut s = exits::ExitState {
        initial_stop: Price(101_000),
        entry_qty: 10,
        ..Default::default()
    };
    let mut stop = Price(101_000);
    let mut view = exits::ExitView {
        long: false,
        free_qty: 10,
        avg: Price(100_000),
        ltp: Price(99_000),
        now: 0,
        atr: 333,
        lot: 1,
        tick: 5,
    };
    // 99,000 + 2 x 333 = 99,666 -> rounded up to the grid: 99,670.
    assert_eq!(exits::evaluate(&rules, &mut s, &mut stop, &view), None);
    assert_eq!(stop, Price(99_670));
    view.ltp = Price(99_500);
    assert_eq!(exits::evaluate(&rules, &mut s, &mut stop, &view), None);
    assert_eq!(stop, Price(99_670));
    view.ltp = Price(99_700);
    assert_eq!(
        exits::evaluate(&rules, &mut s, &mut stop, &view),
        Some((OrderPurpose::TrailingStop, 10))
    );
}

#[test]
fn manual_close_of_one_position() {
    let mut r = bare();
    let qty = open_long(&mut r);
    let out = feed(
        &mut r,
        Event::Control(ControlCommand::ClosePosition { token: INFY }),
    );
    assert_eq!((out[0].purpose, out[0].qty.0), (OrderPurpose::Manual, qty));
    // Twice is harmless: the working exit already covers the position.
    assert!(feed(
        &mut r,
        Event::Control(ControlCommand::ClosePosition { token: INFY })
    )
    .is_empty());
    fill(&mut r, &out[0], 155_010);
    assert_eq!(closed(&r).exit_purpose, OrderPurpose::Manual);
    assert_eq!(
        r.state(),
        TradingState::Active,
        "a manual close does not pause"
    );
}

/// An exit falls due in a phase that takes no MARKET order (here the closing session after
/// 15:30): it is held and counted, not sent to be rejected.
#[test]
fn exits_wait_for_a_phase_that_takes_market_orders() {
    let mut r = bare();
    r.calendar.squareoff_enabled = false;
    let qty = open_long(&mut r);
    assert!(feed(&mut r, Event::Clock { ts: ts(D, "15:31") }).is_empty());
    assert_eq!(r.phase(), crate::clock::SessionPhase::Closing);
    assert!(
        feed(&mut r, tick(ts(D, "15:32"), 153_000)).is_empty(),
        "stop due but held"
    );
    assert!(
        Metrics::get(&r.metrics.exits_held_total) == 0,
        "held before evaluating"
    );
    // The next session's continuous phase sends it.
    let out = feed(&mut r, tick(ts(20261126, "09:15"), 153_000));
    assert_eq!(
        (out[0].purpose, out[0].qty.0),
        (OrderPurpose::StopLoss, qty)
    );
}
