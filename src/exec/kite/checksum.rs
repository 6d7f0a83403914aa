//! Kite's SHA-256 checksums, lowercase hex.

use sha2::{Digest, Sha256};

fn sha256_hex(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// `POST /session/token` checksum: SHA-256(api_key ‖ request_token ‖ api_secret).
pub fn session_checksum(api_key: &str, request_token: &str, api_secret: &str) -> String {
    sha256_hex(&[api_key, request_token, api_secret])
}

/// Order postback checksum: SHA-256(order_id ‖ order_timestamp ‖ api_secret), with the
/// timestamp exactly as the payload carries it.
pub fn postback_checksum(order_id: &str, order_timestamp: &str, api_secret: &str) -> String {
    sha256_hex(&[order_id, order_timestamp, api_secret])
}

/// Compares without an early exit, so a forged checksum learns nothing from timing.
pub fn checksums_match(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Vectors from kite-protocol.md §2.2 and §5.
    #[test]
    fn protocol_vectors() {
        assert_eq!(
            session_checksum("api_key", "request_token", "api_secret"),
            "ff6a6d3d60c9d974df906ba6f787ac38300cfa68b41801b486ea1007e52e8942"
        );
        assert_eq!(
            postback_checksum("220303000308932", "2022-03-03 09:24:25", "secret"),
            "f3336920db057beff5f3decf340d67ac78e0feda17f6e7bdb849473c43f9196d"
        );
        assert!(checksums_match("abc", "abc"));
        assert!(!checksums_match("abc", "abd"));
        assert!(!checksums_match("abc", "ab"));
    }
}
