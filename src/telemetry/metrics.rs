//! Counters the hot threads bump (relaxed atomics, preallocated) and their Prometheus text.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

macro_rules! metrics {
    ($($name:ident : $help:literal),* $(,)?) => {
        /// Every counter of the process. Hot threads only ever `add` to these.
        #[derive(Default, Debug)]
        pub struct Metrics {
            $(pub $name: AtomicU64,)*
        }
        impl Metrics {
            /// Prometheus text exposition, counters prefixed `aitrapp_`.
            pub fn render(&self, out: &mut String) {
                $(
                    let _ = writeln!(out, "# HELP aitrapp_{} {}", stringify!($name), $help);
                    let _ = writeln!(out, "# TYPE aitrapp_{} {}", stringify!($name),
                        if stringify!($name).ends_with("_total") { "counter" } else { "gauge" });
                    let _ = writeln!(out, "aitrapp_{} {}", stringify!($name), if stringify!($name).ends_with("_paise") { (self.$name.load(Relaxed) as i64).to_string() } else { self.$name.load(Relaxed).to_string() });
                )*
            }
        }
    };
}

metrics! {
    feed_frames_total: "Frames received by the feed thread (heartbeats included)",
    feed_heartbeats_total: "Heartbeat messages received",
    feed_packets_total: "Packets in received frames",
    feed_ticks_total: "Ticks decoded and sequenced",
    feed_malformed_frames_total: "Frames rejected as malformed (counted and skipped)",
    feed_unknown_packets_total: "Packets of unknown length (counted and skipped)",
    feed_bytes_total: "Bytes of market data received",
    feed_lag_ms: "Local receive time minus the exchange timestamp of the last live frame, ms",
    ws_connections_open: "Kite ticker connections streaming",
    ws_disconnects_total: "Kite ticker connections lost (drop, close, stale)",
    ws_reconnects_total: "Kite ticker connections re-established",
    ws_stale_total: "Ticker connections declared dead after stale_after_ms of silence",
    ws_last_reconnect_us: "Time from losing a ticker connection to streaming again (resubscribed), last time, us",
    ws_text_messages_total: "Text messages from the ticker (order updates, errors, messages)",
    ws_order_updates_total: "Order updates received on the ticker",
    ws_unparsed_text_total: "Ticker text messages that were not JSON of a known type",
    inbox_events_total: "Control commands and order updates sequenced from the inbox",
    ring_a_full_total: "Times the feed found ring A full and waited",
    ring_b_full_total: "Times the strategy stage found ring B full and waited",
    ring_c_full_total: "Times the risk stage found ring C full and waited",
    inbox_full_total: "Times an order update found the inbox full and waited",
    signals_total: "Strategy signals",
    options_quotes_missing_total: "Option quotes with no bid or no ask when an IV was needed (skipped)",
    options_quotes_crossed_total: "Option quotes with bid at or above ask when an IV was needed (skipped)",
    options_iv_failed_total: "Option mids that gave no implied volatility (outside no-arbitrage bounds; skipped)",
    signals_refused_total: "Signals risk refused",
    orders_sent_total: "Orders sent to the broker",
    orders_filled_total: "Order fills",
    orders_rejected_total: "Orders rejected",
    orders_cancelled_total: "Orders cancelled",
    exits_held_total: "Exits held because the session phase takes no MARKET orders (sent when it does)",
    exits_rejected_total: "Exit orders the broker rejected (each retried with backoff and an alert)",
    orders_band_refused_total: "Entries refused before sending: priced outside the day's circuit limits",
    orders_band_clamped_total: "Exit prices pulled inside the day's circuit limits before sending",
    limit_chase_steps_total: "LIMIT entries re-priced a tick toward the market (execution.limit_chase_ticks)",
    orders_unknown_updates_total: "Order updates for an order the OMS does not know (logged, ignored)",
    kite_unknown_status_total: "Kite order states with an undocumented status (treated as working)",
    positions_open: "Open positions",
    orders_working: "Orders working at the broker (protective stops included)",
    trades_closed_total: "Round trips closed",
    realized_pnl_paise: "Realized P&L today, paise",
    unrealized_pnl_paise: "Unrealized P&L, paise",
    hot_log_dropped_total: "Log records hot threads dropped because the logger queue was full",
    journal_enabled: "1 while the day's journal is being written (0: a crash forgets this session)",
    journal_records_total: "Records handed to the journal thread",
    journal_queue_full_total: "Times a stage waited because the journal queue was full (records are never dropped)",
    journal_bytes_total: "Bytes written to the journal file",
    journal_fsyncs_total: "fsync calls on the journal file",
    journal_write_errors_total: "Journal writes or fsyncs that failed",
    reconcile_runs_total: "LIVE reconciliations of the desk against Kite's orders and positions",
    reconcile_fills_applied_total: "Fills reconciliation found at Kite that the desk did not have (applied)",
    reconcile_adopted_total: "Orders with our tag reconciliation found at Kite outside the journal (adopted)",
    reconcile_drift_instruments: "Instruments where the desk and Kite disagree after the last reconciliation (entries pause while > 0)",
    reconcile_foreign_positions: "Positions at Kite that no order of ours made (reported, never traded)",
    kite_token_refused_total: "Times Kite refused the access token (REST TokenException, ticker handshake 403): /ready stays 503 until a restart after `aitrapp login`",
    reconcile_done: "1 once the start's reconciliation with Kite has finished (LIVE)",
    foreign_exposure_paise: "Value of the foreign positions at their last price, paise (counted in heat)",
    free_disk_bytes: "Free space on the journal's filesystem, bytes (monitoring.min_free_disk_gb alerts and pauses entries)",
    snapshot_publishes_total: "Snapshots published",
    tick_to_intent_p50_ns: "Tick-to-order-intent latency p50, ns (order stage histogram)",
    tick_to_intent_p99_ns: "Tick-to-order-intent latency p99, ns",
    tick_to_intent_max_ns: "Tick-to-order-intent latency max, ns",
    trading_state: "0 active, 1 paused, 2 halted",
    session_phase: "0 closed, 1 pre-open, 2 pre-open limit only, 3 pre-open random close, 4 pre-open matching, 5 continuous, 6 closing",
    charges_today_paise: "Charges of today's fills (brokerage, STT, exchange, SEBI, stamp, GST), paise",
}

impl Metrics {
    pub fn add(c: &AtomicU64, n: u64) {
        c.fetch_add(n, Relaxed);
    }
    pub fn get(c: &AtomicU64) -> u64 {
        c.load(Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        let m = Metrics::default();
        Metrics::add(&m.feed_ticks_total, 3);
        let mut s = String::new();
        m.render(&mut s);
        assert!(s.contains("aitrapp_feed_ticks_total 3\n"));
        assert!(s.contains("# TYPE aitrapp_feed_ticks_total counter"));
        assert!(s.contains("# TYPE aitrapp_positions_open gauge"));
    }
}
