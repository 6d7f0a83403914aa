//! Logging: JSON lines to `logs/aitrapp.log` (rotated by size) and a readable copy on stderr,
//! through `log` + `fern`. Hot threads never call the logger: they hand a small `HotEvent` to
//! the logger thread through a bounded queue and count what the queue drops.

use crate::domain::InstrumentMaster;
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

mod hot_events;
pub(crate) use hot_events::sym;
pub use hot_events::write_hot_event;

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
