//! The operator dashboard on `control.dashboard_port` (3000): one embedded HTML page (no CDN)
//! with the runbook's tiles, the KILL SWITCH, Pause and Resume, the equity curve and the
//! tables. The live views (/state /positions /orders /risk) come from the snapshot, so the
//! page keeps showing the book when the API thread is busy; everything else the page asks
//! for is relayed to the control API on loopback, so the buttons go through the API's own
//! key check (missing 401, wrong 403) and its log line, and there is one place that acts.

use crate::control::http::request;
use crate::control::server::{HttpServer, Method, Request, Response};
use crate::telemetry::snapshot::{self, SnapshotReader};
use serde_json::json;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

const PAGE: &str = include_str!("assets/dashboard.html");

/// What the page may ask the API for: the reads it needs and the three buttons. /mode and
/// the reloads stay API-only: a LIVE switch is not a button.
const RELAYED: [(&str, &str); 7] = [
    ("GET", "/health"),
    ("GET", "/ready"),
    ("GET", "/trades"),
    ("GET", "/alerts"),
    ("POST", "/pause"),
    ("POST", "/resume"),
    ("POST", "/flatten"),
];

/// A flatten waits up to 5 s for the engine's report and 5 s more for the book to go flat.
const API_TIMEOUT: Duration = Duration::from_secs(15);

pub struct Dashboard {
    pub snapshot: SnapshotReader,
    /// The control API's `host:port`, reachable from this machine.
    pub api: String,
    agent: ureq::Agent,
}

fn error(status: u16, text: String) -> (u16, &'static str, String) {
    (
        status,
        "application/json",
        json!({ "error": text }).to_string(),
    )
}

impl Dashboard {
    pub fn new(snapshot: SnapshotReader, api: String) -> Dashboard {
        Dashboard {
            snapshot,
            api,
            agent: crate::control::http_agent(API_TIMEOUT),
        }
    }

    /// The status, content type and body for one request; `key` is its X-API-Key, `body` its
    /// JSON body (already size-checked).
    pub fn answer(
        &self,
        method: &Method,
        url: &str,
        key: Option<&str>,
        body: Option<serde_json::Value>,
    ) -> (u16, &'static str, String) {
        let path = request::endpoint(url);
        let m = method.as_str();
        if (path.is_empty() || path == "/index.html") && *method == Method::Get {
            return (200, "text/html; charset=utf-8", PAGE.to_string());
        }
        if let Some(view) = snapshot::json_view(path) {
            if *method != Method::Get {
                return error(405, format!("{path} takes GET"));
            }
            return match self.snapshot.read() {
                Ok(b) => (200, "application/json", view(&b).to_string()),
                Err(e) => error(503, format!("state unavailable: {e}")),
            };
        }
        match RELAYED.iter().find(|(_, p)| *p == path) {
            Some((want, _)) if *want == m => self.relay(m, url, key, body),
            Some((want, _)) => error(405, format!("{path} takes {want}")),
            None if path.is_empty() => error(405, "the page takes GET".into()),
            None => error(404, format!("no such page: {path}")),
        }
    }

    /// Sends the request on to the API and hands back its answer as it came.
    fn relay(
        &self,
        method: &str,
        url: &str,
        key: Option<&str>,
        body: Option<serde_json::Value>,
    ) -> (u16, &'static str, String) {
        let target = format!("http://{}{url}", self.api);
        let answer = if method == "POST" {
            let mut r = self.agent.post(&target);
            if let Some(k) = key {
                r = r.header("X-API-Key", k);
            }
            let text = body.map(|b| b.to_string()).unwrap_or_default();
            r.header("Content-Type", "application/json").send(text)
        } else {
            self.agent.get(&target).call()
        };
        match answer {
            Ok(mut resp) => {
                let status = resp.status().as_u16();
                match resp.body_mut().read_to_string() {
                    Ok(text) => (status, "application/json", text),
                    Err(e) => error(502, format!("the control API's answer was unreadable: {e}")),
                }
            }
            Err(e) => error(
                502,
                format!("the control API at {} did not answer: {e}", self.api),
            ),
        }
    }

    fn handle(&self, req: Request) {
        let key = req.header("X-API-Key").map(str::to_string);
        let reply = match *req.method() {
            Method::Post => match request::json_body(&req) {
                Ok(body) => self.answer(req.method(), req.url(), key.as_deref(), body),
                Err((status, body)) => (status, "application/json", body.to_string()),
            },
            _ => self.answer(req.method(), req.url(), key.as_deref(), None),
        };
        let (status, kind, body) = reply;
        req.respond(Response::new(status, kind, body));
    }

    /// Serves until `stop` is set.
    pub fn serve(self, server: HttpServer, stop: Arc<AtomicBool>) {
        crate::control::server::yield_to_hot_threads();
        while !stop.load(Ordering::Relaxed) {
            if let Some(req) = server.recv_timeout(Duration::from_millis(100)) {
                self.handle(req);
            }
        }
    }
}
