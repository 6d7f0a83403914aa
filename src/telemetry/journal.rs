//! The journal's queue, below the stages: a stage hands the journal thread one record (a kind
//! and its own encoding of at most `SLOT_BYTES`) without allocating and without touching the
//! disk. A record is never dropped: a full queue is counted and waited out, because a lost
//! journal record is a state the next start cannot rebuild.
//!
//! `Wire` and `Read` are the little-endian field codec every producer writes its payloads
//! with; the file framing around them is `crate::journal::format`.

use super::Metrics;
use crossbeam_channel::{Receiver, Sender, TrySendError};
use std::sync::Arc;

/// The largest payload one record carries.
pub const SLOT_BYTES: usize = 400;

/// Record kinds. Producers own their payload layouts (the module that writes a kind reads
/// it back); the numbers are part of journal format 1.
pub mod kind {
    /// The run that opened or reopened the file: mode, first order id, build (app).
    pub const SESSION: u8 = 1;
    /// One instrument's position, exit state, broker stop, chase and trip costs (risk).
    pub const SLOT: u8 = 2;
    /// One order's OMS record (risk).
    pub const ORDER: u8 = 3;
    /// The desk: trading state, day, counters, flatten in progress, charges today (risk).
    pub const DESK: u8 = 4;
    /// A closed round trip (risk).
    pub const TRADE: u8 = 5;
    /// A signal and what risk did with it: taken, or refused and why (risk; audit).
    pub const DECISION: u8 = 6;
    /// An operator command as risk applied it (risk; audit).
    pub const CONTROL: u8 = 7;
    /// One spread's state (risk).
    pub const SPREAD: u8 = 8;
    /// A line of text: what a stop left open, what a start rebuilt (app).
    pub const NOTE: u8 = 9;
    /// A trading day begins inside the run (risk; the day, YYYYMMDD): the journal thread
    /// moves to that day's file, and the whole desk is written again after it.
    pub const DAY: u8 = 10;
    /// Where orders go from here on (POST /mode): exchange ts, then 1 LIVE / 0 PAPER. A
    /// restart the same day starts in the last one journaled.
    pub const MODE: u8 = 11;
}

/// One queued record.
#[derive(Clone, Copy)]
pub struct JournalEntry {
    pub kind: u8,
    pub len: u16,
    pub bytes: [u8; SLOT_BYTES],
}

/// A request to the journal thread (a backup's): write and fsync everything queued before
/// it, then answer with the file's length (the backup copies exactly that much).
pub struct SyncRequest(pub crossbeam_channel::Sender<u64>);

impl JournalEntry {
    pub fn payload(&self) -> &[u8] {
        &self.bytes[..self.len as usize]
    }
}

/// The producer's end of the journal queue.
#[derive(Clone)]
pub struct JournalSink {
    tx: Sender<JournalEntry>,
    metrics: Arc<Metrics>,
}

impl JournalSink {
    pub fn new(capacity: usize, metrics: Arc<Metrics>) -> (JournalSink, Receiver<JournalEntry>) {
        let (tx, rx) = crossbeam_channel::bounded(capacity.max(1));
        (JournalSink { tx, metrics }, rx)
    }

    /// Encodes a record in place with `fill` (which returns the payload length) and queues it.
    pub fn put(&self, kind: u8, fill: impl FnOnce(&mut Wire<'_>)) {
        let mut e = JournalEntry {
            kind,
            len: 0,
            bytes: [0; SLOT_BYTES],
        };
        let mut w = Wire {
            buf: &mut e.bytes,
            at: 0,
            overflow: false,
        };
        fill(&mut w);
        e.len = if w.overflow { 0 } else { w.at as u16 };
        self.send(e);
    }

    fn send(&self, mut e: JournalEntry) {
        Metrics::add(&self.metrics.journal_records_total, 1);
        loop {
            match self.tx.try_send(e) {
                Ok(()) => return,
                Err(TrySendError::Full(back)) => {
                    Metrics::add(&self.metrics.journal_queue_full_total, 1);
                    e = back;
                    std::thread::yield_now();
                }
                // The journal thread is gone (shutdown): nothing left to write to.
                Err(TrySendError::Disconnected(_)) => return,
            }
        }
    }
}

/// Little-endian field writer into a record's fixed slot. A payload that would overflow the
/// slot is a programming error caught by the tests: writes past the end are dropped and the
/// record is marked too long, so decoding refuses it instead of reading garbage.
pub struct Wire<'a> {
    buf: &'a mut [u8],
    at: usize,
    overflow: bool,
}

