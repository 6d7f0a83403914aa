//! The simulator's market: aitrapp's synthetic NSE market (or a recorded session) stepping in
//! real time. Every frame is decoded with the real decoder; the ticks go to each WebSocket
//! connection and the latest one per instrument is the book REST quotes from.

use crate::exchange::Exchange;
use aitrapp::config::AppConfig;
use aitrapp::domain::{InstrumentMaster, Tick, Token};
use aitrapp::feed::codec::decode_frame;
use aitrapp::feed::replay::ReplaySource;
use aitrapp::feed::{FrameSource, SourcePoll};
use crossbeam_channel::{Receiver, Sender, TrySendError};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;

/// One step's ticks, shared by every connection.
pub type TickBatch = Arc<[Tick]>;

pub struct SimMarket {
    pub master: Arc<InstrumentMaster>,
    /// The instruments dump as served on `GET /instruments` (the file the market runs on).
    pub instruments_csv: String,
    /// Latest tick per instrument, by master index.
    books: RwLock<Vec<Option<Tick>>>,
    subscribers: Mutex<Vec<Sender<TickBatch>>>,
    /// The simulated exchange and OMS, matched on every market step.
    pub exchange: Mutex<Exchange>,
    /// WebSocket connections waiting for `order` text messages.
    order_listeners: Mutex<Vec<Sender<String>>>,
    /// One-minute candles per token from the ticks so far, for the historical endpoint.
    candles: Mutex<std::collections::HashMap<u32, Vec<MinuteCandle>>>,
    /// Every price from now on moved this many basis points (`POST /__sim/shift_price`): a
    /// crash or a spike on demand, for tests of stops resting at the exchange.
    pub price_shift_bps: AtomicI64,
}

/// A one-minute candle in native price units; `minute` is epoch seconds at its start.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MinuteCandle {
    pub minute: u32,
    pub open: i64,
    pub high: i64,
    pub low: i64,
    pub close: i64,
    /// Day volume at the last tick of the minute (Kite ticks carry the day's cumulative).
    pub day_volume: u32,
    pub oi: u32,
}

impl SimMarket {
    /// `listed`: the synthetic market's contracts for its session date (option chains, live
    /// futures) as aitrapp's PAPER run lists them; a replay serves the file as it is.
    pub fn new(cfg: &AppConfig, base: &Path, listed: bool) -> anyhow::Result<SimMarket> {
        let path = aitrapp::config::resolve_path(base, &cfg.universe.instruments_file);
        let file_csv = std::fs::read_to_string(&path)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
        let file = InstrumentMaster::parse_csv(&file_csv, &path.display().to_string())?;
        let (master, instruments_csv) = if listed {
            let calendar = aitrapp::app::session_calendar(cfg, base)?;
            let m = aitrapp::app::synthetic_listing(cfg, &file, &calendar)?;
            let csv = m.to_csv();
            (m, csv)
        } else {
            (file, file_csv)
        };
        let n = master.len();
        let master = Arc::new(master);
        Ok(SimMarket {
            exchange: Mutex::new(Exchange::new(master.clone())),
            order_listeners: Mutex::new(Vec::new()),
            candles: Mutex::new(std::collections::HashMap::new()),
            master,
            instruments_csv,
            books: RwLock::new(vec![None; n]),
            subscribers: Mutex::new(Vec::new()),
            price_shift_bps: AtomicI64::new(0),
        })
    }

    /// A feed of every tick from now on. A connection that falls 1024 batches behind loses
    /// batches (as a slow Kite client would), it never slows the market.
    pub fn subscribe(&self) -> Receiver<TickBatch> {
        let (tx, rx) = crossbeam_channel::bounded(1024);
        if let Ok(mut subs) = self.subscribers.lock() {
            subs.push(tx);
        }
        rx
    }

    /// Order updates as WebSocket text messages, from now on.
    pub fn order_updates(&self) -> Receiver<String> {
        let (tx, rx) = crossbeam_channel::bounded(4096);
        if let Ok(mut l) = self.order_listeners.lock() {
            l.push(tx);
        }
        rx
    }

    /// Pushes `{"type":"order","data":..}` for each changed order to every connection.
    pub fn push_order_updates(&self, updates: Vec<serde_json::Value>) {
        if updates.is_empty() {
            return;
        }
        if let Ok(mut l) = self.order_listeners.lock() {
            for u in updates {
                let text = serde_json::json!({"type": "order", "data": u}).to_string();
                l.retain(|s| {
                    !matches!(s.try_send(text.clone()), Err(TrySendError::Disconnected(_)))
                });
            }
        }
    }

    /// Candles of `minutes` minutes from [from, to) epoch seconds, aggregated from minute bars.
    pub fn candles(&self, token: u32, minutes: u32, from: u32, to: u32) -> Vec<MinuteCandle> {
        let Ok(c) = self.candles.lock() else {
            return Vec::new();
        };
        let span = minutes.max(1) * 60;
        let mut out: Vec<MinuteCandle> = Vec::new();
        let mut prev_volume: Option<u32> = None;
        for k in c.get(&token).into_iter().flatten() {
            let vol_before = prev_volume.unwrap_or(k.day_volume);
            prev_volume = Some(k.day_volume);
            if k.minute < from || k.minute >= to {
                continue;
            }
            let bucket = k.minute - k.minute % span;
            let vol = k.day_volume.saturating_sub(vol_before);
            match out.last_mut() {
                Some(b) if b.minute == bucket => {
                    b.high = b.high.max(k.high);
                    b.low = b.low.min(k.low);
                    b.close = k.close;
                    b.day_volume += vol;
                    b.oi = k.oi;
                }
                _ => out.push(MinuteCandle {
                    minute: bucket,
                    day_volume: vol,
                    ..*k
                }),
            }
        }
        out
    }

