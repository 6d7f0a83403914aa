//! wss:// without a heap allocation per frame. rustls runs the handshake and keeps the
//! secrets (its kernel-connection API, the one meant for kTLS); this stream does the record
//! layer itself and decrypts every record in place, in one buffer allocated per connection.
//! rustls 0.23's own readers, buffered and unbuffered, copy each decrypted record into a
//! fresh Vec, which on the ticker is one allocation per frame.
//!
//! The cryptography stays rustls's: the negotiated suite's own `MessageDecrypter` and
//! `MessageEncrypter` (nonces, AAD, TLS 1.3 padding, TLS 1.2 explicit nonces). What lives
//! here is framing, sequence numbers and the post-handshake messages: session tickets go to
//! rustls, a TLS 1.3 KeyUpdate rolls the keys (and answers when the peer asks), an alert
//! closes the stream. The send side (subscriptions, pongs) allocates; it is not per tick.

use mio::net::TcpStream;
use rustls::client::{ClientConnectionData, UnbufferedClientConnection};
use rustls::crypto::cipher::{
    InboundOpaqueMessage, MessageDecrypter, MessageEncrypter, OutboundChunks, OutboundPlainMessage,
};
use rustls::kernel::KernelConnection;
use rustls::pki_types::ServerName;
use rustls::unbuffered::{ConnectionState, EncodeError, UnbufferedStatus};
use rustls::{ConnectionTrafficSecrets, ContentType, ProtocolVersion, SupportedCipherSuite};
use std::io::{self, ErrorKind, Read, Write};
use std::sync::Arc;

const HEADER: usize = 5;
/// Largest ciphertext a record may carry: 2^14 plus the expansion TLS 1.2 allows (RFC 5246
/// 6.2.3; TLS 1.3 allows less).
const MAX_CIPHERTEXT: usize = 16384 + 2048;
/// Room for one whole record behind a partial one, so a read always has space.
const IN_BUF: usize = 2 * (HEADER + MAX_CIPHERTEXT);
/// Handshake message types after the handshake (RFC 8446 4).
const NEW_SESSION_TICKET: u8 = 4;
const KEY_UPDATE: u8 = 24;

/// A TLS client stream over a non-blocking socket; reads and writes return `WouldBlock`
/// while the handshake waits for the peer.
pub struct TlsRecordStream {
    sock: TcpStream,
    phase: Phase,
    /// Bytes from the socket, `[0, filled)`; records before `consumed` are processed.
    inbuf: Box<[u8]>,
    filled: usize,
    consumed: usize,
    /// Decrypted application data not yet read, `inbuf[plain_at..plain_end]`.
    plain_at: usize,
    plain_end: usize,
    /// Encrypted bytes waiting for the socket, from `out_sent`.
    out: Vec<u8>,
    out_sent: usize,
    /// Application data that arrived with the end of the handshake (a TLS 1.2 server may
    /// send it behind its Finished), decrypted by rustls before the keys moved here.
    early: Vec<u8>,
    early_at: usize,
    /// The peer sent close_notify.
    closed: bool,
    /// `mono_ns` of the last socket read that returned bytes (before decryption).
    fill_ns: u64,
}

enum Phase {
    Handshake(Box<UnbufferedClientConnection>),
    Traffic(Box<Traffic>),
    /// A fatal error: every later call fails.
    Failed,
}

struct Traffic {
    kernel: KernelConnection<ClientConnectionData>,
    suite: SupportedCipherSuite,
    tls13: bool,
    dec: Box<dyn MessageDecrypter>,
    enc: Box<dyn MessageEncrypter>,
    rx_seq: u64,
    tx_seq: u64,
}

fn tls_error(e: impl std::fmt::Display) -> io::Error {
    io::Error::new(ErrorKind::InvalidData, format!("tls: {e}"))
}

/// The key and IV of either direction, whatever the suite.
fn key_iv(
    s: ConnectionTrafficSecrets,
) -> io::Result<(rustls::crypto::cipher::AeadKey, [u8; 12], bool)> {
    match s {
        ConnectionTrafficSecrets::Aes128Gcm { key, iv }
        | ConnectionTrafficSecrets::Aes256Gcm { key, iv } => {
            Ok((key, iv.as_ref().try_into().map_err(tls_error)?, true))
        }
        ConnectionTrafficSecrets::Chacha20Poly1305 { key, iv } => {
            Ok((key, iv.as_ref().try_into().map_err(tls_error)?, false))
        }
        _ => Err(tls_error("unsupported cipher suite")),
    }
}

