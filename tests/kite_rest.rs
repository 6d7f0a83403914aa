//! The REST client against tools/kite-sim: every endpoint the client has, the simulator's
//! order types and Kite-like rejections, and the shared rate limiter keeping the simulator from
//! ever answering 429.

mod common;
use aitrapp::exec::kite::rest::{KiteRest, ModifyOrder, PlaceOrder};
use aitrapp::exec::kite::KiteError;
use common::{start_sim, wait_until};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

fn client(sim: &kite_sim::SimHandle) -> KiteRest {
    common::kite_rest_client(sim.rest_root(), Duration::from_secs(5))
}

fn order(
    sym: &str,
    ex: &str,
    side: &'static str,
    kind: &'static str,
    qty: i64,
    price: Option<&str>,
    tag: &str,
) -> PlaceOrder {
    PlaceOrder {
        exchange: ex.into(),
        tradingsymbol: sym.into(),
        transaction_type: side,
        order_type: kind,
        quantity: qty,
        product: "MIS".into(),
        price: price.map(str::to_string),
        trigger_price: None,
        validity: "DAY",
        market_protection: (kind == "MARKET" || kind == "SL-M").then_some(-1.0),
        tag: tag.into(),
        algo_id: None,
    }
}

#[test]
fn rest_endpoints_orders_and_rejections() {
    // 60x: a simulated minute every real second, so candles build quickly.
    let sim = start_sim("09:20", 60.0);
    let k = client(&sim);
    assert_eq!(k.profile().unwrap(), "SIM001");
    wait_until("a quote", 10, || {
        k.ltp(&["NSE:INFY"]).map(|l| !l.is_empty()).unwrap_or(false)
    });
    let ltp = k.ltp(&["NSE:INFY", "NSE:NOSUCH"]).unwrap();
    assert_eq!(ltp.len(), 1, "unknown keys are absent: {ltp:?}");
    let infy = ltp[0].1;
    let q = k.quote(&["NSE:INFY"]).unwrap();
    assert_eq!(q["NSE:INFY"]["depth"]["buy"].as_array().unwrap().len(), 5);

    // A resting LIMIT far below the market: OPEN, modified, then cancelled.
    let low = format!("{:.1}", (infy * 0.9 * 10.0).round() / 10.0);
    let id = k
        .place(&order("INFY", "NSE", "BUY", "LIMIT", 10, Some(&low), "T1"))
        .unwrap();
    let lower = format!("{:.1}", (infy * 0.85 * 10.0).round() / 10.0);
    k.modify(
        &id,
        &ModifyOrder {
            quantity: Some(20),
            order_type: Some("LIMIT"),
            price: Some(lower.clone()),
            trigger_price: None,
        },
    )
    .unwrap();
    k.cancel(&id).unwrap();
    let history = k.order_history(&id).unwrap();
    let statuses: Vec<&str> = history.iter().map(|o| o.status.as_str()).collect();
    assert!(
        statuses.contains(&"OPEN") && statuses.contains(&"MODIFIED"),
        "{statuses:?}"
    );
    assert_eq!(*statuses.last().unwrap(), "CANCELLED");
    assert_eq!(history.last().unwrap().quantity, 20);

    // MARKET fills across the depth; the trades and the position show it.
    let id = k
        .place(&order("HDFCBANK", "NSE", "BUY", "MARKET", 5, None, "T2"))
        .unwrap();
    wait_until("the fill", 5, || {
        k.orders()
            .unwrap()
            .iter()
            .any(|o| o.order_id == id && o.status == "COMPLETE")
    });
    let trades = k.trades().unwrap();
    assert_eq!(
        trades
            .iter()
            .filter(|t| t.order_id == id)
            .map(|t| t.quantity)
            .sum::<i64>(),
        5
    );
    assert!(k.net_positions().unwrap().contains(&(341249, 5)));
    assert!(k.holdings().unwrap().is_empty());
    let m = k.equity_margin().unwrap();
    assert!(m.available_cash > 0.0 && m.net < m.available_cash, "{m:?}");

    // IOC that cannot fill is cancelled at once; SL-M rests until its trigger.
    let id = k
        .place(&PlaceOrder {
            validity: "IOC",
            ..order("INFY", "NSE", "BUY", "LIMIT", 1, Some(&low), "T3")
        })
        .unwrap();
    assert_eq!(
        k.order_history(&id).unwrap().last().unwrap().status,
        "CANCELLED"
    );
    let no_trigger = k.place(&order("INFY", "NSE", "BUY", "SL-M", 1, None, "T4"));
    assert!(
        matches!(no_trigger, Err(KiteError::Input { .. })),
        "SL-M without a trigger"
    );
    let far = format!("{:.1}", (infy * 1.15 * 10.0).round() / 10.0);
    let id = k
        .place(&PlaceOrder {
            trigger_price: Some(far),
            ..order("INFY", "NSE", "BUY", "SL-M", 1, None, "T4b")
        })
        .unwrap();
    assert_eq!(
        k.order_history(&id).unwrap().last().unwrap().status,
        "TRIGGER PENDING"
    );

    // Kite-like rejections: lot multiple, tick size, unknown symbol (400 InputException),
    // price band (an order that goes REJECTED).
    let lot = k.place(&order(
        "NIFTY26DECFUT",
        "NFO",
        "BUY",
        "MARKET",
        10,
        None,
        "T5",
    ));
    assert!(
        matches!(&lot, Err(KiteError::Input { message, .. }) if message.contains("lot size")),
        "{lot:?}"
    );
    let tick = k.place(&order(
        "INFY",
        "NSE",
        "BUY",
        "LIMIT",
        1,
        Some("1000.03"),
        "T6",
    ));
    assert!(
        matches!(&tick, Err(KiteError::Input { message, .. }) if message.contains("tick size")),
        "{tick:?}"
    );
    let unprotected = k.place(&PlaceOrder {
        market_protection: None,
        ..order("INFY", "NSE", "BUY", "MARKET", 1, None, "T6b")
    });
    assert!(
        matches!(&unprotected, Err(KiteError::Input { message, .. }) if message.contains("market protection")),
        "{unprotected:?}"
    );
    let unknown = k.place(&order("NOSUCH", "NSE", "BUY", "MARKET", 1, None, "T7"));
    assert!(matches!(unknown, Err(KiteError::Input { .. })));
    let band = format!("{:.1}", (infy * 0.5 * 10.0).round() / 10.0);
    let id = k
        .place(&order("INFY", "NSE", "BUY", "LIMIT", 1, Some(&band), "T8"))
        .unwrap();
    let o = k.order_history(&id).unwrap();
    assert_eq!(o.last().unwrap().status, "REJECTED");
    assert!(o
        .last()
        .unwrap()
        .status_message
        .as_deref()
        .unwrap_or("")
        .contains("circuit limit"));

    // Historical candles from what the simulator has streamed (one sim minute a second).
    std::thread::sleep(Duration::from_millis(2500));
    let candles = k
        .historical(
            408065,
            "minute",
            "2026-11-25 09:00:00",
            "2026-11-25 15:30:00",
        )
        .unwrap();
    assert!(candles.len() >= 2, "{candles:?}");
    assert!(candles
        .iter()
        .all(|c| c.low <= c.open && c.open <= c.high && c.ts.ends_with("+0530")));

    // A burst of quote calls: the limiter paces them (1/s) and the simulator never says 429.
    let t0 = Instant::now();
    for _ in 0..3 {
        k.ltp(&["NSE:INFY"]).unwrap();
    }
    assert!(
        t0.elapsed() >= Duration::from_millis(1900),
        "quotes were not paced"
    );
    assert_eq!(sim.faults.rate_limited.load(Ordering::SeqCst), 0);

    // A 5xx answer is typed and marked as an unknown outcome; an expired token is a TokenException.
    sim.faults.rest_5xx.arm(1);
    let e = k.orders().unwrap_err();
    assert!(e.outcome_unknown(), "{e:?}");
    sim.faults.expire_token();
    assert!(k.profile().unwrap_err().is_token());
}

