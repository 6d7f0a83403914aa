//! The Kite REST client, for io worker threads only (never a pipeline thread): keep-alive
//! connections (ureq over rustls with the ring provider), `X-Kite-Version: 3` and
//! `Authorization: token api_key:access_token` on every call, every call through the one
//! shared rate limiter, every answer through `parse_envelope` into data or a typed error.

use super::envelope::{excerpt, parse_envelope, KiteError};
use super::rate_limit::{EndpointClass, RateLimiter};
use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Where and how to reach Kite. `access_token` is never logged or shown by `Debug`.
#[derive(Clone)]
pub struct RestConfig {
    /// `https://api.kite.trade`, or `http://127.0.0.1:PORT` for kite-sim.
    pub api_root: String,
    pub api_key: String,
    pub access_token: String,
    /// Whole-request timeout; an order whose answer does not come in time is looked up by tag.
    pub timeout: Duration,
    /// PEM certificates to trust instead of the public roots (kite-sim --tls).
    pub ca_pem: Option<Vec<u8>>,
}

impl std::fmt::Debug for RestConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RestConfig")
            .field("api_root", &self.api_root)
            .field("access_token", &"<redacted>")
            .finish()
    }
}

pub use crate::domain::KiteOrder;

/// A modification of an open order; None fields stay as they are.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ModifyOrder {
    pub quantity: Option<i64>,
    pub order_type: Option<&'static str>,
    pub price: Option<String>,
    pub trigger_price: Option<String>,
}

/// A place-order request (regular variety).
#[derive(Clone, Debug, PartialEq)]
pub struct PlaceOrder {
    pub exchange: String,
    pub tradingsymbol: String,
    pub transaction_type: &'static str,
    pub order_type: &'static str,
    pub quantity: i64,
    pub product: String,
    /// Rupees, formatted by the caller on the tick grid; None for MARKET.
    pub price: Option<String>,
    /// SL and SL-M only.
    pub trigger_price: Option<String>,
    /// DAY or IOC.
    pub validity: &'static str,
    /// MARKET and SL-M only: -1 automatic, or a percentage. Since 1 April 2026 Kite rejects
    /// API MARKET and SL-M orders sent without it (or with 0).
    pub market_protection: Option<f64>,
    pub tag: String,
    /// `execution.exchange_algo_id`, when configured.
    pub algo_id: Option<String>,
}

/// A trade (fill) from `/trades` or `/orders/{id}/trades`.
#[derive(Clone, Debug, PartialEq)]
pub struct KiteTrade {
    pub trade_id: String,
    pub order_id: String,
    pub instrument_token: u32,
    pub transaction_type: String,
    pub quantity: i64,
    pub average_price: f64,
}

impl KiteTrade {
    pub fn from_json(v: &Value) -> Option<KiteTrade> {
        let text = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        Some(KiteTrade {
            trade_id: text("trade_id")?,
            order_id: text("order_id")?,
            instrument_token: v.get("instrument_token")?.as_f64()? as u32,
            transaction_type: text("transaction_type")?,
            quantity: v.get("quantity")?.as_f64()? as i64,
            average_price: v.get("average_price")?.as_f64()?,
        })
    }
}

/// One historical candle: `[timestamp, open, high, low, close, volume(, oi)]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Candle {
    /// As Kite sends it: `yyyy-mm-ddThh:mm:ss+0530`.
    pub ts: String,
    pub open: f64,
    pub high: f64,
    pub low: f64,
    pub close: f64,
    pub volume: u64,
    pub oi: Option<u64>,
}

impl Candle {
    pub fn from_json(v: &Value) -> Option<Candle> {
        let a = v.as_array()?;
        let f = |i: usize| a.get(i).and_then(Value::as_f64);
        Some(Candle {
            ts: a.first()?.as_str()?.to_string(),
            open: f(1)?,
            high: f(2)?,
            low: f(3)?,
            close: f(4)?,
            volume: f(5)? as u64,
            oi: f(6).map(|x| x as u64),
        })
    }
}

