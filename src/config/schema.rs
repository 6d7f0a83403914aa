//! The typed shape of `configs/app.yaml`. Every field has a default so a partial file works;
//! unknown keys are reported by the loader; ranges are checked in `validate`.

use serde::{Deserialize, Serialize};

pub use super::operator::*;
pub use super::strategies::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Mode {
    #[default]
    #[serde(rename = "PAPER")]
    Paper,
    #[serde(rename = "LIVE")]
    Live,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Paper => "PAPER",
            Mode::Live => "LIVE",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AppConfig {
    pub mode: Mode,
    pub timezone: String,
    pub risk: RiskConfig,
    pub universe: UniverseConfig,
    pub strategies: StrategiesConfig,
    pub indicators: IndicatorsConfig,
    pub ranking: RankingConfig,
    pub exits: ExitsConfig,
    pub market: MarketConfig,
    pub execution: ExecutionConfig,
    pub kite: KiteConfig,
    pub alerts: AlertsConfig,
    pub websocket: WebsocketConfig,
    pub logging: LoggingConfig,
    pub monitoring: MonitoringConfig,
    pub pipeline: PipelineConfig,
    pub feed: FeedConfig,
    pub control: ControlConfig,
    pub journal: super::JournalConfig,
    pub shutdown: super::ShutdownConfig,
}

impl Default for AppConfig {
    fn default() -> Self {
        AppConfig {
            mode: Mode::Paper,
            timezone: "Asia/Kolkata".into(),
            risk: RiskConfig::default(),
            universe: UniverseConfig::default(),
            strategies: StrategiesConfig::default(),
            indicators: IndicatorsConfig::default(),
            ranking: RankingConfig::default(),
            exits: ExitsConfig::default(),
            market: MarketConfig::default(),
            execution: ExecutionConfig::default(),
            kite: KiteConfig::default(),
            alerts: AlertsConfig::default(),
            websocket: WebsocketConfig::default(),
            logging: LoggingConfig::default(),
            monitoring: MonitoringConfig::default(),
            pipeline: PipelineConfig::default(),
            feed: FeedConfig::default(),
            control: ControlConfig::default(),
            journal: super::JournalConfig::default(),
            shutdown: super::ShutdownConfig::default(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RiskConfig {
    /// Trading capital in rupees.
    pub capital: f64,
    /// Percent of capital risked per trade (0.5 means 0.5%).
    pub per_trade_risk_pct: f64,
    /// Cap on the sum of open risk as percent of capital.
    pub max_portfolio_heat_pct: f64,
    /// Daily P&L (percent of capital, negative) at which everything is closed and entries stop.
    pub daily_loss_stop_pct: f64,
    /// Largest position in lots for F&O instruments.
    pub max_position_size_multiplier: u32,
    /// For cash equities (a lot is one share): largest position notional, percent of capital.
    pub max_position_notional_pct: f64,
    pub max_positions: u32,
    /// Dated Indian charge tables (brokerage, STT, exchange, SEBI, stamp, GST).
    pub charges_file: String,
}

impl Default for RiskConfig {
    fn default() -> Self {
        RiskConfig {
            capital: 1_000_000.0,
            per_trade_risk_pct: 0.5,
            max_portfolio_heat_pct: 2.0,
            daily_loss_stop_pct: -2.5,
            max_position_size_multiplier: 3,
            max_position_notional_pct: 20.0,
            max_positions: 5,
            charges_file: "configs/charges.yaml".into(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct UniverseConfig {
    /// Kite instruments CSV; in LIVE mode the broker's dump replaces it.
    pub instruments_file: String,
    /// Trading symbols the strategies may trade; empty means every tradable non-option.
    pub symbols: Vec<String>,
    pub include_futures: bool,
    pub include_equities: bool,
    pub include_options: bool,
    /// NSE's fo_secban.csv: a dated header, then one security per line (`N,SYMBOL`).
    pub ban_list_file: String,
    /// Equities ranked by previous-day turnover: only this many stay (0: no cap).
    pub fo_stocks_liquidity_rank_top_n: u32,
    /// Equities that traded less than this many rupees the previous day are left out.
    pub exclude_illiquid_threshold_turnover: f64,
}

impl Default for UniverseConfig {
    fn default() -> Self {
        UniverseConfig {
            instruments_file: "configs/instruments.csv".into(),
            symbols: Vec::new(),
            include_futures: true,
            include_equities: true,
            include_options: false,
            ban_list_file: "configs/fo_secban.csv".into(),
            fo_stocks_liquidity_rank_top_n: 50,
            exclude_illiquid_threshold_turnover: 100_000_000.0,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ExitsConfig {
    pub stop_loss_enabled: bool,
    /// TP1 and TP2 on (off: only stops, time, volatility, MAE and the day's end close).
    pub take_profit_enabled: bool,
    /// ATR trailing stop: `trail_atr_mult` ATRs behind the best price since entry; it only
    /// ever moves in the position's favour.
    pub trail_enabled: bool,
    pub trail_atr_mult: f64,
    /// First target at `tp1_rr` times the initial risk: close `tp1_partial_pct` percent.
    pub tp1_rr: f64,
    pub tp1_partial_pct: f64,
    /// Second target: close `tp2_partial_pct` percent of the entry quantity (100: the rest).
    pub tp2_rr: f64,
    pub tp2_partial_pct: f64,
    pub move_to_be_after_tp1: bool,
    /// Close a position still without profit after `time_stop_min` minutes.
    pub time_stop_enabled: bool,
    pub time_stop_min: u32,
    /// Close when a bar's range exceeds `vol_spike_mult` ATRs and it closes against us.
    pub vol_stop_enabled: bool,
    pub vol_spike_mult: f64,
    /// Close when price moves `mae_stop_pct` percent of entry against the position.
    pub mae_stop_enabled: bool,
    pub mae_stop_pct: f64,
}

impl Default for ExitsConfig {
    fn default() -> Self {
        ExitsConfig {
            stop_loss_enabled: true,
            take_profit_enabled: true,
            trail_enabled: true,
            trail_atr_mult: 2.0,
            tp1_rr: 1.0,
            tp1_partial_pct: 50.0,
            tp2_rr: 2.0,
            tp2_partial_pct: 100.0,
            move_to_be_after_tp1: true,
            time_stop_enabled: true,
            time_stop_min: 60,
            vol_stop_enabled: true,
            vol_spike_mult: 4.0,
            mae_stop_enabled: false,
            mae_stop_pct: 1.5,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MarketConfig {
    pub pre_open_time: String,
    pub open_time: String,
    pub close_time: String,
    pub eod_squareoff_enabled: bool,
    /// The engine's square-off of equity (cash MIS) positions (the runbook's key).
    pub eod_squareoff_time: String,
    /// The engine's square-off of futures and options positions.
    pub fo_squareoff_time: String,
    /// When the broker squares off MIS itself and charges for it (Zerodha: equity 15:20,
    /// F&O 15:25); ours must come earlier.
    pub broker_squareoff_equity: String,
    pub broker_squareoff_fo: String,
    /// No new entries this many minutes before the segment's square-off.
    pub no_entries_before_squareoff_min: u32,
    pub holidays_file: String,
}

impl Default for MarketConfig {
    fn default() -> Self {
        MarketConfig {
            pre_open_time: "09:00".into(),
            open_time: "09:15".into(),
            close_time: "15:30".into(),
            eod_squareoff_enabled: true,
            eod_squareoff_time: "15:15".into(),
            fo_squareoff_time: "15:20".into(),
            broker_squareoff_equity: "15:20".into(),
            broker_squareoff_fo: "15:25".into(),
            no_entries_before_squareoff_min: 10,
            holidays_file: "configs/holidays_nse.txt".into(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum EntryOrderType {
    #[serde(rename = "MARKET")]
    Market,
    #[serde(rename = "LIMIT")]
    Limit,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ExecutionConfig {
    pub entry_order_type: EntryOrderType,
    /// Paper fills: MARKET orders fill at the touch moved this many basis points against us.
    pub slippage_bps: f64,
    pub max_order_retries: u32,
    pub retry_backoff_ms: u64,
    /// LIMIT entries: re-priced one tick toward the market every `limit_timeout_sec`, at
    /// most this many times; then `limit_chase_final` (CANCEL, or MARKET for the rest).
    pub limit_chase_ticks: u32,
    pub limit_timeout_sec: u32,
    pub limit_chase_final: String,
    /// Engine exits as LIMIT IOC `ioc_exit_band_pct` through the last price (what does not
    /// fill goes again a second later) instead of MARKET under market protection.
    pub ioc_for_exits: bool,
    pub ioc_exit_band_pct: f64,
    pub product: String,
    /// Sent with every MARKET and SL-M order: -1 lets Kite choose, 0 < p <= 100 is a
    /// percentage. Kite rejects API MARKET/SL-M orders without it since 1 April 2026.
    pub market_protection: f64,
    /// The exchange-issued algo ID sent as Kite's `algo_id` on every order (empty: none).
    /// Its semantics are UNCONFIRMED (the official client 5.2.2 sends it; no docs yet).
    pub exchange_algo_id: String,
    /// Dated freeze-quantity tables (units per order by underlying).
    pub freeze_qty_file: String,
    /// Paper exchange: order-to-book delay in ms of feed time (0: the book it was decided on).
    pub paper_latency_ms: u64,
    /// Paper exchange: circuit limits this many percent around the previous close (0: none).
    /// NSE's real bands differ per stock (2/5/10/20 %); LIVE uses Kite's quote limits.
    pub paper_price_band_pct: f64,
    /// Paper exchange: margin the account has in rupees (null: risk.capital).
    pub paper_margin_rupees: Option<f64>,
    /// Margin per rupee of notional, percent (MIS intraday: about 20 %).
    pub margin_pct: f64,
    /// A stop order rests at the broker for every position (PAPER: at the paper broker).
    pub protective_stop: bool,
    /// `SL-M` (market once triggered, under market_protection) or `SL` (a limit).
    pub protective_stop_order_type: String,
    /// SL only: the limit this many percent beyond the trigger.
    pub protective_stop_limit_band_pct: f64,
    /// Kite allows 25 modifications per order: re-place the stop after this many.
    pub protective_stop_replace_after: u8,
    /// At most one trigger move per this many seconds.
    pub protective_stop_modify_interval_s: u32,
    /// The engine's stop fired: seconds the broker's stop gets to fill before the engine
    /// cancels it and closes at market itself.
    pub protective_stop_grace_s: u32,
}

impl Default for ExecutionConfig {
    fn default() -> Self {
        ExecutionConfig {
            entry_order_type: EntryOrderType::Market,
            slippage_bps: 2.0,
            max_order_retries: 3,
            retry_backoff_ms: 500,
            limit_chase_ticks: 2,
            limit_timeout_sec: 5,
            limit_chase_final: "CANCEL".into(),
            ioc_for_exits: false,
            ioc_exit_band_pct: 0.5,
            product: "MIS".into(),
            market_protection: -1.0,
            exchange_algo_id: String::new(),
            freeze_qty_file: "configs/freeze_qty.yaml".into(),
            paper_latency_ms: 0,
            paper_price_band_pct: 20.0,
            paper_margin_rupees: None,
            margin_pct: 20.0,
            protective_stop: true,
            protective_stop_order_type: "SL-M".into(),
            protective_stop_limit_band_pct: 0.5,
            protective_stop_replace_after: 20,
            protective_stop_modify_interval_s: 5,
            protective_stop_grace_s: 2,
        }
    }
}

/// Kite REST: where, how long to wait, how many io workers, and the rate limits.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct KiteConfig {
    pub api_root: String,
    /// Where `aitrapp login` sends the user.
    pub login_url: String,
    /// A REST call without an answer by then is a timeout (an order is then looked up by tag).
    pub request_timeout_ms: u64,
    pub io_workers: usize,
    /// While an order is unsettled, the order book is polled this often (the WebSocket
    /// updates can be missed across a reconnect).
    pub order_poll_ms: u64,
    /// PEM certificates to trust for https:// instead of the public roots (kite-sim --tls).
    pub ca_file: Option<String>,
    /// With Kite credentials, download the day's instrument dump at start (cached per day
    /// in `instruments_cache_dir`) instead of reading universe.instruments_file.
    pub sync_instruments: bool,
    pub instruments_cache_dir: String,
    /// One limiter for every REST caller in the process.
    pub rate_limits: RateLimits,
    /// LIVE: the desk is matched to Kite's orders and positions by tag before the first
    /// order and then this often (0: at start only).
    pub reconcile_interval_s: u64,
    /// A position reconciliation adopts (our tag, missing from the journal) gets its
    /// protective stop this far from its price; foreign positions count in heat at it.
    pub adopted_stop_pct: f64,
}

impl Default for KiteConfig {
    fn default() -> Self {
        KiteConfig {
            api_root: "https://api.kite.trade".into(),
            login_url: "https://kite.zerodha.com/connect/login".into(),
            request_timeout_ms: 7000,
            io_workers: 2,
            order_poll_ms: 1000,
            ca_file: None,
            sync_instruments: true,
            instruments_cache_dir: "run".into(),
            rate_limits: RateLimits::default(),
            reconcile_interval_s: 60,
            adopted_stop_pct: 1.5,
        }
    }
}

/// The limits, as `kite.rate_limits` in the config (Kite documents 10/s, 200 or 400 per minute
/// and 3000 or 5000 per day for orders; quotes 1/s; historical 3/s; others 10/s).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RateLimits {
    pub orders_per_second: u32,
    pub orders_per_minute: u32,
    pub orders_per_day: u32,
    pub quotes_per_second: u32,
    pub historical_per_second: u32,
    pub others_per_second: u32,
    /// Added to every window. Two requests granted exactly a window apart can reach Kite
    /// closer together than that (the first delayed more on the way), which Kite counts as a
    /// breach; the margin (ms) absorbs that jitter.
    pub margin_ms: u64,
}

impl Default for RateLimits {
    /// The conservative published figures.
    fn default() -> Self {
        RateLimits {
            orders_per_second: 10,
            orders_per_minute: 200,
            orders_per_day: 3000,
            quotes_per_second: 1,
            historical_per_second: 3,
            others_per_second: 10,
            margin_ms: 50,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct WebsocketConfig {
    pub ws_root: String,
    pub max_reconnect_attempts: u32,
    pub stale_after_ms: u64,
    /// ltp | quote | full, for every subscribed token.
    pub mode: String,
    pub connect_timeout_ms: u64,
    /// Reconnect backoff: the first retry is immediate, then base * 2^n up to max, jittered.
    pub reconnect_backoff_base_ms: u64,
    pub reconnect_backoff_max_ms: u64,
    /// PEM file of certificates to trust for wss:// instead of the public roots (a local
    /// simulator's self-signed certificate).
    pub ca_file: Option<String>,
    /// Bar sizes the strategy stage builds, minutes.
    pub aggregation_windows: Vec<u32>,
    /// Finished bars kept per instrument and bar size.
    pub bar_history: u32,
}

impl Default for WebsocketConfig {
    fn default() -> Self {
        WebsocketConfig {
            ws_root: "wss://ws.kite.trade".into(),
            max_reconnect_attempts: 50,
            stale_after_ms: 5000,
            mode: "full".into(),
            connect_timeout_ms: 7000,
            reconnect_backoff_base_ms: 250,
            reconnect_backoff_max_ms: 30_000,
            ca_file: None,
            aggregation_windows: vec![1, 5],
            bar_history: 500,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Topology {
    Pipeline,
    Collapsed,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PipelineConfig {
    pub topology: Topology,
    /// adaptive (the default: spin briefly, yield, then park until woken) | busy_spin |
    /// spin_hint | yield | sleep_us:N. busy_spin with `cpus` is for the tuned host.
    pub wait: String,
    /// CPUs to pin the hot threads to, in order feed, strategy, risk, order (or feed, consumer
    /// when collapsed). Empty: no pinning.
    pub cpus: Vec<usize>,
    /// Slots per ring (power of two). Small enough to stay cache-resident: a 65,536-slot
    /// ring (14 MB) made every publish write cold cache lines (PERF.md).
    pub ring_size: usize,
    /// When spinners outnumber allowed cores: refuse to start (false) or downgrade to yield.
    pub downgrade_on_oversubscription: bool,
    /// The scheduler time slice the hot threads ask for, in microseconds (Linux 6.12+;
    /// 0 keeps the kernel's default, which grows with the CPU count: 1.4 ms on a 2-CPU
    /// host). A short slice lets a woken hot thread
    /// take a shared core at once from any ordinary thread (the API's callers, a browser);
    /// the kernel takes 100..=100000.
    pub hot_slice_us: u32,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            topology: Topology::Collapsed,
            wait: "adaptive".into(),
            cpus: Vec::new(),
            ring_size: 4096,
            downgrade_on_oversubscription: true,
            hot_slice_us: 100,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeedSource {
    Auto,
    Kite,
    Synthetic,
    Replay,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FeedConfig {
    pub source: FeedSource,
    /// Record every received frame to this file (record format, see README).
    pub record: Option<String>,
    /// The recorded file `source: replay` plays.
    pub replay_path: Option<String>,
    /// 1.0 = recorded pace, 2.0 = twice as fast, 0 = as fast as the pipeline takes it.
    pub replay_speed: f64,
    pub synthetic: SyntheticConfig,
    /// The Kite feed's session clock: `wall` (the real clock, ticking with the feed silent:
    /// Kite) or `exchange` (the newest exchange timestamp in the ticks: kite-sim, whose day
    /// runs at its own start and speed).
    pub session_clock: String,
}

impl Default for FeedConfig {
    fn default() -> Self {
        FeedConfig {
            source: FeedSource::Auto,
            record: None,
            replay_path: None,
            replay_speed: 1.0,
            session_clock: "wall".into(),
            synthetic: SyntheticConfig::default(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SyntheticConfig {
    pub seed: u64,
    /// Simulated seconds per real second; 0 runs as fast as the pipeline takes it.
    pub speed: f64,
    /// IST time the simulated session starts at.
    pub start_time: String,
    /// Session date (yyyy-mm-dd); empty means today in IST.
    pub date: String,
    /// Trading symbols to simulate; empty means every instrument in the instruments file.
    pub instruments: Vec<String>,
    /// Simulated milliseconds between frames.
    pub tick_interval_ms: u32,
    /// Stop the process after the simulated close (for demos and tests).
    pub exit_at_close: bool,
    /// Option chains listed for the session (NIFTY weekly, BANKNIFTY monthly): expiries
    /// each, and strikes either side of the money.
    pub option_expiries: u32,
    pub option_strikes_from_atm: u32,
}

impl Default for SyntheticConfig {
    fn default() -> Self {
        SyntheticConfig {
            seed: 42,
            speed: 20.0,
            start_time: "09:13".into(),
            date: String::new(),
            instruments: Vec::new(),
            tick_interval_ms: 1000,
            exit_at_close: false,
            option_expiries: 2,
            option_strikes_from_atm: 10,
        }
    }
}
