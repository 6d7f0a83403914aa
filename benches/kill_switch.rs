//! The kill switch with 50 open positions, each with its protective stop at the (paper)
//! broker: the time from the flatten command entering the risk stage until the book is flat.
//! Risk first cancels the stops (a close must not race a resting stop into a reversal);
//! each cancel's ack releases that position's close, which the order stage places and the
//! paper broker fills. Also timed: the flatten command alone (the cancels handed out). In
//! LIVE each hand-off is a push onto the io workers' queue and the broker's answers come
//! back over the network, which this does not include. Each round opens 50 positions
//! outside the timed region.
//!
//! `cargo bench --bench kill_switch` (AITRAPP_BENCH_ROUNDS=N, default 2000).

#[path = "../tests/shipped/mod.rs"]
mod shipped;
mod support;
use aitrapp::app;
use aitrapp::clock::{ist_epoch, TimeOfDay};
use aitrapp::domain::*;
use aitrapp::exec::{InboxMsg, OrderStage};
use aitrapp::risk::{RiskParams, RiskStage};
use aitrapp::telemetry::Metrics;
use hdrhistogram::Histogram;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Instant;
use support::{env_or, print_hist};

const POSITIONS: usize = 50;

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let rounds: usize = env_or("AITRAPP_BENCH_ROUNDS", 2000);
    let root = shipped::project_root();
    let mut cfg = shipped::shipped_config();
    cfg.risk.max_positions = POSITIONS as u32;
    cfg.risk.max_portfolio_heat_pct = 100.0;
    cfg.risk.daily_loss_stop_pct = -100.0;
    cfg.strategies.orb.max_positions = POSITIONS as u32;
    let cal = app::session_calendar(&cfg, &root).unwrap();
    let days = cal.clone();
    let model = *InstrumentMaster::load(&root.join(&cfg.universe.instruments_file))
        .unwrap()
        .find("NSE", "INFY")
        .unwrap();
    let list: Vec<Instrument> = (0..POSITIONS as u32)
        .map(|n| {
            let et = 800_000 + n;
            Instrument {
                token: Token((et << 8) | 1),
                exchange_token: et,
                tradingsymbol: Symbol::new(&format!("KSTOCK{n}")),
                last_price: Price(100_000),
                ..model
            }
        })
        .collect();
    let master = Arc::new(InstrumentMaster::from_instruments(list));
    let metrics = Arc::new(Metrics::default());
    let (inbox_tx, inbox) = crossbeam_channel::bounded::<InboxMsg>(65_536);
    let mut risk = RiskStage::new(
        RiskParams::from_config(&cfg),
        cal,
        master.clone(),
        metrics.clone(),
    );
    let mut order = OrderStage::new(
        master.clone(),
        aitrapp::exec::paper::PaperRules::default(),
        inbox_tx,
        metrics,
        Arc::new(AtomicU64::new(0)),
    );
    let day = Date(20261125);
    let mut now = ist_epoch(day, TimeOfDay::hm(10, 0)) as u32;
    // The broker's answers back into risk (and the order stage after it).
    let drain = |risk: &mut RiskStage, order: &mut OrderStage| {
        while let Ok(InboxMsg::Order(u)) = inbox.try_recv() {
            risk.on_slot(
                &Slot {
                    ev: Event::Order(u),
                    recv_ns: 0,
                },
                &mut |s| order.on_slot(s),
            );
        }
    };
    // Runs one event through risk then the order stage, and the answers back in.
    let step = |risk: &mut RiskStage, order: &mut OrderStage, ev: Event| {
        risk.on_slot(&Slot { ev, recv_ns: 0 }, &mut |s| order.on_slot(s));
        drain(risk, order);
    };
    let mut hist = Histogram::<u64>::new_with_bounds(1, 10_000_000_000, 3).unwrap();
    let mut first_step = hist.clone();
    let mut closes = 0usize;
    for round in 0..rounds {
        now += 1;
        step(
            &mut risk,
            &mut order,
            Event::Control(ControlCommand::Resume),
        );
        for inst in master.iter() {
            let mut t = Tick {
                token: inst.token,
                mode: TickMode::Full,
                last_price: 100_000,
                exchange_timestamp: now,
                ..Tick::default()
            };
            t.buy[0] = DepthLevel {
                quantity: 10_000,
                price: 99_995,
                orders: 5,
            };
            t.sell[0] = DepthLevel {
                quantity: 10_000,
                price: 100_005,
                orders: 5,
            };
            step(&mut risk, &mut order, Event::Tick(t));
            let sig = Signal {
                token: inst.token,
                strategy: StrategyId::Orb,
                side: Side::Buy,
                entry: Price(100_000),
                stop: Price(99_000),
                target: Price(102_000),
                ts: now,
                score: SignalScore::default(),
                spread: None,
            };
            step(&mut risk, &mut order, Event::Signal(sig));
        }
        assert_eq!(risk.open_positions(), POSITIONS, "round {round}");
        let before = risk.oms().len();
        let t0 = Instant::now();
        risk.on_slot(
            &Slot {
                ev: Event::Control(ControlCommand::Flatten {
                    request: round as u64,
                }),
                recv_ns: 0,
            },
            &mut |s| order.on_slot(s),
        );
        let cancels_out = t0.elapsed().as_nanos() as u64;
        // The protective stops' cancel acks, then the closes and their fills.
        drain(&mut risk, &mut order);
        let dt = t0.elapsed().as_nanos() as u64;
        closes += risk.oms().len() - before;
        let _ = hist.record(dt.max(1));
        let _ = first_step.record(cancels_out.max(1));
        assert_eq!(risk.open_positions(), 0, "flat after round {round}");
        if risk.oms().len() > 3000 {
            // A new day now and then keeps the order table at a day's size.
            now += 86_400;
            while !days.is_trading_day(aitrapp::clock::ist_date(now as i64)) {
                now += 86_400;
            }
        }
    }
    println!(
        "kill switch, {POSITIONS} open positions, {rounds} rounds, {closes} closes filled at the paper broker"
    );
    print_hist(
        "flatten to flat (cancels, their acks, closes, fills)",
        &hist,
    );
    print_hist(
        "flatten command alone (the stops' cancels out)",
        &first_step,
    );
}
