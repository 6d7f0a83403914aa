//! Scripted chains: every option quoted from Black-76 at a known flat volatility, a few
//! quotes broken on purpose, and the ranker's choice checked leg by leg.

use super::*;
use crate::clock::{ist_epoch, SessionCalendar, TimeOfDay};
use crate::config::OptionsRankerConfig;
use crate::domain::{Candle, DepthLevel, InstrumentType};
use crate::strategy::indicators::SupertrendValue;
use crate::universe::listing::list_contracts;

const TODAY: Date = Date(20261202);

fn calendar() -> SessionCalendar {
    SessionCalendar::nse_hours()
}

fn master() -> InstrumentMaster {
    let file = InstrumentMaster::load(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/configs/instruments.csv"
    )))
    .unwrap();
    list_contracts(&file, TODAY, &calendar(), 2, 10)
}

struct Setup {
    master: InstrumentMaster,
    ranker: OptionsRanker,
    metrics: Arc<Metrics>,
}

fn setup(cfg: OptionsRankerConfig) -> Setup {
    let master = master();
    let metrics = Arc::new(Metrics::default());
    let mut ranker = OptionsRanker::new(cfg, &master, calendar().close, metrics.clone());
    // A year of history from 10% to 20%: today's 13% sits at the 30th percentile.
    let days: Vec<f64> = (0..100).map(|i| 0.10 + 0.001 * i as f64).collect();
    ranker.seed_history("NIFTY", &days);
    ranker.seed_history("BANKNIFTY", &days);
    Setup {
        master,
        ranker,
        metrics,
    }
}

fn bar_ts() -> u32 {
    ist_epoch(TODAY, TimeOfDay::hm(11, 0)) as u32
}

/// Quotes every NIFTY option of the 8 Dec expiry at vol 13% around forward `fwd` (rupees),
/// two ticks either side of fair value.
fn quote_chain(s: &mut Setup, fwd: f64) {
    let expiry_ts = ist_epoch(Date(20261208), TimeOfDay::hm(15, 30));
    let years = years_between(bar_ts() as i64, expiry_ts);
    for (k, i) in s.master.iter().enumerate() {
        if !i.instrument_type.is_option() || i.name.as_str() != "NIFTY" {
            continue;
        }
        let kind = if i.instrument_type == InstrumentType::Call {
            OptionKind::Call
        } else {
            OptionKind::Put
        };
        let fair = Black76 {
            forward: fwd * 100.0,
            strike: i.strike.0 as f64,
            years,
            rate: 0.065,
            kind,
        }
        .price(0.13);
        let mid = ((fair / 5.0).round() * 5.0) as i32;
        let mut t = Tick {
            token: i.token,
            volume_traded: 200_000,
            oi: 1_000_000,
            ..Tick::default()
        };
        t.buy[0] = DepthLevel {
            quantity: 1300,
            price: (mid - 10).max(5),
            orders: 3,
        };
        t.sell[0] = DepthLevel {
            quantity: 1300,
            price: mid + 10,
            orders: 3,
        };
        s.ranker.on_quote(k, &t);
    }
}

fn nifty_index(m: &InstrumentMaster) -> usize {
    m.iter()
        .position(|i| i.tradingsymbol.as_str() == "NIFTY 50")
        .unwrap()
}

fn look(s: &mut Setup, up: bool, spot: f64) -> Option<OptionsSignal> {
    let idx = nifty_index(&s.master);
    let end = bar_ts();
    let bar = Bar {
        candle: Candle {
            start: end - 300,
            open: (spot * 100.0) as i64,
            high: (spot * 100.0) as i64 + 500,
            low: (spot * 100.0) as i64 - 500,
            close: (spot * 100.0) as i64,
            volume: 0,
        },
        window: 300,
        oi: 0,
        ticks: 300,
    };
    let values = IndicatorValues {
        supertrend: Some(SupertrendValue { value: 0.0, up }),
        ..Default::default()
    };
    let m = s.master.clone();
    s.ranker
        .on_index_bar(idx, &bar, &values, None, |k| m.by_index(k).token)
}

