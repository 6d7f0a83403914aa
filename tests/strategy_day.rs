//! A synthetic PAPER day through the real binary with every strategy on at its defaults:
//! each of ORB, TrendPullback, VWAPReversion and OptionsRanker must trade, read back from the
//! JSON log the operator would read.

mod common;

use common::{aitrapp_run, free_port, temp_project};
use std::process::Stdio;
use std::time::Duration;

#[test]
fn every_enabled_strategy_trades_on_a_synthetic_day() {
    let dir = temp_project("every-strategy");
    let (port, dash) = (free_port(), free_port());
    std::fs::write(
        dir.join("configs/app.yaml"),
        format!(
            "control:\n  api_port: {port}\n  dashboard_port: {dash}\nfeed:\n  source: synthetic\n  synthetic:\n    seed: 42\n    speed: 0\n    date: \"2026-12-02\"\n    exit_at_close: true\npipeline:\n  topology: collapsed\n  wait: yield\nlogging:\n  stderr: false\n"
        ),
    )
    .unwrap();
    let mut child = aitrapp_run(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let status = common::wait_exit(
        &mut child,
        Duration::from_secs(300),
        "the synthetic day did not end in 300 s",
    );
    assert_eq!(status.code(), Some(0));
    let lines = common::json_log(&dir);
    let msg = |v: &serde_json::Value| v["message"].as_str().unwrap_or("").to_string();
    let entries: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|v| msg(v).starts_with("Order filled") && v["purpose"] == "ENTRY")
        .collect();
    for strategy in ["orb", "trend_pullback", "vwap_reversion", "options_ranker"] {
        assert!(
            entries.iter().any(|v| v["strategy"] == strategy),
            "{strategy} never traded; entries: {:?}",
            entries.iter().map(|v| msg(v)).collect::<Vec<_>>()
        );
    }
    // OptionsRanker's spreads: the signal line names both legs and the buy leg fills first.
    let spread_signal = lines
        .iter()
        .find(|v| {
            v["strategy"] == "options_ranker"
                && msg(v).starts_with("Signal options_ranker")
                && v["kind"] == "DEBIT_SPREAD"
        })
        .expect("a debit spread signal");
    let buy = spread_signal["symbol"].as_str().unwrap().to_string();
    let sell = spread_signal["sell_symbol"].as_str().unwrap().to_string();
    let first_fill = |sym: &str| {
        entries
            .iter()
            .find(|v| v["symbol"] == sym)
            .and_then(|v| v["order_id"].as_u64())
    };
    if let (Some(b), Some(s)) = (first_fill(&buy), first_fill(&sell)) {
        assert!(
            b < s,
            "the bought leg {buy} fills before the sold leg {sell}"
        );
    }
    assert!(
        lines
            .iter()
            .any(|v| msg(v).starts_with("Spread ") && msg(v).contains(" closed (")),
        "a spread closed as one"
    );
    assert!(lines.iter().any(|v| msg(v).starts_with("Warmed up")));
    // The day's closing ATM IV of each chain is logged (LIVE also appends it to
    // iv_history_file for the next start).
    for u in ["NIFTY", "BANKNIFTY"] {
        let close = lines
            .iter()
            .find(|v| msg(v).starts_with(&format!("OptionsRanker: {u} closing ATM IV")))
            .unwrap_or_else(|| panic!("no closing IV for {u}"));
        let iv = close["atm_iv"].as_f64().unwrap();
        assert!((0.05..0.5).contains(&iv), "{u} {iv}");
    }
    // Flat at the end.
    assert!(lines.iter().any(|v| msg(v).starts_with("EOD square")));
    // Every exit rule on at its default: the day's closes carry their reasons, several of
    // them, and each close its charges and net P&L (gross less charges, to the paisa).
    let closes: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|v| msg(v).starts_with("Position closed"))
        .collect();
    let reasons: std::collections::BTreeSet<String> = closes
        .iter()
        .map(|v| v["exit_reason"].as_str().unwrap_or("").to_string())
        .collect();
    let known = [
        "STOP_LOSS",
        "TRAILING_STOP",
        "TAKE_PROFIT_1",
        "TAKE_PROFIT_2",
        "TIME_STOP",
        "VOLATILITY_STOP",
        "MAE_STOP",
        "EOD_SQUAREOFF",
        "DAILY_LOSS_LIMIT",
        "KILL_SWITCH",
        "MANUAL",
    ];
    assert!(
        reasons.iter().all(|r| known.contains(&r.as_str())),
        "{reasons:?}"
    );
    assert!(reasons.len() >= 3, "only {reasons:?}");
    let paise = |v: &serde_json::Value, k: &str| -> i64 {
        let s = v[k].as_str().unwrap_or_else(|| panic!("{k} missing: {v}"));
        (s.parse::<f64>().unwrap() * 100.0).round() as i64
    };
    for c in &closes {
        assert_eq!(
            paise(c, "pnl") - paise(c, "charges"),
            paise(c, "net_pnl"),
            "{c}"
        );
        assert!(paise(c, "charges") > 0, "{c}");
    }
    let summary = lines
        .iter()
        .find(|v| msg(v).starts_with("Session summary"))
        .expect("a session summary");
    assert_eq!(
        paise(summary, "realized_pnl") - paise(summary, "charges"),
        paise(summary, "realized_pnl_net")
    );
}
