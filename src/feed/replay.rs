//! Replays a recorded session file (the record format, see `record`) as a frame source, at
//! the recorded pace scaled by a speed factor, or as fast as the pipeline takes it.

use super::record::{RecordError, RecordReader};
use super::{FrameSource, SourcePoll};
use std::path::{Path, PathBuf};
use std::time::Instant;

pub struct ReplaySource {
    path: PathBuf,
    data: Vec<u8>,
    /// Byte offset of the next frame record.
    off: usize,
    /// Recorded receive time of the first frame.
    first_ns: Option<u64>,
    started: Option<Instant>,
    /// 1.0 = recorded pace, 2.0 = twice as fast, 0 = as fast as possible (lockstep).
    speed: f64,
    frames: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("cannot read replay file {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("replay file {path}: {source}")]
    Format { path: String, source: RecordError },
    #[error("replay file {path} holds no frames")]
    Empty { path: String },
}

impl ReplaySource {
    /// Reads the whole file and checks every record before the first frame is played, so a
    /// truncated file fails at start with its offset instead of halfway through a session.
    pub fn open(path: &Path, speed: f64) -> Result<ReplaySource, ReplayError> {
        let shown = path.display().to_string();
        let data = std::fs::read(path).map_err(|source| ReplayError::Io {
            path: shown.clone(),
            source,
        })?;
        let mut n = 0u64;
        for r in RecordReader::new(&data) {
            r.map_err(|source| ReplayError::Format {
                path: shown.clone(),
                source,
            })?;
            n += 1;
        }
        if n == 0 {
            return Err(ReplayError::Empty { path: shown });
        }
        Ok(ReplaySource {
            path: path.to_path_buf(),
            data,
            off: 0,
            first_ns: None,
            started: None,
            speed: speed.max(0.0),
            frames: n,
        })
    }

    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// The next record without consuming it: (recorded ns, frame length).
    fn peek(&self) -> Option<(u64, usize)> {
        let rest = &self.data[self.off..];
        if rest.len() < 12 {
            return None;
        }
        let ts = u64::from_le_bytes(rest[0..8].try_into().ok()?);
        let len = u32::from_le_bytes(rest[8..12].try_into().ok()?) as usize;
        (rest.len() >= 12 + len).then_some((ts, len))
    }
}

impl FrameSource for ReplaySource {
    fn poll(&mut self, out: &mut Vec<u8>) -> SourcePoll {
        let Some((ts, len)) = self.peek() else {
            return SourcePoll::End;
        };
        if self.speed > 0.0 {
            let first = *self.first_ns.get_or_insert(ts);
            let started = *self.started.get_or_insert_with(Instant::now);
            let due_ns = (ts.saturating_sub(first) as f64 / self.speed) as u128;
            if started.elapsed().as_nanos() < due_ns {
                return SourcePoll::Idle;
            }
        }
        out.clear();
        out.extend_from_slice(&self.data[self.off + 12..self.off + 12 + len]);
        self.off += 12 + len;
        SourcePoll::Frame
    }

    /// As fast as possible replays on event time, frame by frame, like the synthetic market:
    /// the same file gives the same trades in any topology. At a recorded pace the replay is a
    /// live feed and does not wait for the pipeline.
    fn lockstep(&self) -> bool {
        self.speed == 0.0
    }

    fn describe(&self) -> String {
        let pace = if self.speed == 0.0 {
            "as fast as possible".to_string()
        } else {
            format!("{}x recorded pace", self.speed)
        };
        format!(
            "replay of {} ({} frames, {pace})",
            self.path.display(),
            self.frames
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feed::record::RecordWriter;

    fn file_with(frames: &[(u64, &[u8])]) -> tempfile_path::TempPath {
        let mut buf = Vec::new();
        let mut w = RecordWriter::new(&mut buf);
        for (ts, f) in frames {
            w.write_frame(*ts, f).unwrap();
        }
        tempfile_path::TempPath::with_bytes(&buf)
    }

    /// A file under the target dir removed on drop (no tempfile dependency for one test).
    mod tempfile_path {
        pub struct TempPath(pub std::path::PathBuf);
        impl TempPath {
            pub fn with_bytes(b: &[u8]) -> TempPath {
                use std::sync::atomic::{AtomicU32, Ordering};
                static N: AtomicU32 = AtomicU32::new(0);
                let p = std::env::temp_dir().join(format!(
                    "aitrapp-replay-{}-{}.rec",
                    std::process::id(),
                    N.fetch_add(1, Ordering::Relaxed)
                ));
                std::fs::write(&p, b).unwrap();
                TempPath(p)
            }
        }
        impl Drop for TempPath {
            fn drop(&mut self) {
                let _ = std::fs::remove_file(&self.0);
            }
        }
    }

    #[test]
    fn plays_every_frame_in_order_then_ends() {
        let f = file_with(&[(10, &[0, 0]), (20, &[1]), (30, &[0, 1, 0, 8])]);
        let mut r = ReplaySource::open(&f.0, 0.0).unwrap();
        assert!(r.lockstep());
        let mut out = Vec::new();
        let mut got = Vec::new();
        while r.poll(&mut out) == SourcePoll::Frame {
            got.push(out.clone());
        }
        assert_eq!(got, vec![vec![0, 0], vec![1], vec![0, 1, 0, 8]]);
        assert_eq!(r.poll(&mut out), SourcePoll::End);
    }

    #[test]
    fn recorded_pace_waits_for_the_gap() {
        // Second frame 200 ms after the first: at 1x it is not due at once.
        let f = file_with(&[(0, &[1]), (200_000_000, &[1])]);
        let mut r = ReplaySource::open(&f.0, 1.0).unwrap();
        assert!(!r.lockstep());
        let mut out = Vec::new();
        assert_eq!(r.poll(&mut out), SourcePoll::Frame);
        assert_eq!(r.poll(&mut out), SourcePoll::Idle);
        let deadline = Instant::now() + std::time::Duration::from_secs(5);
        while r.poll(&mut out) != SourcePoll::Frame {
            assert!(Instant::now() < deadline, "second frame never came");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }

    #[test]
    fn truncated_file_fails_at_open_with_offset() {
        let f = file_with(&[(1, &[0, 0])]);
        let mut bytes = std::fs::read(&f.0).unwrap();
        bytes.pop();
        let cut = tempfile_path::TempPath::with_bytes(&bytes);
        let e = ReplaySource::open(&cut.0, 0.0).err().unwrap().to_string();
        assert!(e.contains("byte offset 0"), "{e}");
        let empty = tempfile_path::TempPath::with_bytes(&[]);
        assert!(matches!(
            ReplaySource::open(&empty.0, 0.0),
            Err(ReplayError::Empty { .. })
        ));
    }
}
