//! Kite's REST API with its envelopes (`{"status":"success","data":..}` /
//! `{"status":"error","message":..,"error_type":..}`), and the `/__sim/...` fault endpoints:
//!
//! - `POST /__sim/drop_ws`: drop every ticker socket (no close frame)
//! - `POST /__sim/stall_ws?ms=N`: send nothing, heartbeats included, for N ms
//! - `POST /__sim/expire_token`: the access token stops working (403 TokenException)
//! - `POST /__sim/rest_5xx?n=N`: the next N API calls answer 503 NetworkException
//! - `POST /__sim/bad_frame?n=N`: the next N ticker frames are malformed
//! - `POST /__sim/place_5xx?n=N`: the next N placements answer 503 and place nothing
//! - `POST /__sim/order_429?n=N`: the next N order calls (place, modify, cancel) answer 429
//! - `POST /__sim/lose_order_ack?n=N&delay_ms=D`: the next N placements succeed but answer
//!   only after D ms (default 10 s), past the client's timeout
//! - `POST /__sim/time_out?n=N&delay_ms=D`: the next N API calls (any endpoint) answer only
//!   after D ms (default 10 s): the client times out
//! - `POST /__sim/shift_price?bps=N`: every price from now on moved N basis points (-5000..5000)
//! - `GET /__sim/stats`: counters (ticker connections so far)

use crate::faults::Faults;
use crate::market::SimMarket;
use crate::{Credentials, OBSERVER_HEADER};

mod market_data;
use aitrapp::exec::kite::checksum::{checksums_match, session_checksum};
use aitrapp::exec::kite::{EndpointClass, RateLimiter, RateLimits};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;
use tiny_http::{Header, Method, Request, Response, Server};

pub fn spawn(
    addr: SocketAddr,
    creds: Credentials,
    market: Arc<SimMarket>,
    faults: Arc<Faults>,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<(SocketAddr, JoinHandle<()>)> {
    let server = Server::http(addr).map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?;
    let local = server
        .server_addr()
        .to_ip()
        .ok_or_else(|| anyhow::anyhow!("REST server has no IP address"))?;
    let api = Api {
        creds,
        market,
        faults,
        // Kite's own windows, exactly: the client's jitter margin is the client's business.
        limits: RateLimiter::new(RateLimits {
            margin_ms: 0,
            ..RateLimits::default()
        }),
    };
    let h = std::thread::Builder::new()
        .name("kite-sim-rest".into())
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                if let Ok(Some(req)) = server.recv_timeout(Duration::from_millis(20)) {
                    api.handle(req);
                }
            }
        })?;
    Ok((local, h))
}

struct Api {
    creds: Credentials,
    market: Arc<SimMarket>,
    faults: Arc<Faults>,
    /// Kite's own limits, enforced with 429 like Kite.
    limits: RateLimiter,
}

