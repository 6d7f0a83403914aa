//! How entries and exits reach the broker on the same desk: a limit entry chased a tick at a
//! time then sent at market, or cancelled when so configured; IOC exits that take what the
//! book has and send the rest a second later.

use super::*;

#[test]
fn a_limit_entry_is_chased_a_tick_at_a_time_then_sent_at_market() {
    let mut d = Desk::new(|p| {
        p.entry_order_type = EntryOrderType::Limit;
        p.chase = limit_chase::ChaseRules {
            ticks: 2,
            every_s: 5,
            convert: true,
        };
    });
    // The market trades at 1551.00 (ask 1551.10): a buy limit at 1550.00 rests.
    d.tick(155_100);
    d.risk_in(Event::Signal(long_infy(d.now)));
    d.settle();
    assert_eq!(d.qty(), 0);
    let prices = |d: &Desk| -> Vec<i64> {
        d.sent
            .iter()
            .filter_map(|e| match e {
                Event::Modify { price, .. } => Some(price.0),
                _ => None,
            })
            .collect()
    };
    for _ in 0..5 {
        d.second();
    }
    assert_eq!(prices(&d), vec![155_010]);
    for _ in 0..5 {
        d.second();
    }
    assert_eq!(
        prices(&d),
        vec![155_010, 155_020],
        "a tick each 5 s, no further"
    );
    for _ in 0..5 {
        d.second();
    }
    // Chase over: cancelled, and the whole plan goes at market.
    d.settle();
    let entries: Vec<OrderIntent> = d
        .sent
        .iter()
        .filter_map(|e| match e {
            Event::Intent(i) if i.purpose == OrderPurpose::Entry => Some(*i),
            _ => None,
        })
        .collect();
    assert_eq!(entries.len(), 2);
    assert_eq!(
        (entries[1].order_type, entries[1].qty),
        (OrderType::Market, entries[0].qty)
    );
    assert_eq!(d.qty(), entries[0].qty.0);
    assert_eq!(d.broker_net(), d.qty());
    assert_eq!(
        d.risk.position(INFY).unwrap().stop,
        Price(154_000),
        "same stop"
    );
}

#[test]
fn a_chased_limit_entry_is_cancelled_when_so_configured() {
    let mut d = Desk::new(|p| {
        p.entry_order_type = EntryOrderType::Limit;
        p.chase = limit_chase::ChaseRules {
            ticks: 1,
            every_s: 2,
            convert: false,
        };
    });
    d.tick(155_100);
    d.risk_in(Event::Signal(long_infy(d.now)));
    d.settle();
    for _ in 0..4 {
        d.second();
        d.settle();
    }
    assert_eq!((d.qty(), d.broker.working()), (0, 0));
    assert!(d.risk.position(INFY).unwrap().pending_entry.is_none());
}

#[test]
fn ioc_exits_take_what_the_book_has_and_send_the_rest_a_second_later() {
    let mut d = Desk::new(|p| p.ioc_exit_band_bps = Some(50));
    let q = d.open_long();
    // Only 50 units bid: the IOC close takes them, the rest is cancelled by the exchange.
    d.tick_depth(155_000, 50);
    d.risk_in(Event::Control(ControlCommand::ClosePosition {
        token: INFY,
    }));
    d.settle();
    assert_eq!(d.qty(), q - 50);
    let ioc: Vec<OrderIntent> = d
        .sent
        .iter()
        .filter_map(|e| match e {
            Event::Intent(i) if i.purpose == OrderPurpose::Manual => Some(*i),
            _ => None,
        })
        .collect();
    assert_eq!(ioc.len(), 1);
    // 0.5 % through 1550.00, on the 0.10 grid.
    assert_eq!(
        (ioc[0].order_type, ioc[0].validity, ioc[0].price),
        (OrderType::Limit, Validity::Ioc, Price(154_230))
    );
    // The book refills; a second later the rest goes.
    d.tick(155_000);
    d.second();
    d.settle();
    assert_eq!((d.qty(), d.broker_net()), (0, 0));
    assert_eq!(d.broker.working(), 0, "no stop left behind");
}
