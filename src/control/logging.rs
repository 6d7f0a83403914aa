//! Logging: JSON lines to `logs/aitrapp.log` (rotated by size) and a readable copy on stderr,
//! through `log` + `fern`. Hot threads never call the logger: they hand a small `HotEvent` to
//! the logger thread through a bounded queue and count what the queue drops.

use crate::domain::{format_rupees, InstrumentMaster, Token};
pub use crate::telemetry::hot_log::{HotEvent, HotLog, ShortText};
use crossbeam_channel::Receiver;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A file that rotates to `.1`, `.2`, ... when it would pass `max_bytes`. If an operator
/// moves or deletes it (the runbook's `mv logs/aitrapp.log logs/aitrapp.$(date +%Y%m%d).log`),
/// the next write within a second notices and starts a fresh file at the path.
pub struct RotatingFile {
    path: PathBuf,
    file: File,
    size: u64,
    max_bytes: u64,
    backups: u32,
    /// Inode of the open file, compared with the path's to detect an outside move.
    ino: u64,
    last_check: Instant,
    check_every: Duration,
}

impl RotatingFile {
    pub fn open(path: &Path, max_bytes: u64, backups: u32) -> io::Result<RotatingFile> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let meta = file.metadata()?;
        Ok(RotatingFile {
            path: path.to_path_buf(),
            file,
            size: meta.len(),
            max_bytes,
            backups,
            ino: meta.ino(),
            last_check: Instant::now(),
            check_every: Duration::from_secs(1),
        })
    }

    /// Reopens the path when the open file is no longer the one at the path.
    fn follow_outside_move(&mut self) -> io::Result<()> {
        if self.last_check.elapsed() < self.check_every {
            return Ok(());
        }
        self.last_check = Instant::now();
        let moved = match std::fs::metadata(&self.path) {
            Ok(m) => m.ino() != self.ino,
            Err(e) if e.kind() == io::ErrorKind::NotFound => true,
            Err(e) => return Err(e),
        };
        if moved {
            self.file.flush()?;
            self.reopen()?;
        }
        Ok(())
    }

    fn reopen(&mut self) -> io::Result<()> {
        self.file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        let meta = self.file.metadata()?;
        self.size = meta.len();
        self.ino = meta.ino();
        Ok(())
    }

    fn rotate(&mut self) -> io::Result<()> {
        self.file.flush()?;
        if self.backups == 0 {
            self.file = OpenOptions::new()
                .create(true)
                .write(true)
                .truncate(true)
                .open(&self.path)?;
        } else {
            for i in (1..self.backups).rev() {
                let from = self.backup_path(i);
                if from.exists() {
                    std::fs::rename(&from, self.backup_path(i + 1))?;
                }
            }
            std::fs::rename(&self.path, self.backup_path(1))?;
            self.file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)?;
        }
        self.size = 0;
        self.ino = self.file.metadata()?.ino();
        Ok(())
    }

    fn backup_path(&self, i: u32) -> PathBuf {
        let mut s = self.path.clone().into_os_string();
        s.push(format!(".{i}"));
        PathBuf::from(s)
    }
}

impl Write for RotatingFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.follow_outside_move()?;
        if self.size > 0 && self.size + buf.len() as u64 > self.max_bytes {
            self.rotate()?;
        }
        let n = self.file.write(buf)?;
        self.size += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// Local IST wall time with milliseconds, e.g. 2026-11-25T09:15:00.123+05:30.
pub fn ist_timestamp() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs() as i64;
    let d = crate::clock::ist_date(secs);
    let t = crate::clock::ist_time_of_day(secs);
    format!("{d}T{t}.{:03}+05:30", now.subsec_millis())
}

/// Upper-case name for the human stderr copy.
fn level_name(l: log::Level) -> &'static str {
    match l {
        log::Level::Error => "ERROR",
        log::Level::Warn => "WARNING",
        log::Level::Info => "INFO",
        log::Level::Debug => "DEBUG",
        log::Level::Trace => "TRACE",
    }
}

