//! `aitrapp login` and `login --check` against tools/kite-sim.

mod common;
use common::{bin, start_sim, temp_project};
use std::os::unix::fs::PermissionsExt;
use std::process::Command;

fn login(dir: &std::path::Path, args: &[&str]) -> (i32, String) {
    let out = Command::new(bin())
        .current_dir(dir)
        .arg("login")
        .args(args)
        .env_remove("KITE_API_KEY")
        .env_remove("KITE_API_SECRET")
        .env_remove("KITE_ACCESS_TOKEN")
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn login_stores_a_private_token_and_check_validates_it() {
    let sim = start_sim("09:20", 1.0);
    let dir = temp_project("login");
    std::fs::write(
        dir.join("configs/app.yaml"),
        format!("kite:\n  api_root: {}\n", sim.rest_root()),
    )
    .unwrap();
    let env = dir.join(".env");
    std::fs::write(&env, "KITE_API_KEY=sim_api_key\nKITE_API_SECRET=wrong\n").unwrap();
    let (code, text) = login(&dir, &["--request-token", "rt1"]);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("TokenException"), "{text}");

    std::fs::write(
        &env,
        "KITE_API_KEY=sim_api_key\nKITE_API_SECRET=sim_api_secret\n",
    )
    .unwrap();
    let (code, text) = login(&dir, &["--request-token", "rt1"]);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("connect/login?v=3&api_key=sim_api_key"),
        "{text}"
    );
    assert!(
        !text.contains("sim_access_token"),
        "the token was printed: {text}"
    );
    assert!(
        !text.contains("sim_api_secret"),
        "the secret was printed: {text}"
    );
    let saved = std::fs::read_to_string(&env).unwrap();
    assert!(
        saved.contains("KITE_ACCESS_TOKEN=sim_access_token\n"),
        "{saved}"
    );
    assert!(saved.contains("KITE_API_SECRET=sim_api_secret\n"));
    assert_eq!(
        std::fs::metadata(&env).unwrap().permissions().mode() & 0o777,
        0o600
    );

    let (code, text) = login(&dir, &["--check"]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("valid for user SIM001"), "{text}");
    sim.faults.expire_token();
    let (code, text) = login(&dir, &["--check"]);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("TokenException"), "{text}");
}
