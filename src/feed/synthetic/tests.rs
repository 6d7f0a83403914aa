//! The synthetic market: reproducible frames, the session's end, option quotes that invert
//! to the surface, and the surface's shape.

use super::*;
use crate::clock::TimeOfDay;
use crate::feed::codec::decode_frame;

fn market(seed: u64) -> SyntheticMarket {
    market_with(seed).0
}

fn market_with(seed: u64) -> (SyntheticMarket, InstrumentMaster) {
    let file = InstrumentMaster::load(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/configs/instruments.csv"
    )))
    .unwrap();
    let cal = SessionCalendar::nse_hours();
    let master = crate::universe::listing::list_contracts(&file, Date(20261125), &cal, 2, 10);
    let m = SyntheticMarket::new(
        &master,
        &[],
        cal,
        SyntheticParams {
            seed,
            speed: 0.0,
            date: Date(20261125),
            start: TimeOfDay::hm(9, 14),
            step_ms: 1000,
            exit_at_close: true,
        },
    );
    (m, master)
}

#[test]
fn frames_decode_and_are_reproducible() {
    let mut a = market(7);
    let mut b = market(7);
    let (mut fa, mut fb) = (Vec::new(), Vec::new());
    let mut ticks = 0;
    for _ in 0..200 {
        a.step(&mut fa);
        b.step(&mut fb);
        assert_eq!(fa, fb);
        let s = decode_frame(&fa, |t| {
            assert!(t.last_price > 0);
            if !t.is_index {
                assert!(t.buy[0].price < t.sell[0].price);
            }
        })
        .unwrap();
        ticks += s.ticks as usize;
    }
    assert!(ticks > 100 * a.instrument_count());
}

#[test]
fn session_ends_after_close() {
    let mut m = market(1);
    let mut buf = Vec::new();
    let mut n = 0u64;
    while m.step(&mut buf) != SourcePoll::End {
        n += 1;
        assert!(n < 30_000);
    }
    assert!(m.sim_epoch_secs() >= ist_epoch(Date(20261125), TimeOfDay::hm(15, 30)));
}

/// The chain's mids give back the surface's volatility through Black-76 (so the ranker
/// reads honest IVs), and each strike's call and put agree on the forward (parity).
#[test]
fn option_quotes_invert_to_the_surface() {
    let (mut m, master) = market_with(3);
    let mut buf = Vec::new();
    for _ in 0..120 {
        m.step(&mut buf);
    }
    let mut mids = std::collections::HashMap::new();
    decode_frame(&buf, |t| {
        if let (Some(b), Some(a)) = (t.best_bid(), t.best_ask()) {
            mids.insert(t.token.0, (b + a) as f64 / 200.0);
        }
    })
    .unwrap();
    let nifty = &m
        .underlyings
        .iter()
        .find(|u| u.name == "NIFTY")
        .unwrap()
        .clone();
    let mut checked = 0;
    for i in master
        .iter()
        .filter(|i| i.instrument_type == InstrumentType::Call)
    {
        if i.name.as_str() != "NIFTY" {
            continue;
        }
        let put = master
            .iter()
            .find(|p| {
                p.instrument_type == InstrumentType::Put
                    && p.strike == i.strike
                    && p.expiry == i.expiry
            })
            .unwrap();
        let (Some(&c), Some(&p)) = (mids.get(&i.token.0), mids.get(&put.token.0)) else {
            continue;
        };
        let years = m.years_to_expiry(i);
        let k = i.strike.0 as f64 / 100.0;
        let forward = k + (SIM_RATE * years).exp() * (c - p);
        let true_fwd = nifty.price * (SIM_CARRY * years).exp();
        assert!(
            (forward - true_fwd).abs() < 0.002 * true_fwd,
            "{forward} {true_fwd}"
        );
        if (k / true_fwd - 1.0).abs() > 0.01 || c < 20.0 {
            continue;
        }
        let iv = Black76 {
            forward: true_fwd,
            strike: k,
            years,
            rate: SIM_RATE,
            kind: OptionKind::Call,
        }
        .implied_vol(c)
        .unwrap();
        let want = nifty.surface.vol(true_fwd, k, years);
        assert!(
            (iv - want).abs() < 0.01,
            "{}: iv {iv} want {want}",
            i.tradingsymbol.as_str()
        );
        checked += 1;
    }
    assert!(checked >= 4, "{checked}");
    assert_eq!(m.iv_history("NIFTY", 7.0 / 365.0).len(), IV_HISTORY_DAYS);
}

#[test]
fn surface_has_skew_and_a_rich_short_end() {
    let s = VolSurface {
        atm_long: 0.14,
        short_premium: 0.08,
        tau: 0.05,
        skew: -0.06,
        curvature: 0.025,
    };
    let t = 7.0 / 365.0;
    assert!(s.atm(t) > s.atm(0.5));
    assert!(s.vol(26_000.0, 25_500.0, t) > s.vol(26_000.0, 26_000.0, t));
    assert!(s.vol(26_000.0, 25_500.0, t) > s.vol(26_000.0, 26_500.0, t));
    assert!((s.vol(26_000.0, 26_000.0, t) - s.atm(t)).abs() < 1e-12);
}
