//! Helpers the integration tests share: the binary, a scratch project, loopback HTTP.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_aitrapp")
}

pub fn temp_project(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("aitrapp-cli-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("configs")).unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for f in ["instruments.csv", "holidays_nse.txt", "fo_ban_list.txt"] {
        std::fs::copy(root.join("configs").join(f), dir.join("configs").join(f)).unwrap();
    }
    dir
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn http(port: u16, method: &str, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(s, "{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").ok()?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).ok()?;
    let status = buf.split_whitespace().nth(1)?.parse().ok()?;
    let body = buf.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
    Some((status, body))
}