/// The equity segment of `/user/margins`, the figures risk checks use.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EquityMargin {
    pub net: f64,
    pub available_cash: f64,
    pub live_balance: f64,
}

fn list<T>(data: &Value, parse: impl Fn(&Value) -> Option<T>) -> Vec<T> {
    data.as_array()
        .map(|a| a.iter().filter_map(&parse).collect())
        .unwrap_or_default()
}

pub struct KiteRest {
    cfg: RestConfig,
    agent: ureq::Agent,
    auth: String,
    limiter: Arc<RateLimiter>,
}

impl KiteRest {
    pub fn new(cfg: RestConfig, limiter: Arc<RateLimiter>) -> Result<KiteRest, String> {
        use ureq::tls::{Certificate, RootCerts, TlsConfig};
        let mut tls = TlsConfig::builder();
        if let Some(pem) = &cfg.ca_pem {
            let certs: Vec<Certificate<'static>> = ureq::tls::parse_pem(pem)
                .filter_map(|item| match item {
                    Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
                    _ => None,
                })
                .collect();
            if certs.is_empty() {
                return Err("kite.ca_file holds no PEM certificate".into());
            }
            tls = tls.root_certs(RootCerts::Specific(Arc::new(certs)));
        }
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(cfg.timeout))
            .http_status_as_error(false)
            .tls_config(tls.build())
            .max_idle_connections_per_host(8)
            .build()
            .into();
        let auth = format!("token {}:{}", cfg.api_key, cfg.access_token);
        Ok(KiteRest {
            cfg,
            agent,
            auth,
            limiter,
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.cfg.api_root.trim_end_matches('/'))
    }

