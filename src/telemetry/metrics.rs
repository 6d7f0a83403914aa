//! Counters the hot threads bump (relaxed atomics, preallocated) and their Prometheus text.

use crate::domain::Refusal;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

macro_rules! metrics {
    ($($name:ident : $help:literal),* $(,)?) => {
        /// Every counter and gauge of the process, the labelled families and the latency
        /// histograms. Hot threads only ever `add`, `store` or `observe_ns`.
        #[derive(Default, Debug)]
        pub struct Metrics {
            $(pub $name: AtomicU64,)*
            /// Signals refused, by `Refusal::index`.
            pub signals_refused_by_reason: [AtomicU64; Refusal::COUNT],
            /// Feed receive to each stage handling the event: strategy, risk (the order
            /// stage's is `tick_to_intent`, rendered under stage="order" too).
            pub stage_latency: [Histogram; 2],
            /// The event behind an order intent (a tick, a fill, the clock) to the order stage.
            pub tick_to_intent: Histogram,
            /// A LIVE order placement's REST call to Kite, request to answer.
            pub broker_round_trip: Histogram,
            /// POST /flatten to flat (or to its answer, when it is not flat by then).
            pub flatten_duration: Histogram,
            /// Bumped while each hot thread makes progress or waits on an empty queue:
            /// feed, then the consumer (collapsed) or strategy, risk, order. The systemd
            /// watchdog pings only while every running one moves.
            pub heartbeats: [AtomicU64; 4],
        }
        impl Metrics {
            /// Prometheus text exposition (format 0.0.4), every name prefixed `aitrapp_`, in
            /// base units: fields kept in ns, us or ms are exposed in seconds.
            pub fn render(&self, out: &mut String) {
                $(
                    if !ORDER_STATUS_FIELDS.contains(&stringify!($name)) {
                        scalar(out, stringify!($name), $help, self.$name.load(Relaxed));
                    }
                )*
                self.render_families(out);
            }
        }
    };
}

/// Counters exposed as labelled families instead of alone: `aitrapp_orders_total{status}`
/// and `aitrapp_ring_full_total{ring}`.
const ORDER_STATUS_FIELDS: [&str; 7] = [
    "orders_sent_total",
    "orders_filled_total",
    "orders_rejected_total",
    "orders_cancelled_total",
    "ring_a_full_total",
    "ring_b_full_total",
    "ring_c_full_total",
];

/// One counter or gauge: `_total` is a counter; `_ns`, `_us`, `_ms` fields are exposed as
/// `_seconds`; `_paise` values are signed.
fn scalar(out: &mut String, field: &str, help: &str, raw: u64) {
    let scaled = [("_ns", 1e9), ("_us", 1e6), ("_ms", 1e3)]
        .into_iter()
        .find_map(|(suffix, per)| field.strip_suffix(suffix).map(|stem| (stem, per)));
    let kind = if field.ends_with("_total") {
        "counter"
    } else {
        "gauge"
    };
    match scaled {
        Some((stem, per)) => {
            let _ = writeln!(out, "# HELP aitrapp_{stem}_seconds {help}");
            let _ = writeln!(out, "# TYPE aitrapp_{stem}_seconds {kind}");
            let _ = writeln!(out, "aitrapp_{stem}_seconds {}", raw as f64 / per);
        }
        None => {
            let _ = writeln!(out, "# HELP aitrapp_{field} {help}");
            let _ = writeln!(out, "# TYPE aitrapp_{field} {kind}");
            if field.ends_with("_paise") {
                let _ = writeln!(out, "aitrapp_{field} {}", raw as i64);
            } else {
                let _ = writeln!(out, "aitrapp_{field} {raw}");
            }
        }
    }
}

/// The R10 preferred numbers (ISO 3, Renard): ten steps a decade, each 10^0.1 = 1.26 times
/// the last, and 1, 2, 2.5 and 5 among them.
const R10: [u64; 10] = [100, 125, 160, 200, 250, 315, 400, 500, 630, 800];

/// Latency bounds of every histogram.
pub const BUCKETS: usize = 77;

/// Bucket upper bounds of every latency histogram, ns: 250 ns to 10 s in R10 steps. Steps of
/// 26 % keep `histogram_quantile`'s guess inside a bucket within a tenth or so of the truth;
/// the 1-2.5-5 series this replaced put a quiet and a loaded p99 (150 and 240 us) in one
/// 100-250 us bucket. The old bounds are all still bounds, so queries on them still work.
pub const BUCKETS_NS: [u64; BUCKETS] = {
    let mut out = [0u64; BUCKETS];
    // 250 ns is R10[4] in the decade of 100 ns.
    let (mut k, mut decade, mut i) = (0, 1u64, 4);
    while k < BUCKETS {
        out[k] = R10[i] * decade;
        k += 1;
        i += 1;
        if i == R10.len() {
            i = 0;
            decade *= 10;
        }
    }
    out
};

