//! Events that travel the pipeline rings. Everything that enters the system (ticks, control
//! commands, order updates) is sequenced by the feed thread onto ring A; downstream stages add
//! signals and order intents. All variants are `Copy` so a ring slot is plain memory.

use super::{OrderUpdate, OrderUpdateKind};
use super::{Paise, Price, Qty, Side, Tick, Token};

/// Our id for an order; its Kite `tag` is derived from it (see `OrderId::tag`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct OrderId(pub u64);

impl OrderId {
    /// The client tag sent with the order: "AT" + id in base 36, well under Kite's 20 chars.
    pub fn tag(self) -> super::Symbol {
        let mut buf = [0u8; 16];
        let mut n = self.0;
        let mut i = buf.len();
        loop {
            i -= 1;
            let d = (n % 36) as u8;
            buf[i] = if d < 10 { b'0' + d } else { b'A' + d - 10 };
            n /= 36;
            if n == 0 {
                break;
            }
        }
        i -= 2;
        buf[i] = b'A';
        buf[i + 1] = b'T';
        super::Symbol::new(std::str::from_utf8(&buf[i..]).unwrap_or("AT"))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StrategyId {
    Orb,
    TrendPullback,
    VwapReversion,
    OptionsRanker,
    /// Orders the risk stage makes itself: stops, targets, square-off, flatten.
    Risk,
}

/// How many strategies can hold positions (every id but `Risk`).
pub const STRATEGY_COUNT: usize = 4;

impl StrategyId {
    /// The strategies that trade, in `index` order.
    pub const TRADING: [StrategyId; STRATEGY_COUNT] = [
        StrategyId::Orb,
        StrategyId::TrendPullback,
        StrategyId::VwapReversion,
        StrategyId::OptionsRanker,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            StrategyId::Orb => "orb",
            StrategyId::TrendPullback => "trend_pullback",
            StrategyId::VwapReversion => "vwap_reversion",
            StrategyId::OptionsRanker => "options_ranker",
            StrategyId::Risk => "risk",
        }
    }
    /// Position in per-strategy tables; `Risk` has none.
    pub fn index(self) -> Option<usize> {
        match self {
            StrategyId::Orb => Some(0),
            StrategyId::TrendPullback => Some(1),
            StrategyId::VwapReversion => Some(2),
            StrategyId::OptionsRanker => Some(3),
            StrategyId::Risk => None,
        }
    }
    /// The snapshot's code for it (the index; `Risk` is 255).
    pub fn code(self) -> u8 {
        self.index().map(|i| i as u8).unwrap_or(u8::MAX)
    }
    pub fn from_code(c: u8) -> StrategyId {
        StrategyId::TRADING
            .get(c as usize)
            .copied()
            .unwrap_or(StrategyId::Risk)
    }
}

/// A signal's ranking score: each component and the total in basis points of 1.0
/// (10000 = a perfect component), penalties already taken off the total.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct SignalScore {
    pub momentum: u16,
    pub trend: u16,
    pub liquidity: u16,
    pub regime: u16,
    pub rr: u16,
    /// Penalty points taken off (illiquid, far from VWAP).
    pub penalty: u16,
    pub total: i16,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OrderType {
    Market,
    Limit,
    /// Kite's SL: a limit order (at `price`) that enters the book when the last price
    /// touches `trigger`.
    StopLimit,
    /// Kite's SL-M: a market order (under market protection) released at `trigger`.
    StopMarket,
}

impl OrderType {
    pub fn as_str(self) -> &'static str {
        match self {
            OrderType::Market => "MARKET",
            OrderType::Limit => "LIMIT",
            OrderType::StopLimit => "SL",
            OrderType::StopMarket => "SL-M",
        }
    }
    pub fn parse(s: &str) -> Option<OrderType> {
        match s {
            "MARKET" => Some(OrderType::Market),
            "LIMIT" => Some(OrderType::Limit),
            "SL" => Some(OrderType::StopLimit),
            "SL-M" => Some(OrderType::StopMarket),
            _ => None,
        }
    }
    /// Carries a limit price (LIMIT, SL).
    pub fn has_limit(self) -> bool {
        matches!(self, OrderType::Limit | OrderType::StopLimit)
    }
    /// Waits for a trigger price (SL, SL-M).
    pub fn is_stop(self) -> bool {
        matches!(self, OrderType::StopLimit | OrderType::StopMarket)
    }
    /// Fills at whatever the book offers (MARKET, SL-M): Kite wants market protection.
    pub fn is_market(self) -> bool {
        matches!(self, OrderType::Market | OrderType::StopMarket)
    }
}