/// Kite gzips the instrument dump. The simulator does too when asked (Content-Encoding), and
/// the client also unpacks a dump served as a gzip body; a broken one is a typed error.
#[test]
fn instrument_dump_arrives_gzipped_and_is_unpacked() {
    use std::io::{Read, Write};
    let sim = start_sim("09:20", 1.0);
    let c = kite_sim::Credentials::default();
    let mut s = std::net::TcpStream::connect(sim.rest_addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET /instruments HTTP/1.1\r\nHost: localhost\r\nAuthorization: token {}:{}\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n",
        c.api_key, c.access_token
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
    assert!(head.contains("content-encoding: gzip"), "{head}");
    assert!(
        raw[split + 4..].starts_with(&[0x1f, 0x8b]),
        "body is not gzip"
    );

    let csv = client(&sim).instruments_csv().unwrap();
    assert!(csv.starts_with("instrument_token,"), "{}", &csv[..40]);
    // The file's 15 plus the listed chains: 2 expiries x 21 strikes x CE/PE x 2 indices.
    assert_eq!(csv.lines().count(), 184, "header + 183 instruments");

    // A dump served as a gzip file rather than an encoding, then a truncated one.
    let dump = "instrument_token,exchange_token,tradingsymbol\n408065,1594,INFY\n";
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(dump.as_bytes()).unwrap();
    let gz = gz.finish().unwrap();
    let truncated = gz[..gz.len() - 12].to_vec();
    for (body, ok) in [(gz, true), (truncated, false)] {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut req = [0u8; 4096];
            let _ = s.read(&mut req);
            write!(
                s,
                "HTTP/1.1 200 OK\r\nContent-Type: application/gzip\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            )
            .unwrap();
            s.write_all(&body).unwrap();
        });
        let rest = common::kite_rest_client(format!("http://{addr}"), Duration::from_secs(5));
        match rest.instruments_csv() {
            Ok(text) => assert!(ok && text == dump, "{text}"),
            Err(KiteError::BadEnvelope { reason, .. }) => {
                assert!(!ok && reason.contains("bad gzip"), "{reason}")
            }
            Err(e) => panic!("{e}"),
        }
        server.join().unwrap();
    }
}

