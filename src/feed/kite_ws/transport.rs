//! The ticker's sockets: TLS trust for wss:// (rustls), a plain or TLS stream that knows
//! when bytes last came out of it, and the endpoint a ticker root and credentials name.

use super::TickerError;
use crate::clock::mono_ns;
use crate::feed::tls_records::TlsRecordStream;
use mio::net::TcpStream;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;

/// TLS trust for wss://: the webpki roots, or only the certificates in `ca_file` (PEM).
pub fn tls_config(ca_file: Option<&std::path::Path>) -> Result<Arc<rustls::ClientConfig>, String> {
    match ca_file {
        Some(path) => std::fs::read(path)
            .map_err(|e| e.to_string())
            .and_then(|pem| tls_config_trusting(&pem))
            .map_err(|e| format!("{}: {e}", path.display())),
        None => {
            let mut roots = rustls::RootCertStore::empty();
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            ticker_tls_config(roots)
        }
    }
}

/// TLS trust for wss:// in only the certificates of `pem` (a simulator's own).
pub fn tls_config_trusting(pem: &[u8]) -> Result<Arc<rustls::ClientConfig>, String> {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls::pki_types::CertificateDer::pem_slice_iter(pem) {
        roots
            .add(c.map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
    }
    ticker_tls_config(roots)
}

fn ticker_tls_config(roots: rustls::RootCertStore) -> Result<Arc<rustls::ClientConfig>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    // The ticker decrypts records itself (TlsRecordStream) once rustls has the keys.
    cfg.enable_secret_extraction = true;
    Ok(Arc::new(cfg))
}

/// A socket, plain or TLS, that knows when bytes last came out of it.
pub(super) enum Stream {
    Plain {
        sock: TcpStream,
        /// `mono_ns` of the last read that returned bytes.
        read_ns: u64,
    },
    Tls(Box<TlsRecordStream>),
}

impl Stream {
    pub(super) fn tcp(&mut self) -> &mut TcpStream {
        match self {
            Stream::Plain { sock, .. } => sock,
            Stream::Tls(s) => s.tcp(),
        }
    }

    /// When the bytes last read came off the socket (`mono_ns`): a frame's receive time.
    pub(super) fn received_ns(&self) -> u64 {
        match self {
            Stream::Plain { read_ns, .. } => *read_ns,
            Stream::Tls(s) => s.received_ns(),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain { sock, read_ns } => {
                let r = sock.read(buf);
                if let Ok(1..) = r {
                    *read_ns = mono_ns();
                }
                r
            }
            Stream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain { sock, .. } => sock.write(buf),
            Stream::Tls(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain { sock, .. } => sock.flush(),
            Stream::Tls(s) => s.flush(),
        }
    }
}

/// Where to connect: host:port, TLS server name, request path.
pub(super) struct Endpoint {
    pub(super) addr: SocketAddr,
    pub(super) host: String,
    pub(super) tls: bool,
    pub(super) url: String,
}

impl Endpoint {
    pub(super) fn parse(
        root: &str,
        api_key: &str,
        access_token: &str,
    ) -> Result<Endpoint, TickerError> {
        let (tls, rest) = if let Some(r) = root.strip_prefix("wss://") {
            (true, r)
        } else if let Some(r) = root.strip_prefix("ws://") {
            (false, r)
        } else {
            return Err(TickerError::Scheme(root.to_string()));
        };
        let authority = rest.split('/').next().unwrap_or(rest);
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if p.parse::<u16>().is_ok() => (h, p.parse().unwrap_or(443)),
            _ => (authority, if tls { 443 } else { 80 }),
        };
        let addr = (host, port)
            .to_socket_addrs()
            .ok()
            .and_then(|mut a| a.next())
            .ok_or_else(|| TickerError::Resolve(root.to_string()))?;
        let sep = if root.contains('?') { '&' } else { '?' };
        // An upgrade request needs a path: `ws://host:port` asks for `/`.
        let slash = if rest.contains('/') { "" } else { "/" };
        Ok(Endpoint {
            addr,
            host: host.to_string(),
            tls,
            url: format!("{root}{slash}{sep}api_key={api_key}&access_token={access_token}"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_keeps_root_and_adds_credentials() {
        let e = Endpoint::parse("ws://127.0.0.1:9001", "k", "t").unwrap();
        assert!(!e.tls);
        assert_eq!(e.url, "ws://127.0.0.1:9001/?api_key=k&access_token=t");
        assert_eq!(e.addr.port(), 9001);
        assert!(matches!(
            Endpoint::parse("http://x", "k", "t"),
            Err(TickerError::Scheme(_))
        ));
    }
}
