//! `POST /mode`: where orders go, PAPER or LIVE, switched only while flat. LIVE takes the
//! typed confirmation and the same checks as a LIVE start (the Kite feed, credentials, the
//! session, a journal, the holiday file, Kite's book); risk has the last word on flatness
//! and journals the switch.

use super::*;
pub(super) use crate::domain::mode_name;
use crate::domain::{ModeOutcome, ModeReport};

/// The confirmation a switch to LIVE must carry, as `aitrapp run --confirm-live` asks for.
pub const LIVE_CONFIRMATION: &str = "CONFIRM LIVE TRADING";

/// Readies the Kite order path for a switch to LIVE: every check a LIVE start makes, then the
/// router left where the order stage takes it. Ok: what it checked, for the answer; Err:
/// why LIVE is refused.
pub type LiveSwitch = Arc<dyn Fn() -> Result<String, String> + Send + Sync>;

impl ControlApi {
    /// Risk's answers to /mode, and how a switch to LIVE gets its Kite path (None: this
    /// session cannot trade LIVE, and the refusal says why).
    pub fn with_mode_switch(
        mut self,
        replies: Receiver<ModeReport>,
        live: Option<LiveSwitch>,
    ) -> Self {
        self.mode_replies = Some(replies);
        self.live_switch = live;
        self
    }

    /// Where orders go now, as the order stage reports it.
    pub(super) fn routes_live(&self) -> bool {
        Metrics::get(&self.metrics.orders_route_live) == 1
    }

    pub(super) fn switch_mode(&mut self, body: Option<serde_json::Value>) -> Reply {
        let body = body.unwrap_or_default();
        let live = match body.get("mode").and_then(|m| m.as_str()) {
            Some(m) if m.eq_ignore_ascii_case("LIVE") => true,
            Some(m) if m.eq_ignore_ascii_case("PAPER") => false,
            _ => {
                return (
                    400,
                    json!({"error": "the body needs \"mode\": \"PAPER\" or \"LIVE\""}),
                )
            }
        };
        let was = self.routes_live();
        if live == was {
            return (200, json!({"mode": mode_name(live), "changed": false}));
        }
        if live && body.get("confirmation").and_then(|c| c.as_str()) != Some(LIVE_CONFIRMATION) {
            return (
                400,
                json!({"error": format!("switching to LIVE trades real money: the body needs \"confirmation\": \"{LIVE_CONFIRMATION}\", typed exactly")}),
            );
        }
        let b = match self.read() {
            Ok(b) => b,
            Err(r) => return r,
        };
        let working = working_orders(&b);
        if b.positions_count > 0 || working > 0 {
            return not_flat(b.positions_count, working, was);
        }
        let checked = if live {
            let Some(prepare) = self.live_switch.clone() else {
                return (
                    409,
                    json!({"error": format!("LIVE trades on the Kite feed and this session's feed is {}: start with feed.source auto or kite and KITE_API_KEY, KITE_ACCESS_TOKEN in .env", self.feed), "mode": mode_name(was)}),
                );
            };
            log::warn!(target: "control", "Switch to LIVE requested: running the LIVE start checks");
            match prepare() {
                Ok(what) => what,
                Err(why) => {
                    log::error!(target: "control", reason = why.as_str(); "Switch to LIVE refused: {why}");
                    return (
                        409,
                        json!({"error": format!("LIVE refused: {why}"), "mode": mode_name(was)}),
                    );
                }
            }
        } else {
            String::new()
        };
        let request = self.next_request;
        self.next_request += 1;
        let Some(replies) = self.mode_replies.clone() else {
            return (503, json!({"error": "this session takes no mode switch"}));
        };
        while replies.try_recv().is_ok() {}
        if let Err(r) = self.submit(ControlCommand::SetMode { request, live }) {
            return r;
        }
        let Some(report) = reply_for(&replies, Duration::from_secs(5), |r| r.request == request)
        else {
            return (
                504,
                json!({"error": "engine did not answer the mode switch within 5 s; check the log"}),
            );
        };
        match report.outcome {
            ModeOutcome::NotFlat { positions, orders } => not_flat(positions, orders, was),
            ModeOutcome::Unchanged => (200, json!({"mode": mode_name(live), "changed": false})),
            ModeOutcome::Switched => {
                // The order stage swaps brokers when the switch reaches it down the ring.
                let deadline = Instant::now() + Duration::from_secs(5);
                while self.routes_live() != live && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(2));
                }
                if self.routes_live() != live {
                    log::error!(target: "control", "Mode switch journaled but the order stage still routes to {}", mode_name(!live));
                    return (
                        500,
                        json!({"error": format!("risk switched to {} but the order stage still routes to {}: pause and check the log", mode_name(live), mode_name(!live))}),
                    );
                }
                let mut answer = json!({"mode": mode_name(live), "changed": true, "was": mode_name(was), "journaled": Metrics::get(&self.metrics.journal_enabled) == 1});
                if !checked.is_empty() {
                    answer["checked"] = json!(checked);
                }
                (200, answer)
            }
        }
    }
}

fn not_flat(positions: u32, orders: u32, was: bool) -> Reply {
    (
        409,
        json!({"error": format!("the mode switches only while flat: {positions} position(s) open, {orders} order(s) working; POST /flatten first"),
            "positions_open": positions, "orders_working": orders, "mode": mode_name(was)}),
    )
}
