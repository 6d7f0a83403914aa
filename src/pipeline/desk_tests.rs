//! The risk stage wired to the paper broker with the order stage's queue held open, so each
//! test decides when every message arrives. The protective stop at the broker: placed on
//! the entry's fills, moved by the trail, re-placed before Kite's modification cap,
//! cancelled before an engine exit, and never able to reverse a position whatever order the
//! messages arrive in; limit chase, IOC exits.

use crate::clock::{ist_epoch, SessionCalendar, TimeOfDay};
use crate::config::{AppConfig, EntryOrderType};
use crate::domain::*;
use crate::exec::paper::{PaperBroker, PaperRules};
use crate::risk::{limit_chase, protective, RiskParams, RiskStage};
use crate::telemetry::Metrics;
use proptest::prelude::*;
use std::collections::VecDeque;
use std::sync::Arc;

const D: u32 = 20261125;
const INFY: Token = Token(408_065);

fn ts(date: u32, hm: &str) -> u32 {
    ist_epoch(Date(date), TimeOfDay::parse(hm).unwrap()) as u32
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

/// The risk stage and the paper broker with the order stage's queue between them held open,
/// so a test decides when each message arrives.
struct Desk {
    risk: RiskStage,
    /// What the stage was built from (a rebuild starts from the same).
    params: RiskParams,
    calendar: SessionCalendar,
    master: Arc<InstrumentMaster>,
    broker: PaperBroker,
    inst: Instrument,
    to_broker: VecDeque<Event>,
    to_risk: VecDeque<OrderUpdate>,
    now: u32,
    /// Everything risk sent, in order.
    sent: Vec<Event>,
}

impl Desk {
    /// INFY on the shipped config, the broker stop on, no time stop; `tune` adjusts the rest.
    fn new(tune: impl FnOnce(&mut RiskParams)) -> Desk {
        let csv = format!(
            "{INSTRUMENTS_HEADER}\n408065,1594,INFY,\"INFOSYS\",1550.0,,0.0,0.1,1,EQ,NSE,NSE\n"
        );
        let master = Arc::new(InstrumentMaster::parse_csv(&csv, "t.csv").unwrap());
        let mut params = RiskParams::from_config(&AppConfig::default());
        params.protective = rules();
        params.exits.time_stop_secs = 0;
        tune(&mut params);
        let calendar = SessionCalendar {
            squareoff: TimeOfDay::hm(15, 20),
            squareoff_fo: TimeOfDay::hm(15, 20),
            ..SessionCalendar::nse_hours()
        };
        let inst = *master.by_index(0);
        let risk = RiskStage::new(
            params.clone(),
            calendar.clone(),
            master.clone(),
            Arc::new(Metrics::default()),
        );
        Desk {
            risk,
            params,
            calendar,
            master,
            broker: PaperBroker::new(PaperRules::default(), 1),
            inst,
            to_broker: VecDeque::new(),
            to_risk: VecDeque::new(),
            now: ts(D, "10:00"),
            sent: Vec::new(),
        }
    }

    fn risk_in(&mut self, ev: Event) {
        let (q, sent) = (&mut self.to_broker, &mut self.sent);
        self.risk.on_slot(&Slot { ev, recv_ns: 0 }, &mut |s| {
            if matches!(
                s.ev,
                Event::Intent(_) | Event::Cancel { .. } | Event::Modify { .. }
            ) {
                q.push_back(s.ev);
                sent.push(s.ev);
            }
        });
    }

    /// A trade at `paise` with 1,000 units a side one tick either way: risk sees it first,
    /// then the broker (the pipeline's order).
    fn tick(&mut self, paise: i32) {
        self.tick_depth(paise, 1000)
    }

    fn tick_depth(&mut self, paise: i32, depth: u32) {
        let mut t = Tick {
            token: INFY,
            mode: TickMode::Full,
            last_price: paise,
            exchange_timestamp: self.now,
            ..Tick::default()
        };
        t.buy[0] = crate::domain::DepthLevel {
            quantity: depth,
            price: paise - 10,
            orders: 1,
        };
        t.sell[0] = crate::domain::DepthLevel {
            quantity: depth,
            price: paise + 10,
            orders: 1,
        };
        self.risk_in(Event::Tick(t));
        let q = &mut self.to_risk;
        self.broker.on_tick(0, &t, 0, |u| q.push_back(u));
    }

    fn second(&mut self) {
        self.now += 1;
        self.risk_in(Event::Clock { ts: self.now });
    }

    /// Hands the oldest order message to the broker; false when none waits.
    fn deliver_to_broker(&mut self) -> bool {
        let Some(ev) = self.to_broker.pop_front() else {
            return false;
        };
        let q = &mut self.to_risk;
        let mut report = |u| q.push_back(u);
        match ev {
            Event::Intent(o) => self.broker.place(0, &self.inst, &o, 0, &mut report),
            Event::Cancel { id, token } => self.broker.cancel(id, token, self.now, &mut report),
            Event::Modify {
                id,
                token,
                qty,
                price,
                trigger,
            } => self
                .broker
                .modify(id, token, qty, price, trigger, self.now, 0, &mut report),
            _ => {}
        }
        true
    }

    /// Hands the oldest broker update to risk; false when none waits.
    fn deliver_to_risk(&mut self) -> bool {
        let Some(u) = self.to_risk.pop_front() else {
            return false;
        };
        self.risk_in(Event::Order(u));
        true
    }

    fn settle(&mut self) {
        for _ in 0..10_000 {
            if !self.deliver_to_broker() && !self.deliver_to_risk() {
                return;
            }
        }
        panic!("messages never settled");
    }

    fn qty(&self) -> i64 {
        self.risk.position(INFY).unwrap().qty
    }
    fn broker_net(&self) -> i64 {
        self.broker.net(0)
    }

    /// The stop orders risk sent (their intents).
    fn stops(&self) -> Vec<OrderIntent> {
        self.sent
            .iter()
            .filter_map(|e| match e {
                Event::Intent(i) if i.order_type.is_stop() => Some(*i),
                _ => None,
            })
            .collect()
    }

    /// A long INFY from the ORB signal, filled whole at 1550.
    fn open_long(&mut self) -> i64 {
        self.tick(155_000);
        self.risk_in(Event::Signal(long_infy(self.now)));
        self.settle();
        self.qty()
    }
}

#[path = "recovery_tests.rs"]
mod recovery;

#[path = "entry_exit_tests.rs"]
mod entry_exit;

#[path = "mode_tests.rs"]
mod mode;

#[path = "interleaving_tests.rs"]
mod interleaving;

fn rules() -> protective::ProtectiveRules {
    protective::ProtectiveRules {
        enabled: true,
        ..Default::default()
    }
}

#[test]
fn an_entry_fill_puts_an_sl_m_at_the_broker_for_the_filled_quantity() {
    let mut d = Desk::new(|_| {});
    let q = d.open_long();
    assert!(q > 0);
    let stops = d.stops();
    assert_eq!(stops.len(), 1);
    let s = stops[0];
    assert_eq!(
        (s.order_type, s.side, s.qty.0, s.trigger),
        (OrderType::StopMarket, Side::Sell, q, Price(154_000))
    );
    assert_eq!(d.broker.working(), 1, "the stop rests at the broker");
    // The engine gone quiet, the market falls through the stop: the broker closes it.
    d.tick(153_900);
    d.settle();
    assert_eq!(d.qty(), 0);
    assert_eq!(d.broker_net(), 0);
    let t = d.risk.trades()[0];
    assert_eq!(t.exit_purpose, OrderPurpose::StopLoss);
}

#[test]
fn a_partial_entry_fill_is_covered_then_resized() {
    let mut d = Desk::new(|_| {});
    d.tick(155_000);
    d.risk_in(Event::Signal(long_infy(d.now)));
    let entry = match d.to_broker.pop_front() {
        Some(Event::Intent(i)) => i,
        other => panic!("{other:?}"),
    };
    let half = entry.qty.0 / 2;
    let now = d.now;
    let part = |cum| OrderUpdate {
        id: entry.id,
        token: INFY,
        kind: OrderUpdateKind::Fill {
            cum_qty: Qty(cum),
            last_qty: Qty(half),
            last_price: Price(155_000),
        },
        ts: now,
    };
    d.risk_in(Event::Order(part(half)));
    assert_eq!(d.stops()[0].qty.0, half, "covers what filled");
    d.deliver_to_broker();
    d.settle();
    d.risk_in(Event::Order(part(entry.qty.0)));
    // Resized by cancel first, then a stop for the whole position.
    d.settle();
    let stops = d.stops();
    assert_eq!(stops.len(), 2);
    assert_eq!(stops[1].qty, entry.qty);
    assert_eq!(d.broker.working(), 1);
}

#[test]
fn the_trail_moves_the_trigger_and_the_stop_is_replaced_before_kites_cap() {
    let mut d = Desk::new(|p| {
        p.protective.replace_after = 3;
        p.protective.modify_every_s = 1;
        p.exits.take_profit = false;
    });
    d.open_long();
    d.risk_in(Event::Bar(BarStat {
        token: INFY,
        minutes: 1,
        high: Price(155_000),
        low: Price(155_000),
        close: Price(155_000),
        atr: Price(200),
        end_ts: d.now,
    }));
    // Each new high a second apart trails the stop (2 ATR = 4.00 below the best).
    for k in 1..=6 {
        d.second();
        d.tick(155_000 + 500 * k);
        d.settle();
    }
    let modifies: Vec<Price> = d
        .sent
        .iter()
        .filter_map(|e| match e {
            Event::Modify { trigger, .. } => Some(*trigger),
            _ => None,
        })
        .collect();
    assert_eq!(
        modifies.len(),
        3 + 3,
        "three moves, re-placed, three more: {modifies:?}"
    );
    assert!(modifies.windows(2).all(|w| w[1] > w[0]), "only ratchets up");
    let stops = d.stops();
    assert_eq!(stops.len(), 2, "re-placed once after three modifications");
    assert_eq!(d.broker.working(), 1, "never two stops at once");
    // The broker's trigger is the engine's stop.
    d.second();
    d.settle();
    let p = *d.risk.position(INFY).unwrap();
    assert_eq!(d.risk.broker_stop(INFY).unwrap().trigger, p.stop);
}

#[test]
fn an_engine_exit_cancels_the_stop_first_and_a_racing_stop_fill_wins() {
    let mut d = Desk::new(|_| {});
    let q = d.open_long();
    d.risk_in(Event::Control(ControlCommand::ClosePosition {
        token: INFY,
    }));
    // Only a cancel goes out: the close waits for it to be final.
    assert!(matches!(d.to_broker.back(), Some(Event::Cancel { .. })));
    assert_eq!(d.to_broker.len(), 1);
    // Before the cancel lands, the market falls through the stop and it fills.
    d.tick(153_900);
    d.settle();
    assert_eq!(d.qty(), 0, "the stop closed it");
    assert_eq!(d.broker_net(), 0, "and no second close reversed it");
    assert!(d
        .sent
        .iter()
        .all(|e| !matches!(e, Event::Intent(i) if i.purpose == OrderPurpose::Manual)));
    let _ = q;
}

#[test]
fn manual_close_goes_once_the_stop_is_cancelled() {
    let mut d = Desk::new(|_| {});
    let q = d.open_long();
    d.risk_in(Event::Control(ControlCommand::ClosePosition {
        token: INFY,
    }));
    d.settle();
    assert_eq!(d.qty(), 0);
    assert_eq!(d.broker_net(), 0);
    let closes: Vec<_> = d
        .sent
        .iter()
        .filter_map(|e| match e {
            Event::Intent(i) if i.purpose == OrderPurpose::Manual => Some(i.qty.0),
            _ => None,
        })
        .collect();
    assert_eq!(closes, vec![q]);
}

#[test]
fn tp1_shrinks_the_stop_to_the_rest_at_breakeven() {
    let mut d = Desk::new(|_| {});
    let q = d.open_long();
    // 1R above entry (filled at the 1550.10 ask): TP1 takes half, the stop moves to
    // breakeven.
    d.tick(156_100);
    d.settle();
    let left = d.qty();
    assert!(left > 0 && left < q, "{left} of {q}: {:?}", d.sent);
    let stops = d.stops();
    let last = stops.last().unwrap();
    assert_eq!((last.qty.0, last.trigger), (left, Price(155_010)));
    assert_eq!(d.broker.working(), 1);
}

#[test]
fn the_kill_switch_cancels_stops_and_closes() {
    let mut d = Desk::new(|_| {});
    d.open_long();
    d.risk_in(Event::Control(ControlCommand::Flatten { request: 1 }));
    d.settle();
    d.second();
    d.settle();
    assert_eq!(d.qty(), 0);
    assert_eq!(d.broker_net(), 0);
    assert_eq!(d.broker.working(), 0, "no stop left behind");
    assert_eq!(d.risk.working_orders(), 0);
}

#[test]
fn the_engine_gives_the_broker_stop_its_grace_then_takes_over() {
    let mut d = Desk::new(|_| {});
    d.open_long();
    // The broker never hears of the fall (its tick is lost): the engine sees the stop hit.
    d.risk_in(tick(d.now, 153_900));
    assert!(
        d.to_broker.is_empty(),
        "within grace: the broker stop has it"
    );
    d.second();
    d.second();
    // Grace over: cancel the stop, then close at market.
    assert!(matches!(d.to_broker.front(), Some(Event::Cancel { .. })));
    d.settle();
    assert_eq!(d.qty(), 0);
    assert_eq!(d.risk.trades()[0].exit_purpose, OrderPurpose::StopLoss);
}

#[test]
fn a_lost_stop_cancel_is_sent_again_and_the_close_follows() {
    let mut d = Desk::new(|_| {});
    d.open_long();
    d.risk_in(Event::Control(ControlCommand::ClosePosition {
        token: INFY,
    }));
    // The cancel is lost on the way.
    assert!(matches!(
        d.to_broker.pop_front(),
        Some(Event::Cancel { .. })
    ));
    for _ in 0..protective::CANCEL_RESEND_S {
        d.second();
    }
    assert!(matches!(d.to_broker.front(), Some(Event::Cancel { .. })));
    d.settle();
    assert_eq!((d.qty(), d.broker_net(), d.broker.working()), (0, 0, 0));
}

#[test]
fn plan_covers_every_state_and_need() {
    use protective::{plan, StopAction as A, StopNeed as N, StopOrderState as S};
    let r = rules();
    let s = protective::ProtectiveStop {
        trigger: Price(100),
        placed_ts: 10,
        ..Default::default()
    };
    let cover = |qty, trigger, entry_filling| N::Cover {
        qty,
        trigger: Price(trigger),
        entry_filling,
    };
    assert_eq!(plan(S::Absent, N::Nothing, &s, 0, &r, 20), A::None);
    assert_eq!(plan(S::Absent, N::Clear, &s, 0, &r, 20), A::None);
    assert_eq!(
        plan(S::Absent, cover(5, 100, false), &s, 0, &r, 20),
        A::Place {
            qty: 5,
            trigger: Price(100)
        }
    );
    let backing_off = protective::ProtectiveStop { retry_at: 30, ..s };
    assert_eq!(
        plan(S::Absent, cover(5, 100, false), &backing_off, 0, &r, 20),
        A::Wait
    );
    assert_eq!(plan(S::Working, N::Nothing, &s, 5, &r, 20), A::Cancel);
    assert_eq!(plan(S::Working, N::Clear, &s, 5, &r, 20), A::Cancel);
    assert_eq!(
        plan(S::Working, cover(5, 100, false), &s, 5, &r, 20),
        A::None
    );
    assert_eq!(
        plan(S::Working, cover(8, 100, false), &s, 5, &r, 20),
        A::Cancel
    );
    // The entry still filling: the resize waits out the grace, then goes.
    assert_eq!(
        plan(S::Working, cover(8, 100, true), &s, 5, &r, 11),
        A::Wait
    );
    assert_eq!(
        plan(S::Working, cover(8, 100, true), &s, 5, &r, 12),
        A::Cancel
    );
    assert_eq!(
        plan(S::Working, cover(5, 110, false), &s, 5, &r, 20),
        A::ModifyTrigger(Price(110))
    );
    let just_moved = protective::ProtectiveStop {
        last_modify_ts: 20,
        ..s
    };
    assert_eq!(
        plan(S::Working, cover(5, 110, false), &just_moved, 5, &r, 20),
        A::Wait
    );
    let worn = protective::ProtectiveStop {
        modifications: r.replace_after,
        ..s
    };
    assert_eq!(
        plan(S::Working, cover(5, 110, false), &worn, 5, &r, 20),
        A::Cancel
    );
    let cancelling = protective::ProtectiveStop {
        cancel_sent_ts: 18,
        ..s
    };
    assert_eq!(
        plan(S::Cancelling, N::Clear, &cancelling, 5, &r, 20),
        A::Wait
    );
    assert_eq!(
        plan(S::Cancelling, N::Nothing, &cancelling, 5, &r, 23),
        A::Cancel
    );
}
