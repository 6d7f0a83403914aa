//! The ticker's TLS record layer (`TlsRecordStream`) against a rustls server: TLS 1.3 and
//! 1.2, AES-GCM and ChaCha20, records larger than one read, session tickets, a key update
//! the server asks to be answered, close_notify, and a tampered record.

use aitrapp::feed::tls_records::TlsRecordStream;
use rustls::crypto::ring::{cipher_suite, default_provider};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ServerConfig, SupportedCipherSuite, SupportedProtocolVersion};
use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Cert {
    der: CertificateDer<'static>,
    key: Vec<u8>,
    pem: String,
}

fn cert() -> Cert {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    Cert {
        der: ck.cert.der().clone(),
        key: ck.signing_key.serialize_der(),
        pem: ck.cert.pem(),
    }
}

fn server_config(
    c: &Cert,
    versions: &[&'static SupportedProtocolVersion],
    suite: SupportedCipherSuite,
) -> Arc<ServerConfig> {
    let provider = CryptoProvider {
        cipher_suites: vec![suite],
        ..default_provider()
    };
    Arc::new(
        ServerConfig::builder_with_provider(Arc::new(provider))
            .with_protocol_versions(versions)
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![c.der.clone()],
                PrivateKeyDer::Pkcs8(c.key.clone().into()),
            )
            .unwrap(),
    )
}

fn client_config(c: &Cert) -> Arc<rustls::ClientConfig> {
    aitrapp::feed::kite_ws::tls_config_trusting(c.pem.as_bytes()).unwrap()
}

/// Accepts one connection on a loopback port and hands it (10 s read timeout) to `serve`.
fn serve_once(
    serve: impl FnOnce(TcpStream) + Send + 'static,
) -> (std::net::SocketAddr, std::thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        let (sock, _) = listener.accept().unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        serve(sock)
    });
    (addr, server)
}

/// A `TlsRecordStream` to `addr` trusting `c`, as the ticker opens one.
fn connect(c: &Cert, addr: std::net::SocketAddr) -> TlsRecordStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_nonblocking(true).unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    TlsRecordStream::new(client_config(c), name, mio::net::TcpStream::from_std(s)).unwrap()
}

/// Message `i` of the stream: sizes that cross record and read boundaries.
fn message(i: usize) -> Vec<u8> {
    let len = [1, 300, 16_384, 40_000, 7][i % 5];
    (0..len).map(|j| (i * 31 + j) as u8).collect()
}

const MESSAGES: usize = 40;

/// Reads exactly `n` bytes from the non-blocking stream, within a deadline.
fn read_exact(s: &mut TlsRecordStream, n: usize, deadline: Instant) -> std::io::Result<Vec<u8>> {
    let mut out = vec![0u8; n];
    let mut got = 0;
    let mut chunk = [0u8; 4096];
    while got < n {
        assert!(Instant::now() < deadline, "stalled at {got} of {n} bytes");
        match s.read(&mut chunk[..(n - got).min(4096)]) {
            Ok(0) => return Err(ErrorKind::UnexpectedEof.into()),
            Ok(k) => {
                out[got..got + k].copy_from_slice(&chunk[..k]);
                got += k;
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_micros(200))
            }
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

fn write_all(s: &mut TlsRecordStream, data: &[u8], deadline: Instant) {
    let mut done = 0;
    while done < data.len() {
        assert!(Instant::now() < deadline, "write stalled");
        match s.write(&data[done..]) {
            Ok(n) => done += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_micros(200))
            }
            Err(e) => panic!("write: {e}"),
        }
    }
    loop {
        assert!(Instant::now() < deadline, "flush stalled");
        match s.flush() {
            Ok(()) => return,
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_micros(200))
            }
            Err(e) => panic!("flush: {e}"),
        }
    }
}