    /// Quotes before the session's first tick: each instrument at its previous close, stamped
    /// at that close, as Kite answers at any time of day. Later ticks replace them.
    pub fn seed_previous_closes(&self, closes: &[(Token, i32)], ts: u32) {
        let Ok(mut books) = self.books.write() else {
            return;
        };
        for &(token, close) in closes {
            if let Some(i) = self.master.index_of(token) {
                if books[i].is_none() && close > 0 {
                    books[i] = Some(Tick {
                        token,
                        mode: aitrapp::domain::TickMode::Quote,
                        is_index: self.master.by_index(i).instrument_type
                            == aitrapp::domain::InstrumentType::Index,
                        last_price: close,
                        ohlc: aitrapp::domain::Ohlc {
                            open: close,
                            high: close,
                            low: close,
                            close,
                        },
                        last_trade_time: ts,
                        exchange_timestamp: ts,
                        ..Tick::default()
                    });
                }
            }
        }
    }

    pub fn last_tick(&self, token: Token) -> Option<Tick> {
        let idx = self.master.index_of(token)?;
        self.books.read().ok()?.get(idx).copied().flatten()
    }

    /// Moves a tick's prices by the shift, each on its instrument's tick grid.
    fn shifted(&self, mut t: Tick, bps: i64) -> Tick {
        let tick = self.master.get(t.token).map_or(5, |i| i.tick_size.0.max(1));
        let mv = |p: i32| -> i32 {
            if p <= 0 {
                return p;
            }
            let q = p as i64 + p as i64 * bps / 10_000;
            ((q / tick * tick).max(tick)) as i32
        };
        t.last_price = mv(t.last_price);
        for l in t.buy.iter_mut().chain(t.sell.iter_mut()) {
            l.price = mv(l.price);
        }
        t.ohlc.high = mv(t.ohlc.high).max(t.last_price);
        t.ohlc.low = mv(t.ohlc.low).min(t.last_price);
        t
    }

    fn publish(&self, ticks: Vec<Tick>) {
        let bps = self.price_shift_bps.load(Ordering::Relaxed);
        let ticks: Vec<Tick> = if bps == 0 {
            ticks
        } else {
            ticks.into_iter().map(|t| self.shifted(t, bps)).collect()
        };
        if let Ok(mut books) = self.books.write() {
            for t in &ticks {
                if let Some(i) = self.master.index_of(t.token) {
                    books[i] = Some(*t);
                }
            }
        }
        if let Ok(mut c) = self.candles.lock() {
            for t in ticks
                .iter()
                .filter(|t| t.exchange_timestamp > 0 && t.last_price > 0)
            {
                let minute = t.exchange_timestamp - t.exchange_timestamp % 60;
                let px = t.last_price as i64;
                let list = c.entry(t.token.0).or_default();
                match list.last_mut() {
                    Some(k) if k.minute == minute => {
                        k.high = k.high.max(px);
                        k.low = k.low.min(px);
                        k.close = px;
                        k.day_volume = t.volume_traded;
                        k.oi = t.oi;
                    }
                    _ => list.push(MinuteCandle {
                        minute,
                        open: px,
                        high: px,
                        low: px,
                        close: px,
                        day_volume: t.volume_traded,
                        oi: t.oi,
                    }),
                }
            }
        }
        let updates = match self.exchange.lock() {
            Ok(mut ex) => ex.on_ticks(&ticks),
            Err(_) => Vec::new(),
        };
        self.push_order_updates(updates);
        let batch: TickBatch = ticks.into();
        if let Ok(mut subs) = self.subscribers.lock() {
            subs.retain(|s| {
                !matches!(
                    s.try_send(batch.clone()),
                    Err(TrySendError::Disconnected(_))
                )
            });
        }
    }
}

/// Starts the thread that steps the market in real time.
pub fn spawn(
    market: Arc<SimMarket>,
    cfg: &AppConfig,
    base: &Path,
    replay: Option<&Path>,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<JoinHandle<()>> {
    let mut source: Box<dyn FrameSource> = match replay {
        Some(p) => Box::new(ReplaySource::open(p, 1.0)?),
        None => {
            let calendar = aitrapp::app::session_calendar(cfg, base)?;
            let mut c = cfg.clone();
            // The simulator is a live exchange: never "as fast as possible".
            if c.feed.synthetic.speed <= 0.0 {
                c.feed.synthetic.speed = 1.0;
            }
            c.feed.synthetic.exit_at_close = false;
            let m = aitrapp::app::synthetic_market(&c, &market.master, &calendar)?;
            let prev = calendar.previous_sessions(m.date(), 1);
            let close_ts = prev
                .first()
                .map(|d| aitrapp::clock::ist_epoch(*d, calendar.close) as u32)
                .unwrap_or(0);
            market.seed_previous_closes(&m.previous_closes(), close_ts);
            Box::new(m)
        }
    };
    Ok(std::thread::Builder::new()
        .name("kite-sim-market".into())
        .spawn(move || {
            let mut buf = Vec::with_capacity(1 << 16);
            while !stop.load(Ordering::Relaxed) {
                match source.poll(&mut buf) {
                    SourcePoll::Frame => {
                        let mut ticks = Vec::new();
                        if decode_frame(&buf, |t| ticks.push(*t)).is_ok() && !ticks.is_empty() {
                            market.publish(ticks);
                        }
                    }
                    SourcePoll::Idle => std::thread::sleep(Duration::from_millis(1)),
                    SourcePoll::End => break,
                }
            }
        })?)
}
