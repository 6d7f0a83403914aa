use super::*;

fn shipped() -> ChargeSchedule {
    let text = include_str!("../../../configs/charges.yaml");
    ChargeSchedule::parse(text, "configs/charges.yaml").unwrap()
}

fn rupees(r: f64) -> Price {
    Price((r * 100.0).round() as i64)
}

fn trip(seg: ChargeSegment, buy: f64, sell: f64, qty: i64, date: u32) -> RoundTrip {
    shipped()
        .round_trip(seg, rupees(buy), rupees(sell), Qty(qty), Date(date))
        .unwrap()
}

fn lines(c: &Charges) -> [i64; 6] {
    [
        c.brokerage.0,
        c.stt.0,
        c.exchange_txn.0,
        c.sebi_fee.0,
        c.stamp_duty.0,
        c.gst.0,
    ]
}

/// Equity intraday at the 2026-04-01 rates: buy 100 @ 1000, sell @ 1010.
/// brokerage min(0.03% x 1,00,000 = 30, 20) x 2 = 40; STT 0.025% x 1,01,000 = 25.25 -> 25;
/// exchange 0.00307% x 2,01,000 = 6.1707 -> 6.17; SEBI 0.0001% x 2,01,000 = 0.201 -> 0.20;
/// stamp 0.003% x 1,00,000 = 3.00; GST 18% x (40 + 6.17 + 0.20) = 8.3466 -> 8.35.
#[test]
fn intraday_round_trip_2026() {
    let t = trip(ChargeSegment::Intraday, 1000.0, 1010.0, 100, 20260601);
    assert_eq!(lines(&t.charges), [4000, 2500, 617, 20, 300, 835]);
    assert_eq!(t.charges.total(), Paise(8272));
    assert_eq!(t.gross_pnl, Paise(100_000));
    assert_eq!(t.net_pnl, Paise(91_728));
    assert_eq!(t.points_to_breakeven, Paise(83));
}

/// NIFTY future, one lot of 65: buy 25,000, sell 25,100.
/// brokerage 20 x 2 (0.03% of 16.25 lakh is above the cap); STT 0.05% x 16,31,500 = 815.75
/// -> 816; exchange 0.00183% x 32,56,500 = 59.59395 -> 59.59; SEBI 3.2565 -> 3.26;
/// stamp 0.002% x 16,25,000 = 32.50; GST 18% x (40 + 59.59 + 3.26) = 18.513 -> 18.51.
#[test]
fn futures_round_trip_2026_and_2025() {
    let t = trip(ChargeSegment::Futures, 25_000.0, 25_100.0, 65, 20260601);
    assert_eq!(lines(&t.charges), [4000, 81_600, 5959, 326, 3250, 1851]);
    assert_eq!(t.charges.total(), Paise(96_986));
    assert_eq!(t.net_pnl, Paise(650_000 - 96_986));
    assert_eq!(t.points_to_breakeven, Paise(1492));
    // The same trade on 2025-06-02 is charged by the 2024-10-01 table: STT 0.02% x
    // 16,31,500 = 326.30 -> 326, every other line the same.
    let old = trip(ChargeSegment::Futures, 25_000.0, 25_100.0, 65, 20250602);
    assert_eq!(lines(&old.charges), [4000, 32_600, 5959, 326, 3250, 1851]);
    assert_eq!(old.charges.total(), Paise(47_986));
}

/// NIFTY call, two lots (130): buy 120, sell 135.50.
/// brokerage flat 20 x 2; STT 0.15% x 17,615 = 26.4225 -> 26; exchange 0.03553% x 33,215 =
/// 11.80129 -> 11.80; SEBI 0.033215 -> 0.03; stamp 0.003% x 15,600 = 0.468 -> 0.47;
/// GST 18% x (40 + 11.80 + 0.03) = 9.3294 -> 9.33.
#[test]
fn options_round_trip_2026() {
    let t = trip(ChargeSegment::Options, 120.0, 135.5, 130, 20260601);
    assert_eq!(lines(&t.charges), [4000, 2600, 1180, 3, 47, 933]);
    assert_eq!(t.charges.total(), Paise(8763));
    assert_eq!(t.gross_pnl, Paise(201_500));
    assert_eq!(t.points_to_breakeven, Paise(67));
}

/// india-market-facts §1.6(b): Zerodha's calculator, intraday buy 1000 sell 1100 qty 400, at
/// the 2021-23 rates (exchange 0.00345%, the SEBI fee shown with its GST).
#[test]
fn published_calculator_example() {
    let t = trip(ChargeSegment::Intraday, 1000.0, 1100.0, 400, 20220601);
    assert_eq!(lines(&t.charges), [4000, 11_000, 2898, 99, 1200, 1242]);
    assert_eq!(t.charges.total(), Paise(20_439));
    assert_eq!(t.points_to_breakeven, Paise(51));
}