/// A reply: HTTP status, body, content type.
struct Reply(u16, String, &'static str);

fn accepts_gzip(req: &Request) -> bool {
    req.headers().iter().any(|h| {
        h.field.equiv("Accept-Encoding") && h.value.as_str().to_ascii_lowercase().contains("gzip")
    })
}

fn gzipped(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(bytes).expect("gzip into memory");
    gz.finish().expect("gzip into memory")
}

fn ok(data: Value) -> Reply {
    Reply(
        200,
        json!({"status": "success", "data": data}).to_string(),
        "application/json",
    )
}

/// Kite's answer past its rate limits.
fn too_many_requests() -> Reply {
    err(429, "NetworkException", "Too many requests")
}

fn err(status: u16, error_type: &str, message: &str) -> Reply {
    Reply(
        status,
        json!({"status": "error", "message": message, "error_type": error_type, "data": null})
            .to_string(),
        "application/json",
    )
}

/// Form or query string pairs, percent-decoded.
pub fn parse_form(s: &str) -> Vec<(String, String)> {
    s.split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn rupees(units: i64, divisor: i64) -> f64 {
    units as f64 / divisor as f64
}

impl Api {
    fn authorized(&self, req: &Request) -> Result<(), Reply> {
        let want = format!("token {}:{}", self.creds.api_key, self.creds.access_token);
        let got = req
            .headers()
            .iter()
            .find(|h| h.field.equiv("Authorization"))
            .map(|h| h.value.as_str().to_string());
        if got.as_deref() != Some(want.as_str()) {
            return Err(err(
                403,
                "TokenException",
                "Incorrect `api_key` or `access_token`.",
            ));
        }
        if self.faults.token_expired.load(Ordering::Relaxed) {
            return Err(err(
                403,
                "TokenException",
                "Token is invalid or has expired.",
            ));
        }
        Ok(())
    }

    fn handle(&self, mut req: Request) {
        let mut body = String::new();
        let _ = req.as_reader().read_to_string(&mut body);
        let url = req.url().to_string();
        let (path, query) = url.split_once('?').unwrap_or((url.as_str(), ""));
        let reply = self.route(&req, req.method().clone(), path, query, &body);
        let Reply(status, text, ctype) = reply;
        let gzip = ctype == "text/csv" && accepts_gzip(&req);
        let mut resp = if gzip {
            // Kite sends its instrument dumps compressed.
            Response::from_data(gzipped(text.as_bytes()))
                .with_header(Header::from_bytes("Content-Encoding", "gzip").expect("header"))
        } else {
            Response::from_data(text.into_bytes())
        }
        .with_status_code(status);
        if let Ok(h) = Header::from_bytes("Content-Type", ctype) {
            resp = resp.with_header(h);
        }
        let lost = status == 200
            && req.method() == &Method::Post
            && path.starts_with("/orders/")
            && self.faults.lose_order_acks.take();
        let slow = !lost && !path.starts_with("/__sim/") && self.faults.slow_rest.take();
        if lost || slow {
            // Done, but the answer arrives after the client gave up.
            let delay_ms = if lost {
                &self.faults.ack_delay_ms
            } else {
                &self.faults.slow_rest_ms
            };
            let delay = Duration::from_millis(delay_ms.load(Ordering::Relaxed).max(1));
            std::thread::spawn(move || {
                std::thread::sleep(delay);
                let _ = req.respond(resp);
            });
            return;
        }
        let _ = req.respond(resp);
    }

    /// 429 when a request breaks Kite's limits, as Kite answers.
    fn rate_check(&self, class: EndpointClass) -> Result<(), Reply> {
        if class == EndpointClass::Order && self.faults.order_429.take() {
            return Err(too_many_requests());
        }
        let day = aitrapp::clock::today_ist().0;
        match self
            .limits
            .try_acquire_at(class, std::time::Instant::now(), day)
        {
            Ok(()) => Ok(()),
            Err(_) => {
                self.faults.rate_limited.fetch_add(1, Ordering::SeqCst);
                Err(too_many_requests())
            }
        }
    }

    fn route(&self, req: &Request, method: Method, path: &str, query: &str, body: &str) -> Reply {
        if let Some(fault) = path.strip_prefix("/__sim/") {
            return self.fault(method, fault, &parse_form(query));
        }
        if method == Method::Post && path == "/session/token" {
            return self.session_token(&parse_form(body));
        }
        if self.faults.rest_5xx.take() {
            return err(
                503,
                "NetworkException",
                "Simulated: the OMS is unreachable.",
            );
        }
        if let Err(r) = self.authorized(req) {
            return r;
        }
        let class = match (&method, path) {
            (Method::Post | Method::Put | Method::Delete, p) if p.starts_with("/orders/") => {
                EndpointClass::Order
            }
            (_, p) if p.starts_with("/quote") => EndpointClass::Quote,
            (_, p) if p.starts_with("/instruments/historical") => EndpointClass::Historical,
            _ => EndpointClass::Other,
        };
        // A test looking at the book is not part of the client under test: its reads do not
        // spend the client's rate budget.
        let observer =
            method == Method::Get && req.headers().iter().any(|h| h.field.equiv(OBSERVER_HEADER));
        if !observer {
            if let Err(r) = self.rate_check(class) {
                return r;
            }
        }
        let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
        match (&method, segs.as_slice()) {
            (Method::Post, ["orders", "regular"]) => return self.place(&parse_form(body)),
            (Method::Delete, ["orders", "regular", id]) => {
                return self.change_order(id, |ex| ex.cancel(id))
            }
            (Method::Put, ["orders", "regular", id]) => {
                return self.change_order(id, |ex| ex.modify(id, &parse_form(body)))
            }
            (Method::Get, ["orders", id, "trades"]) => {
                return self.with_exchange(|ex| {
                    ok(Value::Array(
                        ex.trades
                            .iter()
                            .filter(|t| t["order_id"] == *id)
                            .cloned()
                            .collect(),
                    ))
                })
            }
            (Method::Get, ["portfolio", "holdings"]) => return ok(json!([])),
            (Method::Get, ["user", "margins"]) => {
                return self.with_exchange(|ex| {
                    let cash = ex.margin_available;
                    let used = ex.margin_used();
                    ok(json!({"equity": {"enabled": true, "net": cash - used,
                        "available": {"adhoc_margin": 0, "cash": cash, "opening_balance": cash,
                                      "live_balance": cash - used, "collateral": 0, "intraday_payin": 0},
                        "utilised": {"debits": used, "exposure": 0, "m2m_realised": 0, "m2m_unrealised": 0,
                                     "option_premium": 0, "payout": 0, "span": used, "holding_sales": 0,
                                     "turnover": 0, "liquid_collateral": 0, "stock_collateral": 0, "delivery": 0}},
                        "commodity": {"enabled": false, "net": 0}}))
                })
            }
            (Method::Get, ["quote"]) => return self.quote(&parse_form(query)),
            (Method::Get, ["instruments", "historical", token, interval]) => {
                return self.historical(token, interval, &parse_form(query))
            }
            (Method::Post, ["orders", other]) => {
                return err(
                    400,
                    "InputException",
                    &format!("Variety `{other}` is not supported by kite-sim"),
                )
            }
            (Method::Get, ["orders"]) => {
                return self.with_exchange(|ex| {
                    ok(Value::Array(
                        ex.orders.iter().map(|o| o.to_json()).collect(),
                    ))
                })
            }
            (Method::Get, ["orders", id]) => {
                return self.with_exchange(|ex| {
                    match ex.orders.iter().find(|o| o.order_id == *id) {
                        Some(o) => ok(Value::Array(o.history.clone())),
                        None => err(400, "InputException", &format!("Order {id} not found")),
                    }
                })
            }
            (Method::Get, ["trades"]) => {
                return self.with_exchange(|ex| ok(Value::Array(ex.trades.clone())))
            }
            (Method::Get, ["portfolio", "positions"]) => {
                let m = &self.market;
                return self.with_exchange(|ex| {
                    ok(ex.positions_json(|t| {
                        m.last_tick(aitrapp::domain::Token(t))
                            .map(|t| t.last_price as i64)
                    }))
                });
            }
            _ => {}
        }
        match (method, path) {
            (Method::Get, "/user/profile") => ok(json!({
                "user_id": "SIM001", "user_name": "Kite Sim", "user_shortname": "Sim",
                "user_type": "individual", "email": "sim@example.invalid", "broker": "ZERODHA",
                "exchanges": ["NSE", "NFO", "BSE"], "products": ["CNC", "NRML", "MIS"],
                "order_types": ["MARKET", "LIMIT", "SL", "SL-M"], "avatar_url": null,
                "meta": {"demat_consent": "physical"}
            })),
            (Method::Get, "/instruments")
            | (Method::Get, "/instruments/NSE")
            | (Method::Get, "/instruments/NFO") => {
                Reply(200, self.market.instruments_csv.clone(), "text/csv")
            }
            (Method::Get, "/quote/ltp") => self.ltp(&parse_form(query)),
            (_, p) => err(404, "GeneralException", &format!("Route not found: {p}")),
        }
    }

    /// Cancel or modify: push the order's update and answer `{order_id}`, or a 400.
    fn change_order(
        &self,
        id: &str,
        f: impl FnOnce(&mut crate::exchange::Exchange) -> Result<Value, String>,
    ) -> Reply {
        let r = self.market.exchange.lock().map(|mut ex| f(&mut ex));
        match r {
            Ok(Ok(update)) => {
                self.market.push_order_updates(vec![update]);
                ok(json!({"order_id": id}))
            }
            Ok(Err(msg)) => err(400, "InputException", &msg),
            Err(_) => err(500, "GeneralException", "exchange lock poisoned"),
        }
    }

    fn with_exchange(&self, f: impl FnOnce(&crate::exchange::Exchange) -> Reply) -> Reply {
        match self.market.exchange.lock() {
            Ok(ex) => f(&ex),
            Err(_) => err(500, "GeneralException", "exchange lock poisoned"),
        }
    }

    fn place(&self, form: &[(String, String)]) -> Reply {
        self.faults.place_attempts.fetch_add(1, Ordering::SeqCst);
        if self.faults.place_5xx.take() {
            return err(
                503,
                "NetworkException",
                "Simulated: the OMS did not take the order.",
            );
        }
        let m = &self.market;
        let placed = match m.exchange.lock() {
            Ok(mut ex) => ex.place(form, |inst| m.last_tick(inst.token)),
            Err(_) => return err(500, "GeneralException", "exchange lock poisoned"),
        };
        match placed {
            Ok((order_id, updates)) => {
                self.faults.orders_placed.fetch_add(1, Ordering::SeqCst);
                m.push_order_updates(updates);
                ok(json!({"order_id": order_id}))
            }
            Err(e) => err(400, "InputException", &e.0),
        }
    }

    fn session_token(&self, form: &[(String, String)]) -> Reply {
        let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        let (Some(key), Some(rt), Some(sum)) =
            (get("api_key"), get("request_token"), get("checksum"))
        else {
            return err(
                400,
                "InputException",
                "Missing api_key, request_token or checksum",
            );
        };
        let want = session_checksum(key, rt, &self.creds.api_secret);
        if key != self.creds.api_key || !checksums_match(&want, sum) {
            return err(403, "TokenException", "Invalid `checksum`.");
        }
        self.faults.token_expired.store(false, Ordering::SeqCst);
        ok(json!({
            "user_id": "SIM001", "user_name": "Kite Sim", "api_key": key,
            "access_token": self.creds.access_token, "public_token": "sim_public",
            "refresh_token": "", "login_time": "2026-11-25 08:00:00",
        }))
    }

    fn fault(&self, method: Method, name: &str, q: &[(String, String)]) -> Reply {
        let num = |k: &str, default: u64| {
            q.iter()
                .find(|(n, _)| n == k)
                .and_then(|(_, v)| v.parse().ok())
                .unwrap_or(default)
        };
        let f = &self.faults;
        match (method, name) {
            (Method::Post, "drop_ws") => f.drop_ws(),
            (Method::Post, "stall_ws") => f.stall_ws(num("ms", 10_000)),
            (Method::Post, "expire_token") => f.expire_token(),
            (Method::Post, "rest_5xx") => f.rest_5xx.arm(num("n", 1) as u32),
            (Method::Post, "bad_frame") => f.ws_bad_frames.arm(num("n", 1) as u32),
            (Method::Post, "place_5xx") => f.place_5xx.arm(num("n", 1) as u32),
            (Method::Post, "order_429") => f.order_429.arm(num("n", 1) as u32),
            (Method::Post, "lose_order_ack") => {
                f.ack_delay_ms
                    .store(num("delay_ms", 10_000), Ordering::SeqCst);
                f.lose_order_acks.arm(num("n", 1) as u32)
            }
            (Method::Post, "shift_price") => {
                let bps = q
                    .iter()
                    .find(|(n, _)| n == "bps")
                    .and_then(|(_, v)| v.parse::<i64>().ok())
                    .unwrap_or(0)
                    .clamp(-5_000, 5_000);
                self.market.price_shift_bps.store(bps, Ordering::SeqCst)
            }
            (Method::Post, "time_out") => {
                f.slow_rest_ms
                    .store(num("delay_ms", 10_000), Ordering::SeqCst);
                f.slow_rest.arm(num("n", 1) as u32)
            }
            (Method::Get, "stats") => {
                return ok(json!({
                    "ws_connections": f.ws_connections.load(Ordering::SeqCst),
                    "rate_limited": f.rate_limited.load(Ordering::SeqCst),
                    "orders_placed": f.orders_placed.load(Ordering::SeqCst),
                }))
            }
            _ => return err(404, "GeneralException", &format!("no fault `{name}`")),
        }
        ok(json!({"fault": name}))
    }
}
