//! The kill switch (`POST /flatten`) and closing one position (`POST
//! /positions/{instrument_token}/close`): the commands that take risk off, each answered
//! with what it did once the book shows it or the wait runs out.

use super::{reply_for, request, ControlApi, Reply};
use crate::domain::ControlCommand;
use crate::telemetry::snapshot;
use crate::telemetry::Metrics;
use serde_json::json;
use std::time::{Duration, Instant};

impl ControlApi {
    /// `POST /flatten`: cancel every working order, close every position, pause entries.
    pub(super) fn flatten(
        &mut self,
        url: &str,
        body: Option<serde_json::Value>,
        t0: Instant,
    ) -> Reply {
        let request = self.next_request;
        self.next_request += 1;
        while self.flatten_replies.try_recv().is_ok() {}
        // `?reason=` or `{"reason": ...}`: said in the log and the answer.
        let reason = body
            .as_ref()
            .and_then(|b| b.get("reason"))
            .and_then(|r| r.as_str())
            .map(str::to_string)
            .or_else(|| request::query_param(url, "reason"))
            .map(|r| request::clean_reason(&r))
            .filter(|r| !r.is_empty())
            .unwrap_or_else(|| "none given".to_string());
        log::warn!(target: "control", request = request, reason = reason.as_str();
            "KILL SWITCH: flatten requested (reason: {reason})");
        if let Err(r) = self.submit(ControlCommand::Flatten { request }) {
            return r;
        }
        let Some(report) = reply_for(&self.flatten_replies, Duration::from_secs(5), |r| {
            r.request == request
        }) else {
            return (
                504,
                json!({"error": "engine did not answer the flatten within 5 s; check the log and the broker"}),
            );
        };
        let acknowledged_ms = t0.elapsed().as_secs_f64() * 1000.0;
        // Flat means no position and no working order (cancels and closes answered).
        let flat = self.wait_for(Duration::from_secs(5), |b| {
            b.positions_count == 0 && working_orders(b) == 0
        });
        let elapsed_ms = t0.elapsed().as_secs_f64() * 1000.0;
        Metrics::add(&self.metrics.kill_switch_total, 1);
        self.metrics
            .flatten_duration
            .observe_ns(t0.elapsed().as_nanos() as u64);
        let nothing = report.orders_cancelled == 0
            && report.positions_closed == 0
            && report.orders_working == 0;
        let (remaining, working) = self
            .snapshot
            .read()
            .map(|b| (b.positions_count, working_orders(&b)))
            .unwrap_or((0, 0));
        let status = if nothing {
            "nothing to do"
        } else if flat.is_some() {
            "flat"
        } else {
            "closing"
        };
        log::warn!(target: "control", orders_cancelled = report.orders_cancelled, positions_closed = report.positions_closed,
            elapsed_ms = elapsed_ms; "KILL SWITCH done: {} position(s) closed, {} order(s) cancelled in {:.1} ms",
            report.positions_closed, report.orders_cancelled, elapsed_ms);
        crate::telemetry::alerts::raise(
            crate::telemetry::alerts::AlertKind::KillSwitch,
            format!(
                "Kill switch ({reason}): {status}; {} position(s) closed, {} order(s) cancelled in {:.0} ms, {remaining} position(s) left; entries paused",
                report.positions_closed, report.orders_cancelled, elapsed_ms
            ),
        );
        (
            200,
            json!({
                "status": status,
                "orders_cancelled": report.orders_cancelled,
                "positions_closed": report.positions_closed,
                "exposure_closed": report.exposure_closed.rupees(),
                "positions_remaining": remaining,
                "orders_working": working,
                "paused": true,
                "reason": reason,
                "acknowledged_ms": acknowledged_ms,
                "elapsed_ms": elapsed_ms,
            }),
        )
    }

    /// `POST /positions/{instrument_token}/close`: the operator closes one position at market
    /// (a spread's leg closes the whole spread); the exit's reason is MANUAL.
    pub(super) fn close_position(&mut self, token: u32, t0: Instant) -> Reply {
        let b = match self.read() {
            Ok(b) => b,
            Err(r) => return r,
        };
        let n = (b.positions_count as usize).min(b.positions.len());
        let Some(pos) = b.positions[..n].iter().find(|p| p.token == token) else {
            return (
                404,
                json!({"error": format!("no open position in instrument {token}"), "instrument_token": token}),
            );
        };
        let symbol = snapshot::symbol_str(&pos.symbol).to_string();
        log::warn!(target: "control", instrument_token = token, symbol = symbol.as_str(); "Manual close of {symbol} requested");
        if let Err(r) = self.submit(ControlCommand::ClosePosition {
            token: crate::domain::Token(token),
        }) {
            return r;
        }
        let gone = |b: &snapshot::SnapshotBody| {
            let n = (b.positions_count as usize).min(b.positions.len());
            !b.positions[..n].iter().any(|p| p.token == token)
        };
        let closed = self.wait_for(Duration::from_secs(5), gone).is_some();
        (
            200,
            json!({
                "status": if closed { "closed" } else { "closing" },
                "instrument_token": token,
                "tradingsymbol": symbol,
                "exit_reason": "MANUAL",
                "elapsed_ms": t0.elapsed().as_secs_f64() * 1000.0,
            }),
        )
    }
}

/// Orders in the snapshot not yet terminal.
pub(super) fn working_orders(b: &snapshot::SnapshotBody) -> u32 {
    let n = (b.orders_count as usize).min(b.orders.len());
    b.orders[..n]
        .iter()
        .filter(|o| crate::domain::OrderStatus::from_u8(o.status).is_some_and(|s| !s.is_terminal()))
        .count() as u32
}

/// The token of a `/positions/{token}/close` path.
pub(super) fn close_position_token(path: &str) -> Option<u32> {
    path.strip_prefix("/positions/")?
        .strip_suffix("/close")?
        .parse()
        .ok()
}
