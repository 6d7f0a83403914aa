//! The strategy stage alone over a synthetic day at the scale: 50 tradable
//! instruments (48 equities, 2 index futures), NIFTY and BANKNIFTY with their option chains
//! (2 expiries x 21 strikes x CE/PE each), every strategy on at the shipped settings, the
//! IV history seeded and three sessions of warm-up, exactly as `aitrapp run` builds it.
//! Prints a histogram of the time each tick (and each clock event) takes in
//! `StrategyStage::on_slot`, and the mean from whole frames (no per-tick clock reads).
//!
//! `cargo bench --bench strategy`. The market is stepped outside the timed region.

#[path = "../tests/shipped/mod.rs"]
mod shipped;
mod support;
use aitrapp::app;
use aitrapp::clock::TimeOfDay;
use aitrapp::domain::{
    Date, Event, Instrument, InstrumentMaster, Price, Slot, Symbol, Tick, Token,
};
use aitrapp::feed::codec::decode_frame;
use aitrapp::feed::synthetic::{SyntheticMarket, SyntheticParams};
use aitrapp::feed::SourcePoll;
use aitrapp::strategy::{StrategySettings, StrategyStage};
use aitrapp::universe::build_universe;
use hdrhistogram::Histogram;
use std::sync::Arc;
use std::time::Instant;
use support::print_hist;

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let root = shipped::project_root();
    let cfg = shipped::shipped_config();
    let cal = app::session_calendar(&cfg, &root).unwrap();
    let date = Date::parse(&cfg.feed.synthetic.date).unwrap();
    let file = InstrumentMaster::load(&root.join(&cfg.universe.instruments_file)).unwrap();
    // 37 more equities beside the file's 11 and 2 futures: 50 tradable instruments.
    let mut list: Vec<Instrument> = file.iter().copied().collect();
    let model = *file.find("NSE", "INFY").unwrap();
    for n in 0..37u32 {
        let et = 700_000 + n;
        list.push(Instrument {
            token: Token((et << 8) | 1),
            exchange_token: et,
            tradingsymbol: Symbol::new(&format!("SIMSTOCK{n}")),
            name: Symbol::new(&format!("SIM STOCK {n}")),
            last_price: Price(20_000 + 9_000 * n as i64),
            ..model
        });
    }
    let master = Arc::new(aitrapp::universe::listing::list_contracts(
        &InstrumentMaster::from_instruments(list),
        date,
        &cal,
        2,
        10,
    ));
    let universe = build_universe(&master, &cfg, &[]);
    let tradable = master
        .iter()
        .zip(&universe)
        .filter(|(i, &u)| u && !i.instrument_type.is_option())
        .count();
    let options = master
        .iter()
        .filter(|i| i.instrument_type.is_option())
        .count();
    let market = || {
        SyntheticMarket::new(
            &master,
            &[],
            cal.clone(),
            SyntheticParams {
                seed: cfg.feed.synthetic.seed,
                speed: 0.0,
                date,
                start: TimeOfDay::hm(9, 14),
                step_ms: 1000,
                exit_at_close: true,
            },
        )
    };
    let mut m = market();
    let mut stage = StrategyStage::new(
        master.clone(),
        universe,
        StrategySettings::from_config(&cfg, cal.open, cal.close),
    );
    let seed = app::iv_seed(&cfg, &root, &master, Some(&m), &cal).unwrap();
    app::apply_iv_seed(&cfg, &seed, &mut stage);
    app::apply_warmup(&cfg, &m.history_candles(3), &mut stage, date);
    println!(
        "{tradable} tradable instruments, {options} options in {} chains, {} instruments streamed",
        stage.option_chains().len(),
        master.len()
    );

    let mut per_tick = Histogram::<u64>::new_with_bounds(1, 10_000_000_000, 3).unwrap();
    let mut per_clock = Histogram::<u64>::new_with_bounds(1, 10_000_000_000, 3).unwrap();
    let mut ticks: Vec<Tick> = Vec::with_capacity(master.len());
    let mut buf = Vec::new();
    let mut last_sec = 0u32;
    let mut signals = 0u64;
    let mut frame_ns = 0u128;
    let mut n_ticks = 0u64;
    while m.step(&mut buf) != SourcePoll::End {
        ticks.clear();
        decode_frame(&buf, |t| ticks.push(*t)).unwrap();
        let Some(first) = ticks.first() else { continue };
        let mut out = |s: &Slot| signals += matches!(s.ev, Event::Signal(_)) as u64;
        let sec = first.exchange_timestamp;
        let f0 = Instant::now();
        if sec != last_sec {
            last_sec = sec;
            let t0 = Instant::now();
            stage.on_slot(
                &Slot {
                    ev: Event::Clock { ts: sec },
                    recv_ns: 0,
                },
                &mut out,
            );
            let _ = per_clock.record(t0.elapsed().as_nanos().max(1) as u64);
        }
        for t in &ticks {
            let t0 = Instant::now();
            stage.on_slot(
                &Slot {
                    ev: Event::Tick(*t),
                    recv_ns: 0,
                },
                &mut out,
            );
            let _ = per_tick.record(t0.elapsed().as_nanos().max(1) as u64);
        }
        frame_ns += f0.elapsed().as_nanos();
        n_ticks += ticks.len() as u64;
    }
    // The clock read itself, to read the histogram against.
    let t0 = Instant::now();
    let mut x = 0u128;
    for _ in 0..1_000_000 {
        x = x.wrapping_add(Instant::now().elapsed().as_nanos());
    }
    let clock_ns = t0.elapsed().as_nanos() as f64 / 1e6 / 2.0;
    println!("{n_ticks} ticks, {signals} signals; Instant::now() costs ~{clock_ns:.0} ns ({x})");
    print_hist(
        "strategy stage per tick (includes one clock-read pair)",
        &per_tick,
    );
    print_hist(
        "strategy stage per clock event (bar closes, strategies, ranking)",
        &per_clock,
    );
    // Without the per-tick clock reads: whole frames (clock events included) over the ticks.
    let mut m2 = market();
    let mut stage2 = StrategyStage::new(
        master.clone(),
        build_universe(&master, &cfg, &[]),
        StrategySettings::from_config(&cfg, cal.open, cal.close),
    );
    app::apply_iv_seed(&cfg, &seed, &mut stage2);
    app::apply_warmup(&cfg, &m2.history_candles(3), &mut stage2, date);
    let mut frames: Vec<Vec<Tick>> = Vec::new();
    while m2.step(&mut buf) != SourcePoll::End {
        let mut v = Vec::new();
        decode_frame(&buf, |t| v.push(*t)).unwrap();
        if !v.is_empty() {
            frames.push(v);
        }
        if frames.len() == 4000 {
            break;
        }
    }
    let mut out = |_: &Slot| {};
    let mut total = 0u64;
    let t0 = Instant::now();
    for f in &frames {
        stage2.on_slot(
            &Slot {
                ev: Event::Clock {
                    ts: f[0].exchange_timestamp,
                },
                recv_ns: 0,
            },
            &mut out,
        );
        for t in f {
            stage2.on_slot(
                &Slot {
                    ev: Event::Tick(*t),
                    recv_ns: 0,
                },
                &mut out,
            );
        }
        total += f.len() as u64;
    }
    println!(
        "mean over the first {} frames (no per-tick clock reads): {:.1} ns/tick (previous run's frame mean {:.1})",
        frames.len(),
        t0.elapsed().as_nanos() as f64 / total as f64,
        frame_ns as f64 / n_ticks as f64
    );
}
