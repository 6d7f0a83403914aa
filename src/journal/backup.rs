//! Backups of the embedded state: the journals (today's up to an fsynced offset, the
//! archive's whole) and the config files, never `.env`. One gzip stream holding, in order:
//!
//! ```text
//! "AITRAPPB" | format u16 (1) | files u32 | created unix s u64
//! per file:  path length u16 | path (UTF-8, '/'-separated, relative) | length u64 | CRC-32 u32 | bytes
//! "AITRAPPZ" | CRC-32 u32 of every byte before it
//! ```
//!
//! little-endian. `unpack` checks all of it (the gzip stream, every length, every file's
//! CRC, the trailer) and every journal inside parses whole before anything is replaced.

use super::format::{read_records, Tail};
use std::io::{Read, Write};

pub const BACKUP_FORMAT: u16 = 1;
const MAGIC: &[u8; 8] = b"AITRAPPB";
const TRAILER: &[u8; 8] = b"AITRAPPZ";

/// One file of a backup.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackupFile {
    pub path: String,
    pub bytes: Vec<u8>,
}

/// Why a backup cannot be restored.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BadBackup {
    #[error("not a complete gzip stream (truncated or not an aitrapp backup): {0}")]
    Gzip(String),
    #[error("not an aitrapp backup (no AITRAPPB header)")]
    Magic,
    #[error("backup format {0} (this build reads format {BACKUP_FORMAT})")]
    Format(u16),
    #[error("truncated: it ends inside {0}")]
    Truncated(String),
    #[error("{0} fails its checksum (stored CRC-32 {1:08x}, contents {2:08x})")]
    Checksum(String, u32, u32),
    #[error("the trailer's checksum does not match: the backup was altered or truncated")]
    Trailer,
    #[error("{path}: unsafe path in a backup")]
    Path { path: String },
    #[error("{0}: the journal inside is damaged: {1}")]
    Journal(String, String),
}

/// The backup of `files`, gzip-compressed.
pub fn pack(files: &[BackupFile], created: u64) -> std::io::Result<Vec<u8>> {
    let mut inner = Vec::new();
    inner.extend_from_slice(MAGIC);
    inner.extend_from_slice(&BACKUP_FORMAT.to_le_bytes());
    inner.extend_from_slice(&(files.len() as u32).to_le_bytes());
    inner.extend_from_slice(&created.to_le_bytes());
    for f in files {
        inner.extend_from_slice(&(f.path.len() as u16).to_le_bytes());
        inner.extend_from_slice(f.path.as_bytes());
        inner.extend_from_slice(&(f.bytes.len() as u64).to_le_bytes());
        inner.extend_from_slice(&crc32fast::hash(&f.bytes).to_le_bytes());
        inner.extend_from_slice(&f.bytes);
    }
    let crc = crc32fast::hash(&inner);
    inner.extend_from_slice(TRAILER);
    inner.extend_from_slice(&crc.to_le_bytes());
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&inner)?;
    gz.finish()
}

/// Every file of a backup, each checked; journals (`*.aj`, `*.aj.gz`) must read whole.
pub fn unpack(gz: &[u8]) -> Result<(Vec<BackupFile>, u64), BadBackup> {
    let mut inner = Vec::new();
    flate2::read::GzDecoder::new(gz)
        .read_to_end(&mut inner)
        .map_err(|e| BadBackup::Gzip(e.to_string()))?;
    if inner.len() < 22 || &inner[..8] != MAGIC {
        return Err(BadBackup::Magic);
    }
    let format = u16::from_le_bytes([inner[8], inner[9]]);
    if format != BACKUP_FORMAT {
        return Err(BadBackup::Format(format));
    }
    let count = u32::from_le_bytes(inner[10..14].try_into().unwrap_or_default());
    let created = u64::from_le_bytes(inner[14..22].try_into().unwrap_or_default());
    let mut at = 22usize;
    let mut files = Vec::new();
    let take =
        |at: &mut usize, n: usize, what: &str| -> Result<std::ops::Range<usize>, BadBackup> {
            let end = at.checked_add(n).filter(|&e| e <= inner.len());
            let end = end.ok_or_else(|| BadBackup::Truncated(what.to_string()))?;
            let r = *at..end;
            *at = end;
            Ok(r)
        };
    for k in 0..count {
        let what = format!("file {} of {count}", k + 1);
        let r = take(&mut at, 2, &what)?;
        let plen = u16::from_le_bytes([inner[r.start], inner[r.start + 1]]) as usize;
        let r = take(&mut at, plen, &what)?;
        let path = String::from_utf8_lossy(&inner[r]).to_string();
        let r = take(&mut at, 12, &path)?;
        let len = u64::from_le_bytes(inner[r.start..r.start + 8].try_into().unwrap_or_default());
        let crc = u32::from_le_bytes(inner[r.start + 8..r.end].try_into().unwrap_or_default());
        let r = take(&mut at, len as usize, &path)?;
        let bytes = inner[r].to_vec();
        let got = crc32fast::hash(&bytes);
        if got != crc {
            return Err(BadBackup::Checksum(path, crc, got));
        }
        if path.starts_with('/') || path.split('/').any(|p| p == ".." || p.is_empty()) {
            return Err(BadBackup::Path { path });
        }
        files.push(BackupFile { path, bytes });
    }
    let body = at;
    let r = take(&mut at, 12, "the trailer")?;
    let crc = u32::from_le_bytes(inner[r.start + 8..r.end].try_into().unwrap_or_default());
    if &inner[r.start..r.start + 8] != TRAILER || crc != crc32fast::hash(&inner[..body]) {
        return Err(BadBackup::Trailer);
    }
    for f in &files {
        check_journal(f)?;
    }
    Ok((files, created))
}

