//! The record format: per frame, u64 receive time in ns (little-endian), u32 frame length
//! (little-endian), then the frame exactly as received.

use std::io::{self, Write};

pub struct RecordWriter<W: Write> {
    out: W,
}

impl<W: Write> RecordWriter<W> {
    pub fn new(out: W) -> Self {
        RecordWriter { out }
    }
    pub fn write_frame(&mut self, recv_ns: u64, frame: &[u8]) -> io::Result<()> {
        self.out.write_all(&recv_ns.to_le_bytes())?;
        self.out.write_all(&(frame.len() as u32).to_le_bytes())?;
        self.out.write_all(frame)
    }
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("record truncated at byte offset {offset}: {what}")]
pub struct RecordError {
    pub offset: usize,
    pub what: &'static str,
}

/// Iterates the frames of a recorded file held in memory.
pub struct RecordReader<'a> {
    data: &'a [u8],
    off: usize,
}

impl<'a> RecordReader<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        RecordReader { data, off: 0 }
    }
}

impl<'a> Iterator for RecordReader<'a> {
    type Item = Result<(u64, &'a [u8]), RecordError>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.off >= self.data.len() {
            return None;
        }
        let rest = &self.data[self.off..];
        if rest.len() < 12 {
            let e = RecordError {
                offset: self.off,
                what: "incomplete frame header",
            };
            self.off = self.data.len();
            return Some(Err(e));
        }
        let ts = u64::from_le_bytes(rest[0..8].try_into().unwrap_or([0; 8]));
        let len = u32::from_le_bytes(rest[8..12].try_into().unwrap_or([0; 4])) as usize;
        if rest.len() < 12 + len {
            let e = RecordError {
                offset: self.off,
                what: "frame shorter than its length",
            };
            self.off = self.data.len();
            return Some(Err(e));
        }
        self.off += 12 + len;
        Some(Ok((ts, &rest[12..12 + len])))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_truncation() {
        let mut buf = Vec::new();
        let mut w = RecordWriter::new(&mut buf);
        w.write_frame(7, &[0, 0]).unwrap();
        w.write_frame(9, &[1]).unwrap();
        let frames: Vec<_> = RecordReader::new(&buf).collect::<Result<_, _>>().unwrap();
        assert_eq!(frames, vec![(7, &[0u8, 0][..]), (9, &[1u8][..])]);
        let cut = &buf[..buf.len() - 1];
        let last = RecordReader::new(cut).last().unwrap();
        assert_eq!(last.unwrap_err().offset, 14);
    }
}
