//! The journal stage: owns the day's journal file under `journal.dir`. At start it reads
//! back what an earlier run of the same day wrote (cutting off a torn tail, refusing damage),
//! archives files of earlier days, and then runs the journal thread, which takes records off
//! the queue the stages fill (`crate::telemetry::journal`), writes them in groups and fsyncs
//! by the configured policy.

pub mod backup;
pub mod format;
pub mod retention;

use crate::telemetry::journal::JournalEntry;
use crate::telemetry::Metrics;
use crossbeam_channel::{Receiver, Sender};
use format::{encode_record, read_records, Header, Tail, FORMAT, HEADER_LEN};
use std::fs::{File, OpenOptions};
use std::io::{Read as _, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// When the journal thread calls fsync.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FsyncPolicy {
    /// After every group written: nothing acknowledged is lost to a power cut.
    Always,
    /// At most this often: a power cut loses at most this much (a process crash loses
    /// nothing either way: written data is in the page cache).
    Every(Duration),
    /// Left to the kernel.
    Never,
}

impl FsyncPolicy {
    pub fn parse(s: &str, interval_ms: u64) -> Option<FsyncPolicy> {
        match s {
            "always" => Some(FsyncPolicy::Always),
            "interval" => Some(FsyncPolicy::Every(Duration::from_millis(
                interval_ms.max(1),
            ))),
            "never" => Some(FsyncPolicy::Never),
            _ => None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("journal directory {dir}: {why}")]
    Dir { dir: PathBuf, why: String },
    #[error("journal {path}: {why}")]
    Io { path: PathBuf, why: String },
    #[error("journal {path} is {damage}; nothing was changed. Move the file aside to start the day without it, or restore a backup (`aitrapp restore`)")]
    Damaged {
        path: PathBuf,
        damage: format::Damage,
    },
}

/// One record read back from today's file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredRecord {
    pub seq: u64,
    pub kind: u8,
    pub payload: Vec<u8>,
}

/// Today's journal, opened: what an earlier run wrote, and the file to go on writing.
pub struct OpenJournal {
    pub path: PathBuf,
    pub records: Vec<StoredRecord>,
    /// Bytes of a torn last record that were cut off (0: the file ended cleanly).
    pub torn_bytes: u64,
    /// Files of earlier days moved to `archive/` (compressed).
    pub archived: Vec<PathBuf>,
    /// Archived days older than the retention, deleted.
    pub pruned: Vec<PathBuf>,
    file: File,
    next_seq: u64,
    /// Where the next day's file goes when a day begins inside the run, kept as long.
    dir: PathBuf,
    day: u32,
    retention_days: u32,
}

/// Every day's journal in `dir` and its `archive/`, oldest first: (trading day, file).
pub fn day_files(dir: &Path) -> Vec<(u32, PathBuf)> {
    retention::day_files(dir, retention::JOURNAL)
}

/// Reads a day's journal (`.aj`, or `.aj.gz` from the archive) without changing it: a torn
/// tail is left out, damage is an error.
pub fn read_day_file(path: &Path) -> Result<Vec<StoredRecord>, JournalError> {
    let mut bytes = Vec::new();
    let f = File::open(path).map_err(io(path))?;
    if path.extension().is_some_and(|e| e == "gz") {
        flate2::read::GzDecoder::new(f)
            .read_to_end(&mut bytes)
            .map_err(io(path))?;
    } else {
        let mut f = f;
        f.read_to_end(&mut bytes).map_err(io(path))?;
    }
    let (_, recs, _) = read_records(&bytes).map_err(|damage| JournalError::Damaged {
        path: path.to_path_buf(),
        damage,
    })?;
    Ok(recs
        .iter()
        .map(|r| StoredRecord {
            seq: r.seq,
            kind: r.kind,
            payload: r.payload.to_vec(),
        })
        .collect())
}

/// `journal-YYYYMMDD.aj` in `dir`.
pub fn day_path(dir: &Path, day: u32) -> PathBuf {
    dir.join(retention::JOURNAL.name(day))
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> JournalError + '_ {
    move |e| JournalError::Io {
        path: path.to_path_buf(),
        why: e.to_string(),
    }
}

/// Opens (or creates) the journal of trading day `day` in `dir`: archives other days'
/// files, reads back today's, cuts a torn tail, refuses damage.
pub fn open_day(dir: &Path, day: u32, now_s: u64) -> Result<OpenJournal, JournalError> {
    open_day_keeping(dir, day, now_s, u32::MAX)
}