struct JsonFields<'a>(&'a mut serde_json::Map<String, serde_json::Value>);

impl<'kvs> log::kv::VisitSource<'kvs> for JsonFields<'_> {
    fn visit_pair(
        &mut self,
        key: log::kv::Key<'kvs>,
        value: log::kv::Value<'kvs>,
    ) -> Result<(), log::kv::Error> {
        let v = if let Some(i) = value.to_i64() {
            serde_json::Value::from(i)
        } else if let Some(u) = value.to_u64() {
            serde_json::Value::from(u)
        } else if let Some(f) = value.to_f64() {
            serde_json::Value::from(f)
        } else if let Some(b) = value.to_bool() {
            serde_json::Value::from(b)
        } else {
            serde_json::Value::from(value.to_string())
        };
        self.0.insert(key.to_string(), v);
        Ok(())
    }
}

/// Lower-case name for the JSON file, so the runbook's
/// `jq 'select(.level=="warning" or .level=="error")'` filters match.
fn json_level_name(l: log::Level) -> &'static str {
    match l {
        log::Level::Error => "error",
        log::Level::Warn => "warning",
        log::Level::Info => "info",
        log::Level::Debug => "debug",
        log::Level::Trace => "trace",
    }
}

/// One JSON log line: ts, level, target, message, then the record's structured fields.
pub fn json_line(record: &log::Record) -> String {
    let mut m = serde_json::Map::new();
    m.insert("ts".into(), ist_timestamp().into());
    m.insert("level".into(), json_level_name(record.level()).into());
    m.insert("target".into(), record.target().into());
    m.insert("message".into(), record.args().to_string().into());
    let _ = record.key_values().visit(&mut JsonFields(&mut m));
    serde_json::Value::Object(m).to_string()
}

/// Installs the global logger. Call once per process.
pub fn init(
    dir: &str,
    file: &str,
    level: log::LevelFilter,
    max_bytes: u64,
    backups: u32,
    stderr: bool,
) -> Result<PathBuf, String> {
    let path = Path::new(dir).join(file);
    let rotating = RotatingFile::open(&path, max_bytes, backups)
        .map_err(|e| format!("cannot open log file {}: {e}", path.display()))?;
    let json = fern::Dispatch::new()
        .format(|out, _msg, record| out.finish(format_args!("{}", json_line(record))))
        .chain(Box::new(rotating) as Box<dyn Write + Send>);
    let mut root = fern::Dispatch::new().level(level).chain(json);
    if stderr {
        let human = fern::Dispatch::new()
            .format(|out, msg, record| {
                let mut fields = String::new();
                struct Plain<'a>(&'a mut String);
                impl<'kvs> log::kv::VisitSource<'kvs> for Plain<'_> {
                    fn visit_pair(
                        &mut self,
                        k: log::kv::Key<'kvs>,
                        v: log::kv::Value<'kvs>,
                    ) -> Result<(), log::kv::Error> {
                        self.0.push_str(&format!(" {k}={v}"));
                        Ok(())
                    }
                }
                let _ = record.key_values().visit(&mut Plain(&mut fields));
                out.finish(format_args!(
                    "{} {:<7} {}{}",
                    &ist_timestamp()[11..23],
                    level_name(record.level()),
                    msg,
                    fields
                ))
            })
            .chain(io::stderr());
        root = root.chain(human);
    }
    root.apply()
        .map_err(|e| format!("logger already installed: {e}"))?;
    Ok(path)
}

/// An instrument's trading symbol and price divisor (the token itself when unknown).
pub(crate) fn sym(master: &InstrumentMaster, t: Token) -> (String, i64) {
    match master.get(t) {
        Some(i) => (i.tradingsymbol.as_str().to_string(), i.divisor()),
        None => (t.0.to_string(), 100),
    }
}

