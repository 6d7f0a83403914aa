//! Kite's response envelope: `{"status":"success","data":..}` or
//! `{"status":"error","message":..,"error_type":..}`. Every other shape is a typed error that
//! carries an excerpt of the body for the log, never a panic.

use serde_json::Value;

/// Longest body excerpt kept in an error (for the log line).
const EXCERPT: usize = 200;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KiteError {
    /// Session expired or invalidated: new entries must halt until a new login.
    #[error("TokenException (HTTP {http}): {message}")]
    Token { http: u16, message: String },
    #[error("InputException (HTTP {http}): {message}")]
    Input { http: u16, message: String },
    #[error("OrderException (HTTP {http}): {message}")]
    Order { http: u16, message: String },
    #[error("MarginException (HTTP {http}): {message}")]
    Margin { http: u16, message: String },
    #[error("HoldingException (HTTP {http}): {message}")]
    Holding { http: u16, message: String },
    #[error("UserException (HTTP {http}): {message}")]
    User { http: u16, message: String },
    #[error("PermissionException (HTTP {http}): {message}")]
    Permission { http: u16, message: String },
    /// The API could not reach the OMS: whether an order was placed is unknown.
    #[error("NetworkException (HTTP {http}): {message}")]
    Network { http: u16, message: String },
    #[error("DataException (HTTP {http}): {message}")]
    Data { http: u16, message: String },
    /// GeneralException or an error_type we do not know.
    #[error("{error_type} (HTTP {http}): {message}")]
    General {
        http: u16,
        error_type: String,
        message: String,
    },
    /// HTTP 429: over a rate limit.
    #[error("rate limited (HTTP 429): {excerpt}")]
    RateLimited { excerpt: String },
    /// The body is not JSON (a proxy error page, a truncated body).
    #[error("HTTP {http}: body is not JSON: {excerpt}")]
    NotJson { http: u16, excerpt: String },
    /// No HTTP answer: connect failure, timeout, dropped connection. `maybe_sent` is false
    /// only when the request provably never left (connect refused, unknown host).
    #[error("transport: {reason}")]
    Transport { reason: String, maybe_sent: bool },
    /// Our own limiter would not grant the call before its deadline (never sent).
    #[error("local rate limit: {reason}")]
    LocalRateLimit { reason: String },
    /// JSON, but not an envelope we understand (unknown status, missing data).
    #[error("HTTP {http}: {reason}: {excerpt}")]
    BadEnvelope {
        http: u16,
        reason: String,
        excerpt: String,
    },
}

impl KiteError {
    /// A TokenException: the caller halts new entries and alerts.
    pub fn is_token(&self) -> bool {
        matches!(self, KiteError::Token { .. })
    }

    /// Refused for a rate limit (Kite's 429 or our own limiter): never reached the OMS, so safe
    /// to send again after a pause.
    pub fn is_rate_limited(&self) -> bool {
        matches!(
            self,
            KiteError::RateLimited { .. } | KiteError::LocalRateLimit { .. }
        )
    }

    /// The request may have reached the OMS and its outcome is unknown (5xx, NetworkException,
    /// unreadable body): an order must be looked up by its tag before any retry.
    pub fn outcome_unknown(&self) -> bool {
        match self {
            KiteError::Network { .. } | KiteError::Data { .. } => true,
            KiteError::Transport { maybe_sent, .. } => *maybe_sent,
            KiteError::General { http, .. }
            | KiteError::NotJson { http, .. }
            | KiteError::BadEnvelope { http, .. } => *http >= 500,
            _ => false,
        }
    }
}

/// The first `EXCERPT` characters of a body, on a char boundary, control characters escaped.
pub fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut out: String = text.chars().take(EXCERPT).collect();
    if text.chars().count() > EXCERPT {
        out.push('…');
    }
    out.escape_debug().to_string()
}