impl Wire<'_> {
    pub fn bytes(&mut self, b: &[u8]) {
        if self.overflow || self.at + b.len() > self.buf.len() {
            // Too long: the record goes out empty, and an empty record decodes as an error.
            self.overflow = true;
            return;
        }
        self.buf[self.at..self.at + b.len()].copy_from_slice(b);
        self.at += b.len();
    }
    pub fn u8(&mut self, v: u8) {
        self.bytes(&[v]);
    }
    pub fn bool(&mut self, v: bool) {
        self.u8(v as u8);
    }
    pub fn u16(&mut self, v: u16) {
        self.bytes(&v.to_le_bytes());
    }
    pub fn u32(&mut self, v: u32) {
        self.bytes(&v.to_le_bytes());
    }
    pub fn u64(&mut self, v: u64) {
        self.bytes(&v.to_le_bytes());
    }
    pub fn i64(&mut self, v: i64) {
        self.bytes(&v.to_le_bytes());
    }
    pub fn i128(&mut self, v: i128) {
        self.bytes(&v.to_le_bytes());
    }
}

/// Reads what `Wire` wrote; every read past the end is an error, never a panic.
pub struct Read<'a> {
    buf: &'a [u8],
    at: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShortRecord;

impl From<ShortRecord> for String {
    fn from(_: ShortRecord) -> String {
        "record shorter than its layout".into()
    }
}

impl<'a> Read<'a> {
    pub fn new(buf: &'a [u8]) -> Read<'a> {
        Read { buf, at: 0 }
    }
    fn take<const N: usize>(&mut self) -> Result<[u8; N], ShortRecord> {
        let b = self.buf.get(self.at..self.at + N).ok_or(ShortRecord)?;
        self.at += N;
        let mut a = [0u8; N];
        a.copy_from_slice(b);
        Ok(a)
    }
    pub fn u8(&mut self) -> Result<u8, ShortRecord> {
        Ok(self.take::<1>()?[0])
    }
    pub fn bool(&mut self) -> Result<bool, ShortRecord> {
        Ok(self.u8()? != 0)
    }
    pub fn u16(&mut self) -> Result<u16, ShortRecord> {
        Ok(u16::from_le_bytes(self.take()?))
    }
    pub fn u32(&mut self) -> Result<u32, ShortRecord> {
        Ok(u32::from_le_bytes(self.take()?))
    }
    pub fn u64(&mut self) -> Result<u64, ShortRecord> {
        Ok(u64::from_le_bytes(self.take()?))
    }
    pub fn i64(&mut self) -> Result<i64, ShortRecord> {
        Ok(i64::from_le_bytes(self.take()?))
    }
    pub fn i128(&mut self) -> Result<i128, ShortRecord> {
        Ok(i128::from_le_bytes(self.take()?))
    }
    pub fn rest(&mut self) -> &'a [u8] {
        let r = &self.buf[self.at.min(self.buf.len())..];
        self.at = self.buf.len();
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_read_back_and_short_records_are_errors() {
        let (sink, rx) = JournalSink::new(4, Arc::new(Metrics::default()));
        sink.put(kind::SLOT, |w| {
            w.u8(7);
            w.i64(-5);
            w.i128(1 << 100);
            w.bool(true);
        });
        let e = rx.try_recv().unwrap();
        assert_eq!((e.kind, e.len), (kind::SLOT, 26));
        let mut r = Read::new(e.payload());
        assert_eq!(r.u8(), Ok(7));
        assert_eq!(r.i64(), Ok(-5));
        assert_eq!(r.i128(), Ok(1 << 100));
        assert_eq!(r.bool(), Ok(true));
        assert_eq!(r.u32(), Err(ShortRecord));
    }

    #[test]
    fn an_overlong_payload_becomes_an_empty_record() {
        let (sink, rx) = JournalSink::new(1, Arc::new(Metrics::default()));
        sink.put(kind::NOTE, |w| w.bytes(&[1u8; SLOT_BYTES + 1]));
        assert_eq!(rx.try_recv().unwrap().len, 0);
    }
}