/// Writes one hot event through `log`. Runs on the logger thread only.
pub fn write_hot_event(master: &InstrumentMaster, ev: &HotEvent) {
    match *ev {
        HotEvent::Signal { signal } => {
            let crate::domain::Signal {
                token,
                strategy,
                side,
                entry,
                stop,
                target,
                score,
                spread,
                ..
            } = signal;
            let (s, d) = sym(master, token);
            let f = |bp: u16| bp as f64 / 10_000.0;
            let legs = spread.map(|sp| {
                let (sell, _) = sym(master, sp.sell_token);
                (sp, sell)
            });
            let (kind, sell_symbol, max_loss, max_profit) = match &legs {
                Some((sp, sell)) => (
                    sp.kind.as_str(),
                    sell.as_str(),
                    format_rupees(sp.max_loss.0, d),
                    format_rupees(sp.max_profit.0, d),
                ),
                None => ("OUTRIGHT", "", String::new(), String::new()),
            };
            let legs_text = match &legs {
                Some((sp, sell)) => format!(
                    " {}: buy {s} @ {} / sell {sell} @ {}, max loss {max_loss}, max profit {max_profit} per unit",
                    sp.kind.as_str(),
                    format_rupees(sp.buy_price.0, d),
                    format_rupees(sp.sell_price.0, d)
                ),
                None => String::new(),
            };
            log::info!(target: "strategy", symbol = s.as_str(), strategy = strategy.as_str(), side = side.as_str(),
                entry = format_rupees(entry.0, d).as_str(), stop = format_rupees(stop.0, d).as_str(),
                target = format_rupees(target.0, d).as_str(), score = score.total as f64 / 10_000.0,
                score_momentum = f(score.momentum), score_trend = f(score.trend), score_liquidity = f(score.liquidity),
                score_regime = f(score.regime), score_rr = f(score.rr), score_penalty = f(score.penalty),
                kind = kind, sell_symbol = sell_symbol, max_loss = max_loss.as_str(), max_profit = max_profit.as_str();
                "Signal {} {} {} score {:.3} (momentum {:.2}, trend {:.2}, liquidity {:.2}, regime {:.2}, rr {:.2}, penalty {:.2}){legs_text}",
                strategy.as_str(), side.as_str(), s, score.total as f64 / 10_000.0, f(score.momentum), f(score.trend),
                f(score.liquidity), f(score.regime), f(score.rr), f(score.penalty));
        }
        HotEvent::SignalRanked { signal, top_n } => {
            let (s, _) = sym(master, signal.token);
            log::info!(target: "strategy", symbol = s.as_str(), strategy = signal.strategy.as_str(),
                score = signal.score.total as f64 / 10_000.0, top_n = top_n;
                "Signal {} {} {} ranked out: score {:.3} is not in this bar's top {top_n}",
                signal.strategy.as_str(), signal.side.as_str(), s, signal.score.total as f64 / 10_000.0);
        }
        HotEvent::StrategyNote {
            strategy,
            count,
            note,
        } => {
            log::warn!(target: "strategy", strategy = strategy.as_str(), instruments = count;
                "{}: {note} ({count} instruments)", strategy.as_str());
        }
        HotEvent::IvClose {
            underlying,
            date,
            atm_iv,
        } => {
            log::info!(target: "strategy", underlying = underlying.as_str(), date = date.to_string().as_str(), atm_iv = atm_iv;
                "OptionsRanker: {} closing ATM IV {:.2}% on {date}", underlying.as_str(), atm_iv * 100.0);
        }
        HotEvent::SpreadClosed {
            id,
            buy,
            sell,
            purpose,
        } => {
            let (b, _) = sym(master, buy);
            let (s, _) = sym(master, sell);
            log::info!(target: "risk", spread = id, buy_symbol = b.as_str(), sell_symbol = s.as_str(), exit_reason = purpose.as_str();
                "Spread {id} closed ({}): long {b}, short {s}", purpose.as_str());
        }
        HotEvent::SignalRefused {
            token,
            strategy,
            reason,
        } => {
            let (s, _) = sym(master, token);
            log::info!(target: "risk", symbol = s.as_str(), strategy = strategy.as_str(), reason = reason;
                "Signal refused for {s}: {reason}");
        }
        HotEvent::OrderSent {
            id,
            token,
            side,
            qty,
            order_type,
            price,
            purpose,
        } => {
            let (s, d) = sym(master, token);
            log::info!(target: "order", order_id = id.0, tag = id.tag().as_str(), symbol = s.as_str(), side = side.as_str(),
                qty = qty.0, order_type = order_type.as_str(), price = format_rupees(price.0, d).as_str(), purpose = purpose.as_str();
                "Placing order {} {} {} {} ({})", side.as_str(), qty.0, s, order_type.as_str(), purpose.as_str());
        }
        HotEvent::OrderFilled {
            id,
            token,
            side,
            qty,
            price,
            purpose,
            strategy,
        } => {
            let (s, d) = sym(master, token);
            log::info!(target: "order", order_id = id.0, tag = id.tag().as_str(), symbol = s.as_str(), side = side.as_str(),
                qty = qty.0, price = format_rupees(price.0, d).as_str(), purpose = purpose.as_str(), strategy = strategy.as_str();
                "Order filled {} {} {} @ {}", side.as_str(), qty.0, s, format_rupees(price.0, d));
        }
        HotEvent::OrderRejected { id, token, reason } => {
            let (s, _) = sym(master, token);
            log::warn!(target: "order", order_id = id.0, symbol = s.as_str(), reason = reason.as_str();
                "Order rejected for {s}: {}", reason.as_str());
        }
        HotEvent::OrderCancelled { id, token } => {
            let (s, _) = sym(master, token);
            log::info!(target: "order", order_id = id.0, symbol = s.as_str(); "Order cancelled for {s}");
        }
        HotEvent::PositionClosed {
            token,
            qty,
            entry,
            exit,
            pnl,
            charges,
            purpose,
        } => {
            let (s, d) = sym(master, token);
            let net = crate::domain::Paise(pnl.0 - charges.0);
            log::info!(target: "risk", symbol = s.as_str(), qty = qty.0, entry = format_rupees(entry.0, d).as_str(),
                exit = format_rupees(exit.0, d).as_str(), pnl = format_rupees(pnl.0, 100).as_str(),
                charges = format_rupees(charges.0, 100).as_str(), net_pnl = format_rupees(net.0, 100).as_str(),
                exit_reason = purpose.as_str();
                "Position closed {s} ({}): P&L {} gross, {} net of {} charges", purpose.as_str(),
                format_rupees(pnl.0, 100), format_rupees(net.0, 100), format_rupees(charges.0, 100));
        }
        HotEvent::StateChanged { from, to, reason } => {
            log::warn!(target: "risk", from = from, to = to, reason = reason; "Trading state {from} -> {to}: {reason}");
        }
        HotEvent::ModeChanged { from, to } => {
            log::warn!(target: "risk", from = from, to = to; "Mode {from} -> {to}: orders go to {} from now on (POST /mode; journaled)",
                if to == "LIVE" { "Kite" } else { "the paper broker" });
        }
        HotEvent::SquareOff { positions, segment } => {
            log::info!(target: "risk", positions = positions, segment = segment;
                "EOD square-off ({segment}): closing {positions} position(s)");
        }
        HotEvent::ExitRejected {
            id,
            token,
            purpose,
            attempt,
            retry_in_s,
        } => {
            let (s, _) = sym(master, token);
            log::error!(target: "risk", order_id = id.0, tag = id.tag().as_str(), symbol = s.as_str(),
                exit_reason = purpose.as_str(), attempt = attempt, retry_in_s = retry_in_s;
                "ALERT: exit of {s} ({}) rejected (attempt {attempt}); retrying in {retry_in_s} s",
                purpose.as_str());
        }
        HotEvent::UnknownOrderUpdate { id, token } => {
            let (s, _) = sym(master, token);
            log::warn!(target: "risk", order_id = id.0, tag = id.tag().as_str(), symbol = s.as_str();
                "Order update for unknown order {} ({s}): ignored", id.tag().as_str());
        }
        HotEvent::ProtectiveStop {
            token,
            action,
            qty,
            trigger,
        } => {
            let (s, d) = sym(master, token);
            let t = format_rupees(trigger.0, d);
            let what = match action {
                "place" => "placing",
                "move" => "moving",
                _ => "cancelling",
            };
            log::info!(target: "risk", symbol = s.as_str(), action = action, qty = qty.0, trigger = t.as_str();
                "Protective stop for {s}: {what} {} at trigger {t}", qty.0);
        }
        HotEvent::SessionPhase { from, to } => {
            log::info!(target: "risk", from = from, to = to; "Session phase {from} -> {to}");
        }
        HotEvent::DailyLossStop { pnl } => {
            log::error!(target: "risk", pnl = format_rupees(pnl.0, 100).as_str();
                "Daily loss limit hit (P&L {}): flattening and halting new entries", format_rupees(pnl.0, 100));
        }
        HotEvent::MalformedFrame { error } => {
            log::warn!(target: "feed", error = error.to_string().as_str(); "Malformed frame skipped: {error}");
        }
        HotEvent::RingFull { ring } => {
            log::warn!(target: "pipeline", ring = ring; "Ring {ring} full: back-pressure, producer waiting");
        }
        HotEvent::WsConnected {
            conn,
            tokens,
            reconnect_us,
        } => match reconnect_us {
            Some(us) => {
                log::info!(target: "feed", conn = conn, tokens = tokens, reconnect_us = us;
                    "Ticker connection {conn} reconnected in {:.1} ms, {tokens} tokens resubscribed", us as f64 / 1000.0)
            }
            None => {
                log::info!(target: "feed", conn = conn, tokens = tokens; "Ticker connection {conn} open, {tokens} tokens subscribed")
            }
        },
        HotEvent::WsDisconnected { conn, reason } => {
            log::warn!(target: "feed", conn = conn, reason = reason; "Ticker connection {conn} lost: {reason}");
        }
        HotEvent::WsReconnecting {
            conn,
            attempt,
            delay_ms,
        } => {
            log::info!(target: "feed", conn = conn, attempt = attempt, delay_ms = delay_ms;
                "Ticker connection {conn}: reconnect attempt {attempt} in {delay_ms} ms");
        }
        HotEvent::WsGaveUp { conn, attempts } => {
            log::error!(target: "feed", conn = conn, attempts = attempts;
                "ALERT: ticker connection {conn} gave up after {attempts} reconnect attempts: market feed lost, new entries halted");
        }
        HotEvent::WsTokenRefused { conn } => {
            log::error!(target: "feed", conn = conn;
                "ALERT: Kite refused the access token on ticker connection {conn} (TokenException): new entries halted; run `aitrapp login`");
        }
        HotEvent::WsResubscribed {
            conn,
            added,
            removed,
            tokens,
        } => {
            log::info!(target: "feed", conn = conn, added = added, removed = removed, tokens = tokens;
                "Ticker connection {conn} resubscribed: +{added} -{removed}, {tokens} tokens");
        }
        HotEvent::BrokerText { kind, text } => {
            log::warn!(target: "feed", kind = kind, text = text.as_str(); "Broker {kind}: {}", text.as_str());
        }
    }
}

