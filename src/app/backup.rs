//! `aitrapp backup` and `aitrapp restore`: the embedded state (the journals, today's and the
//! archive's, and the config files; never `.env`) to one checked file and back. A backup
//! while the engine runs first asks it (`POST /journal/sync`) to write and fsync its journal
//! and copies exactly that many bytes; a restore refuses while an engine runs, and checks
//! every byte of the backup before it moves anything aside.

use super::*;
use crate::journal::backup::{pack, unpack, whole_records, BackupFile};
use std::io::{Read as _, Write as _};
use std::net::TcpStream;

/// One HTTP call to the engine's control API on loopback; None: nothing answers.
fn engine_call(
    cfg: &AppConfig,
    method: &str,
    path: &str,
    key: Option<&str>,
) -> Option<(u16, String)> {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], cfg.control.api_port));
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(15))).ok()?;
    let key = key.map_or(String::new(), |k| format!("X-API-Key: {k}\r\n"));
    write!(s, "{method} {path} HTTP/1.1\r\nHost: localhost\r\n{key}Content-Length: 0\r\nConnection: close\r\n\r\n").ok()?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).ok()?;
    let status = buf.split_whitespace().nth(1)?.parse().ok()?;
    Some((
        status,
        buf.split("\r\n\r\n").nth(1).unwrap_or("").to_string(),
    ))
}

/// Why the engine counts as running, if it does: its control API answers, or the pid in
/// its snapshot is a live aitrapp.
fn engine_running(cfg: &AppConfig, base: &Path) -> Option<String> {
    if engine_call(cfg, "GET", "/health", None).is_some() {
        return Some(format!(
            "an engine answers on 127.0.0.1:{}",
            cfg.control.api_port
        ));
    }
    let snap = resolve_path(base, &cfg.control.snapshot_path);
    let pid = SnapshotReader::open(&snap).ok()?.read().ok()?.pid;
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
    (pid != std::process::id() && comm.trim().starts_with("aitrapp"))
        .then(|| format!("aitrapp pid {pid} (from {}) is alive", snap.display()))
}

fn is_journal(name: &str) -> bool {
    name.starts_with("journal-") && (name.ends_with(".aj") || name.ends_with(".aj.gz"))
}

/// `aitrapp backup --out FILE`: returns the summary line.
pub fn backup(
    cfg: &AppConfig,
    base: &Path,
    config_dir: &Path,
    secrets: &Secrets,
    out: &Path,
) -> Result<String, AppError> {
    let dir = resolve_path(base, &cfg.journal.dir);
    // The engine's journal, synced: (file name, length).
    let synced = match engine_call(
        cfg,
        "POST",
        "/journal/sync",
        secrets.api_secret_key.as_deref(),
    ) {
        None => None,
        Some((200, body)) => {
            let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
            let name = Path::new(v["file"].as_str().unwrap_or(""))
                .file_name()
                .map(|n| n.to_string_lossy().to_string());
            match (name, v["bytes"].as_u64()) {
                (Some(n), Some(b)) => Some((n, b)),
                _ => return Err(startup(format!("the engine's sync answer was not understood: {body}"))),
            }
        }
        Some((code, body)) => {
            return Err(startup(format!(
                "the engine is running but refused to sync its journal ({code}: {}); nothing was written",
                body.trim()
            )))
        }
    };
    let mut files = Vec::new();
    let mut records = 0usize;
    for sub in ["", "archive"] {
        let d = if sub.is_empty() {
            dir.clone()
        } else {
            dir.join(sub)
        };
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        let mut names: Vec<String> = entries
            .flatten()
            .map(|e| e.file_name().to_string_lossy().to_string())
            .filter(|n| is_journal(n))
            .collect();
        names.sort();
        for name in names {
            let p = d.join(&name);
            let mut bytes =
                std::fs::read(&p).map_err(|e| startup(format!("{}: {e}", p.display())))?;
            if name.ends_with(".aj") {
                let synced_len = match &synced {
                    Some((n, len)) if sub.is_empty() && *n == name => Some(*len as usize),
                    _ => None,
                };
                if let Some(len) = synced_len {
                    bytes.truncate(len);
                }
                let (n, whole) =
                    whole_records(&bytes).map_err(|e| startup(format!("{}: {e}", p.display())))?;
                // Not being written (or the engine is gone): up to its last whole record.
                if synced_len.is_none() {
                    bytes.truncate(whole as usize);
                }
                records += n;
            }
            let path = if sub.is_empty() {
                format!("journal/{name}")
            } else {
                format!("journal/{sub}/{name}")
            };
            files.push(BackupFile { path, bytes });
        }
    }
    // The config files; `.env` (the secrets) never.
    if let Ok(entries) = std::fs::read_dir(config_dir) {
        let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        paths.sort();
        for p in paths {
            let name = p.file_name().map(|n| n.to_string_lossy().to_string());
            let Some(name) = name.filter(|n| !n.starts_with(".env") && p.is_file()) else {
                continue;
            };
            let bytes = std::fs::read(&p).map_err(|e| startup(format!("{}: {e}", p.display())))?;
            files.push(BackupFile {
                path: format!("configs/{name}"),
                bytes,
            });
        }
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let packed = pack(&files, now).map_err(startup)?;
    // Checked as restore would check it, then written whole and moved into place.
    unpack(&packed).map_err(|e| startup(format!("the backup did not verify: {e}")))?;
    if let Some(d) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(d).map_err(|e| startup(format!("{}: {e}", d.display())))?;
    }
    let tmp = out.with_extension("part");
    std::fs::File::create(&tmp)
        .and_then(|mut f| f.write_all(&packed).and_then(|_| f.sync_all()))
        .and_then(|_| std::fs::rename(&tmp, out))
        .map_err(|e| startup(format!("{}: {e}", out.display())))?;
    let journals = files
        .iter()
        .filter(|f| f.path.starts_with("journal/"))
        .count();
    let how = match &synced {
        Some((n, len)) => format!("the running engine's {n} fsynced at byte {len}"),
        None => "no engine running".to_string(),
    };
    Ok(format!(
        "Backup {}: {} file(s) ({journals} journal(s), {records} journal record(s), {} config file(s)), {} bytes; {how}; .env not included",
        out.display(),
        files.len(),
        files.len() - journals,
        packed.len()
    ))
}