/// `open_day`, deleting archived days more than `retention_days` before `day` (never one
/// inside the retention).
pub fn open_day_keeping(
    dir: &Path,
    day: u32,
    now_s: u64,
    retention_days: u32,
) -> Result<OpenJournal, JournalError> {
    std::fs::create_dir_all(dir).map_err(|e| JournalError::Dir {
        dir: dir.to_path_buf(),
        why: e.to_string(),
    })?;
    let archived = archive_other_days(dir, day)?;
    let pruned = retention::prune_archive(dir, retention::JOURNAL, day, retention_days);
    let path = day_path(dir, day);
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(io(&path))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).map_err(io(&path))?;
    if bytes.len() < HEADER_LEN && bytes.iter().all(|&b| b == 0) {
        // New, or created by a run that died before its header landed.
        let h = Header {
            format: FORMAT,
            day,
            created_s: now_s,
        };
        file.set_len(0).map_err(io(&path))?;
        file.seek(SeekFrom::Start(0)).map_err(io(&path))?;
        file.write_all(&h.encode()).map_err(io(&path))?;
        file.sync_all().map_err(io(&path))?;
        retention::sync_dir(dir);
        return Ok(OpenJournal {
            path,
            records: Vec::new(),
            torn_bytes: 0,
            archived,
            pruned,
            file,
            next_seq: 1,
            dir: dir.to_path_buf(),
            day,
            retention_days,
        });
    }
    let (header, recs, tail) = read_records(&bytes).map_err(|damage| JournalError::Damaged {
        path: path.clone(),
        damage,
    })?;
    if header.day != day {
        return Err(JournalError::Damaged {
            path: path.clone(),
            damage: format::Damage {
                offset: 12,
                why: format!("its header says trading day {}", header.day),
            },
        });
    }
    let records: Vec<StoredRecord> = recs
        .iter()
        .map(|r| StoredRecord {
            seq: r.seq,
            kind: r.kind,
            payload: r.payload.to_vec(),
        })
        .collect();
    let torn_bytes = match tail {
        Tail::Clean => 0,
        Tail::Torn { good_len, torn } => {
            file.set_len(good_len).map_err(io(&path))?;
            file.sync_all().map_err(io(&path))?;
            torn
        }
    };
    file.seek(SeekFrom::End(0)).map_err(io(&path))?;
    let next_seq = records.last().map_or(1, |r| r.seq + 1);
    Ok(OpenJournal {
        path,
        records,
        torn_bytes,
        archived,
        pruned,
        file,
        next_seq,
        dir: dir.to_path_buf(),
        day,
        retention_days,
    })
}

/// Moves the journals of other days into `dir/archive/`, compressed.
fn archive_other_days(dir: &Path, day: u32) -> Result<Vec<PathBuf>, JournalError> {
    retention::archive_other_days(dir, retention::JOURNAL, day).map_err(|(path, e)| {
        JournalError::Io {
            path,
            why: e.to_string(),
        }
    })
}

pub use crate::telemetry::journal::SyncRequest;

pub struct JournalThread {
    pub handle: JoinHandle<()>,
    pub sync: Sender<SyncRequest>,
}

impl OpenJournal {
    /// Starts the journal thread on this file. It ends when every sender of `rx` is gone,
    /// after writing and fsyncing what was queued.
    pub fn start(
        self,
        rx: Receiver<JournalEntry>,
        policy: FsyncPolicy,
        metrics: Arc<Metrics>,
    ) -> std::io::Result<JournalThread> {
        let (sync_tx, sync_rx) = crossbeam_channel::bounded::<SyncRequest>(4);
        let handle = std::thread::Builder::new()
            .name("aitrapp-journal".into())
            .spawn(move || {
                let mut w = GroupWriter {
                    file: self.file,
                    path: self.path,
                    seq: self.next_seq,
                    buf: Vec::with_capacity(1 << 20),
                    unsynced: false,
                    last_sync: Instant::now(),
                    policy,
                    metrics,
                    error_logged: false,
                    dir: self.dir,
                    day: self.day,
                    retention_days: self.retention_days,
                    pending: 0,
                };
                w.run(rx, sync_rx);
            })?;
        Ok(JournalThread {
            handle,
            sync: sync_tx,
        })
    }
}

struct GroupWriter {
    file: File,
    path: PathBuf,
    seq: u64,
    buf: Vec<u8>,
    unsynced: bool,
    last_sync: Instant,
    policy: FsyncPolicy,
    metrics: Arc<Metrics>,
    error_logged: bool,
    dir: PathBuf,
    day: u32,
    retention_days: u32,
    /// Records in `buf`.
    pending: u64,
}

/// Most records one group carries before it is written.
const GROUP_MAX: usize = 8192;