    /// Waits for the rate limiter (up to the request timeout), sends, and reads the whole
    /// answer: (HTTP status, whether the body is CSV, body). The grant is held until the
    /// answer is read, so the limiter counts the request from then.
    fn send(
        &self,
        class: EndpointClass,
        method: &str,
        path: &str,
        form: &[(&str, String)],
    ) -> Result<(u16, bool, Vec<u8>), KiteError> {
        let _in_flight = self
            .limiter
            .acquire(class, Instant::now() + self.cfg.timeout)
            .map_err(|r| KiteError::LocalRateLimit {
                reason: r.to_string(),
            })?;
        let url = self.url(path);
        let result = match method {
            "GET" => self.with_headers(self.agent.get(&url)).call(),
            "DELETE" => self.with_headers(self.agent.delete(&url)).call(),
            "PUT" => self
                .with_headers(self.agent.put(&url))
                .send_form(form.iter().map(|(k, v)| (*k, v.as_str()))),
            _ => self
                .with_headers(self.agent.post(&url))
                .send_form(form.iter().map(|(k, v)| (*k, v.as_str()))),
        };
        let mut resp = result.map_err(transport)?;
        let http = resp.status().as_u16();
        let csv = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.contains("csv"));
        let body = resp
            .body_mut()
            .with_config()
            // The instrument dump is tens of MB, far over ureq's 10 MB default.
            .limit(256 << 20)
            .read_to_vec()
            .map_err(transport)?;
        Ok((http, csv, body))
    }

    /// A JSON call: the envelope's `data`, or a typed error.
    fn call(
        &self,
        class: EndpointClass,
        method: &str,
        path: &str,
        form: &[(&str, String)],
    ) -> Result<Value, KiteError> {
        let (http, _, body) = self.send(class, method, path, form)?;
        parse_envelope(http, &body)
    }

    fn with_headers<B>(&self, r: ureq::RequestBuilder<B>) -> ureq::RequestBuilder<B> {
        r.header("X-Kite-Version", "3")
            .header("Authorization", &self.auth)
    }

    /// `POST /orders/regular`; Kite's order id. A timeout or 5xx leaves the outcome unknown
    /// (`KiteError::outcome_unknown`): look the tag up before any retry.
    pub fn place(&self, p: &PlaceOrder) -> Result<String, KiteError> {
        let mut form = vec![
            ("exchange", p.exchange.clone()),
            ("tradingsymbol", p.tradingsymbol.clone()),
            ("transaction_type", p.transaction_type.to_string()),
            ("order_type", p.order_type.to_string()),
            ("quantity", p.quantity.to_string()),
            ("product", p.product.clone()),
            ("validity", p.validity.to_string()),
            ("tag", p.tag.clone()),
        ];
        if let Some(px) = &p.price {
            form.push(("price", px.clone()));
        }
        if let Some(px) = &p.trigger_price {
            form.push(("trigger_price", px.clone()));
        }
        if let Some(mp) = p.market_protection {
            form.push(("market_protection", mp.to_string()));
        }
        if let Some(a) = &p.algo_id {
            form.push(("algo_id", a.clone()));
        }
        let data = self.call(EndpointClass::Order, "POST", "/orders/regular", &form)?;
        data.get("order_id")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| KiteError::BadEnvelope {
                http: 200,
                reason: "place answer without order_id".into(),
                excerpt: excerpt(data.to_string().as_bytes()),
            })
    }

    pub fn cancel(&self, order_id: &str) -> Result<(), KiteError> {
        self.call(
            EndpointClass::Order,
            "DELETE",
            &format!("/orders/regular/{order_id}"),
            &[],
        )
        .map(|_| ())
    }

    /// `PUT /orders/regular/{id}`: new quantity, price, trigger or order type for an open
    /// order (what is None stays as it is).
    pub fn modify(&self, order_id: &str, m: &ModifyOrder) -> Result<(), KiteError> {
        let mut form = Vec::new();
        if let Some(q) = m.quantity {
            form.push(("quantity", q.to_string()));
        }
        if let Some(t) = m.order_type {
            form.push(("order_type", t.to_string()));
        }
        if let Some(p) = &m.price {
            form.push(("price", p.clone()));
        }
        if let Some(p) = &m.trigger_price {
            form.push(("trigger_price", p.clone()));
        }
        self.call(
            EndpointClass::Order,
            "PUT",
            &format!("/orders/regular/{order_id}"),
            &form,
        )
        .map(|_| ())
    }

    /// Today's order book.
    pub fn orders(&self) -> Result<Vec<KiteOrder>, KiteError> {
        let data = self.call(EndpointClass::Other, "GET", "/orders", &[])?;
        Ok(list(&data, KiteOrder::from_json))
    }

    /// Every state an order went through, oldest first.
    pub fn order_history(&self, order_id: &str) -> Result<Vec<KiteOrder>, KiteError> {
        let data = self.call(
            EndpointClass::Other,
            "GET",
            &format!("/orders/{order_id}"),
            &[],
        )?;
        Ok(list(&data, KiteOrder::from_json))
    }

    /// Today's trades.
    pub fn trades(&self) -> Result<Vec<KiteTrade>, KiteError> {
        let data = self.call(EndpointClass::Other, "GET", "/trades", &[])?;
        Ok(list(&data, KiteTrade::from_json))
    }

    /// `GET /portfolio/holdings`: (tradingsymbol, quantity) per holding.
    pub fn holdings(&self) -> Result<Vec<(String, i64)>, KiteError> {
        let data = self.call(EndpointClass::Other, "GET", "/portfolio/holdings", &[])?;
        Ok(list(&data, |h| {
            Some((
                h.get("tradingsymbol")?.as_str()?.to_string(),
                h.get("quantity")?.as_f64()? as i64,
            ))
        }))
    }

    /// `GET /user/margins`, equity segment.
    pub fn equity_margin(&self) -> Result<EquityMargin, KiteError> {
        let data = self.call(EndpointClass::Other, "GET", "/user/margins", &[])?;
        let eq = &data["equity"];
        let f = |v: &Value| v.as_f64().unwrap_or(0.0);
        Ok(EquityMargin {
            net: f(&eq["net"]),
            available_cash: f(&eq["available"]["cash"]),
            live_balance: f(&eq["available"]["live_balance"]),
        })
    }

    fn quote_query(path: &str, instruments: &[&str]) -> String {
        let q: Vec<String> = instruments
            .iter()
            .map(|i| format!("i={}", i.replace(' ', "%20")))
            .collect();
        format!("{path}?{}", q.join("&"))
    }

    /// `GET /quote/ltp` for `EXCHANGE:TRADINGSYMBOL` keys; keys without data are absent.
    pub fn ltp(&self, instruments: &[&str]) -> Result<Vec<(String, f64)>, KiteError> {
        let data = self.call(
            EndpointClass::Quote,
            "GET",
            &Self::quote_query("/quote/ltp", instruments),
            &[],
        )?;
        Ok(data
            .as_object()
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.get("last_price")?.as_f64()?)))
                    .collect()
            })
            .unwrap_or_default())
    }

    /// `GET /quote`: the full quote objects by key.
    pub fn quote(&self, instruments: &[&str]) -> Result<serde_json::Map<String, Value>, KiteError> {
        let data = self.call(
            EndpointClass::Quote,
            "GET",
            &Self::quote_query("/quote", instruments),
            &[],
        )?;
        Ok(data.as_object().cloned().unwrap_or_default())
    }

    /// `GET /instruments/historical/{token}/{interval}?from=..&to=..` (IST, `yyyy-mm-dd hh:mm:ss`).
    pub fn historical(
        &self,
        token: u32,
        interval: &str,
        from: &str,
        to: &str,
    ) -> Result<Vec<Candle>, KiteError> {
        let path = format!(
            "/instruments/historical/{token}/{interval}?from={}&to={}",
            from.replace(' ', "+"),
            to.replace(' ', "+")
        );
        let data = self.call(EndpointClass::Historical, "GET", &path, &[])?;
        Ok(list(&data["candles"], Candle::from_json))
    }

    /// The order with this tag in today's book, if any.
    pub fn find_by_tag(&self, tag: &str) -> Result<Option<KiteOrder>, KiteError> {
        Ok(self
            .orders()?
            .into_iter()
            .find(|o| o.tag.as_deref() == Some(tag)))
    }

    /// `GET /instruments`: the day's instrument dump as CSV text. Kite gzips it: as a
    /// `Content-Encoding` (undone by the HTTP client) or as a gzip body (undone here). A JSON
    /// answer is an error envelope.
    pub fn instruments_csv(&self) -> Result<String, KiteError> {
        let (http, mut csv, mut body) =
            self.send(EndpointClass::Other, "GET", "/instruments", &[])?;
        if http == 200 && body.starts_with(&[0x1f, 0x8b]) {
            use std::io::Read;
            let mut plain = Vec::with_capacity(body.len() * 4);
            flate2::read::GzDecoder::new(&body[..])
                .read_to_end(&mut plain)
                .map_err(|e| KiteError::BadEnvelope {
                    http,
                    reason: format!("instrument dump: bad gzip ({e})"),
                    excerpt: excerpt(&body),
                })?;
            body = plain;
            csv = true;
        }
        if http == 200 && csv {
            return String::from_utf8(body).map_err(|e| KiteError::BadEnvelope {
                http,
                reason: "instrument dump is not UTF-8".into(),
                excerpt: excerpt(e.as_bytes()),
            });
        }
        // An error envelope, or something that is neither: typed either way.
        parse_envelope(http, &body).and_then(|v| {
            Err(KiteError::BadEnvelope {
                http,
                reason: "expected a CSV instrument dump".into(),
                excerpt: excerpt(v.to_string().as_bytes()),
            })
        })
    }

    /// `GET /portfolio/positions` `net` list: (instrument token, net quantity).
    pub fn net_positions(&self) -> Result<Vec<(u32, i64)>, KiteError> {
        Ok(self
            .positions()?
            .into_iter()
            .map(|(t, q, _)| (t, q))
            .collect())
    }

    /// `GET /portfolio/positions` `net` list: (instrument token, net quantity, average
    /// price in rupees), every product.
    pub fn positions(&self) -> Result<Vec<(u32, i64, f64)>, KiteError> {
        let data = self.call(EndpointClass::Other, "GET", "/portfolio/positions", &[])?;
        Ok(data
            .get("net")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|p| {
                        Some((
                            p.get("instrument_token")?.as_f64()? as u32,
                            p.get("quantity")?.as_f64()? as i64,
                            p.get("average_price")
                                .and_then(Value::as_f64)
                                .unwrap_or(0.0),
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default())
    }

    /// `GET /user/profile`: the user id, proving the token works.
    pub fn profile(&self) -> Result<String, KiteError> {
        let data = self.call(EndpointClass::Other, "GET", "/user/profile", &[])?;
        Ok(data
            .get("user_id")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string())
    }
}

/// A transport failure. Connect failures prove nothing was sent; anything later may have
/// reached Kite.
fn transport(e: ureq::Error) -> KiteError {
    let sent = !matches!(
        e,
        ureq::Error::ConnectionFailed | ureq::Error::HostNotFound | ureq::Error::BadUri(_)
    );
    KiteError::Transport {
        reason: e.to_string(),
        maybe_sent: sent,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_from_kite_json() {
        let v: Value = serde_json::from_str(
            r#"{"order_id":"1953341975595868160","status":"COMPLETE","tag":"AT1F","instrument_token":408065,
                "quantity":10.0,"filled_quantity":10,"average_price":1573.7,"status_message":null}"#,
        )
        .unwrap();
        let o = KiteOrder::from_json(&v).unwrap();
        assert_eq!(o.order_id, "1953341975595868160");
        assert_eq!((o.quantity, o.filled_quantity), (10, 10));
        assert!(o.is_terminal());
        assert_eq!(o.tag.as_deref(), Some("AT1F"));
        // An order id that is a number is not an order id.
        let bad: Value =
            serde_json::from_str(r#"{"order_id":151220000000000,"status":"OPEN"}"#).unwrap();
        assert!(KiteOrder::from_json(&bad).is_none());
    }

    /// Shapes from kite-protocol.md §2.6 and §2.10 (trade object, candle arrays).
    #[test]
    fn trades_and_candles_from_kite_json() {
        let t: Value = serde_json::from_str(
            r#"{"trade_id":"10000000","order_id":"200000000000000","exchange_order_id":"300000000000000",
                "tradingsymbol":"SBIN","exchange":"NSE","instrument_token":779521,"transaction_type":"BUY",
                "product":"CNC","average_price":420.65,"quantity":1,"fill_timestamp":"2021-05-31 09:16:39",
                "order_timestamp":"09:16:39","exchange_timestamp":"2021-05-31 09:16:39"}"#,
        )
        .unwrap();
        let t = KiteTrade::from_json(&t).unwrap();
        assert_eq!((t.instrument_token, t.quantity), (779521, 1));
        assert_eq!(t.average_price, 420.65);
        let c: Value = serde_json::from_str(
            r#"[["2017-12-15T09:15:00+0530",1704.5,1705,1699.25,1702.8,2499],
                ["2017-12-15T09:16:00+0530",1702,1702,1698.15,1698.15,1271,13]]"#,
        )
        .unwrap();
        let candles = list(&c, Candle::from_json);
        assert_eq!(candles.len(), 2);
        assert_eq!(candles[0].ts, "2017-12-15T09:15:00+0530");
        assert_eq!((candles[0].volume, candles[0].oi), (2499, None));
        assert_eq!(candles[1].oi, Some(13));
        // A candle missing its close is skipped, not a panic.
        let broken: Value =
            serde_json::from_str(r#"[["2017-12-15T09:15:00+0530",1,2,3]]"#).unwrap();
        assert!(list(&broken, Candle::from_json).is_empty());
    }

    #[test]
    fn debug_hides_the_token() {
        let c = RestConfig {
            api_root: "http://x".into(),
            api_key: "k".into(),
            access_token: "SECRET".into(),
            timeout: Duration::from_secs(1),
            ca_pem: None,
        };
        assert!(!format!("{c:?}").contains("SECRET"));
    }
}