fn symbol(m: &InstrumentMaster, t: crate::domain::Token) -> String {
    m.get(t).unwrap().tradingsymbol.as_str().to_string()
}

#[test]
fn uptrend_buys_a_call_debit_spread_sized_by_its_debit() {
    let mut s = setup(OptionsRankerConfig::default());
    // Forward 26,010: spot a little below it, the carry to 8 Dec.
    quote_chain(&mut s, 26_010.0);
    let got = look(&mut s, true, 25_990.0).expect("a spread");
    let sig = got.signal;
    let sp = sig.spread.unwrap();
    assert_eq!(sp.kind, SpreadKind::Debit);
    let buy = s.master.get(sig.token).unwrap();
    let sell = s.master.get(sp.sell_token).unwrap();
    assert_eq!(buy.instrument_type, InstrumentType::Call);
    assert_eq!(sell.instrument_type, InstrumentType::Call);
    assert!(
        sell.strike > buy.strike,
        "{} / {}",
        symbol(&s.master, sig.token),
        symbol(&s.master, sp.sell_token)
    );
    assert!(
        buy.strike.0 >= 2_600_000,
        "the bought call is at or above the money"
    );
    // Value, max loss and max profit from the legs' touch prices.
    assert_eq!(sig.entry.0, sp.buy_price.0 - sp.sell_price.0);
    assert_eq!(sp.max_loss.0, sig.entry.0);
    assert_eq!(
        sp.max_profit.0,
        (sell.strike.0 - buy.strike.0) - sp.max_loss.0
    );
    assert!(sp.max_profit.0 as f64 / sp.max_loss.0 as f64 >= 1.5);
    assert!(sig.stop < sig.entry && sig.target > sig.entry);
    // IV read back at 13% from mids two ticks wide; IVP 30.
    assert!((got.atm_iv - 0.13).abs() < 0.005, "{}", got.atm_iv);
    assert!((got.ivp - 30.0).abs() <= 5.0, "{}", got.ivp);
    // Cooldown: the next bar emits nothing.
    assert!(look(&mut s, true, 25_990.0).is_none());
}

#[test]
fn downtrend_buys_puts_and_credit_sells_against_the_trend() {
    let mut s = setup(OptionsRankerConfig::default());
    quote_chain(&mut s, 26_010.0);
    let sig = look(&mut s, false, 25_990.0).unwrap().signal;
    let buy = s.master.get(sig.token).unwrap();
    let sell = s.master.get(sig.spread.unwrap().sell_token).unwrap();
    assert_eq!(buy.instrument_type, InstrumentType::Put);
    assert!(sell.strike < buy.strike);

    let mut s = setup(OptionsRankerConfig {
        strategy_type: OptionsStrategyType::CreditSpread,
        rr_min: 0.2,
        ..OptionsRankerConfig::default()
    });
    quote_chain(&mut s, 26_010.0);
    let sig = look(&mut s, true, 25_990.0).unwrap().signal;
    let sp = sig.spread.unwrap();
    assert_eq!(sp.kind, SpreadKind::Credit);
    let buy = s.master.get(sig.token).unwrap();
    let sell = s.master.get(sp.sell_token).unwrap();
    // Bullish credit: sell a put, buy a lower one for protection.
    assert_eq!(sell.instrument_type, InstrumentType::Put);
    assert!(buy.strike < sell.strike);
    assert!(sig.entry.0 < 0, "a credit has negative value");
    assert_eq!(sp.max_profit.0, -sig.entry.0);
    assert_eq!(sp.max_loss.0, (sell.strike.0 - buy.strike.0) + sig.entry.0);
}