/// The server sends MESSAGES messages (asking for a key update half way when `key_update`),
/// reads the client's "ping", answers "pong" and closes with close_notify.
fn session(
    versions: &[&'static SupportedProtocolVersion],
    suite: SupportedCipherSuite,
    key_update: bool,
) {
    let c = cert();
    let server_cfg = server_config(&c, versions, suite);
    let (addr, server) = serve_once(move |sock| {
        let conn = rustls::ServerConnection::new(server_cfg).unwrap();
        let mut tls = rustls::StreamOwned::new(conn, sock);
        for i in 0..MESSAGES {
            if key_update && i == MESSAGES / 2 {
                tls.conn.refresh_traffic_keys().unwrap();
            }
            tls.write_all(&message(i)).unwrap();
        }
        tls.flush().unwrap();
        let mut ping = [0u8; 4];
        tls.read_exact(&mut ping).unwrap();
        assert_eq!(&ping, b"ping", "the client's bytes after the key update");
        tls.write_all(b"pong").unwrap();
        tls.conn.send_close_notify();
        tls.flush().unwrap();
    });

    let mut s = connect(&c, addr);
    let deadline = Instant::now() + Duration::from_secs(20);
    for i in 0..MESSAGES {
        let want = message(i);
        let got = read_exact(&mut s, want.len(), deadline).unwrap();
        assert!(got == want, "message {i} differs");
    }
    assert!(s.is_streaming());
    write_all(&mut s, b"ping", deadline);
    assert_eq!(read_exact(&mut s, 4, deadline).unwrap(), b"pong");
    // close_notify reads as end of stream.
    let mut rest = [0u8; 16];
    loop {
        assert!(Instant::now() < deadline, "no close_notify");
        match s.read(&mut rest) {
            Ok(0) => break,
            Ok(n) => panic!("{n} bytes after pong"),
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_micros(200))
            }
            Err(e) => panic!("after pong: {e}"),
        }
    }
    server.join().unwrap();
}

#[test]
fn tls13_aes128_gcm_with_tickets_and_a_requested_key_update() {
    session(
        &[&rustls::version::TLS13],
        cipher_suite::TLS13_AES_128_GCM_SHA256,
        true,
    );
}

#[test]
fn tls13_aes256_gcm() {
    session(
        &[&rustls::version::TLS13],
        cipher_suite::TLS13_AES_256_GCM_SHA384,
        false,
    );
}

#[test]
fn tls13_chacha20_with_a_key_update() {
    session(
        &[&rustls::version::TLS13],
        cipher_suite::TLS13_CHACHA20_POLY1305_SHA256,
        true,
    );
}

#[test]
fn tls12_ecdhe_aes_gcm() {
    session(
        &[&rustls::version::TLS12],
        cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        false,
    );
}

#[test]
fn tls12_ecdhe_chacha20() {
    session(
        &[&rustls::version::TLS12],
        cipher_suite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        false,
    );
}

/// A record altered on the wire fails authentication: an error, never bytes.
#[test]
fn a_tampered_record_is_an_error() {
    let c = cert();
    let server_cfg = server_config(
        &c,
        &[&rustls::version::TLS13],
        cipher_suite::TLS13_AES_128_GCM_SHA256,
    );
    let (addr, server) = serve_once(move |mut sock| {
        let mut conn = rustls::ServerConnection::new(server_cfg).unwrap();
        while conn.is_handshaking() {
            conn.complete_io(&mut sock).unwrap();
        }
        // Tickets first, then one application record with a flipped ciphertext byte.
        while conn.wants_write() {
            conn.write_tls(&mut sock).unwrap();
        }
        conn.writer().write_all(b"tick data").unwrap();
        let mut rec = Vec::new();
        while conn.wants_write() {
            conn.write_tls(&mut rec).unwrap();
        }
        rec[8] ^= 0x40;
        sock.write_all(&rec).unwrap();
        std::thread::sleep(Duration::from_millis(500));
    });
    let mut s = connect(&c, addr);
    let err = read_exact(&mut s, 9, Instant::now() + Duration::from_secs(10)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidData, "{err}");
    // And it stays failed.
    assert!(s.read(&mut [0u8; 4]).is_err());
    server.join().unwrap();
}

/// A config that does not allow taking the keys is refused up front.
#[test]
fn a_config_without_secret_extraction_is_refused() {
    let c = cert();
    let mut cfg = (*client_config(&c)).clone();
    cfg.enable_secret_extraction = false;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let sock = mio::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    assert!(TlsRecordStream::new(
        Arc::new(cfg),
        ServerName::try_from("localhost").unwrap(),
        sock
    )
    .is_err());
}