/// `POST /__sim/time_out`: the next call is answered late; the client times out with a
/// typed transport error and the call after it works.
#[test]
fn a_late_answer_is_a_typed_timeout() {
    let sim = start_sim("09:20", 1.0);
    let (status, _) = common::http(
        sim.rest_addr.port(),
        "POST",
        "/__sim/time_out?n=1&delay_ms=1500",
    )
    .unwrap();
    assert_eq!(status, 200);
    let rest = common::kite_rest_client(sim.rest_root(), Duration::from_millis(400));
    match rest.orders() {
        Err(KiteError::Transport { .. }) => {}
        other => panic!("expected a transport timeout, got {other:?}"),
    }
    assert!(rest.orders().is_ok());
}

/// Kite answers quotes at any time of day: before the simulated session's first tick the
/// simulator serves the previous close, stamped at that close, and its `timestamp` and
/// `last_trade_time` are `yyyy-mm-dd hh:mm:ss` strings as the official client expects.
#[test]
fn quotes_before_the_open_carry_the_previous_close_as_kite_strings() {
    let sim = start_sim("08:00", 1.0);
    let k = client(&sim);
    let ltp = k.ltp(&["NSE:INFY", "NFO:NOSUCH"]).unwrap();
    assert_eq!(ltp.len(), 1, "{ltp:?}");
    assert!(ltp[0].1 > 0.0);
    let q = k.quote(&["NSE:INFY"]).unwrap();
    let infy = &q["NSE:INFY"];
    for field in ["timestamp", "last_trade_time"] {
        let s = infy[field]
            .as_str()
            .unwrap_or_else(|| panic!("{field}: {infy}"));
        assert_eq!(s.len(), 19, "{field}: {s}");
        // The previous trading day's close.
        assert!(s.ends_with(" 15:30:00"), "{field}: {s}");
        assert!(aitrapp::domain::Date::parse(&s[..10]).is_some(), "{s}");
    }
    assert_eq!(infy["last_price"], infy["ohlc"]["close"]);
}
