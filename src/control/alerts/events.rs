//! Which hot events are operator alerts, and their one line. The logger thread, which sees
//! every hot event after the hot threads have moved on, raises these; alerts that happen
//! off the hot path (the kill switch, a stale feed, a refused token at REST, drift at
//! reconciliation) are raised where they happen.

use crate::control::logging::sym as symbol;
use crate::domain::{format_rupees, InstrumentMaster, OrderPurpose};
use crate::telemetry::alerts::AlertKind;
use crate::telemetry::hot_log::HotEvent;

/// The alert a hot event makes, if it makes one.
pub fn alert_of(master: &InstrumentMaster, ev: &HotEvent) -> Option<(AlertKind, String)> {
    match *ev {
        HotEvent::OrderFilled {
            token,
            side,
            qty,
            price,
            purpose: OrderPurpose::Entry,
            strategy,
            ..
        } => {
            let (s, d) = symbol(master, token);
            Some((
                AlertKind::PositionOpened,
                format!(
                    "Position opened: {} {} {s} @ {} ({})",
                    side.as_str(),
                    qty.0,
                    format_rupees(price.0, d),
                    strategy.as_str()
                ),
            ))
        }
        HotEvent::PositionClosed {
            token,
            qty,
            pnl,
            charges,
            purpose,
            ..
        } => {
            let (s, _) = symbol(master, token);
            let kind = match purpose {
                OrderPurpose::StopLoss | OrderPurpose::TrailingStop => AlertKind::StopHit,
                _ => AlertKind::PositionClosed,
            };
            Some((
                kind,
                format!(
                    "Position closed {s} x{} ({}): P&L {} gross, {} net",
                    qty.0,
                    purpose.as_str(),
                    format_rupees(pnl.0, 100),
                    format_rupees(pnl.0 - charges.0, 100)
                ),
            ))
        }
        HotEvent::DailyLossStop { pnl } => Some((
            AlertKind::DailyLossStop,
            format!(
                "Daily loss limit hit (P&L {}): flattening and halting new entries",
                format_rupees(pnl.0, 100)
            ),
        )),
        HotEvent::OrderRejected { token, reason, .. } => {
            let (s, _) = symbol(master, token);
            Some((
                AlertKind::OrderRejected,
                format!("Order rejected for {s}: {}", reason.as_str()),
            ))
        }
        HotEvent::ExitRejected {
            token,
            purpose,
            attempt,
            retry_in_s,
            ..
        } => {
            let (s, _) = symbol(master, token);
            Some((
                AlertKind::OrderRejected,
                format!("Exit of {s} ({}) rejected (attempt {attempt}); retrying in {retry_in_s} s", purpose.as_str()),
            ))
        }
        HotEvent::WsGaveUp { conn, attempts } => Some((
            AlertKind::FeedDown,
            format!("Ticker connection {conn} gave up after {attempts} reconnect attempts: market feed lost, new entries halted"),
        )),
        HotEvent::WsTokenRefused { conn } => Some((
            AlertKind::TokenExpired,
            format!("Kite refused the access token on ticker connection {conn}: new entries halted; run `aitrapp login`"),
        )),
        _ => None,
    }
}