/// How long an order works: the whole day, or only what fills on arrival (IOC).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Validity {
    #[default]
    Day,
    Ioc,
}

impl Validity {
    pub fn as_str(self) -> &'static str {
        match self {
            Validity::Day => "DAY",
            Validity::Ioc => "IOC",
        }
    }
}

/// Why an order exists; decides how its fill changes the book of positions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OrderPurpose {
    Entry,
    /// The hard stop (or the breakeven stop after TP1).
    StopLoss,
    /// The ATR trailing stop, once it has moved past the initial stop.
    TrailingStop,
    /// The first partial target (exits.tp1_rr).
    TakeProfit1,
    /// The second target (exits.tp2_rr); a spread's target.
    TakeProfit2,
    /// exits.time_stop_min in the trade with no profit.
    TimeStop,
    /// A bar's range beyond exits.vol_spike_mult ATRs, closing against the position.
    VolatilityStop,
    /// Maximum adverse excursion beyond exits.mae_stop_pct of entry.
    MaeStop,
    /// End of day, per segment.
    SquareOff,
    /// The kill switch (POST /flatten) or a pause closing what filled after it.
    Flatten,
    DailyLossStop,
    /// An operator closing one position.
    Manual,
}

impl OrderPurpose {
    pub const ALL: [OrderPurpose; 12] = [
        OrderPurpose::Entry,
        OrderPurpose::StopLoss,
        OrderPurpose::TrailingStop,
        OrderPurpose::TakeProfit1,
        OrderPurpose::TakeProfit2,
        OrderPurpose::TimeStop,
        OrderPurpose::VolatilityStop,
        OrderPurpose::MaeStop,
        OrderPurpose::SquareOff,
        OrderPurpose::Flatten,
        OrderPurpose::DailyLossStop,
        OrderPurpose::Manual,
    ];
    /// The reason as logs, trade records and /orders name it.
    pub fn as_str(self) -> &'static str {
        match self {
            OrderPurpose::Entry => "ENTRY",
            OrderPurpose::StopLoss => "STOP_LOSS",
            OrderPurpose::TrailingStop => "TRAILING_STOP",
            OrderPurpose::TakeProfit1 => "TAKE_PROFIT_1",
            OrderPurpose::TakeProfit2 => "TAKE_PROFIT_2",
            OrderPurpose::TimeStop => "TIME_STOP",
            OrderPurpose::VolatilityStop => "VOLATILITY_STOP",
            OrderPurpose::MaeStop => "MAE_STOP",
            OrderPurpose::SquareOff => "EOD_SQUAREOFF",
            OrderPurpose::Flatten => "KILL_SWITCH",
            OrderPurpose::DailyLossStop => "DAILY_LOSS_LIMIT",
            OrderPurpose::Manual => "MANUAL",
        }
    }
    pub fn code(self) -> u8 {
        self as u8
    }
    pub fn from_code(c: u8) -> Option<OrderPurpose> {
        OrderPurpose::ALL.get(c as usize).copied()
    }
    /// A bit per purpose, for the set of exits a round trip took.
    pub fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

/// One finished bar of an instrument, from the strategy stage to risk: what the volatility
/// stop and the ATR trailing stop read (risk keeps no bars of its own).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BarStat {
    pub token: Token,
    pub minutes: u16,
    pub high: Price,
    pub low: Price,
    pub close: Price,
    /// ATR (indicators.atr_period) before this bar, native units; 0 until warm.
    pub atr: Price,
    /// Exchange time the bar ended.
    pub end_ts: u32,
}

