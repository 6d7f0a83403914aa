//! Day files kept for the audit trail: a directory holds one file a trading day (journals
//! `journal-YYYYMMDD.aj`, trade exports `trades-YYYY-MM-DD.csv`); files of other days move
//! to its `archive/`, gzip-compressed (the original goes only once the copy is on disk), and
//! an archived file is deleted only once it is more than `logging.audit_retention_days` old.

use std::fs::File;
use std::path::{Path, PathBuf};

/// How one kind of day file is named: `{prefix}{day}{suffix}`, the day as `YYYYMMDD` or
/// `YYYY-MM-DD`; archived with `.gz` appended.
#[derive(Clone, Copy, Debug)]
pub struct DayFileName {
    pub prefix: &'static str,
    pub suffix: &'static str,
    /// The day written `YYYY-MM-DD` (else `YYYYMMDD`).
    pub dashed: bool,
}

pub const JOURNAL: DayFileName = DayFileName {
    prefix: "journal-",
    suffix: ".aj",
    dashed: false,
};

pub const EXPORT: DayFileName = DayFileName {
    prefix: "trades-",
    suffix: ".csv",
    dashed: true,
};

impl DayFileName {
    pub fn name(&self, day: u32) -> String {
        let d = if self.dashed {
            crate::domain::Date(day).to_string()
        } else {
            day.to_string()
        };
        format!("{}{d}{}", self.prefix, self.suffix)
    }

    /// The trading day of a file name, and whether it is the archived (`.gz`) form.
    pub fn day_of(&self, name: &str) -> Option<(u32, bool)> {
        let rest = name.strip_prefix(self.prefix)?;
        let (mid, gz) = match rest.strip_suffix(".gz") {
            Some(r) => (r.strip_suffix(self.suffix)?, true),
            None => (rest.strip_suffix(self.suffix)?, false),
        };
        let digits: String = if self.dashed {
            let b = mid.as_bytes();
            if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
                return None;
            }
            mid.chars().filter(|c| *c != '-').collect()
        } else {
            mid.to_string()
        };
        if digits.len() != 8 || !digits.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        Some((digits.parse().ok()?, gz))
    }
}

/// Every day's file of `kind` in `dir` and its `archive/`, oldest first: (trading day, file).
pub fn day_files(dir: &Path, kind: DayFileName) -> Vec<(u32, PathBuf)> {
    let mut out = Vec::new();
    for d in [dir.to_path_buf(), dir.join("archive")] {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            if let Some((day, _)) = kind.day_of(&e.file_name().to_string_lossy()) {
                out.push((day, e.path()));
            }
        }
    }
    out.sort();
    out
}

/// Moves the files of `kind` in `dir` of days other than `keep` into `dir/archive/`,
/// compressed. Returns the archived copies; an error names the file it stopped at.
pub fn archive_other_days(
    dir: &Path,
    kind: DayFileName,
    keep: u32,
) -> Result<Vec<PathBuf>, (PathBuf, std::io::Error)> {
    let mut out = Vec::new();
    let entries = std::fs::read_dir(dir).map_err(|e| (dir.to_path_buf(), e))?;
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        match kind.day_of(&name) {
            Some((d, false)) if d != keep => {}
            _ => continue,
        }
        let src = e.path();
        let archive = dir.join("archive");
        std::fs::create_dir_all(&archive).map_err(|e| (archive.clone(), e))?;
        let dst = archive.join(format!("{name}.gz"));
        let tmp = archive.join(format!("{name}.gz.part"));
        compress(&src, &tmp).map_err(|e| (tmp.clone(), e))?;
        std::fs::rename(&tmp, &dst).map_err(|e| (dst.clone(), e))?;
        sync_dir(&archive);
        std::fs::remove_file(&src).map_err(|e| (src.clone(), e))?;
        out.push(dst);
    }
    sync_dir(dir);
    Ok(out)
}

