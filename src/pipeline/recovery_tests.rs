//! The desk rebuilt from its journal equals the desk it came from, after every step of a
//! scripted day and of random interleavings of ticks, fills, cancels, commands and clock.

use super::interleaving::step;
use super::*;
use crate::telemetry::journal::{JournalEntry, JournalSink};
use crossbeam_channel::Receiver;

/// A desk journaling into a queue the test drains.
fn journaled(tune: impl FnOnce(&mut RiskParams)) -> (Desk, Receiver<JournalEntry>) {
    let mut d = Desk::new(tune);
    let (sink, rx) = JournalSink::new(1 << 14, Arc::new(Metrics::default()));
    d.risk = fresh(&d).with_journal(sink, true, false);
    (d, rx)
}

pub(super) fn fresh(d: &Desk) -> RiskStage {
    RiskStage::new(
        d.params.clone(),
        d.calendar.clone(),
        d.master.clone(),
        Arc::new(Metrics::default()),
    )
}

/// Drains the queue into `log` (seq, kind, payload) and rebuilds a new stage from all of it.
fn rebuilt(d: &Desk, rx: &Receiver<JournalEntry>, log: &mut Vec<(u64, u8, Vec<u8>)>) -> RiskStage {
    while let Ok(e) = rx.try_recv() {
        log.push((log.len() as u64 + 1, e.kind, e.payload().to_vec()));
    }
    let mut r = fresh(d);
    r.restore(log.iter().map(|(s, k, p)| (*s, *k, p.as_slice())))
        .expect("the journal applies");
    r
}

fn assert_same(d: &Desk, rx: &Receiver<JournalEntry>, log: &mut Vec<(u64, u8, Vec<u8>)>, at: &str) {
    let r = rebuilt(d, rx, log);
    assert_eq!(r.journaled_state(), d.risk.journaled_state(), "after {at}");
}

#[test]
fn a_rebuilt_desk_equals_the_one_it_came_from_after_every_step() {
    let (mut d, rx) = journaled(|p| {
        p.protective.modify_every_s = 1;
    });
    let mut log = Vec::new();
    d.open_long();
    assert_same(&d, &rx, &mut log, "the entry and its stop");
    d.risk_in(Event::Bar(BarStat {
        token: INFY,
        minutes: 1,
        high: Price(155_000),
        low: Price(155_000),
        close: Price(155_000),
        atr: Price(200),
        end_ts: d.now,
    }));
    assert_same(&d, &rx, &mut log, "a bar's ATR");
    for k in 1..=8 {
        d.second();
        d.tick(155_000 + 300 * k);
        d.settle();
        assert_same(&d, &rx, &mut log, &format!("new high {k}"));
    }
    d.risk_in(Event::Control(ControlCommand::Pause));
    assert_same(&d, &rx, &mut log, "pause");
    d.risk_in(Event::Control(ControlCommand::ClosePosition {
        token: INFY,
    }));
    d.settle();
    for _ in 0..3 {
        d.second();
        d.settle();
    }
    assert_eq!(d.qty(), 0, "closed");
    assert_same(&d, &rx, &mut log, "the manual close");
    assert_eq!(d.risk.trades().len(), 1);
    let kinds: std::collections::BTreeSet<u8> = log.iter().map(|(_, k, _)| *k).collect();
    use crate::telemetry::journal::kind;
    for k in [
        kind::SLOT,
        kind::ORDER,
        kind::DESK,
        kind::TRADE,
        kind::DECISION,
        kind::CONTROL,
    ] {
        assert!(kinds.contains(&k), "no record of kind {k}: {kinds:?}");
    }
}

#[test]
fn ticks_of_an_idle_instrument_write_nothing() {
    let (mut d, rx) = journaled(|_| {});
    d.tick(155_000);
    while rx.try_recv().is_ok() {}
    for p in 0..100 {
        d.tick(155_000 + p * 10);
    }
    assert!(rx.try_recv().is_err(), "an idle tick was journaled");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(150))]
    /// Whatever arrives in whatever order, the journal rebuilds the desk exactly.
    #[test]
    fn the_journal_rebuilds_the_desk_after_any_interleaving(
        steps in proptest::collection::vec(step(), 1..60)
    ) {
        let (mut d, rx) = journaled(|_| {});
        let mut log = Vec::new();
        d.open_long();
        for s in steps {
            d.step(s);
            let r = rebuilt(&d, &rx, &mut log);
            prop_assert_eq!(r.journaled_state(), d.risk.journaled_state());
        }
    }
}

