//! `aitrapp login`: the Kite Connect login flow. Print the login URL, take the request_token
//! (given, or caught by a one-shot redirect listener on 127.0.0.1), exchange it at
//! `POST /session/token` with checksum = SHA-256(api_key + request_token + api_secret), and
//! store KITE_ACCESS_TOKEN in `.env` (mode 0600, replaced atomically). Tokens and the secret
//! are never printed or logged.

use super::checksum::session_checksum;
use super::envelope::{parse_envelope, KiteError};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::time::{Duration, Instant};

pub fn login_url(login_root: &str, api_key: &str) -> String {
    format!("{login_root}?v=3&api_key={api_key}")
}

#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error("{0}")]
    Kite(#[from] KiteError),
    #[error("cannot reach Kite at {root}: {reason}")]
    Transport { root: String, reason: String },
    #[error("the session answer has no access_token")]
    NoToken,
    #[error("redirect listener on {addr}: {reason}")]
    Listener { addr: String, reason: String },
    #[error("no request_token arrived within {0} s")]
    Timeout(u64),
    #[error("cannot write {path}: {reason}")]
    EnvFile { path: String, reason: String },
}

/// Exchanges a request_token for an access token; returns (access_token, user_id).
pub fn exchange_request_token(
    api_root: &str,
    api_key: &str,
    api_secret: &str,
    request_token: &str,
    timeout: Duration,
) -> Result<(String, String), LoginError> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .build()
        .into();
    let url = format!("{}/session/token", api_root.trim_end_matches('/'));
    let checksum = session_checksum(api_key, request_token, api_secret);
    let transport = |e: ureq::Error| LoginError::Transport {
        root: api_root.to_string(),
        reason: e.to_string(),
    };
    let mut resp = agent
        .post(&url)
        .header("X-Kite-Version", "3")
        .send_form([
            ("api_key", api_key),
            ("request_token", request_token),
            ("checksum", checksum.as_str()),
        ])
        .map_err(transport)?;
    let http = resp.status().as_u16();
    let body = resp.body_mut().read_to_vec().map_err(transport)?;
    let data = parse_envelope(http, &body)?;
    let token = data
        .get("access_token")
        .and_then(|v| v.as_str())
        .filter(|t| !t.is_empty())
        .ok_or(LoginError::NoToken)?;
    let user = data
        .get("user_id")
        .and_then(|v| v.as_str())
        .unwrap_or("")
        .to_string();
    Ok((token.to_string(), user))
}

/// Waits for Kite's redirect (`GET /?request_token=..&status=success`) on `addr`, answers the
/// browser, and returns the token. One request token, then the listener closes.
pub fn await_redirect(addr: &str, wait: Duration) -> Result<String, LoginError> {
    let err = |reason: String| LoginError::Listener {
        addr: addr.to_string(),
        reason,
    };
    let listener = TcpListener::bind(addr).map_err(|e| err(e.to_string()))?;
    listener
        .set_nonblocking(true)
        .map_err(|e| err(e.to_string()))?;
    let deadline = Instant::now() + wait;
    loop {
        match listener.accept() {
            Ok((mut s, _)) => {
                let _ = s.set_nonblocking(false);
                let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
                let mut buf = [0u8; 4096];
                let n = s.read(&mut buf).unwrap_or(0);
                let head = String::from_utf8_lossy(&buf[..n]);
                let target = head.split_whitespace().nth(1).unwrap_or("");
                let token = target
                    .split_once('?')
                    .map(|(_, q)| q)
                    .unwrap_or("")
                    .split('&')
                    .filter_map(|kv| kv.split_once('='))
                    .find(|(k, _)| *k == "request_token")
                    .map(|(_, v)| v.to_string())
                    .filter(|v| !v.is_empty());
                let (status, text) = match &token {
                    Some(_) => ("200 OK", "Login received. You can close this tab."),
                    None => ("400 Bad Request", "No request_token in this request."),
                };
                let _ = write!(
                    s,
                    "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
                    text.len()
                );
                if let Some(t) = token {
                    return Ok(t);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if Instant::now() >= deadline {
                    return Err(LoginError::Timeout(wait.as_secs()));
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => return Err(err(e.to_string())),
        }
    }
}

/// Sets `key=value` in a dotenv file, keeping every other line, written to a temporary file
/// with mode 0600 and renamed over the old one so a crash never leaves half a file.
pub fn set_env_var(path: &Path, key: &str, value: &str) -> Result<(), LoginError> {
    let err = |reason: String| LoginError::EnvFile {
        path: path.display().to_string(),
        reason,
    };
    let old = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(err(e.to_string())),
    };
    let mut out = String::new();
    let mut replaced = false;
    for line in old.lines() {
        let is_key = line
            .trim_start()
            .strip_prefix("export ")
            .unwrap_or(line.trim_start())
            .split_once('=')
            .is_some_and(|(k, _)| k.trim() == key);
        if is_key {
            if !replaced {
                out.push_str(&format!("{key}={value}\n"));
                replaced = true;
            }
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    if !replaced {
        out.push_str(&format!("{key}={value}\n"));
    }
    let tmp = path.with_extension("tmp-login");
    {
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(|e| err(e.to_string()))?;
        f.write_all(out.as_bytes())
            .and_then(|_| f.sync_all())
            .map_err(|e| err(e.to_string()))?;
    }
    std::fs::rename(&tmp, path).map_err(|e| err(e.to_string()))?;
    // An existing .env may have been world-readable: it holds a live token now.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| err(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn env_var_replaced_in_place_and_file_is_private() {
        let dir = std::env::temp_dir().join(format!("aitrapp-login-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join(".env");
        std::fs::write(&p, "KITE_API_KEY=k\nKITE_ACCESS_TOKEN=old\n# note\n").unwrap();
        set_env_var(&p, "KITE_ACCESS_TOKEN", "new").unwrap();
        assert_eq!(
            std::fs::read_to_string(&p).unwrap(),
            "KITE_API_KEY=k\nKITE_ACCESS_TOKEN=new\n# note\n"
        );
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        std::fs::remove_file(&p).unwrap();
        set_env_var(&p, "KITE_ACCESS_TOKEN", "x").unwrap();
        assert_eq!(
            std::fs::read_to_string(&p).unwrap(),
            "KITE_ACCESS_TOKEN=x\n"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn redirect_listener_takes_the_token() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr = format!("127.0.0.1:{port}");
        let a2 = addr.clone();
        let h = std::thread::spawn(move || await_redirect(&a2, Duration::from_secs(10)));
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut s = loop {
            if let Ok(s) = std::net::TcpStream::connect(&addr) {
                break s;
            }
            assert!(Instant::now() < deadline);
            std::thread::sleep(Duration::from_millis(10));
        };
        write!(
            s,
            "GET /?action=login&status=success&request_token=rt123 HTTP/1.1\r\nHost: x\r\n\r\n"
        )
        .unwrap();
        let mut reply = String::new();
        let _ = s.read_to_string(&mut reply);
        assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
        assert_eq!(h.join().unwrap().unwrap(), "rt123");
    }
}
