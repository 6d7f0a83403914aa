//! What a finished run hands back and says last: trades, P&L gross and net of charges,
//! open positions, ticks and the order stage's latency.

use super::*;

/// What a finished run hands back (tests and the CLI's closing summary use it).
#[derive(Debug)]
pub struct SessionReport {
    pub end: FeedEnd,
    pub trades: Vec<TradeRecord>,
    pub open_positions: usize,
    pub orders: usize,
    pub realized: Paise,
    /// Charges of every fill of the run (closed trades and open positions' fills).
    pub charges: Paise,
    pub ticks: u64,
    pub malformed_frames: u64,
    pub latency_p50_ns: u64,
    pub latency_p99_ns: u64,
    pub latency_samples: u64,
}

impl SessionReport {
    pub(super) fn of(end: FeedEnd, stages: &Stages, metrics: &Metrics) -> SessionReport {
        SessionReport {
            end,
            trades: stages.risk.trades().to_vec(),
            open_positions: stages.risk.open_positions(),
            orders: stages.risk.oms().len(),
            realized: stages.risk.realized(),
            charges: Paise(
                stages
                    .risk
                    .trades()
                    .iter()
                    .map(|t| t.charges.total().0)
                    .sum::<i64>()
                    + stages.risk.open_trip_charges().0,
            ),
            ticks: Metrics::get(&metrics.feed_ticks_total),
            malformed_frames: Metrics::get(&metrics.feed_malformed_frames_total),
            latency_p50_ns: stages.order.latency().value_at_quantile(0.5),
            latency_p99_ns: stages.order.latency().value_at_quantile(0.99),
            latency_samples: stages.order.latency().len(),
        }
    }

    /// The closing `Session summary` line.
    pub(super) fn log_summary(&self) {
        let report = self;
        let wins = report.trades.iter().filter(|t| t.net_pnl().0 > 0).count();
        let net = Paise(report.realized.0 - report.charges.0);
        log::info!(target: "app", trades = report.trades.len(), wins = wins, realized_pnl = format_rupees(report.realized.0, 100).as_str(),
        charges = format_rupees(report.charges.0, 100).as_str(), realized_pnl_net = format_rupees(net.0, 100).as_str(),
        open_positions = report.open_positions, ticks = report.ticks;
        "Session summary: {} trades ({} winners after charges), realized P&L {} gross, {} net of {} charges, {} open position(s), {} ticks",
        report.trades.len(), wins, format_rupees(report.realized.0, 100), format_rupees(net.0, 100),
        format_rupees(report.charges.0, 100), report.open_positions, report.ticks);
    }
}