fn decrypter(
    suite: SupportedCipherSuite,
    s: ConnectionTrafficSecrets,
) -> io::Result<Box<dyn MessageDecrypter>> {
    let (key, iv, gcm) = key_iv(s)?;
    Ok(match suite {
        SupportedCipherSuite::Tls13(s) => s.aead_alg.decrypter(key, iv.into()),
        // TLS 1.2 GCM: the implicit part is the 4-byte salt; the rest travels in each record.
        SupportedCipherSuite::Tls12(s) => {
            s.aead_alg.decrypter(key, if gcm { &iv[..4] } else { &iv })
        }
    })
}

fn encrypter(
    suite: SupportedCipherSuite,
    s: ConnectionTrafficSecrets,
) -> io::Result<Box<dyn MessageEncrypter>> {
    let (key, iv, gcm) = key_iv(s)?;
    Ok(match suite {
        SupportedCipherSuite::Tls13(s) => s.aead_alg.encrypter(key, iv.into()),
        SupportedCipherSuite::Tls12(s) if gcm => s.aead_alg.encrypter(key, &iv[..4], &iv[4..]),
        SupportedCipherSuite::Tls12(s) => s.aead_alg.encrypter(key, &iv, &[]),
    })
}

impl TlsRecordStream {
    /// Starts a client handshake on a connected socket. `config` must have
    /// `enable_secret_extraction` set (see `kite_ws::tls_config`).
    pub fn new(
        config: Arc<rustls::ClientConfig>,
        name: ServerName<'static>,
        sock: TcpStream,
    ) -> Result<TlsRecordStream, rustls::Error> {
        if !config.enable_secret_extraction {
            return Err(rustls::Error::General(
                "TLS config must allow secret extraction".into(),
            ));
        }
        let conn = UnbufferedClientConnection::new(config, name)?;
        Ok(TlsRecordStream {
            sock,
            phase: Phase::Handshake(Box::new(conn)),
            inbuf: vec![0u8; IN_BUF].into_boxed_slice(),
            filled: 0,
            consumed: 0,
            plain_at: 0,
            plain_end: 0,
            out: Vec::with_capacity(4096),
            out_sent: 0,
            early: Vec::new(),
            early_at: 0,
            closed: false,
            fill_ns: 0,
        })
    }

    pub fn tcp(&mut self) -> &mut TcpStream {
        &mut self.sock
    }

    /// When ciphertext last came off the socket (`clock::mono_ns`): a frame's receive time
    /// counts its decryption.
    pub fn received_ns(&self) -> u64 {
        self.fill_ns
    }

    /// True once the handshake is done and records are decrypted here.
    pub fn is_streaming(&self) -> bool {
        matches!(self.phase, Phase::Traffic(_))
    }