/// Payload lengths are part of journal format 1: a change to a layout must bump
/// `journal::format::FORMAT` (old journals are then refused, not misread) and these numbers.
/// The one exception is a field appended at a record's end that readers take as zero when an
/// older record ends before it (TRADE: its order ids, 149 -> 165 bytes).
#[test]
fn record_layouts_are_those_of_format_1() {
    use crate::telemetry::journal::kind;
    let (mut d, rx) = journaled(|_| {});
    d.open_long();
    d.risk_in(Event::Control(ControlCommand::ClosePosition {
        token: INFY,
    }));
    d.settle();
    for _ in 0..3 {
        d.second();
        d.settle();
    }
    let mut lens = std::collections::BTreeMap::new();
    let mut trade = None;
    while let Ok(e) = rx.try_recv() {
        if e.kind == kind::TRADE {
            trade = Some(e.payload().to_vec());
        }
        lens.entry(e.kind)
            .or_insert_with(std::collections::BTreeSet::new)
            .insert(e.len);
    }
    let fixed: Vec<(u8, Vec<u16>)> = [
        kind::SLOT,
        kind::ORDER,
        kind::DESK,
        kind::TRADE,
        kind::CONTROL,
    ]
    .iter()
    .map(|k| {
        (
            *k,
            lens.get(k)
                .map(|s| s.iter().copied().collect())
                .unwrap_or_default(),
        )
    })
    .collect();
    assert_eq!(
        crate::journal::format::FORMAT,
        1,
        "the format changed: update the lengths below"
    );
    assert_eq!(
        fixed,
        vec![
            (kind::SLOT, vec![354]),
            (kind::ORDER, vec![78]),
            (kind::DESK, vec![109]),
            (kind::TRADE, vec![165]),
            (kind::CONTROL, vec![17]),
        ],
        "a record layout changed: bump journal::format::FORMAT"
    );
    // A trade record of an older build (no order ids) reads the same, with ids zero.
    let trade = trade.unwrap();
    let new = crate::risk::recovery::decode_trade(&trade).unwrap();
    let old = crate::risk::recovery::decode_trade(&trade[..149]).unwrap();
    assert!(new.trade.entry_order.0 > 0 && new.trade.exit_order.0 > new.trade.entry_order.0);
    assert_eq!((old.trade.entry_order.0, old.trade.exit_order.0), (0, 0));
    assert_eq!(
        (old.trade.pnl, old.symbol.as_str(), old.divisor),
        (new.trade.pnl, new.symbol.as_str(), new.divisor)
    );
}

#[test]
fn a_day_begun_inside_the_run_starts_its_own_records_that_alone_rebuild_it() {
    use crate::telemetry::journal::kind;
    let (mut d, rx) = journaled(|_| {});
    let mut log = Vec::new();
    let close = |d: &mut Desk| {
        d.risk_in(Event::Control(ControlCommand::ClosePosition {
            token: INFY,
        }));
        d.settle();
        for _ in 0..3 {
            d.second();
            d.settle();
        }
        assert_eq!(d.qty(), 0);
    };
    d.open_long();
    d.tick(155_500);
    close(&mut d);
    d.risk_in(Event::Control(ControlCommand::Pause));
    assert_eq!(d.risk.trades_today().len(), 1);
    // The run goes on into the next trading day.
    d.now = ts(20261126, "09:10");
    d.risk_in(Event::Clock { ts: d.now });
    let _ = rebuilt(&d, &rx, &mut log);
    let days: Vec<usize> = (0..log.len()).filter(|&i| log[i].1 == kind::DAY).collect();
    assert_eq!(days.len(), 1, "one DAY record");
    assert_eq!(log[days[0]].2, 20261126u32.to_le_bytes());
    // What the journal thread writes into the new day's file: the DAY record on.
    let from_day = |d: &Desk, log: &[(u64, u8, Vec<u8>)]| {
        let mut r = fresh(d);
        r.restore(
            log[days[0]..]
                .iter()
                .map(|(s, k, p)| (*s, *k, p.as_slice())),
        )
        .expect("the new day's records apply");
        r
    };
    let check = |r: &RiskStage, d: &Desk, at: &str| {
        let (a, b) = (r.journaled_state(), d.risk.journaled_state());
        assert_eq!(
            (a.slots, a.orders, a.spreads),
            (b.slots, b.orders, b.spreads),
            "{at}"
        );
        assert_eq!(
            a.desk,
            crate::risk::recovery::DeskImage {
                day_first_trade: 0,
                ..b.desk
            },
            "{at}"
        );
        assert_eq!(r.trades_today(), d.risk.trades_today(), "{at}");
        assert_eq!(r.daily_pnl(), d.risk.daily_pnl(), "{at}");
    };
    let r = from_day(&d, &log);
    check(&r, &d, "the roll");
    assert!(r.trades_today().is_empty() && r.daily_pnl() == Paise(0));
    assert_eq!(
        r.journaled_state().desk.state,
        crate::risk::TradingState::Paused,
        "a pause survives"
    );
    // A trade of the new day: the day's own records hold it as today's.
    d.now = ts(20261126, "10:00");
    d.second();
    d.risk_in(Event::Control(ControlCommand::Resume));
    d.open_long();
    d.tick(154_500);
    close(&mut d);
    let _ = rebuilt(&d, &rx, &mut log);
    let r = from_day(&d, &log);
    check(&r, &d, "the new day's trade");
    assert_eq!(r.trades_today().len(), 1);
    assert!(r.daily_pnl().0 < 0, "{:?}", r.daily_pnl());
}