#[test]
fn directional_buys_one_option_with_a_premium_stop() {
    let mut s = setup(OptionsRankerConfig {
        strategy_type: OptionsStrategyType::Directional,
        ..OptionsRankerConfig::default()
    });
    quote_chain(&mut s, 26_010.0);
    let sig = look(&mut s, true, 25_990.0).unwrap().signal;
    assert!(sig.spread.is_none());
    let inst = s.master.get(sig.token).unwrap();
    assert_eq!(inst.instrument_type, InstrumentType::Call);
    let risk = sig.entry.0 - sig.stop.0;
    assert!((risk as f64 / sig.entry.0 as f64 - 0.30).abs() < 0.01);
    assert!(sig.target.0 - sig.entry.0 >= (1.5 * risk as f64) as i64);
}

#[test]
fn ivp_outside_the_range_or_no_history_stays_quiet() {
    let mut s = setup(OptionsRankerConfig {
        ivp_min: 50.0,
        ivp_max: 100.0,
        ..OptionsRankerConfig::default()
    });
    quote_chain(&mut s, 26_010.0);
    assert!(look(&mut s, true, 25_990.0).is_none());
    assert!(matches!(s.ranker.last_look(), Look::IvpOutside { ivp } if ivp < 50.0));

    let master = master();
    let mut bare = Setup {
        ranker: OptionsRanker::new(
            OptionsRankerConfig::default(),
            &master,
            calendar().close,
            Arc::new(Metrics::default()),
        ),
        metrics: Arc::new(Metrics::default()),
        master,
    };
    quote_chain(&mut bare, 26_010.0);
    assert!(look(&mut bare, true, 25_990.0).is_none());
    assert_eq!(bare.ranker.last_look(), Look::NoHistory);
}

/// A one-lot book with this bid and ask (paise), nothing else.
fn touch(bid: i32, ask: i32) -> Tick {
    let mut t = Tick::default();
    t.buy[0] = DepthLevel {
        quantity: 65,
        price: bid,
        orders: 1,
    };
    t.sell[0] = DepthLevel {
        quantity: 65,
        price: ask,
        orders: 1,
    };
    t
}

#[test]
fn broken_quotes_are_counted_and_never_give_an_iv() {
    let mut s = setup(OptionsRankerConfig::default());
    quote_chain(&mut s, 26_010.0);
    // Cross the ATM call, empty the ATM put: no parity forward, no future: no look.
    let atm = |kind: InstrumentType| {
        s.master
            .iter()
            .position(|i| {
                i.instrument_type == kind
                    && i.name.as_str() == "NIFTY"
                    && i.strike.0 == 2_600_000
                    && i.expiry == Some(Date(20261208))
            })
            .unwrap()
    };
    let (c, p) = (atm(InstrumentType::Call), atm(InstrumentType::Put));
    s.ranker.on_quote(c, &touch(20_000, 19_000));
    s.ranker.on_quote(p, &Tick::default());
    assert!(look(&mut s, true, 25_990.0).is_none());
    assert_eq!(s.ranker.last_look(), Look::NoForward);
    assert_eq!(Metrics::get(&s.metrics.options_quotes_crossed_total), 1);
    assert_eq!(Metrics::get(&s.metrics.options_quotes_missing_total), 1);
    // The 26,000 call (in the money by 10 against a 26,010 forward) quoted 0.05 / 0.10 is
    // below intrinsic: its IV fails and is counted; the put still gives the ATM IV. Spot
    // 25,900 takes parity from the 25,900 strike, which is intact.
    let mut s = setup(OptionsRankerConfig::default());
    quote_chain(&mut s, 26_010.0);
    s.ranker.on_quote(c, &touch(5, 10));
    let got = look(&mut s, true, 25_900.0).expect("the put alone gives the IV");
    assert_eq!(Metrics::get(&s.metrics.options_iv_failed_total), 1);
    assert!((got.atm_iv - 0.13).abs() < 0.005);
}