fn compress(src: &Path, dst: &Path) -> std::io::Result<()> {
    let mut input = File::open(src)?;
    let mut gz = flate2::write::GzEncoder::new(File::create(dst)?, flate2::Compression::default());
    std::io::copy(&mut input, &mut gz)?;
    gz.finish()?.sync_all()
}

/// Days since 1970 of a YYYYMMDD trading day.
fn day_number(d: u32) -> i64 {
    crate::clock::ist_epoch(crate::domain::Date(d), crate::clock::TimeOfDay::hm(12, 0)) / 86_400
}

/// Deletes archived files of `kind` of days more than `retention_days` before `day`; never
/// one inside the retention, never one that is not archived.
pub fn prune_archive(dir: &Path, kind: DayFileName, day: u32, retention_days: u32) -> Vec<PathBuf> {
    if retention_days == u32::MAX {
        return Vec::new();
    }
    let oldest = day_number(day) - retention_days as i64;
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir.join("archive")) else {
        return out;
    };
    for e in entries.flatten() {
        let Some((d, true)) = kind.day_of(&e.file_name().to_string_lossy()) else {
            continue;
        };
        if day_number(d) < oldest && std::fs::remove_file(e.path()).is_ok() {
            out.push(e.path());
        }
    }
    out
}

pub fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_strangers_are_ignored() {
        assert_eq!(JOURNAL.name(20261202), "journal-20261202.aj");
        assert_eq!(EXPORT.name(20261202), "trades-2026-12-02.csv");
        assert_eq!(
            EXPORT.day_of("trades-2026-12-02.csv"),
            Some((20261202, false))
        );
        assert_eq!(
            EXPORT.day_of("trades-2026-12-02.csv.gz"),
            Some((20261202, true))
        );
        assert_eq!(
            JOURNAL.day_of("journal-20261202.aj.gz"),
            Some((20261202, true))
        );
        for stranger in [
            "trades-20261202.csv",
            "trades-2026-12-02.csv.part",
            "trades-2026-1a-02.csv",
            "journal-2026120.aj",
            "journal-20261202.aj.gz.part",
            "notes.csv",
        ] {
            assert_eq!(
                EXPORT.day_of(stranger).or(JOURNAL.day_of(stranger)),
                None,
                "{stranger}"
            );
        }
    }

    #[test]
    fn exports_of_other_days_are_archived_and_kept_for_the_retention() {
        let dir = std::env::temp_dir().join(format!("aitrapp-retention-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("archive")).unwrap();
        std::fs::write(dir.join("trades-2026-12-01.csv"), "header\nrow\n").unwrap();
        std::fs::write(dir.join("trades-2026-12-02.csv"), "today\n").unwrap();
        std::fs::write(dir.join("mine.csv"), "an operator's file\n").unwrap();
        for old in ["trades-2021-11-30.csv.gz", "trades-2021-12-03.csv.gz"] {
            std::fs::write(dir.join("archive").join(old), "x").unwrap();
        }
        let archived = archive_other_days(&dir, EXPORT, 20261202).unwrap();
        assert_eq!(archived, vec![dir.join("archive/trades-2026-12-01.csv.gz")]);
        let mut text = String::new();
        std::io::Read::read_to_string(
            &mut flate2::read::GzDecoder::new(File::open(&archived[0]).unwrap()),
            &mut text,
        )
        .unwrap();
        assert_eq!(text, "header\nrow\n");
        assert!(!dir.join("trades-2026-12-01.csv").exists());
        assert!(dir.join("trades-2026-12-02.csv").exists() && dir.join("mine.csv").exists());
        // 1825 days before 2026-12-02 is 2021-12-03: that day stays, the one before goes.
        let pruned = prune_archive(&dir, EXPORT, 20261202, 1825);
        assert_eq!(pruned, vec![dir.join("archive/trades-2021-11-30.csv.gz")]);
        let kept: Vec<u32> = day_files(&dir, EXPORT)
            .into_iter()
            .map(|(d, _)| d)
            .collect();
        assert_eq!(kept, vec![20211203, 20261201, 20261202]);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