impl GroupWriter {
    fn run(&mut self, rx: Receiver<JournalEntry>, sync_rx: Receiver<SyncRequest>) {
        let tick = match self.policy {
            FsyncPolicy::Every(d) => d,
            _ => Duration::from_millis(200),
        };
        loop {
            crossbeam_channel::select! {
                recv(rx) -> m => match m {
                    Ok(e) => {
                        self.add(&e);
                        // Group commit: everything already queued goes in the same write.
                        let mut n = 1;
                        while n < GROUP_MAX {
                            match rx.try_recv() {
                                Ok(e) => self.add(&e),
                                Err(_) => break,
                            }
                            n += 1;
                        }
                        self.write();
                        if self.policy == FsyncPolicy::Always {
                            self.fsync();
                        }
                    }
                    Err(_) => break,
                },
                recv(sync_rx) -> m => if let Ok(SyncRequest(reply)) = m {
                    while let Ok(e) = rx.try_recv() {
                        self.add(&e);
                    }
                    self.write();
                    self.fsync();
                    let len = self.file.metadata().map(|m| m.len()).unwrap_or(0);
                    let _ = reply.send(len);
                },
                default(tick) => {}
            }
            if let FsyncPolicy::Every(d) = self.policy {
                if self.unsynced && self.last_sync.elapsed() >= d {
                    self.fsync();
                }
            }
        }
        self.write();
        if self.policy != FsyncPolicy::Never {
            self.fsync();
        }
    }

    fn add(&mut self, e: &JournalEntry) {
        self.pending += 1;
        if e.kind == crate::telemetry::journal::kind::DAY {
            if let Some(day) = e
                .payload()
                .get(..4)
                .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            {
                if day != self.day {
                    self.next_day(day);
                }
            }
        }
        encode_record(&mut self.buf, self.seq, e.kind, e.payload());
        self.seq += 1;
    }

    /// A trading day began inside the run: what belongs to the old day is written and
    /// fsynced, its file archived like any earlier day's, and the new day's file takes over.
    /// If the new file cannot be opened, the old one goes on (nothing is lost; recovery of
    /// the new day then needs the old file, which the error names).
    fn next_day(&mut self, day: u32) {
        self.write();
        self.unsynced = true;
        self.fsync();
        let now_s = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        match open_day_keeping(&self.dir, day, now_s, self.retention_days) {
            Ok(j) => {
                log::info!(target: "journal", day = day, file = j.path.display().to_string().as_str();
                    "Trading day {} began: journal {} (the day before archived in {})",
                    crate::domain::Date(day), j.path.display(), self.dir.join("archive").display());
                self.file = j.file;
                self.path = j.path;
                self.seq = j.next_seq;
                self.day = day;
            }
            Err(e) => {
                Metrics::add(&self.metrics.journal_write_errors_total, 1);
                log::error!(target: "journal", day = day, error = e.to_string().as_str();
                    "ALERT: the journal of trading day {} could not be opened ({e}); the day goes on in {}",
                    crate::domain::Date(day), self.path.display());
                self.day = day;
            }
        }
    }

    fn write(&mut self) {
        if self.buf.is_empty() {
            return;
        }
        match self.file.write_all(&self.buf) {
            Ok(()) => {
                Metrics::add(&self.metrics.journal_bytes_total, self.buf.len() as u64);
                Metrics::add(&self.metrics.journal_records_written_total, self.pending);
                self.unsynced = true;
            }
            Err(e) => self.failed("write", &e),
        }
        self.pending = 0;
        self.buf.clear();
    }

    fn fsync(&mut self) {
        if !self.unsynced {
            return;
        }
        match self.file.sync_data() {
            Ok(()) => Metrics::add(&self.metrics.journal_fsyncs_total, 1),
            Err(e) => self.failed("fsync", &e),
        }
        self.unsynced = false;
        self.last_sync = Instant::now();
    }