/// The logger thread: drains hot events until every sender is gone.
/// Starts the logger thread that writes what hot threads hand it.
/// The logger thread. With `iv_history`, each day's closing ATM IV is also appended there
/// (`date,underlying,atm_iv`, the file OptionsRanker seeds from), so LIVE keeps its own
/// history from one restart to the next.
pub fn spawn_logger_thread(
    rx: Receiver<HotEvent>,
    master: Arc<InstrumentMaster>,
    iv_history: Option<std::path::PathBuf>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("aitrapp-logger".into())
        .spawn(move || run_logger_thread(rx, master, iv_history))
}

fn run_logger_thread(
    rx: Receiver<HotEvent>,
    master: Arc<InstrumentMaster>,
    iv_history: Option<std::path::PathBuf>,
) {
    while let Ok(ev) = rx.recv() {
        write_hot_event(&master, &ev);
        if let Some((kind, text)) = crate::control::alerts::events::alert_of(&master, &ev) {
            crate::telemetry::alerts::raise(kind, text);
        }
        if let (
            HotEvent::IvClose {
                underlying,
                date,
                atm_iv,
            },
            Some(path),
        ) = (&ev, &iv_history)
        {
            if let Err(e) = append_iv_close(path, underlying.as_str(), *date, *atm_iv) {
                log::error!(target: "strategy", file = path.display().to_string().as_str();
                    "Cannot append the closing IV to {}: {e}", path.display());
            }
        }
    }
    log::logger().flush();
}

