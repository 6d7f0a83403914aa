//! `--tls`: a self-signed certificate (rcgen) for localhost and 127.0.0.1, served by rustls
//! (ring provider). The ticker terminates TLS in its connection threads; REST goes through a
//! small TLS terminator in front of the plain HTTP server. Clients trust the certificate
//! through config (`websocket.ca_file`, `kite.ca_file`).

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

pub struct SimTls {
    pub server: Arc<rustls::ServerConfig>,
    /// The certificate in PEM, for the client's trust store.
    pub ca_pem: String,
}

pub fn self_signed() -> anyhow::Result<SimTls> {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])?;
    let cert = ck.cert.der().clone();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(ck.signing_key.serialize_der().into());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)?;
    Ok(SimTls {
        server: Arc::new(server),
        ca_pem: ck.cert.pem(),
    })
}

/// A server-side TLS stream over a TCP socket.
pub type TlsStream = rustls::StreamOwned<rustls::ServerConnection, TcpStream>;

/// Runs the TLS handshake on an accepted socket (blocking, 5 s read timeout).
pub fn accept(tls: &Arc<rustls::ServerConfig>, sock: TcpStream) -> Option<TlsStream> {
    let _ = sock.set_nonblocking(false);
    let _ = sock.set_read_timeout(Some(Duration::from_secs(5)));
    let conn = rustls::ServerConnection::new(tls.clone()).ok()?;
    let mut s = rustls::StreamOwned::new(conn, sock);
    while s.conn.is_handshaking() {
        s.conn.complete_io(&mut s.sock).ok()?;
    }
    Some(s)
}

/// Listens on `public` with TLS and forwards each connection's plaintext to `backend`.
pub fn terminator(
    public: SocketAddr,
    backend: SocketAddr,
    tls: Arc<rustls::ServerConfig>,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<(SocketAddr, JoinHandle<()>)> {
    let stop2 = stop.clone();
    crate::accept_loop(public, "kite-sim-tls", stop, move |sock| {
        if let Some(s) = accept(&tls, sock) {
            pipe(s, backend, &stop2);
        }
    })
}

/// Copies both ways between a TLS client and the plain backend until either side closes.
fn pipe(mut tls: TlsStream, backend: SocketAddr, stop: &AtomicBool) {
    let Ok(mut plain) = TcpStream::connect(backend) else {
        return;
    };
    let _ = plain.set_nodelay(true);
    if tls.sock.set_nonblocking(true).is_err() || plain.set_nonblocking(true).is_err() {
        return;
    }
    let mut buf = vec![0u8; 16 * 1024];
    while !stop.load(Ordering::Relaxed) {
        let up = pump(&mut tls, &mut plain, &mut buf);
        if up == Pump::Closed {
            return;
        }
        let down = pump(&mut plain, &mut tls, &mut buf);
        if down == Pump::Closed {
            tls.conn.send_close_notify();
            let _ = tls.flush();
            return;
        }
        if up == Pump::Idle && down == Pump::Idle {
            std::thread::sleep(Duration::from_micros(200));
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Pump {
    Moved,
    Idle,
    /// End of stream or an error: the pipe is done.
    Closed,
}

/// Moves what `from` has now into `to`.
fn pump(from: &mut impl Read, to: &mut impl Write, buf: &mut [u8]) -> Pump {
    match from.read(buf) {
        Ok(0) => Pump::Closed,
        Ok(n) => match write_all(to, &buf[..n]) {
            Ok(()) => Pump::Moved,
            Err(_) => Pump::Closed,
        },
        Err(e) if e.kind() == ErrorKind::WouldBlock => Pump::Idle,
        Err(_) => Pump::Closed,
    }
}

/// `write_all` for a non-blocking writer: waits out WouldBlock.
fn write_all(w: &mut impl Write, mut data: &[u8]) -> std::io::Result<()> {
    while !data.is_empty() {
        match w.write(data) {
            Ok(0) => return Err(ErrorKind::WriteZero.into()),
            Ok(n) => data = &data[n..],
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_micros(100))
            }
            Err(e) => return Err(e),
        }
    }
    w.flush().or_else(|e| {
        if e.kind() == ErrorKind::WouldBlock {
            Ok(())
        } else {
            Err(e)
        }
    })
}
