//! The dashboard in a real browser: headless Chromium (Debian's `chromium`) driven over the
//! DevTools protocol. With API_SECRET_KEY set, the page asks for the key once and keeps it for
//! the session; Pause and Resume work; a real mouse click on KILL SWITCH only asks, the click
//! on its confirm flattens, the page says what it did, and the API shows the book flat. When
//! the engine dies, the page raises its banner.
//!
//! Without a Chromium on the machine the test says so and passes, unless
//! AITRAPP_REQUIRE_CHROMIUM=1 (CI sets it after installing the package).

mod common;

use common::{free_port, http, temp_project, wait_until};
use serde_json::{json, Value};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const KEY: &str = "dashboard-browser-key-51c2";

fn chromium() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("AITRAPP_CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|name| {
            std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|d| d.join(name))
                    .find(|p| p.is_file())
            })
        })
}

/// The browser process, killed on drop.
struct Browser {
    child: Child,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One DevTools session on one page: numbered calls, events skipped.
struct Cdp {
    ws: tungstenite::WebSocket<TcpStream>,
    next: u64,
}

impl Cdp {
    fn call(&mut self, method: &str, params: Value) -> Value {
        let id = self.next;
        self.next += 1;
        let msg = json!({"id": id, "method": method, "params": params}).to_string();
        self.ws.send(tungstenite::Message::text(msg)).unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            assert!(Instant::now() < deadline, "no answer to {method}");
            match self.ws.read() {
                Ok(tungstenite::Message::Text(t)) => {
                    let v: Value = serde_json::from_str(t.as_str()).unwrap();
                    if v["id"] == id {
                        assert!(v.get("error").is_none(), "{method}: {v}");
                        return v["result"].clone();
                    }
                }
                Ok(_) => {}
                Err(tungstenite::Error::Io(e))
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut => {}
                Err(e) => panic!("DevTools socket: {e}"),
            }
        }
    }

    /// A JavaScript expression's value (promises awaited).
    fn eval(&mut self, expr: &str) -> Value {
        let r = self.call(
            "Runtime.evaluate",
            json!({"expression": expr, "returnByValue": true, "awaitPromise": true}),
        );
        assert!(r.get("exceptionDetails").is_none(), "{expr}: {r}");
        r["result"]["value"].clone()
    }

    fn text(&mut self, id: &str) -> String {
        self.eval(&format!("document.getElementById('{id}').textContent"))
            .as_str()
            .unwrap_or("")
            .to_string()
    }