    fn failed(&mut self, what: &str, e: &std::io::Error) {
        Metrics::add(&self.metrics.journal_write_errors_total, 1);
        if !self.error_logged {
            self.error_logged = true;
            log::error!(target: "journal", path = self.path.display().to_string().as_str(), error = e.to_string().as_str();
                "ALERT: journal {what} failed on {}: {e}; state changes may not survive a crash", self.path.display());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::journal::{kind, JournalSink};

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("aitrapp-journal-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    fn write_n(dir: &Path, day: u32, n: u32) -> Vec<StoredRecord> {
        let j = open_day(dir, day, 0).unwrap();
        let before = j.records.clone();
        let metrics = Arc::new(Metrics::default());
        let (sink, rx) = JournalSink::new(64, metrics.clone());
        let t = j.start(rx, FsyncPolicy::Always, metrics).unwrap();
        for i in 0..n {
            sink.put(kind::NOTE, |w| w.u32(i));
        }
        drop(sink);
        t.handle.join().unwrap();
        before
    }

    #[test]
    fn a_day_record_moves_the_thread_to_that_days_file_and_archives_the_old() {
        let dir = tmp("next-day");
        let j = open_day(&dir, 20261202, 0).unwrap();
        let metrics = Arc::new(Metrics::default());
        let (sink, rx) = JournalSink::new(64, metrics.clone());
        let t = j.start(rx, FsyncPolicy::Never, metrics).unwrap();
        for i in 0..3 {
            sink.put(kind::NOTE, |w| w.u32(i));
        }
        sink.put(kind::DAY, |w| w.u32(20261203));
        sink.put(kind::NOTE, |w| w.u32(7));
        // The same day again changes nothing.
        sink.put(kind::DAY, |w| w.u32(20261203));
        drop(sink);
        t.handle.join().unwrap();
        assert!(
            !day_path(&dir, 20261202).exists(),
            "the old day is archived"
        );
        let old = read_day_file(&dir.join("archive/journal-20261202.aj.gz")).unwrap();
        assert_eq!(old.len(), 3);
        let new = read_day_file(&day_path(&dir, 20261203)).unwrap();
        let kinds: Vec<(u64, u8)> = new.iter().map(|r| (r.seq, r.kind)).collect();
        assert_eq!(kinds, vec![(1, kind::DAY), (2, kind::NOTE), (3, kind::DAY)]);
        // And the next start of that day reads it back and goes on.
        assert_eq!(open_day(&dir, 20261203, 0).unwrap().records.len(), 3);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_second_run_of_the_day_reads_the_first_and_appends() {
        let dir = tmp("append");
        assert!(write_n(&dir, 20261202, 100).is_empty());
        let first = write_n(&dir, 20261202, 5);
        assert_eq!(first.len(), 100);
        let j = open_day(&dir, 20261202, 0).unwrap();
        assert_eq!(j.records.len(), 105);
        assert_eq!(j.records[104].seq, 105);
        assert_eq!(j.records[100].payload, 0u32.to_le_bytes());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_torn_tail_is_cut_and_damage_refused_with_the_offset() {
        let dir = tmp("torn");
        write_n(&dir, 20261202, 10);
        let path = day_path(&dir, 20261202);
        let len = std::fs::metadata(&path).unwrap().len();
        // A half-written 11th record.
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(&[0xAB; 13]).unwrap();
        drop(f);
        let j = open_day(&dir, 20261202, 0).unwrap();
        assert_eq!((j.records.len(), j.torn_bytes), (10, 13));
        assert_eq!(std::fs::metadata(&path).unwrap().len(), len, "cut back");
        drop(j);
        // A flipped byte in the 3rd record.
        let mut b = std::fs::read(&path).unwrap();
        let third = HEADER_LEN + 2 * (format::RECORD_HEAD + 4);
        b[third + format::RECORD_HEAD] ^= 1;
        std::fs::write(&path, &b).unwrap();
        let e = open_day(&dir, 20261202, 0).err().unwrap().to_string();
        assert!(e.contains(&format!("offset {third}")), "{e}");
        assert!(e.contains(&path.display().to_string()), "{e}");
        assert_eq!(
            std::fs::read(&path).unwrap(),
            b,
            "a damaged file is left as it was"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn archived_days_are_kept_for_the_retention_and_no_longer() {
        let dir = tmp("retention");
        for d in [20210101, 20211202, 20211203] {
            write_n(&dir, d, 1);
        }
        // 2026-12-02 with 1825 days kept: 2021-12-03 is inside, 2021-12-02 (1826 days back,
        // 2024 being a leap year) and older are not.
        let j = open_day_keeping(&dir, 20261202, 0, 1825).unwrap();
        let kept: Vec<u32> = day_files(&dir.join("archive"))
            .iter()
            .map(|(d, _)| *d)
            .collect();
        assert_eq!(kept, vec![20211203], "pruned {:?}", j.pruned);
        assert_eq!(j.pruned.len(), 2);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn an_earlier_day_is_archived_compressed_and_a_fresh_day_starts() {
        let dir = tmp("archive");
        write_n(&dir, 20261201, 20);
        let old = std::fs::read(day_path(&dir, 20261201)).unwrap();
        let j = open_day(&dir, 20261202, 0).unwrap();
        assert!(j.records.is_empty());
        assert_eq!(j.archived.len(), 1);
        assert!(!day_path(&dir, 20261201).exists());
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(File::open(&j.archived[0]).unwrap())
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, old);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