/// A latency histogram of fixed buckets (`BUCKETS_NS`, and one past the last), lock-free:
/// an observation is a binary search over the bounds and two relaxed adds, no allocation.
#[derive(Debug)]
pub struct Histogram {
    counts: [AtomicU64; BUCKETS + 1],
    sum_ns: AtomicU64,
}

impl Default for Histogram {
    fn default() -> Histogram {
        Histogram {
            counts: std::array::from_fn(|_| AtomicU64::new(0)),
            sum_ns: AtomicU64::new(0),
        }
    }
}

impl Histogram {
    #[inline]
    pub fn observe_ns(&self, ns: u64) {
        let i = BUCKETS_NS.partition_point(|&b| b < ns);
        self.counts[i].fetch_add(1, Relaxed);
        self.sum_ns.fetch_add(ns, Relaxed);
    }

    pub fn count(&self) -> u64 {
        self.counts.iter().map(|c| c.load(Relaxed)).sum()
    }

    /// The series of one histogram (`labels` like `stage="risk"`, or empty); the caller
    /// writes HELP and TYPE once for the family.
    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        let mut cum = 0u64;
        for (k, bound) in BUCKETS_NS.iter().enumerate() {
            cum += self.counts[k].load(Relaxed);
            let _ = writeln!(
                out,
                "aitrapp_{name}_bucket{{{labels}{sep}le=\"{}\"}} {cum}",
                *bound as f64 / 1e9
            );
        }
        cum += self.counts[BUCKETS].load(Relaxed);
        let _ = writeln!(
            out,
            "aitrapp_{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {cum}"
        );
        let braces = |s: &str| {
            if s.is_empty() {
                String::new()
            } else {
                format!("{{{s}}}")
            }
        };
        let _ = writeln!(
            out,
            "aitrapp_{name}_sum{} {}",
            braces(labels),
            self.sum_ns.load(Relaxed) as f64 / 1e9
        );
        let _ = writeln!(out, "aitrapp_{name}_count{} {cum}", braces(labels));
    }
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP aitrapp_{name} {help}");
    let _ = writeln!(out, "# TYPE aitrapp_{name} {kind}");
}

/// Stage label values of `Metrics::stage_latency`.
pub const STAGES: [&str; 3] = ["strategy", "risk", "order"];

impl Metrics {
    /// Realized P&L today net of today's charges, paise.
    pub fn realized_net_paise(&self) -> i64 {
        self.realized_pnl_paise.load(Relaxed) as i64 - self.charges_today_paise.load(Relaxed) as i64
    }

    fn render_families(&self, out: &mut String) {
        header(
            out,
            "orders_total",
            "counter",
            "Orders by what became of them: sent to the broker, filled, rejected, cancelled",
        );
        for (status, c) in [
            ("sent", &self.orders_sent_total),
            ("filled", &self.orders_filled_total),
            ("rejected", &self.orders_rejected_total),
            ("cancelled", &self.orders_cancelled_total),
        ] {
            let _ = writeln!(
                out,
                "aitrapp_orders_total{{status=\"{status}\"}} {}",
                c.load(Relaxed)
            );
        }
        header(out, "ring_full_total", "counter", "Times a stage found the ring to the next one full and waited (ring: feed_to_strategy, strategy_to_risk, risk_to_order)");
        for (ring, c) in [
            ("feed_to_strategy", &self.ring_a_full_total),
            ("strategy_to_risk", &self.ring_b_full_total),
            ("risk_to_order", &self.ring_c_full_total),
        ] {
            let _ = writeln!(
                out,
                "aitrapp_ring_full_total{{ring=\"{ring}\"}} {}",
                c.load(Relaxed)
            );
        }
        header(
            out,
            "signals_refused_by_reason_total",
            "counter",
            "Signals risk refused, by reason (bounded set: see domain::Refusal)",
        );
        for r in Refusal::ALL {
            let _ = writeln!(
                out,
                "aitrapp_signals_refused_by_reason_total{{reason=\"{}\"}} {}",
                r.label(),
                self.signals_refused_by_reason[r.index()].load(Relaxed)
            );
        }
        header(
            out,
            "realized_pnl_net_paise",
            "gauge",
            "Realized P&L today net of today's charges, paise",
        );
        let _ = writeln!(
            out,
            "aitrapp_realized_pnl_net_paise {}",
            self.realized_net_paise()
        );
        header(
            out,
            "journal_lag_records",
            "gauge",
            "Records handed to the journal thread and not yet written",
        );
        let lag = self
            .journal_records_total
            .load(Relaxed)
            .saturating_sub(self.journal_records_written_total.load(Relaxed));
        let _ = writeln!(out, "aitrapp_journal_lag_records {lag}");
        header(
            out,
            "stage_latency_seconds",
            "histogram",
            "Feed receive of an event to each stage handling it (stage: strategy, risk, order)",
        );
        let by_stage = [
            &self.stage_latency[0],
            &self.stage_latency[1],
            &self.tick_to_intent,
        ];
        for (h, stage) in by_stage.into_iter().zip(STAGES) {
            h.render(out, "stage_latency_seconds", &format!("stage=\"{stage}\""));
        }
        for (name, help, h) in [
            (
                "tick_to_intent_seconds",
                "The event behind an order intent (tick, fill, clock) to the order stage",
                &self.tick_to_intent,
            ),
            (
                "broker_round_trip_seconds",
                "A LIVE order placement's REST call to Kite, request to answer",
                &self.broker_round_trip,
            ),
            (
                "flatten_duration_seconds",
                "POST /flatten (the kill switch) to flat, or to its answer when not flat by then",
                &self.flatten_duration,
            ),
        ] {
            header(out, name, "histogram", help);
            h.render(out, name, "");
        }
        process_metrics(out);
    }
}

