//! Backup while the engine runs, and restore: the backup holds the journal exactly as far
//! as the engine fsynced it, never `.env`; restore refuses while an engine runs and refuses a
//! truncated or altered backup with the reason, changing nothing; a restored directory
//! starts from the backed-up state. And a disk short of space pauses entries.

mod common;
use common::{aitrapp_run, bin, free_port, http, log_text, temp_project, wait_exit, wait_until};
use std::io::Read;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

const SECRET: &str = "sekrit-api-key-123";

fn project(tag: &str) -> (std::path::PathBuf, u16) {
    let dir = temp_project(tag);
    let port = free_port();
    std::fs::write(
        dir.join("configs/app.yaml"),
        format!(
            "control:\n  api_port: {port}\n  dashboard_port: {}\nfeed:\n  source: synthetic\n  synthetic:\n    seed: 42\n    speed: 200\n    date: \"2026-12-02\"\n    start_time: \"09:40\"\nlogging:\n  stderr: false\n",
            free_port()
        ),
    )
    .unwrap();
    std::fs::write(dir.join(".env"), format!("API_SECRET_KEY={SECRET}\n")).unwrap();
    (dir, port)
}

fn cli(dir: &Path, args: &[&str]) -> Output {
    Command::new(bin())
        .current_dir(dir)
        .args(args)
        .env_remove("API_SECRET_KEY")
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn metric(port: u16, name: &str) -> u64 {
    http(port, "GET", "/metrics")
        .and_then(|(_, b)| {
            b.lines()
                .find_map(|l| l.strip_prefix(&format!("aitrapp_{name} ")))
                .and_then(|v| v.trim().parse().ok())
        })
        .unwrap_or(0)
}

fn stop(child: &mut std::process::Child) {
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    wait_exit(child, Duration::from_secs(60), "no exit after SIGTERM");
}

#[test]
fn a_backup_taken_while_running_restores_to_the_same_state_and_bad_ones_are_refused() {
    let (dir, port) = project("backup");
    let mut engine = aitrapp_run(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_until("a session with trades journaled", 120, || {
        metric(port, "trades_closed_total") > 0 && metric(port, "journal_records_total") > 100
    });

    // While it runs: the journal fsynced to a known length and copied exactly so far.
    let out = cli(
        &dir,
        &[
            "backup",
            "--config",
            "configs/app.yaml",
            "--out",
            "backups/b.atb",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let said = text(&out);
    let synced: usize = said
        .split("fsynced at byte ")
        .nth(1)
        .and_then(|s| s.split(';').next())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_else(|| panic!("{said}"));
    let records: usize = said
        .split(" journal record(s)")
        .next()
        .and_then(|s| s.rsplit(' ').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{said}"));
    assert!(said.contains(".env not included"), "{said}");
    let backup = std::fs::read(dir.join("backups/b.atb")).unwrap();
    let mut inner = Vec::new();
    flate2::read::GzDecoder::new(&backup[..])
        .read_to_end(&mut inner)
        .unwrap();
    let inner_text = String::from_utf8_lossy(&inner);
    assert!(!inner_text.contains(SECRET), "the API key is in the backup");
    assert!(!inner_text.contains(".env"), "a .env file is in the backup");
    assert!(inner_text.contains("configs/app.yaml"));

    // No restore under a running engine.
    let out = cli(
        &dir,
        &["restore", "--config", "configs/app.yaml", "backups/b.atb"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("the engine is running"),
        "{}",
        text(&out)
    );
    stop(&mut engine);
    let journal = std::fs::read(dir.join("data/journal/journal-20261202.aj")).unwrap();
    assert!(journal.len() >= synced);

    // Into a fresh directory: the journal exactly as the engine had fsynced it.
    let (fresh, fresh_port) = project("backup-restored");
    let file = dir.join("backups/b.atb");
    let file = file.to_str().unwrap();
    let out = cli(&fresh, &["restore", "--config", "configs/app.yaml", file]);
    assert!(out.status.success(), "{}", text(&out));
    let restored = std::fs::read(fresh.join("data/journal/journal-20261202.aj")).unwrap();
    assert!(
        restored == journal[..synced],
        "restored journal is not the synced prefix"
    );

    // Truncated or altered backups are refused with the reason, and nothing changes.
    let bad = fresh.join("bad.atb");
    for (what, bytes) in [
        ("truncated", backup[..backup.len() * 2 / 3].to_vec()),
        ("altered", {
            let mut b = backup.clone();
            let k = b.len() / 2;
            b[k] ^= 0x01;
            b
        }),
    ] {
        std::fs::write(&bad, &bytes).unwrap();
        let out = cli(
            &fresh,
            &["restore", "--config", "configs/app.yaml", "bad.atb"],
        );
        assert_eq!(out.status.code(), Some(1), "{what}: {}", text(&out));
        assert!(
            text(&out).contains("is not a good backup")
                && text(&out).contains("nothing was changed"),
            "{what}: {}",
            text(&out)
        );
        let now = std::fs::read(fresh.join("data/journal/journal-20261202.aj")).unwrap();
        assert!(now == restored, "{what}: the journal changed");
    }

    // The restored directory starts from the backed-up state.
    let mut again = aitrapp_run(&fresh)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_until("the restored start", 60, || {
        http(fresh_port, "GET", "/health").is_some()
    });
    stop(&mut again);
    let log = log_text(&fresh);
    let line = log
        .lines()
        .find(|l| l.contains("Recovered from journal"))
        .unwrap_or_else(|| panic!("{log}"));
    assert!(
        line.contains(&format!(": {records} records;")),
        "backup said {records} records: {line}"
    );

    // A restore over an existing journal moves it aside.
    let out = cli(
        &dir,
        &["restore", "--config", "configs/app.yaml", "backups/b.atb"],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("before-restore-"), "{}", text(&out));
}

/// The journal's disk below `monitoring.min_free_disk_gb`: an ALERT, and entries pause
/// (here the limit is set past any disk).
#[test]
fn a_disk_below_min_free_raises_an_alert_and_pauses_entries() {
    let (dir, port) = project("disk-low");
    let cfg = dir.join("configs/app.yaml");
    let mut yaml = std::fs::read_to_string(&cfg).unwrap();
    yaml.push_str("monitoring:\n  min_free_disk_gb: 1000000000\n  disk_check_interval_s: 1\n");
    std::fs::write(&cfg, yaml).unwrap();
    let mut engine = aitrapp_run(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_until("the free-disk alert and the pause", 60, || {
        log_text(&dir).contains("is below monitoring.min_free_disk_gb")
            && metric(port, "trading_state") == 1
    });
    assert!(metric(port, "free_disk_bytes") > 0);
    stop(&mut engine);
    assert!(log_text(&dir).contains("ALERT: free disk"));
}
