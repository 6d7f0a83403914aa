//! `aitrapp doctor` on a good setup (kite-sim's credentials, today's files, free ports) and
//! on a broken one: every broken item is a red line with a hint, exit 1, and `--json` says
//! the same. The clock check reads this host's real time-sync status, so the good setup
//! expects whatever the host says for that one line and only that.

mod common;

use common::{free_port, start_sim, temp_project, write_sim_env};
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

fn doctor(dir: &Path, json: bool) -> (Option<i32>, String) {
    let mut c = Command::new(common::bin());
    c.current_dir(dir)
        .args(["doctor", "--config", "configs/app.yaml"]);
    if json {
        c.arg("--json");
    }
    for v in [
        "KITE_API_KEY",
        "KITE_ACCESS_TOKEN",
        "API_SECRET_KEY",
        "TELEGRAM_BOT_TOKEN",
        "SLACK_WEBHOOK_URL",
        "SMTP_HOST",
    ] {
        c.env_remove(v);
    }
    let out = c.output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).to_string(),
    )
}

fn verdicts(dir: &Path) -> (Option<i32>, Vec<Value>) {
    let (code, out) = doctor(dir, true);
    let v: Value = serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(v["ok"], code == Some(0), "{out}");
    (code, v["checks"].as_array().unwrap().clone())
}

fn verdict<'a>(checks: &'a [Value], name: &str) -> &'a Value {
    checks
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name}: {checks:?}"))
}

/// Today's IST date as NSE's ban list header writes it (04-DEC-2026).
fn ban_header_date() -> String {
    let (y, m, d) = aitrapp::clock::today_ist().ymd();
    let months = [
        "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
    ];
    format!("{d:02}-{}-{y}", months[m as usize - 1])
}

fn good_setup(tag: &str, sim: &kite_sim::SimHandle) -> std::path::PathBuf {
    let dir = temp_project(tag);
    write_sim_env(&dir);
    std::fs::set_permissions(dir.join(".env"), std::fs::Permissions::from_mode(0o600)).unwrap();
    let (y, _, _) = aitrapp::clock::today_ist().ymd();
    // This year's holiday list, whatever year the test runs in.
    std::fs::write(
        dir.join("configs/holidays-test.txt"),
        format!("{y}-01-26\n"),
    )
    .unwrap();
    std::fs::write(
        dir.join("configs/fo_secban.csv"),
        format!("Securities in Ban For Trade Date {}:\n", ban_header_date()),
    )
    .unwrap();
    std::fs::write(
        dir.join("configs/app.yaml"),
        format!(
            "control:\n  api_port: {}\n  dashboard_port: {}\nmarket:\n  holidays_file: configs/holidays-test.txt\nkite:\n  api_root: {}\n  sync_instruments: false\nlogging:\n  stderr: false\n",
            free_port(),
            free_port(),
            sim.rest_root()
        ),
    )
    .unwrap();
    dir
}

#[test]
fn a_good_setup_passes_every_check_the_host_allows() {
    let sim = start_sim("09:00", 1.0);
    let dir = good_setup("doctor-good", &sim);
    let (code, checks) = verdicts(&dir);
    for c in &checks {
        if c["name"] == "clock sync" {
            continue; // this host's own state
        }
        assert!(
            c["verdict"] == "ok" || c["verdict"] == "skip",
            "{c}\n{checks:?}"
        );
    }
    assert_eq!(verdict(&checks, "kite token")["verdict"], "ok");
    assert!(verdict(&checks, "kite token")["detail"]
        .as_str()
        .unwrap()
        .contains("valid for user"));
    assert_eq!(verdict(&checks, "F&O ban list")["verdict"], "ok");
    assert_eq!(verdict(&checks, "instrument dump")["verdict"], "ok");
    let clock_ok = verdict(&checks, "clock sync")["verdict"] == "ok";
    assert_eq!(code, Some(if clock_ok { 0 } else { 1 }), "{checks:?}");
    // The table says the same, a hint under each red line.
    let (_, table) = doctor(&dir, false);
    assert!(table.contains("ok     kite token"), "{table}");
    assert!(
        !table.contains('\x1b'),
        "no colours off a terminal: {table}"
    );
}

#[test]
fn a_broken_setup_is_red_line_by_line_with_hints() {
    let sim = start_sim("09:00", 1.0);
    let dir = good_setup("doctor-broken", &sim);
    // .env readable by others, a token Kite refuses.
    std::fs::write(
        dir.join(".env"),
        "KITE_API_KEY=sim_api_key\nKITE_ACCESS_TOKEN=expired-token\n",
    )
    .unwrap();
    std::fs::set_permissions(dir.join(".env"), std::fs::Permissions::from_mode(0o644)).unwrap();
    // Yesterday's ban list, a holiday file for another year, a port taken, CPUs outside
    // the mask, an order rate above SEBI's threshold with no algo id.
    std::fs::write(
        dir.join("configs/fo_secban.csv"),
        "Securities in Ban For Trade Date 02-JAN-2020:\n1,IDEA\n",
    )
    .unwrap();
    std::fs::write(dir.join("configs/holidays-test.txt"), "1999-01-26\n").unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    std::fs::write(
        dir.join("configs/app.yaml"),
        format!(
            "control:\n  api_port: {port}\n  dashboard_port: {}\nmarket:\n  holidays_file: configs/holidays-test.txt\nkite:\n  api_root: {}\n  sync_instruments: false\n  rate_limits:\n    orders_per_second: 20\npipeline:\n  cpus: [0, 511]\nlogging:\n  stderr: false\n",
            free_port(),
            sim.rest_root()
        ),
    )
    .unwrap();
    let (code, checks) = verdicts(&dir);
    assert_eq!(code, Some(1));
    for name in [
        ".env",
        "kite token",
        "holidays",
        "F&O ban list",
        "ports",
        "cpu mask",
        "SEBI algo rules",
    ] {
        let c = verdict(&checks, name);
        assert_eq!(c["verdict"], "fail", "{c}");
        assert!(c["hint"].as_str().is_some_and(|h| !h.is_empty()), "{c}");
    }
    assert!(verdict(&checks, ".env")["hint"]
        .as_str()
        .unwrap()
        .contains("chmod 600"));
    assert!(verdict(&checks, "ports")["detail"]
        .as_str()
        .unwrap()
        .contains(&port.to_string()));
    let (code, table) = doctor(&dir, false);
    assert_eq!(code, Some(1));
    assert!(table.contains("FAIL   .env"), "{table}");
    assert!(table.contains("hint: chmod 600"), "{table}");
    assert!(table.contains("check(s) need attention"), "{table}");
    assert!(
        !table.contains("expired-token"),
        "a secret in the table: {table}"
    );
    drop(taken);

    // A config that does not load: the config line says why, and nothing after it pretends.
    std::fs::write(dir.join("configs/app.yaml"), "risk:\n  capital: -5\n").unwrap();
    let (code, checks) = verdicts(&dir);
    assert_eq!(code, Some(1));
    assert_eq!(verdict(&checks, "config")["verdict"], "fail");
    assert!(
        checks.iter().all(|c| c["name"] != "kite token"),
        "{checks:?}"
    );
}