/// `aitrapp restore FILE`: returns the summary line. Refuses while an engine runs and
/// before touching anything when the backup does not verify; the journal directory it
/// replaces is moved aside, never deleted; configs only with `with_configs`.
pub fn restore(
    cfg: &AppConfig,
    base: &Path,
    config_dir: &Path,
    file: &Path,
    with_configs: bool,
) -> Result<String, AppError> {
    if let Some(why) = engine_running(cfg, base) {
        return Err(startup(format!(
            "restore refused: the engine is running ({why}); stop it first (systemctl stop aitrapp)"
        )));
    }
    let bytes = std::fs::read(file).map_err(|e| startup(format!("{}: {e}", file.display())))?;
    let (files, created) = unpack(&bytes).map_err(|e| {
        startup(format!(
            "restore refused: {} is not a good backup: {e}; nothing was changed",
            file.display()
        ))
    })?;
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let dir = resolve_path(base, &cfg.journal.dir);
    let mut moved = None;
    if std::fs::read_dir(&dir).is_ok_and(|mut d| d.next().is_some()) {
        let aside = PathBuf::from(format!("{}.before-restore-{stamp}", dir.display()));
        std::fs::rename(&dir, &aside)
            .map_err(|e| startup(format!("moving {} aside: {e}", dir.display())))?;
        moved = Some(aside);
    }
    let (mut journals, mut configs) = (0, 0);
    for f in &files {
        let target = if let Some(rel) = f.path.strip_prefix("journal/") {
            journals += 1;
            dir.join(rel)
        } else if let Some(rel) = f.path.strip_prefix("configs/") {
            if !with_configs {
                continue;
            }
            configs += 1;
            let t = config_dir.join(rel);
            if t.exists() {
                let _ = std::fs::rename(&t, t.with_extension(format!("before-restore-{stamp}")));
            }
            t
        } else {
            continue;
        };
        if let Some(d) = target.parent() {
            std::fs::create_dir_all(d).map_err(|e| startup(format!("{}: {e}", d.display())))?;
        }
        let tmp = target.with_extension("restore-part");
        std::fs::File::create(&tmp)
            .and_then(|mut w| w.write_all(&f.bytes).and_then(|_| w.sync_all()))
            .and_then(|_| std::fs::rename(&tmp, &target))
            .map_err(|e| startup(format!("{}: {e}", target.display())))?;
    }
    let aside = moved.map_or(String::new(), |p| {
        format!("; the journals it replaced are in {}", p.display())
    });
    let skipped = files
        .iter()
        .filter(|f| f.path.starts_with("configs/"))
        .count()
        - configs;
    let cfgs = if skipped > 0 {
        format!(
            "; {skipped} config file(s) in the backup left as they are (--configs restores them)"
        )
    } else {
        String::new()
    };
    Ok(format!(
        "Restored {} (made at unix {created}): {journals} journal file(s) into {}, {configs} config file(s){cfgs}{aside}",
        file.display(),
        dir.display()
    ))
}