/// A journal in a backup reads whole: no damage and, being cut at a synced record
/// boundary, no torn tail. Other files pass as they are.
fn check_journal(f: &BackupFile) -> Result<(), BadBackup> {
    let plain;
    let bytes = if f.path.ends_with(".aj.gz") {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&f.bytes[..])
            .read_to_end(&mut out)
            .map_err(|e| BadBackup::Journal(f.path.clone(), e.to_string()))?;
        plain = out;
        &plain[..]
    } else if f.path.ends_with(".aj") {
        &f.bytes[..]
    } else {
        return Ok(());
    };
    match read_records(bytes) {
        Ok((_, _, Tail::Clean)) => Ok(()),
        Ok((_, _, Tail::Torn { good_len, .. })) => Err(BadBackup::Journal(
            f.path.clone(),
            format!("a half-written record after byte {good_len}"),
        )),
        Err(d) => Err(BadBackup::Journal(f.path.clone(), d.to_string())),
    }
}

/// Records of a journal image up to its last whole record, and that length: what a backup
/// of a file being written takes when the engine cannot be asked to sync.
pub fn whole_records(bytes: &[u8]) -> Result<(usize, u64), String> {
    match read_records(bytes) {
        Ok((_, recs, Tail::Clean)) => Ok((recs.len(), bytes.len() as u64)),
        Ok((_, recs, Tail::Torn { good_len, .. })) => Ok((recs.len(), good_len)),
        Err(d) => Err(d.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::format::{encode_record, Header};

    fn journal(records: u64) -> Vec<u8> {
        let mut b = Header {
            format: crate::journal::format::FORMAT,
            day: 20261202,
            created_s: 1,
        }
        .encode()
        .to_vec();
        for s in 1..=records {
            encode_record(&mut b, s, 3, &[s as u8; 40]);
        }
        b
    }

    fn files() -> Vec<BackupFile> {
        vec![
            BackupFile {
                path: "journal/journal-20261202.aj".into(),
                bytes: journal(50),
            },
            BackupFile {
                path: "configs/app.yaml".into(),
                bytes: b"mode: PAPER\n".to_vec(),
            },
        ]
    }

    #[test]
    fn a_backup_unpacks_to_what_was_packed() {
        let b = pack(&files(), 7).unwrap();
        assert_eq!(unpack(&b).unwrap(), (files(), 7));
    }

    /// Every cut of a backup is refused, with a reason; so is every flipped byte.
    #[test]
    fn truncated_or_altered_backups_are_refused() {
        let b = pack(&files(), 7).unwrap();
        for cut in (0..b.len()).step_by(7) {
            assert!(
                unpack(&b[..cut]).is_err(),
                "a backup cut at {cut} was taken"
            );
        }
        let mut inner = Vec::new();
        flate2::read::GzDecoder::new(&b[..])
            .read_to_end(&mut inner)
            .unwrap();
        let regz = |inner: &[u8]| {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(inner).unwrap();
            gz.finish().unwrap()
        };
        for at in (8..inner.len()).step_by(13) {
            let mut bad = inner.clone();
            bad[at] ^= 0x20;
            assert!(
                unpack(&regz(&bad)).is_err(),
                "a flipped byte at {at} was taken"
            );
        }
        // A file's contents changed: named by its checksum.
        let mut bad = inner.clone();
        let at = inner.len() - 20; // inside the last file (12 bytes before the 12-byte trailer)
        bad[at] ^= 1;
        let e = unpack(&regz(&bad)).unwrap_err().to_string();
        assert!(e.contains("configs/app.yaml fails its checksum"), "{e}");
    }

    #[test]
    fn a_torn_journal_inside_is_refused_and_whole_records_cuts_at_the_last_one() {
        let j = journal(10);
        let cut = j.len() - 5;
        let mut f = files();
        f[0].bytes.truncate(cut);
        let e = unpack(&pack(&f, 7).unwrap()).unwrap_err().to_string();
        assert!(e.contains("half-written"), "{e}");
        let (n, len) = whole_records(&j[..cut]).unwrap();
        assert_eq!(n, 9);
        assert!(whole_records(&j[..len as usize]).unwrap() == (9, len));
    }
}