/// Maps one HTTP response to its `data` payload or a typed error.
pub fn parse_envelope(http: u16, body: &[u8]) -> Result<Value, KiteError> {
    let v: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(_) if http == 429 => {
            return Err(KiteError::RateLimited {
                excerpt: excerpt(body),
            })
        }
        Err(_) => {
            return Err(KiteError::NotJson {
                http,
                excerpt: excerpt(body),
            })
        }
    };
    let bad = |reason: &str| KiteError::BadEnvelope {
        http,
        reason: reason.to_string(),
        excerpt: excerpt(body),
    };
    let Some(obj) = v.as_object() else {
        return Err(bad("response is not a JSON object"));
    };
    let status = obj.get("status").and_then(Value::as_str);
    let error_type = obj.get("error_type").and_then(Value::as_str);
    if status == Some("success") && error_type.is_none() && http < 400 {
        return obj
            .get("data")
            .cloned()
            .ok_or_else(|| bad("success without data"));
    }
    if http == 429 {
        return Err(KiteError::RateLimited {
            excerpt: excerpt(body),
        });
    }
    if status != Some("error") && error_type.is_none() && http < 400 {
        return Err(bad(&format!(
            "unknown status {}",
            obj.get("status")
                .map(|s| s.to_string())
                .unwrap_or_else(|| "(none)".into())
        )));
    }
    let message = obj
        .get("message")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| excerpt(body));
    let error_type = error_type.unwrap_or("GeneralException");
    Err(match error_type {
        "TokenException" => KiteError::Token { http, message },
        "InputException" => KiteError::Input { http, message },
        "OrderException" => KiteError::Order { http, message },
        "MarginException" => KiteError::Margin { http, message },
        "HoldingException" => KiteError::Holding { http, message },
        "UserException" => KiteError::User { http, message },
        "PermissionException" | "PermissionError" => KiteError::Permission { http, message },
        "NetworkException" => KiteError::Network { http, message },
        "DataException" => KiteError::Data { http, message },
        other => KiteError::General {
            http,
            error_type: other.to_string(),
            message,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Shapes from kite-protocol.md §2.4 and §3, written by hand.
    #[test]
    fn success_yields_data() {
        let body = br#"{"status":"success","data":{"order_id":"151220000000000"}}"#;
        let data = parse_envelope(200, body).unwrap();
        assert_eq!(data["order_id"], "151220000000000");
    }

    #[test]
    fn error_types_map_to_variants() {
        type Check = fn(&KiteError) -> bool;
        let cases: [(u16, &str, Check); 6] = [
            (403, "TokenException", |e| e.is_token()),
            (400, "InputException", |e| {
                matches!(e, KiteError::Input { .. })
            }),
            (500, "OrderException", |e| {
                matches!(e, KiteError::Order { .. })
            }),
            (400, "MarginException", |e| {
                matches!(e, KiteError::Margin { .. })
            }),
            (503, "NetworkException", |e| e.outcome_unknown()),
            (403, "PermissionException", |e| {
                matches!(e, KiteError::Permission { .. })
            }),
        ];
        for (http, ty, check) in cases {
            let body = format!(
                r#"{{"status":"error","message":"Insufficient funds. Required margin is 95417.84","error_type":"{ty}"}}"#
            );
            let e = parse_envelope(http, body.as_bytes()).unwrap_err();
            assert!(check(&e), "{ty} -> {e:?}");
            assert!(e.to_string().contains("Insufficient funds"), "{e}");
        }
        let e = parse_envelope(
            500,
            br#"{"status":"error","message":"x","error_type":"TwoFAException"}"#,
        )
        .unwrap_err();
        assert_eq!(e.to_string(), "TwoFAException (HTTP 500): x");
    }

    /// Like the Python client: an error_type means an error even under HTTP 200.
    #[test]
    fn error_type_under_200_is_an_error() {
        let e = parse_envelope(
            200,
            br#"{"status":"error","message":"m","error_type":"InputException"}"#,
        )
        .unwrap_err();
        assert!(matches!(e, KiteError::Input { http: 200, .. }));
    }

    #[test]
    fn bad_bodies_are_typed_errors_with_excerpts() {
        let html = b"<html><body>502 Bad Gateway</body></html>";
        let e = parse_envelope(502, html).unwrap_err();
        assert!(matches!(e, KiteError::NotJson { http: 502, .. }));
        assert!(e.outcome_unknown());
        assert!(e.to_string().contains("502 Bad Gateway"));
        let e = parse_envelope(200, br#"{"status":"maybe","data":1}"#).unwrap_err();
        assert!(e.to_string().contains("unknown status \"maybe\""), "{e}");
        assert!(!e.outcome_unknown());
        let e = parse_envelope(200, br#"{"status":"success"}"#).unwrap_err();
        assert!(e.to_string().contains("success without data"));
        let e = parse_envelope(200, b"[1,2]").unwrap_err();
        assert!(matches!(e, KiteError::BadEnvelope { .. }));
        let e = parse_envelope(429, b"Too many requests").unwrap_err();
        assert!(matches!(e, KiteError::RateLimited { .. }));
        let long = vec![b'x'; 10_000];
        let e = parse_envelope(500, &long).unwrap_err();
        assert!(e.to_string().len() < 400);
        // Invalid UTF-8 and control characters never break the log line.
        let e = parse_envelope(500, b"\xff\xfe\n\x00oops").unwrap_err();
        assert!(!e.to_string().contains('\n'));
    }
}