#[test]
fn an_order_filled_in_many_trades_pays_brokerage_once() {
    let s = shipped();
    let table = s.table_for(Date(20260601)).unwrap();
    let seg = ChargeSegment::Intraday;
    // 3 fills of one buy order, 10 @ 500 each: value grows 5,000 -> 15,000, brokerage
    // 0.03% of 15,000 = 4.50 in total (1.50 + 1.50 + 1.50).
    let mut t = TripCosts::default();
    for k in 0..3 {
        let before = 50_000 * 10 * k as i128;
        t.on_fill(
            table,
            seg,
            Side::Buy,
            Qty(10),
            Price(50_000),
            before,
            100,
            Date(20260601),
        );
    }
    assert_eq!(t.brokerage, 450);
    // Capped once: a 1,000-share order at 500 (value 5 lakh) in two fills pays 20, not 40.
    let mut t = TripCosts::default();
    t.on_fill(
        table,
        seg,
        Side::Buy,
        Qty(500),
        Price(50_000),
        0,
        100,
        Date(20260601),
    );
    t.on_fill(
        table,
        seg,
        Side::Buy,
        Qty(500),
        Price(50_000),
        50_000 * 500,
        100,
        Date(20260601),
    );
    assert_eq!(t.brokerage, 2000);
    // Two exit orders (a partial, then the rest) pay twice.
    t.on_fill(
        table,
        seg,
        Side::Sell,
        Qty(500),
        Price(50_000),
        0,
        100,
        Date(20260601),
    );
    t.on_fill(
        table,
        seg,
        Side::Sell,
        Qty(500),
        Price(50_000),
        0,
        100,
        Date(20260601),
    );
    assert_eq!(t.brokerage, 6000);
}

#[test]
fn segment_of_instrument() {
    assert_eq!(
        ChargeSegment::of(InstrumentType::Equity),
        ChargeSegment::Intraday
    );
    assert_eq!(
        ChargeSegment::of(InstrumentType::Future),
        ChargeSegment::Futures
    );
    assert_eq!(
        ChargeSegment::of(InstrumentType::Put),
        ChargeSegment::Options
    );
    assert_eq!(
        ChargeSegment::parse("options"),
        Some(ChargeSegment::Options)
    );
    assert_eq!(ChargeSegment::parse("delivery"), None);
}

#[test]
fn every_shipped_day_since_2021_has_a_table() {
    let s = shipped();
    assert_eq!(s.tables.len(), 5);
    assert!(s.table_for(Date(20201231)).is_none());
    for d in [
        20210101, 20230331, 20230401, 20240930, 20241001, 20260331, 20260401, 20991231,
    ] {
        assert!(s.table_for(Date(d)).is_some(), "{d}");
    }
    assert_eq!(s.table_for(Date(20260331)).unwrap().from, Date(20241001));
}

#[test]
fn bad_tables_list_every_problem() {
    let seg = "{brokerage_flat: 20, stt_sell_pct: 0.1, exchange_txn_pct: 0.03553, sebi_per_crore: 10, stamp_buy_pct: 0.003}";
    let text = format!(
        "tables:\n\
         - {{from: 2024-01-01, to: 2024-06-30, gst_pct: 18, intraday: {seg}, futures: {seg}, options: {seg}}}\n\
         - {{from: 2024-06-01, to: 2024-09-30, gst_pct: 18, intraday: {seg}, futures: {seg}, options: {seg}}}\n\
         - {{from: 2024-10-05, to: 2025-03-31, gst_pct: 18, intraday: {seg}, futures: {seg}}}\n\
         - {{from: 2025-04-01, gst_pct: 18, intraday: {seg}, futures: {seg}, options: {{stt_sell_pct: -1}}}}\n"
    );
    let e = ChargeSchedule::parse(&text, "c.yaml").unwrap_err();
    let all = e.to_string();
    assert!(
        all.contains("tables overlap: 2024-01-01..2024-06-30 and the table from 2024-06-01"),
        "{all}"
    );
    assert!(
        all.contains("tables[2] (from 2024-10-05): missing segment `options`"),
        "{all}"
    );
    assert!(
        all.contains("tables[3] (from 2025-04-01).options: brokerage needs"),
        "{all}"
    );
    assert!(
        all.contains("tables[3] (from 2025-04-01).options.stt_sell_pct: must be a percent"),
        "{all}"
    );
    assert!(
        all.contains("tables[3] (from 2025-04-01).options.exchange_txn_pct: missing"),
        "{all}"
    );
    // Only three tables parsed whole; the gap is between the second and the last whole one.
    let text = format!(
        "tables:\n\
         - {{from: 2024-01-01, to: 2024-06-30, gst_pct: 18, intraday: {seg}, futures: {seg}, options: {seg}}}\n\
         - {{from: 2024-07-05, gst_pct: 18, intraday: {seg}, futures: {seg}, options: {seg}}}\n"
    );
    let all = ChargeSchedule::parse(&text, "c.yaml")
        .unwrap_err()
        .to_string();
    assert!(
        all.contains("gap: no table covers 2024-07-01 to the day before 2024-07-05"),
        "{all}"
    );
    let all = ChargeSchedule::parse("tables: []\nextra: 1\n", "c.yaml")
        .unwrap_err()
        .to_string();
    assert!(all.contains("unknown field `extra`"), "{all}");
}