/// A strategy's wish to enter; risk decides whether and how much.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Signal {
    pub token: Token,
    pub strategy: StrategyId,
    pub side: Side,
    /// Last price when the signal fired.
    pub entry: Price,
    pub stop: Price,
    pub target: Price,
    /// Exchange time (epoch seconds) of the tick or bar close that fired it.
    pub ts: u32,
    /// Filled in by the ranking before the signal reaches risk.
    pub score: SignalScore,
    /// A two-leg option spread: `token` is the leg bought (sent first), this the leg sold;
    /// `entry`, `stop` and `target` are then the spread's value (bought less sold, per unit,
    /// negative for a credit) and `side` is Buy.
    pub spread: Option<SpreadSpec>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SpreadKind {
    /// Pay to buy the nearer strike, sell the farther: max loss is the debit.
    Debit,
    /// Sell the nearer strike, buy the farther for protection: max loss is width less credit.
    Credit,
}

impl SpreadKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SpreadKind::Debit => "DEBIT_SPREAD",
            SpreadKind::Credit => "CREDIT_SPREAD",
        }
    }
}

/// The sold leg and the limits of a spread signal, per unit in native price units.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpreadSpec {
    pub kind: SpreadKind,
    pub sell_token: Token,
    /// The prices the value was taken at (buy at the ask, sell at the bid).
    pub buy_price: Price,
    pub sell_price: Price,
    /// What one unit loses at worst (expiry beyond both strikes the wrong way).
    pub max_loss: Price,
    pub max_profit: Price,
}

/// An order a desk rebuilt from its journal still has working.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResumedOrder {
    pub intent: OrderIntent,
    pub filled: i64,
    /// The broker had answered for it; false: sent, with no word back before the crash.
    pub acknowledged: bool,
}

/// An order risk has approved; the order stage routes it to the broker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrderIntent {
    pub id: OrderId,
    pub token: Token,
    pub side: Side,
    pub qty: Qty,
    pub order_type: OrderType,
    /// Limit price for LIMIT and SL orders; zero for MARKET and SL-M.
    pub price: Price,
    /// Trigger price for SL and SL-M orders; zero otherwise.
    pub trigger: Price,
    pub validity: Validity,
    pub purpose: OrderPurpose,
    pub strategy: StrategyId,
    pub ts: u32,
}

impl OrderIntent {
    /// A broker update about this intent's order.
    pub fn update(&self, kind: OrderUpdateKind) -> OrderUpdate {
        OrderUpdate {
            id: self.id,
            token: self.token,
            kind,
            ts: self.ts,
        }
    }
}

/// Operator commands from the control API, sequenced like everything else.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ControlCommand {
    Pause,
    Resume,
    /// The kill switch; `request` pairs the reply with the HTTP call.
    Flatten {
        request: u64,
    },
    /// Strategy parameters re-read from the config: the strategy stage takes the new
    /// parameters from its reload channel; risk applies the position caps carried here
    /// (`max_positions` per strategy, by `StrategyId::index`; 0 for a disabled strategy).
    ReloadStrategies {
        request: u64,
        max_positions: [u32; STRATEGY_COUNT],
    },
    /// A new trading universe (config + F&O ban list) waits in the strategy's reload channel.
    ReloadUniverse {
        request: u64,
    },
    /// The operator closes one position (POST /positions/{token}/close): exit reason MANUAL.
    ClosePosition {
        token: Token,
    },
    /// Something outside the pipeline makes new entries unsafe (exits still run): risk pauses.
    HaltEntries {
        reason: HaltReason,
    },
    /// LIVE: the broker's book waits in risk's reconciliation channel.
    Reconcile,
    /// POST /mode: orders go to Kite (`live`) or the paper broker from now on. Risk takes it
    /// only while flat (no position, no working order) and answers on its mode replies.
    /// Order ids carry on densely from the journal, so a tag is never reused the same day.
    SetMode {
        request: u64,
        live: bool,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HaltReason {
    /// A ticker connection ran out of reconnect attempts.
    FeedLost,
    /// Kite refused the access token (expired, logged out, or logged in elsewhere).
    TokenExpired,
    /// The journal's disk has less free space than monitoring.min_free_disk_gb.
    DiskLow,
}

impl HaltReason {
    pub fn as_str(self) -> &'static str {
        match self {
            HaltReason::FeedLost => "market feed lost: reconnect attempts exhausted",
            HaltReason::TokenExpired => {
                "Kite access token refused (TokenException): run `aitrapp login`"
            }
            HaltReason::DiskLow => {
                "free disk below monitoring.min_free_disk_gb: free space, then POST /resume"
            }
        }
    }
}

