//! What happens to an order after risk sends it: the broker's answers (statuses, fills,
//! cancels, rejections and why) and where the order then stands in the OMS.

use super::OrderId;
use super::{Price, Qty, Token};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RejectReason {
    NoLiquidity,
    UnknownInstrument,
    NotTradable,
    Broker,
    /// Quantity not a multiple of the lot size.
    LotMultiple,
    /// Price or trigger not a multiple of the tick size (or missing).
    TickMultiple,
    /// Price outside the day's circuit limits.
    PriceBand,
    /// More than the exchange's freeze quantity in one order.
    FreezeQty,
    /// Not enough margin.
    Margin,
    /// MARKET or SL-M without market protection (Kite, from 1 April 2026).
    NoMarketProtection,
}

impl RejectReason {
    pub fn as_str(self) -> &'static str {
        match self {
            RejectReason::NoLiquidity => "no liquidity on the opposite side",
            RejectReason::UnknownInstrument => "unknown instrument",
            RejectReason::NotTradable => "instrument is not tradable",
            RejectReason::Broker => "rejected by broker",
            RejectReason::LotMultiple => "quantity is not a multiple of the lot size",
            RejectReason::TickMultiple => "price is not a multiple of the tick size",
            RejectReason::PriceBand => "price is outside the circuit limits",
            RejectReason::FreezeQty => "quantity is above the freeze limit",
            RejectReason::Margin => "insufficient margin",
            RejectReason::NoMarketProtection => "market order without market protection",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderUpdateKind {
    /// A status with no new fill in it.
    Status(BrokerStatus),
    /// The order's fills so far: `cum_qty` in all, the newest `last_qty` at `last_price`.
    /// Cumulative, so a repeated or stale update adds nothing and a lost one is made up by
    /// the next.
    Fill {
        cum_qty: Qty,
        last_qty: Qty,
        last_price: Price,
    },
    Cancelled,
    Rejected(RejectReason),
}

/// A broker's non-terminal order statuses (Kite's, kite-protocol §4.2 and
/// india-market-facts §5); the terminal ones are `Fill` to the full quantity, `Cancelled`
/// and `Rejected`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BrokerStatus {
    /// PUT ORDER REQ RECEIVED, VALIDATION PENDING, AMO REQ RECEIVED: not at the exchange yet.
    Received,
    /// OPEN PENDING: pending registration at the exchange (live exposure all the same).
    OpenPending,
    Open,
    /// TRIGGER PENDING: an SL or SL-M order waiting for its trigger.
    TriggerPending,
    /// MODIFY VALIDATION PENDING, MODIFY PENDING.
    ModifyPending,
    Modified,
    /// A modification was refused; the order works on unchanged.
    NotModified,
    /// CANCEL PENDING: not final; fills may still come.
    CancelPending,
    /// A cancel was refused (UNCONFIRMED for Kite); the order works on.
    NotCancelled,
    /// A status string nobody documented: logged, counted, treated as working.
    Unknown,
}

impl BrokerStatus {
    pub const ALL: [BrokerStatus; 10] = [
        BrokerStatus::Received,
        BrokerStatus::OpenPending,
        BrokerStatus::Open,
        BrokerStatus::TriggerPending,
        BrokerStatus::ModifyPending,
        BrokerStatus::Modified,
        BrokerStatus::NotModified,
        BrokerStatus::CancelPending,
        BrokerStatus::NotCancelled,
        BrokerStatus::Unknown,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            BrokerStatus::Received => "RECEIVED",
            BrokerStatus::OpenPending => "OPEN PENDING",
            BrokerStatus::Open => "OPEN",
            BrokerStatus::TriggerPending => "TRIGGER PENDING",
            BrokerStatus::ModifyPending => "MODIFY PENDING",
            BrokerStatus::Modified => "MODIFIED",
            BrokerStatus::NotModified => "NOT MODIFIED",
            BrokerStatus::CancelPending => "CANCEL PENDING",
            BrokerStatus::NotCancelled => "NOT CANCELLED",
            BrokerStatus::Unknown => "UNKNOWN",
        }
    }
}

/// What the broker says happened to an order; enters through the sequencer inbox.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrderUpdate {
    pub id: OrderId,
    pub token: Token,
    pub kind: OrderUpdateKind,
    pub ts: u32,
}

/// Where an order stands in the OMS (risk owns the transitions; the snapshot carries the code).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderStatus {
    /// Sent to the broker, no answer yet.
    PendingNew,
    Open,
    PartiallyFilled,
    Filled,
    PendingCancel,
    Cancelled,
    Rejected,
}

impl OrderStatus {
    /// Every status, in code order.
    pub const ALL: [OrderStatus; 7] = [
        OrderStatus::PendingNew,
        OrderStatus::Open,
        OrderStatus::PartiallyFilled,
        OrderStatus::Filled,
        OrderStatus::PendingCancel,
        OrderStatus::Cancelled,
        OrderStatus::Rejected,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::PendingNew => "PENDING",
            OrderStatus::Open => "OPEN",
            OrderStatus::PartiallyFilled => "PARTIAL",
            OrderStatus::Filled => "COMPLETE",
            OrderStatus::PendingCancel => "CANCEL PENDING",
            OrderStatus::Cancelled => "CANCELLED",
            OrderStatus::Rejected => "REJECTED",
        }
    }
    pub fn as_u8(self) -> u8 {
        self as u8
    }
    pub fn from_u8(v: u8) -> Option<OrderStatus> {
        OrderStatus::ALL.get(v as usize).copied()
    }
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            OrderStatus::Filled | OrderStatus::Cancelled | OrderStatus::Rejected
        )
    }
}
