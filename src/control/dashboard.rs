//! The read-only operator dashboard on `control.dashboard_port` (3000): one embedded HTML page
//! that polls the same JSON views as the API (/state /positions /orders /risk), served
//! same-origin from the snapshot. It has no mutating endpoints: commands go to the API port,
//! where the API key applies.

use crate::telemetry::snapshot::{self, SnapshotReader};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tiny_http::{Header, Method, Response, Server};

const PAGE: &str = include_str!("assets/dashboard.html");

pub struct Dashboard {
    pub snapshot: SnapshotReader,
}

fn header(v: &str) -> Header {
    Header::from_bytes("Content-Type", v).unwrap_or_else(|_| unreachable!())
}

impl Dashboard {
    /// The status and body for one request.
    pub fn answer(&self, method: &Method, url: &str) -> (u16, &'static str, String) {
        let path = url.split('?').next().unwrap_or("").trim_end_matches('/');
        if *method != Method::Get {
            let body =
                serde_json::json!({"error": "the dashboard is read-only; POST to the API port"});
            return (405, "application/json", body.to_string());
        }
        if path.is_empty() || path == "/index.html" {
            return (200, "text/html; charset=utf-8", PAGE.to_string());
        }
        let Some(view) = snapshot::json_view(path) else {
            let body = serde_json::json!({"error": format!("no such page: {path}")});
            return (404, "application/json", body.to_string());
        };
        match self.snapshot.read() {
            Ok(b) => (200, "application/json", view(&b).to_string()),
            Err(e) => {
                let body = serde_json::json!({"error": format!("state unavailable: {e}")});
                (503, "application/json", body.to_string())
            }
        }
    }

    /// Serves until `stop` is set.
    pub fn serve(self, server: Server, stop: Arc<AtomicBool>) {
        while !stop.load(Ordering::Relaxed) {
            match server.recv_timeout(Duration::from_millis(100)) {
                Ok(Some(req)) => {
                    let (status, kind, body) = self.answer(req.method(), req.url());
                    let _ = req.respond(
                        Response::from_string(body)
                            .with_status_code(status)
                            .with_header(header(kind)),
                    );
                }
                Ok(None) => {}
                Err(e) => {
                    log::error!(target: "control", "Dashboard accept failed: {e}");
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        }
    }
}
