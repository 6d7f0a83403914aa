//! The strategy stage end to end: warm-up from past candles and a late start's range.

use super::*;
use crate::clock::{ist_epoch, TimeOfDay};
use crate::domain::{Candle, Date, TickMode};

/// LIVE started at 09:40: today's minute candles from 09:15 give ORB its range, and the
/// first ticks above it fire; without them the day is skipped.
#[test]
fn a_late_start_takes_the_range_from_todays_candles() {
    let master = Arc::new(
        InstrumentMaster::load(std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/configs/instruments.csv"
        )))
        .unwrap(),
    );
    let cfg = AppConfig::default();
    let universe = crate::universe::build_universe(&master, &cfg, &[]);
    let settings = StrategySettings::from_config(&cfg, TimeOfDay::hm(9, 15), TimeOfDay::hm(15, 30));
    let today = Date(20261202);
    let infy = master.find("NSE", "INFY").unwrap().token;
    let open = ist_epoch(today, TimeOfDay::hm(9, 15)) as u32;
    let candles: Vec<Candle> = (0..25)
        .map(|m| Candle {
            start: open + 60 * m,
            open: 155_000,
            high: 155_500,
            low: 154_500,
            close: 155_000,
            volume: 1000,
        })
        .collect();
    let tick = |ts: u32, px: i32| {
        Event::Tick(Tick {
            token: infy,
            mode: TickMode::Full,
            last_price: px,
            exchange_timestamp: ts,
            volume_traded: 100_000,
            ..Tick::default()
        })
    };
    let run = |warm: bool| {
        let mut stage = StrategyStage::new(master.clone(), universe.clone(), settings.clone());
        if warm {
            assert_eq!(stage.warm_up(infy, &candles, today), 25);
        }
        let mut signals = Vec::new();
        let t0 = open + 25 * 60;
        for k in 0..5 {
            stage.on_slot(
                &Slot {
                    ev: tick(t0 + k, 156_000),
                    recv_ns: 0,
                },
                &mut |s| {
                    if let Event::Signal(sig) = s.ev {
                        signals.push(sig);
                    }
                },
            );
        }
        signals
    };
    let warm = run(true);
    assert_eq!(warm.len(), 1, "{warm:?}");
    assert_eq!(
        (warm[0].strategy, warm[0].side, warm[0].stop.0),
        (StrategyId::Orb, crate::domain::Side::Buy, 154_500)
    );
    assert!(
        run(false).is_empty(),
        "no candles of today: no range, no ORB trade"
    );
}