    /// A real left click (press and release) at the middle of element `id`, which must be
    /// on screen.
    fn click(&mut self, id: &str) {
        let r = self.eval(&format!(
            "(() => {{ const e = document.getElementById('{id}'); e.scrollIntoView(); const r = e.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2, r.width, r.height]; }})()"
        ));
        let (x, y) = (r[0].as_f64().unwrap(), r[1].as_f64().unwrap());
        assert!(
            r[2].as_f64().unwrap() > 0.0 && r[3].as_f64().unwrap() > 0.0,
            "#{id} is not visible: {r}"
        );
        for kind in ["mouseMoved", "mousePressed", "mouseReleased"] {
            self.call(
                "Input.dispatchMouseEvent",
                json!({"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1}),
            );
        }
    }

    fn wait_for(&mut self, what: &str, secs: u64, expr: &str) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        // False while the page is still loading and the element is not there yet.
        let guarded =
            format!("(() => {{ try {{ return {expr}; }} catch (e) {{ return false; }} }})()");
        while self.eval(&guarded) != json!(true) {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// Starts headless Chromium on `url` and opens a DevTools session on its page.
fn open_page(exe: &Path, profile: &Path, url: &str) -> (Browser, Cdp) {
    std::fs::create_dir_all(profile).unwrap();
    let child = Command::new(exe)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--window-size=1400,1000",
            "--remote-debugging-port=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(url)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let browser = Browser { child };
    // Chromium writes the port it took into the profile.
    let port_file = profile.join("DevToolsActivePort");
    wait_until("Chromium's DevTools port", 60, || {
        std::fs::read_to_string(&port_file).is_ok_and(|s| s.lines().count() >= 2)
    });
    let port: u16 = std::fs::read_to_string(&port_file)
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let mut ws_url = String::new();
    wait_until("the page target", 30, || {
        // Chromium keeps the connection open after answering, so a reader that waits for
        // the close would time out: ureq reads by Content-Length.
        let Ok(body) = ureq::get(&format!("http://127.0.0.1:{port}/json/list"))
            .call()
            .and_then(|mut r| r.body_mut().read_to_string())
        else {
            return false;
        };
        let list: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        let page = list.as_array().and_then(|l| {
            l.iter().find(|t| {
                t["type"] == "page" && t["url"].as_str().is_some_and(|u| u.starts_with(url))
            })
        });
        match page.and_then(|p| p["id"].as_str()) {
            Some(id) => {
                ws_url = format!("ws://127.0.0.1:{port}/devtools/page/{id}");
                true
            }
            None => false,
        }
    });
    let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let (ws, _) = tungstenite::client(ws_url.as_str(), stream).unwrap();
    (browser, Cdp { ws, next: 1 })
}

fn gauge(port: u16, name: &str) -> Option<f64> {
    let (_, body) = http(port, "GET", "/metrics")?;
    body.lines()
        .find_map(|l| l.strip_prefix(&format!("aitrapp_{name} ")))
        .and_then(|v| v.trim().parse().ok())
}

#[test]
fn the_kill_switch_flattens_from_a_real_click_in_chromium() {
    let Some(exe) = chromium() else {
        assert!(
            std::env::var("AITRAPP_REQUIRE_CHROMIUM").is_err(),
            "AITRAPP_REQUIRE_CHROMIUM is set but no chromium is on PATH"
        );
        eprintln!("SKIPPED: no chromium on PATH (apt-get install chromium)");
        return;
    };
    let dir = temp_project("dashboard-browser");
    let (port, dash) = (free_port(), free_port());
    // Single-leg positions only, so every open position is one row the kill switch closes.
    std::fs::write(
        dir.join("configs/app.yaml"),
        format!(
            "control:\n  api_port: {port}\n  dashboard_port: {dash}\nfeed:\n  source: synthetic\n  synthetic:\n    seed: 42\n    speed: 200\n    date: \"2026-12-02\"\n    start_time: \"09:40\"\nstrategies:\n  options_ranker:\n    enabled: false\nlogging:\n  stderr: false\n"
        ),
    )
    .unwrap();
    std::fs::write(dir.join(".env"), format!("API_SECRET_KEY={KEY}\n")).unwrap();
    let mut app = common::Running::quiet(&dir, port);
    wait_until("the dashboard", 30, || http(dash, "GET", "/").is_some());
    let (_browser, mut page) = open_page(
        &exe,
        &dir.join("chromium-profile"),
        &format!("http://127.0.0.1:{dash}/"),
    );
    page.call("Runtime.enable", json!({}));
    page.wait_for(
        "the tiles",
        30,
        "document.getElementById('s_mode').textContent === 'PAPER'",
    );

    // A key is configured: the page asks for it once and keeps it for the session.
    page.wait_for(
        "the key prompt",
        30,
        "document.getElementById('keybox').style.display === 'block'",
    );
    page.click("key");
    page.call("Input.insertText", json!({"text": KEY}));
    page.click("key_save");
    assert_eq!(
        page.eval("sessionStorage.getItem('aitrapp_api_key')"),
        json!(KEY)
    );

    let state = |what: &str| -> Value {
        let (_, body) = http(port, "GET", "/state").unwrap();
        serde_json::from_str::<Value>(&body).unwrap()[what].clone()
    };
    page.click("pause");
    wait_until("paused by the button", 20, || {
        state("is_paused") == json!(true)
    });
    page.wait_for(
        "the page to show paused",
        20,
        "document.getElementById('s_paused').textContent === 'yes'",
    );
    page.click("resume");
    wait_until("resumed by the button", 20, || {
        state("is_paused") == json!(false)
    });

    wait_until("an open position", 120, || {
        gauge(port, "positions_open").is_some_and(|n| n > 0.0)
    });
    page.wait_for(
        "the positions table",
        20,
        "document.getElementById('positions').rows.length > 0",
    );
    // The first click only asks.
    page.click("kill");
    page.wait_for(
        "the confirm step",
        10,
        "document.getElementById('kill_confirm_box').style.display === 'block'",
    );
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(gauge(port, "kill_switch_total"), Some(0.0));
    assert!(gauge(port, "positions_open").is_some_and(|n| n > 0.0));
    page.click("kill_confirm");
    page.wait_for(
        "the kill switch's answer",
        30,
        "document.getElementById('result').textContent.startsWith('Kill switch: ')",
    );
    let said = page.text("result");
    assert!(
        said.contains("position(s) closed") && said.contains("Entries paused"),
        "{said}"
    );
    assert!(!said.contains("nothing to do"), "{said}");
    wait_until("the book flat", 30, || {
        let (_, p) = http(port, "GET", "/positions").unwrap();
        p.trim() == "[]"
    });
    assert_eq!(state("is_paused"), json!(true));
    assert_eq!(gauge(port, "kill_switch_total"), Some(1.0));
    let log = common::log_text(&dir);
    assert!(
        log.contains("KILL SWITCH: flatten requested (reason: dashboard kill switch)"),
        "{log}"
    );
    assert!(!log.contains(KEY), "the API key reached the log");
    page.wait_for(
        "the kill switch among the day's alerts",
        20,
        "document.getElementById('alerts').textContent.includes('KILL_SWITCH')",
    );
    page.wait_for(
        "the page's table flat",
        20,
        "document.getElementById('positions').rows.length === 0",
    );

    // The engine gone: the page says so.
    let _ = app.child.kill();
    let _ = app.child.wait();
    page.wait_for(
        "the banner",
        30,
        "document.getElementById('banner').style.display === 'block'",
    );
    let banner = page.text("banner");
    assert!(banner.contains("not answering"), "{banner}");
}