/// The process's resident memory and CPU time (Linux /proc), as Prometheus' client
/// libraries name them; nothing when /proc cannot be read.
fn process_metrics(out: &mut String) {
    let page = 4096.0;
    let ticks = 100.0; // USER_HZ on Linux
    if let Ok(statm) = std::fs::read_to_string("/proc/self/statm") {
        if let Some(rss) = statm
            .split_whitespace()
            .nth(1)
            .and_then(|v| v.parse::<f64>().ok())
        {
            let _ = writeln!(
                out,
                "# HELP process_resident_memory_bytes Resident memory size in bytes"
            );
            let _ = writeln!(out, "# TYPE process_resident_memory_bytes gauge");
            let _ = writeln!(out, "process_resident_memory_bytes {}", rss * page);
        }
    }
    if let Ok(stat) = std::fs::read_to_string("/proc/self/stat") {
        // Fields after the command name (which may hold spaces) in parentheses.
        let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
        let f: Vec<&str> = rest.split_whitespace().collect();
        if let (Some(u), Some(s)) = (
            f.get(11).and_then(|v| v.parse::<f64>().ok()),
            f.get(12).and_then(|v| v.parse::<f64>().ok()),
        ) {
            let _ = writeln!(
                out,
                "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds"
            );
            let _ = writeln!(out, "# TYPE process_cpu_seconds_total counter");
            let _ = writeln!(out, "process_cpu_seconds_total {}", (u + s) / ticks);
        }
    }
}