/// Risk's answer to `ControlCommand::SetMode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ModeReport {
    pub request: u64,
    pub outcome: ModeOutcome,
}

/// The operator's name for where orders go: Kite (`live`) or the paper broker.
pub const fn mode_name(live: bool) -> &'static str {
    if live {
        "LIVE"
    } else {
        "PAPER"
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModeOutcome {
    Switched,
    /// Already in the asked-for mode: nothing changed.
    Unchanged,
    /// Positions open or orders working: a switch would split the book across two brokers.
    NotFlat {
        positions: u32,
        orders: u32,
    },
}

/// What the risk stage did for a flatten request; sent back to the control thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct FlattenReport {
    pub request: u64,
    pub orders_cancelled: u32,
    pub positions_closed: u32,
    pub exposure_closed: Paise,
    /// Orders still working once it acted (cancels and closes not yet answered).
    pub orders_working: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Event {
    #[default]
    Empty,
    Tick(Tick),
    Control(ControlCommand),
    Order(OrderUpdate),
    Signal(Signal),
    /// The session clock: exchange time (epoch seconds) has reached `ts`. The feed thread
    /// sequences one per exchange second, ticks or no ticks, so bar closes, square-off and
    /// every other time-driven step run with the feed silent.
    Clock {
        ts: u32,
    },
    Intent(OrderIntent),
    /// A finished bar (the smallest aggregation window) with its ATR.
    Bar(BarStat),
    Cancel {
        id: OrderId,
        token: Token,
    },
    /// Change a working order: its new quantity, limit and trigger (zero keeps the old).
    Modify {
        id: OrderId,
        token: Token,
        qty: Qty,
        price: Price,
        trigger: Price,
    },
    /// Risk accepted a mode switch: the order stage routes to Kite (`live`) or paper.
    Mode {
        live: bool,
    },
    /// Lockstep marker: when the last stage has handled it, everything before it is done.
    /// `id` is `frame * BARRIER_ROUNDS + round` (see `barrier_frame`).
    Barrier {
        id: u64,
    },
}

/// Barriers one lockstep frame may take to settle: round 0 closes the frame's own events,
/// each later one the broker updates the round before caused (an entry's fill, then the
/// spread's second leg or the stop it sends, and their answers).
pub const BARRIER_ROUNDS: u64 = 64;

/// The frame a barrier id closes.
pub const fn barrier_frame(id: u64) -> u64 {
    id / BARRIER_ROUNDS
}

/// One ring slot: an event and when the feed thread received what caused it (monotonic ns).
#[derive(Clone, Copy, Debug, Default)]
pub struct Slot {
    pub ev: Event,
    pub recv_ns: u64,
}

/// Helper for building quantities from lots.
pub fn lots_to_qty(lots: i64, lot_size: u32) -> Qty {
    Qty(lots * lot_size as i64)
}

/// Messages into the feed thread's sequencer inbox.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum InboxMsg {
    Control(ControlCommand),
    Order(OrderUpdate),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_short_and_unique() {
        assert_eq!(OrderId(0).tag().as_str(), "AT0");
        assert_eq!(OrderId(35).tag().as_str(), "ATZ");
        assert_eq!(OrderId(36).tag().as_str(), "AT10");
        assert!(OrderId(u64::MAX).tag().as_str().len() <= 20);
    }

    /// The default ring (4096 slots) is sized to stay in a core's L2; a slot that grows past
    /// four cache lines would change that arithmetic (configs/app.yaml, PERF.md).
    #[test]
    fn slot_fits_four_cache_lines() {
        let size = std::mem::size_of::<Slot>();
        assert!(size <= 256, "Slot is {size} bytes");
    }
}