/// Appends one `date,underlying,atm_iv` row, writing the header first into a new file; a
/// day already in the file is not written twice.
pub fn append_iv_close(
    path: &std::path::Path,
    underlying: &str,
    date: crate::domain::Date,
    iv: f64,
) -> std::io::Result<()> {
    use std::io::Write as _;
    let existing = std::fs::read_to_string(path).unwrap_or_default();
    let key = format!("{date},{underlying},");
    if existing.lines().any(|l| l.starts_with(&key)) {
        return Ok(());
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    if existing.is_empty() {
        writeln!(f, "date,underlying,atm_iv")?;
    } else if !existing.ends_with('\n') {
        writeln!(f)?;
    }
    writeln!(f, "{date},{underlying},{iv:.6}")?;
    f.sync_data()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closing_ivs_append_once_a_day_and_read_back() {
        let dir = std::env::temp_dir().join(format!("aitrapp-ivh-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("iv_history.csv");
        let d = crate::domain::Date(20261202);
        append_iv_close(&path, "NIFTY", d, 0.1321).unwrap();
        append_iv_close(&path, "NIFTY", d, 0.1400).unwrap();
        append_iv_close(&path, "BANKNIFTY", d, 0.1512).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let rows = crate::strategy::options::iv_history::parse_iv_history(&text, "f").unwrap();
        assert_eq!(
            rows,
            vec![("NIFTY".into(), 0.1321), ("BANKNIFTY".into(), 0.1512)]
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn rotation_keeps_backups() {
        let dir = std::env::temp_dir().join(format!("aitrapp-rot-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("a.log");
        let mut f = RotatingFile::open(&path, 100, 2).unwrap();
        for _ in 0..10 {
            f.write_all(&[b'x'; 60]).unwrap();
        }
        assert!(path.exists() && dir.join("a.log.1").exists() && dir.join("a.log.2").exists());
        assert!(!dir.join("a.log.3").exists());
        assert!(std::fs::metadata(&path).unwrap().len() <= 100);
    }

    /// The runbook's manual rotation: `mv` the live log away; new lines go to a fresh file at
    /// the old path, and nothing written before the move is lost.
    #[test]
    fn moved_log_is_reopened_at_its_path() {
        let dir = std::env::temp_dir().join(format!("aitrapp-mv-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("a.log");
        let mut f = RotatingFile::open(&path, 1 << 20, 2).unwrap();
        f.check_every = Duration::ZERO;
        f.write_all(b"before\n").unwrap();
        let moved = dir.join("a.20261125.log");
        std::fs::rename(&path, &moved).unwrap();
        f.write_all(b"after\n").unwrap();
        f.flush().unwrap();
        assert_eq!(std::fs::read_to_string(&moved).unwrap(), "before\n");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "after\n");
        std::fs::remove_file(&path).unwrap();
        f.write_all(b"again\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "again\n");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn json_line_has_fields() {
        let rec = log::Record::builder()
            .args(format_args!("hello"))
            .level(log::Level::Error)
            .target("t")
            .build();
        let v: serde_json::Value = serde_json::from_str(&json_line(&rec)).unwrap();
        assert_eq!(v["level"], "error");
        assert_eq!(v["message"], "hello");
        assert_eq!(v["target"], "t");
        assert!(v["ts"].as_str().unwrap().ends_with("+05:30"));
    }
}