metrics! {
    feed_frames_total: "Frames received by the feed thread (heartbeats included)",
    feed_heartbeats_total: "Heartbeat messages received",
    feed_packets_total: "Packets in received frames",
    feed_ticks_total: "Ticks decoded and sequenced",
    feed_malformed_frames_total: "Frames rejected as malformed (counted and skipped)",
    feed_unknown_packets_total: "Packets of unknown length (counted and skipped)",
    feed_bytes_total: "Bytes of market data received",
    feed_lag_ms: "Local receive time minus the exchange timestamp of the last live frame, seconds",
    ws_connections_open: "Kite ticker connections streaming",
    ws_disconnects_total: "Kite ticker connections lost (drop, close, stale)",
    ws_reconnects_total: "Kite ticker connections re-established",
    ws_stale_total: "Ticker connections declared dead after stale_after_ms of silence",
    ws_last_reconnect_us: "Time from losing a ticker connection to streaming again (resubscribed), last time, seconds",
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
    journal_records_written_total: "Records the journal thread has written to the file",
    kill_switch_total: "Kill switches pulled (POST /flatten)",
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
    tick_to_intent_p50_ns: "Tick-to-order-intent latency p50 of the run, seconds (see aitrapp_tick_to_intent_seconds)",
    tick_to_intent_p99_ns: "Tick-to-order-intent latency p99 of the run, seconds",
    tick_to_intent_max_ns: "Tick-to-order-intent latency max of the run, seconds",
    trading_state: "0 active, 1 paused, 2 halted",
    orders_route_live: "1 while orders go to Kite (LIVE), 0 while they go to the paper broker (POST /mode switches it while flat)",
    orders_last_second: "Orders sent in the last whole second (compare aitrapp_orders_per_second_limit)",
    orders_per_second_limit: "The order rate cap: kite.rate_limits.orders_per_second (Kite's 10 OPS per account, SEBI's registration threshold)",
    orders_per_day_limit: "The day's order cap: kite.rate_limits.orders_per_day (compare the sent count of aitrapp_orders_total)",
    portfolio_heat_paise: "Open risk of every position (entry to stop, spreads at max loss, foreign positions at value), paise",
    portfolio_heat_limit_paise: "The heat cap: risk.max_portfolio_heat_pct of capital, paise",
    session_phase: "0 closed, 1 pre-open, 2 pre-open limit only, 3 pre-open random close, 4 pre-open matching, 5 continuous, 6 closing",
    charges_today_paise: "Charges of today's fills (brokerage, STT, exchange, SEBI, stamp, GST), paise",
    alerts_raised_total: "Operator alerts raised (POSITION_OPENED, KILL_SWITCH, FEED_DOWN, ...)",
    alerts_sent_total: "Alert messages a channel (Telegram, Slack, email) accepted",
    alerts_failed_total: "Alert messages a channel refused or never answered after every retry",
    alerts_dropped_total: "Alerts not sent: a full queue or a channel's rate limit (never blocks trading)",
    alerts_deduplicated_total: "Alerts not sent again: the same alert within alerts.dedupe_window_s",
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

    #[test]
    fn base_units_labelled_families_and_histograms() {
        let m = Metrics::default();
        m.feed_lag_ms.store(1500, Relaxed);
        m.realized_pnl_paise.store((-2500i64) as u64, Relaxed);
        m.charges_today_paise.store(100, Relaxed);
        Metrics::add(&m.orders_sent_total, 2);
        Metrics::add(
            &m.signals_refused_by_reason[Refusal::PortfolioHeat.index()],
            1,
        );
        for ns in [100, 800, 3_000_000, 20_000_000_000] {
            m.tick_to_intent.observe_ns(ns);
        }
        let mut s = String::new();
        m.render(&mut s);
        assert!(s.contains("aitrapp_feed_lag_seconds 1.5\n"), "{s}");
        for l in s.lines().filter(|l| !l.starts_with('#')) {
            let name = l.split(['{', ' ']).next().unwrap();
            assert!(
                !["_ms", "_us", "_ns"].iter().any(|u| name.ends_with(u)),
                "{name}"
            );
        }
        assert!(s.contains("aitrapp_realized_pnl_paise -2500\n"));
        assert!(s.contains("aitrapp_realized_pnl_net_paise -2600\n"));
        assert!(s.contains("aitrapp_orders_total{status=\"sent\"} 2\n"));
        assert!(!s.contains("aitrapp_orders_sent_total"));
        assert!(
            s.contains("aitrapp_signals_refused_by_reason_total{reason=\"portfolio_heat\"} 1\n")
        );
        // R10 steps from 250 ns to 10 s, the old 1-2.5-5 bounds among them.
        assert_eq!(BUCKETS_NS[0], 250);
        assert_eq!(BUCKETS_NS[BUCKETS - 1], 10_000_000_000);
        assert!(BUCKETS_NS.windows(2).all(|w| w[0] < w[1]));
        for old in [250, 500, 1_000, 2_500, 100_000, 250_000, 5_000_000_000] {
            assert!(BUCKETS_NS.contains(&old), "{old}");
        }
        assert!(BUCKETS_NS.contains(&315_000) && BUCKETS_NS.contains(&160_000));
        // Cumulative buckets: 100 ns <= 250 ns; 800 ns <= 1 us; 3 ms <= 5 ms; 20 s only +Inf.
        for line in [
            "aitrapp_tick_to_intent_seconds_bucket{le=\"0.00000025\"} 1",
            "aitrapp_tick_to_intent_seconds_bucket{le=\"0.00000063\"} 1",
            "aitrapp_tick_to_intent_seconds_bucket{le=\"0.0000008\"} 2",
            "aitrapp_tick_to_intent_seconds_bucket{le=\"0.000001\"} 2",
            "aitrapp_tick_to_intent_seconds_bucket{le=\"0.00315\"} 3",
            "aitrapp_tick_to_intent_seconds_bucket{le=\"0.005\"} 3",
            "aitrapp_tick_to_intent_seconds_bucket{le=\"10\"} 3",
            "aitrapp_tick_to_intent_seconds_bucket{le=\"+Inf\"} 4",
            "aitrapp_tick_to_intent_seconds_count 4",
        ] {
            assert!(s.contains(&format!("{line}\n")), "{line}\n{s}");
        }
        // Every series' family has HELP and TYPE.
        for name in s
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| l.split(['{', ' ']).next().unwrap())
        {
            let family = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|x| {
                    name.strip_suffix(x)
                        .filter(|f| s.contains(&format!("# TYPE {f} histogram")))
                })
                .unwrap_or(name);
            assert!(s.contains(&format!("# HELP {family} ")), "{family}");
            assert!(s.contains(&format!("# TYPE {family} ")), "{family}");
        }
    }
}