    /// Writes what is queued; `WouldBlock` when the socket takes no more.
    fn flush_out(&mut self) -> io::Result<()> {
        while self.out_sent < self.out.len() {
            match self.sock.write(&self.out[self.out_sent..]) {
                Ok(0) => return Err(ErrorKind::WriteZero.into()),
                Ok(n) => self.out_sent += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.out.clear();
        self.out_sent = 0;
        Ok(())
    }

    /// Reads what the socket has into the input buffer; Ok(0) is end of stream.
    fn fill(&mut self) -> io::Result<usize> {
        if self.consumed > 0 && self.plain_at >= self.plain_end {
            // Keep the partial record at the front so a whole one always fits behind it.
            self.inbuf.copy_within(self.consumed..self.filled, 0);
            self.filled -= self.consumed;
            self.consumed = 0;
            self.plain_at = 0;
            self.plain_end = 0;
        }
        loop {
            match self.sock.read(&mut self.inbuf[self.filled..]) {
                Ok(n) => {
                    self.filled += n;
                    if n > 0 {
                        self.fill_ns = crate::clock::mono_ns();
                    }
                    return Ok(n);
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Moves the handshake along; Ok once records flow, `WouldBlock` while it waits.
    fn handshake(&mut self) -> io::Result<()> {
        enum Next {
            Again,
            Read,
            Done,
        }
        loop {
            match self.phase {
                Phase::Handshake(_) => {}
                Phase::Traffic(_) => return Ok(()),
                Phase::Failed => return Err(tls_error("connection failed earlier")),
            }
            self.flush_out()?;
            let Phase::Handshake(conn) = &mut self.phase else {
                return Ok(());
            };
            let UnbufferedStatus { discard, state } =
                conn.process_tls_records(&mut self.inbuf[..self.filled]);
            let next = match state {
                Ok(ConnectionState::EncodeTlsData(mut st)) => {
                    let at = self.out.len();
                    self.out.resize(at + 4096, 0);
                    let n = match st.encode(&mut self.out[at..]) {
                        Err(EncodeError::InsufficientSize(e)) => {
                            self.out.resize(at + e.required_size, 0);
                            st.encode(&mut self.out[at..])
                        }
                        other => other,
                    };
                    match n {
                        Ok(n) => {
                            self.out.truncate(at + n);
                            Ok(Next::Again)
                        }
                        Err(e) => Err(tls_error(e)),
                    }
                }
                // The bytes are queued in `out`, which goes out at the top of the loop.
                Ok(ConnectionState::TransmitTlsData(st)) => {
                    st.done();
                    Ok(Next::Again)
                }
                Ok(ConnectionState::ReadTraffic(mut st)) => {
                    let mut r = Ok(Next::Again);
                    while let Some(rec) = st.next_record() {
                        match rec {
                            Ok(rec) => self.early.extend_from_slice(rec.payload),
                            Err(e) => {
                                r = Err(tls_error(e));
                                break;
                            }
                        }
                    }
                    r
                }
                Ok(ConnectionState::BlockedHandshake) => Ok(Next::Read),
                Ok(ConnectionState::WriteTraffic(_)) => Ok(Next::Done),
                Ok(ConnectionState::PeerClosed) | Ok(ConnectionState::Closed) => {
                    Err(ErrorKind::ConnectionAborted.into())
                }
                Ok(_) => Err(tls_error("unexpected data during the handshake")),
                Err(e) => Err(tls_error(e)),
            };
            if discard > 0 {
                self.inbuf.copy_within(discard..self.filled, 0);
                self.filled -= discard;
            }
            let step = match next {
                Ok(Next::Again) => Ok(()),
                Ok(Next::Read) => match self.fill() {
                    Ok(0) => Err(ErrorKind::UnexpectedEof.into()),
                    Ok(_) => Ok(()),
                    Err(e) => Err(e),
                },
                Ok(Next::Done) => {
                    self.flush_out()?;
                    return self.start_traffic();
                }
                Err(e) => Err(e),
            };
            if let Err(e) = step {
                if e.kind() != ErrorKind::WouldBlock {
                    self.phase = Phase::Failed;
                }
                return Err(e);
            }
        }
    }

    /// Takes the keys from rustls; from here every record is handled by this stream.
    fn start_traffic(&mut self) -> io::Result<()> {
        let Phase::Handshake(conn) = std::mem::replace(&mut self.phase, Phase::Failed) else {
            return Ok(());
        };
        let (secrets, kernel) = conn.dangerous_into_kernel_connection().map_err(tls_error)?;
        let suite = kernel.negotiated_cipher_suite();
        let tls13 = kernel.protocol_version() == ProtocolVersion::TLSv1_3;
        self.phase = Phase::Traffic(Box::new(Traffic {
            dec: decrypter(suite, secrets.rx.1)?,
            enc: encrypter(suite, secrets.tx.1)?,
            rx_seq: secrets.rx.0,
            tx_seq: secrets.tx.0,
            kernel,
            suite,
            tls13,
        }));
        Ok(())
    }

    /// Decrypts the next whole record in the buffer, if there is one.
    fn next_record(&mut self) -> io::Result<bool> {
        let Phase::Traffic(t) = &mut self.phase else {
            return Err(tls_error("no keys"));
        };
        let avail = &self.inbuf[self.consumed..self.filled];
        if avail.len() < HEADER {
            return Ok(false);
        }
        let len = u16::from_be_bytes([avail[3], avail[4]]) as usize;
        if len > MAX_CIPHERTEXT {
            self.phase = Phase::Failed;
            return Err(tls_error(format!("record of {len} bytes")));
        }
        if avail.len() < HEADER + len {
            return Ok(false);
        }
        let typ = ContentType::from(avail[0]);
        let version = ProtocolVersion::from(u16::from_be_bytes([avail[1], avail[2]]));
        if t.tls13 && typ != ContentType::ApplicationData {
            self.phase = Phase::Failed;
            return Err(tls_error(format!(
                "plaintext {typ:?} record after the handshake"
            )));
        }
        let start = self.consumed + HEADER;
        self.consumed = start + len;
        let base = self.inbuf.as_ptr() as usize;
        let msg = InboundOpaqueMessage::new(typ, version, &mut self.inbuf[start..start + len]);
        let plain = match t.dec.decrypt(msg, t.rx_seq) {
            Ok(p) => p,
            Err(e) => {
                self.phase = Phase::Failed;
                return Err(tls_error(e));
            }
        };
        t.rx_seq += 1;
        let at = plain.payload.as_ptr() as usize - base;
        let end = at + plain.payload.len();
        match plain.typ {
            ContentType::ApplicationData => {
                self.plain_at = at;
                self.plain_end = end;
                Ok(true)
            }
            ContentType::Handshake => {
                self.post_handshake(at, end)?;
                Ok(true)
            }
            ContentType::Alert => {
                // close_notify is the orderly end; anything else ends it too, loudly.
                if self.inbuf.get(at + 1) == Some(&0) {
                    self.closed = true;
                    Ok(true)
                } else {
                    self.phase = Phase::Failed;
                    Err(tls_error(format!("alert {:?}", &self.inbuf[at..end])))
                }
            }
            other => {
                self.phase = Phase::Failed;
                Err(tls_error(format!("unexpected {other:?} record")))
            }
        }
    }

    /// TLS 1.3 messages after the handshake: tickets and key updates, whole in one record.
    fn post_handshake(&mut self, mut at: usize, end: usize) -> io::Result<()> {
        while at < end {
            if end - at < 4 {
                self.phase = Phase::Failed;
                return Err(tls_error("handshake message split across records"));
            }
            let h = &self.inbuf[at..end];
            let len = u32::from_be_bytes([0, h[1], h[2], h[3]]) as usize;
            if h.len() < 4 + len {
                self.phase = Phase::Failed;
                return Err(tls_error("handshake message split across records"));
            }
            let kind = h[0];
            let body = at + 4..at + 4 + len;
            at = body.end;
            let Phase::Traffic(t) = &mut self.phase else {
                return Err(tls_error("no keys"));
            };
            match kind {
                NEW_SESSION_TICKET => t
                    .kernel
                    .handle_new_session_ticket(&self.inbuf[body])
                    .map_err(tls_error)?,
                KEY_UPDATE if t.tls13 && len == 1 => {
                    let (seq, secrets) = t.kernel.update_rx_secret().map_err(tls_error)?;
                    t.dec = decrypter(t.suite, secrets)?;
                    t.rx_seq = seq;
                    if self.inbuf[body.start] == 1 {
                        // update_requested: say so under the old key, then move ours.
                        self.seal(ContentType::Handshake, &[KEY_UPDATE, 0, 0, 1, 0])?;
                        let Phase::Traffic(t) = &mut self.phase else {
                            return Err(tls_error("no keys"));
                        };
                        let (seq, secrets) = t.kernel.update_tx_secret().map_err(tls_error)?;
                        t.enc = encrypter(t.suite, secrets)?;
                        t.tx_seq = seq;
                    }
                }
                other => {
                    self.phase = Phase::Failed;
                    return Err(tls_error(format!(
                        "handshake message {other} after the handshake"
                    )));
                }
            }
        }
        Ok(())
    }

    /// Encrypts `data` into records queued for the socket.
    fn seal(&mut self, typ: ContentType, data: &[u8]) -> io::Result<()> {
        let Phase::Traffic(t) = &mut self.phase else {
            return Err(tls_error("no keys"));
        };
        for chunk in data.chunks(16384) {
            let msg = OutboundPlainMessage {
                typ,
                version: ProtocolVersion::TLSv1_2,
                payload: OutboundChunks::Single(chunk),
            };
            let rec = t.enc.encrypt(msg, t.tx_seq).map_err(tls_error)?;
            t.tx_seq += 1;
            self.out.extend_from_slice(&rec.encode());
        }
        Ok(())
    }
}

impl Read for TlsRecordStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.handshake()?;
        if self.early_at < self.early.len() {
            let n = buf.len().min(self.early.len() - self.early_at);
            buf[..n].copy_from_slice(&self.early[self.early_at..self.early_at + n]);
            self.early_at += n;
            if self.early_at == self.early.len() {
                self.early = Vec::new();
                self.early_at = 0;
            }
            return Ok(n);
        }
        loop {
            if self.plain_at < self.plain_end {
                let n = buf.len().min(self.plain_end - self.plain_at);
                buf[..n].copy_from_slice(&self.inbuf[self.plain_at..self.plain_at + n]);
                self.plain_at += n;
                return Ok(n);
            }
            if self.closed {
                return Ok(0);
            }
            if self.next_record()? {
                // A key update may have queued an answer.
                if !self.out.is_empty() {
                    match self.flush_out() {
                        Err(e) if e.kind() != ErrorKind::WouldBlock => return Err(e),
                        _ => {}
                    }
                }
                continue;
            }
            if self.fill()? == 0 {
                return Ok(0);
            }
        }
    }
}

impl Write for TlsRecordStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.handshake()?;
        if self.out.len() - self.out_sent > 1 << 16 {
            // Back-pressure: do not queue without bound behind a slow socket.
            self.flush_out()?;
        }
        self.seal(ContentType::ApplicationData, buf)?;
        match self.flush_out() {
            Err(e) if e.kind() != ErrorKind::WouldBlock => Err(e),
            _ => Ok(buf.len()),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.handshake()?;
        self.flush_out()
    }
}
