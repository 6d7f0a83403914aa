//! Kite's order status strings, each mapped once to what the OMS understands.

use crate::domain::BrokerStatus;

/// Kite's order status strings (kite-protocol §4.2, india-market-facts §5), each mapped once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KiteStatus {
    Working(BrokerStatus),
    Complete,
    Cancelled,
    Rejected,
    /// Postback-only: a modification or a partial fill.
    Update,
}

impl KiteStatus {
    /// Every documented string; anything else is `Working(Unknown)`, never dropped.
    pub fn parse(s: &str) -> KiteStatus {
        use BrokerStatus as B;
        match s.trim() {
            "PUT ORDER REQ RECEIVED"
            | "PUT ORDER REQUEST RECEIVED"
            | "VALIDATION PENDING"
            | "AMO REQ RECEIVED"
            | "MODIFY AMO REQ RECEIVED" => KiteStatus::Working(B::Received),
            "OPEN PENDING" => KiteStatus::Working(B::OpenPending),
            "OPEN" => KiteStatus::Working(B::Open),
            "TRIGGER PENDING" => KiteStatus::Working(B::TriggerPending),
            "MODIFY VALIDATION PENDING" | "MODIFY PENDING" => KiteStatus::Working(B::ModifyPending),
            "MODIFIED" => KiteStatus::Working(B::Modified),
            "NOT MODIFIED" => KiteStatus::Working(B::NotModified),
            "CANCEL PENDING" => KiteStatus::Working(B::CancelPending),
            "NOT CANCELLED" => KiteStatus::Working(B::NotCancelled),
            "COMPLETE" => KiteStatus::Complete,
            "CANCELLED" | "CANCELLED AMO" => KiteStatus::Cancelled,
            "REJECTED" => KiteStatus::Rejected,
            "UPDATE" => KiteStatus::Update,
            _ => KiteStatus::Working(B::Unknown),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every status string of kite-protocol §4.2 (and NOT MODIFIED / NOT CANCELLED of the
    /// facts file) maps to a kind; anything else is working and unknown, never dropped.
    #[test]
    fn every_kite_status_string() {
        use BrokerStatus as B;
        use KiteStatus as K;
        let table = [
            ("PUT ORDER REQ RECEIVED", K::Working(B::Received)),
            ("PUT ORDER REQUEST RECEIVED", K::Working(B::Received)),
            ("AMO REQ RECEIVED", K::Working(B::Received)),
            ("VALIDATION PENDING", K::Working(B::Received)),
            ("OPEN PENDING", K::Working(B::OpenPending)),
            ("OPEN", K::Working(B::Open)),
            ("TRIGGER PENDING", K::Working(B::TriggerPending)),
            ("MODIFY VALIDATION PENDING", K::Working(B::ModifyPending)),
            ("MODIFY PENDING", K::Working(B::ModifyPending)),
            ("MODIFIED", K::Working(B::Modified)),
            ("NOT MODIFIED", K::Working(B::NotModified)),
            ("CANCEL PENDING", K::Working(B::CancelPending)),
            ("NOT CANCELLED", K::Working(B::NotCancelled)),
            ("COMPLETE", K::Complete),
            ("CANCELLED", K::Cancelled),
            ("CANCELLED AMO", K::Cancelled),
            ("REJECTED", K::Rejected),
            ("UPDATE", K::Update),
            ("SOMETHING NEW", K::Working(B::Unknown)),
            ("", K::Working(B::Unknown)),
        ];
        for (s, want) in table {
            assert_eq!(KiteStatus::parse(s), want, "{s}");
        }
    }
}
