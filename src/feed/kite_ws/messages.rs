//! What the ticker says to Kite and hears back in text: subscribe and mode messages, the
//! difference between two subscriptions, the sharding of the universe over connections by
//! Kite's limits, and the broker's text messages (order updates, errors).

use super::{TickerError, MAX_CONNECTIONS, MAX_TOKENS_PER_CONNECTION};
use crate::domain::{KiteOrder, TickMode};

/// Subscribe then one `mode` message per mode group, as Kite's own clients resubscribe.
pub fn subscribe_messages(tokens: &[(u32, TickMode)]) -> Vec<String> {
    let list =
        |it: &mut dyn Iterator<Item = u32>| it.map(|t| t.to_string()).collect::<Vec<_>>().join(",");
    let mut out = vec![format!(
        r#"{{"a":"subscribe","v":[{}]}}"#,
        list(&mut tokens.iter().map(|t| t.0))
    )];
    for mode in [TickMode::Ltp, TickMode::Quote, TickMode::Full] {
        let mut group = tokens
            .iter()
            .filter(|t| t.1 == mode)
            .map(|t| t.0)
            .peekable();
        if group.peek().is_some() {
            out.push(format!(
                r#"{{"a":"mode","v":["{}",[{}]]}}"#,
                mode.as_str(),
                list(&mut group)
            ));
        }
    }
    out
}

/// The messages that move one connection from `old` to `new` subscriptions: unsubscribe
/// what went, subscribe what came, and set the mode of everything new or changed.
pub fn resubscribe_messages(old: &[(u32, TickMode)], new: &[(u32, TickMode)]) -> Vec<String> {
    let had = |t: u32| old.iter().find(|o| o.0 == t).map(|o| o.1);
    let gone: Vec<String> = old
        .iter()
        .filter(|o| !new.iter().any(|n| n.0 == o.0))
        .map(|o| o.0.to_string())
        .collect();
    let changed: Vec<(u32, TickMode)> = new
        .iter()
        .filter(|n| had(n.0) != Some(n.1))
        .copied()
        .collect();
    let mut out = Vec::new();
    if !gone.is_empty() {
        out.push(format!(r#"{{"a":"unsubscribe","v":[{}]}}"#, gone.join(",")));
    }
    if !changed.is_empty() {
        out.extend(subscribe_messages(&changed));
    }
    out
}

/// Splits the universe over as few connections as Kite allows.
pub fn shard_tokens(tokens: &[(u32, TickMode)]) -> Result<Vec<Vec<(u32, TickMode)>>, TickerError> {
    if tokens.len() > MAX_TOKENS_PER_CONNECTION * MAX_CONNECTIONS {
        return Err(TickerError::TooManyTokens {
            tokens: tokens.len(),
            max: MAX_CONNECTIONS,
            per: MAX_TOKENS_PER_CONNECTION,
        });
    }
    Ok(tokens
        .chunks(MAX_TOKENS_PER_CONNECTION)
        .map(|c| c.to_vec())
        .collect())
}

/// What a broker text message said, parsed with simd-json.
#[derive(Debug, PartialEq)]
pub enum TextMessage {
    /// An order update; the payload is the order object.
    Order(KiteOrder),
    Error(String),
    Message(String),
    Unknown,
}

pub fn parse_text(text: &mut [u8]) -> TextMessage {
    let Ok(v) = simd_json::serde::from_slice::<serde_json::Value>(text) else {
        return TextMessage::Unknown;
    };
    let data = v.get("data");
    let s = |x: Option<&serde_json::Value>| x.and_then(|x| x.as_str()).map(str::to_string);
    match v.get("type").and_then(|t| t.as_str()) {
        Some("order") => match data.and_then(KiteOrder::from_json) {
            Some(o) => TextMessage::Order(o),
            None => TextMessage::Unknown,
        },
        Some("error") => TextMessage::Error(s(data).unwrap_or_default()),
        Some("message") => TextMessage::Message(s(data).unwrap_or_default()),
        _ => TextMessage::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscribe_then_one_mode_message_per_group() {
        let m = subscribe_messages(&[
            (408065, TickMode::Full),
            (256265, TickMode::Quote),
            (884737, TickMode::Full),
        ]);
        assert_eq!(
            m,
            vec![
                r#"{"a":"subscribe","v":[408065,256265,884737]}"#.to_string(),
                r#"{"a":"mode","v":["quote",[256265]]}"#.to_string(),
                r#"{"a":"mode","v":["full",[408065,884737]]}"#.to_string(),
            ]
        );
    }

    #[test]
    fn resubscribe_sends_only_the_difference() {
        let old = [
            (1, TickMode::Full),
            (2, TickMode::Full),
            (3, TickMode::Quote),
        ];
        let new = [
            (2, TickMode::Full),
            (3, TickMode::Full),
            (4, TickMode::Full),
        ];
        assert_eq!(
            resubscribe_messages(&old, &new),
            vec![
                r#"{"a":"unsubscribe","v":[1]}"#.to_string(),
                r#"{"a":"subscribe","v":[3,4]}"#.to_string(),
                r#"{"a":"mode","v":["full",[3,4]]}"#.to_string(),
            ]
        );
        assert!(resubscribe_messages(&old, &old).is_empty());
    }

    #[test]
    fn shards_by_kite_limits() {
        let t: Vec<_> = (0..7000).map(|i| (i, TickMode::Ltp)).collect();
        let s = shard_tokens(&t).unwrap();
        assert_eq!(
            s.iter().map(Vec::len).collect::<Vec<_>>(),
            vec![3000, 3000, 1000]
        );
        let too_many: Vec<_> = (0..9001).map(|i| (i, TickMode::Ltp)).collect();
        assert!(matches!(
            shard_tokens(&too_many),
            Err(TickerError::TooManyTokens { tokens: 9001, .. })
        ));
    }

    #[test]
    fn text_messages_by_type() {
        let mut order = br#"{"type":"order","data":{"order_id":"151220000000000","status":"COMPLETE","tag":"AT1F"}}"#.to_vec();
        let TextMessage::Order(o) = parse_text(&mut order) else {
            panic!("not an order");
        };
        assert_eq!(o.order_id, "151220000000000");
        assert_eq!(o.status, "COMPLETE");
        assert_eq!(o.tag.as_deref(), Some("AT1F"));
        let mut e = br#"{"type":"error","data":"Invalid mode"}"#.to_vec();
        assert_eq!(
            parse_text(&mut e),
            TextMessage::Error("Invalid mode".into())
        );
        let mut junk = b"not json".to_vec();
        assert_eq!(parse_text(&mut junk), TextMessage::Unknown);
    }
}
