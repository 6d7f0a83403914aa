//! What a request carries besides its path: the body, size-limited and JSON, and query
//! parameters, percent-decoded. Bodies are at most `MAX_BODY_BYTES` with a Content-Length:
//! the server (control::server) reads bodies that small on the request's connection thread
//! before it reaches us, so a client that stops sending mid-body never stalls the control
//! thread; anything larger or of unknown length (chunked) is refused without reading it.

use super::Reply;
use crate::control::server::{Body, Request};
use serde_json::json;

/// The path an endpoint is matched on: the URL without its query and trailing slashes.
pub(crate) fn endpoint(url: &str) -> &str {
    url.split('?').next().unwrap_or("").trim_end_matches('/')
}

/// Our bodies are a reason or a mode switch: a few hundred bytes at most.
pub const MAX_BODY_BYTES: usize = 1024;

/// The request's JSON body (None when it has none), or the error reply: 411 for a body of
/// unknown length, 413 for one too large, 400 for one that is not a JSON object.
pub(crate) fn json_body(req: &Request) -> Result<Option<serde_json::Value>, Reply> {
    match &req.body {
        Body::Chunked => Err((
            411,
            json!({"error": "send the body with a Content-Length (chunked bodies are not read)"}),
        )),
        Body::TooLarge(len) => Err((
            413,
            json!({"error": format!("request body is {len} bytes; the limit is {MAX_BODY_BYTES}")}),
        )),
        Body::Bytes(b) if b.is_empty() => Ok(None),
        Body::Bytes(b) => parse_json_object(b).map(Some),
    }
}

/// A body that must be one JSON object.
pub(super) fn parse_json_object(bytes: &[u8]) -> Result<serde_json::Value, Reply> {
    match serde_json::from_slice::<serde_json::Value>(bytes) {
        Ok(v @ serde_json::Value::Object(_)) => Ok(v),
        Ok(_) => Err((400, json!({"error": "the body must be a JSON object"}))),
        Err(e) => Err((400, json!({"error": format!("malformed JSON body: {e}")}))),
    }
}

/// Query parameter `name` of `url` (`/flatten?reason=...`), percent- and plus-decoded.
pub(super) fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    query.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        (decode(k) == name).then(|| decode(v))
    })
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let hex = |c: u8| (c as char).to_digit(16);
                match (hex(b[i + 1]), hex(b[i + 2])) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// An operator's free text (a flatten's reason) as logged and answered: one line, printable,
/// at most 200 characters.
pub(super) fn clean_reason(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(200)
        .collect::<String>()
        .trim()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn query_params_are_decoded() {
        assert_eq!(
            query_param("/flatten?reason=feed%20down+now&x=1", "reason").as_deref(),
            Some("feed down now")
        );
        assert_eq!(query_param("/flatten?x=1", "reason"), None);
        assert_eq!(query_param("/flatten", "reason"), None);
        assert_eq!(
            query_param("/f?reason=%zz%4", "reason").as_deref(),
            Some("%zz%4")
        );
        assert_eq!(query_param("/f?reason", "reason").as_deref(), Some(""));
    }

    #[test]
    fn bodies_must_be_one_json_object() {
        assert!(parse_json_object(br#"{"reason":"x"}"#).is_ok());
        for bad in [&b"{"[..], b"[1]", b"\"s\"", b"\xff\xfe", b""] {
            let (code, body) = parse_json_object(bad).unwrap_err();
            assert_eq!(code, 400, "{body}");
            assert!(body["error"].is_string());
        }
    }

    #[test]
    fn reasons_are_one_short_line() {
        assert_eq!(clean_reason(" a\nb\u{7}c "), "a b c");
        assert_eq!(clean_reason(&"x".repeat(500)).len(), 200);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(20_000))]
        /// Any bytes as a URL or a body: an answer, never a panic.
        #[test]
        fn any_url_or_body_is_answered(raw in proptest::collection::vec(any::<u8>(), 0..300)) {
            let url = String::from_utf8_lossy(&raw);
            let _ = query_param(&url, "reason");
            let _ = parse_json_object(&raw);
            let _ = clean_reason(&url);
        }
    }
}
