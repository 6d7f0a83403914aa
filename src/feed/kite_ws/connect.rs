//! One connection's way up: TCP connect, the WebSocket upgrade (and TLS), the first
//! subscription, and the retry with backoff when any step fails. Each returns the state
//! the connection moves to.

use super::*;

impl KiteTicker {
    pub(super) fn start_connect(&mut self, i: usize, now: Instant) -> ConnState {
        match TcpStream::connect(self.endpoint.addr) {
            Ok(mut sock) => {
                let _ = sock.set_nodelay(true);
                let token = Token(i);
                if self
                    .poll
                    .registry()
                    .register(&mut sock, token, Interest::READABLE | Interest::WRITABLE)
                    .is_err()
                {
                    return self.retry_later(i, "cannot register socket", now);
                }
                ConnState::Connecting { sock, since: now }
            }
            Err(_) => self.retry_later(i, "connect failed", now),
        }
    }

    /// `lose` for a connection that never opened: the state is already gone.
    fn retry_later(&mut self, i: usize, reason: &'static str, now: Instant) -> ConnState {
        self.shards[i].state = ConnState::Waiting { due: now };
        self.lose(i, reason, now);
        std::mem::replace(&mut self.shards[i].state, ConnState::GaveUp)
    }

    pub(super) fn check_connect(
        &mut self,
        i: usize,
        mut sock: TcpStream,
        since: Instant,
        now: Instant,
    ) -> ConnState {
        if let Ok(Some(_)) | Err(_) = sock.take_error() {
            let _ = self.poll.registry().deregister(&mut sock);
            return self.retry_later(i, "connect refused", now);
        }
        match sock.peer_addr() {
            Ok(_) => {
                let stream = if self.endpoint.tls {
                    let Some(tls) = self.cfg.tls.clone() else {
                        return self.retry_later(i, "no TLS config", now);
                    };
                    let Ok(name) = ServerName::try_from(self.endpoint.host.clone()) else {
                        return self.retry_later(i, "bad TLS server name", now);
                    };
                    match TlsRecordStream::new(tls, name, sock) {
                        Ok(s) => Stream::Tls(Box::new(s)),
                        Err(_) => return self.retry_later(i, "TLS setup failed", now),
                    }
                } else {
                    Stream::Plain { sock, read_ns: 0 }
                };
                self.shards[i].readable = true;
                match tungstenite::client::client(self.endpoint.url.as_str(), stream) {
                    Ok((ws, _)) => self.opened(i, ws, now),
                    Err(HandshakeError::Interrupted(hs)) => ConnState::Handshaking {
                        hs: Box::new(hs),
                        since: now,
                    },
                    Err(HandshakeError::Failure(e)) => self.handshake_failed(i, &e, now),
                }
            }
            Err(e) if e.kind() == ErrorKind::NotConnected => {
                if now.duration_since(since) > self.cfg.connect_timeout {
                    let _ = self.poll.registry().deregister(&mut sock);
                    return self.retry_later(i, "connect timed out", now);
                }
                ConnState::Connecting { sock, since }
            }
            Err(_) => {
                let _ = self.poll.registry().deregister(&mut sock);
                self.retry_later(i, "connect failed", now)
            }
        }
    }

    pub(super) fn continue_handshake(
        &mut self,
        i: usize,
        hs: Handshake,
        since: Instant,
        now: Instant,
    ) -> ConnState {
        if now.duration_since(since) > self.cfg.connect_timeout {
            let mut hs = hs;
            let _ = self
                .poll
                .registry()
                .deregister(hs.get_mut().get_mut().tcp());
            return self.retry_later(i, "handshake timed out", now);
        }
        match hs.handshake() {
            Ok((ws, _)) => self.opened(i, ws, now),
            Err(HandshakeError::Interrupted(hs)) => ConnState::Handshaking {
                hs: Box::new(hs),
                since,
            },
            Err(HandshakeError::Failure(e)) => self.handshake_failed(i, &e, now),
        }
    }

    fn handshake_failed(&mut self, i: usize, e: &tungstenite::Error, now: Instant) -> ConnState {
        // The socket went with the failed handshake; mio drops its registration on close.
        if let tungstenite::Error::Http(resp) = e {
            if resp.status().as_u16() == 403 {
                // Kite refuses the upgrade for a bad or expired token: retrying cannot help.
                Metrics::add(&self.metrics.kite_token_refused_total, 1);
                self.hot.emit(HotEvent::WsTokenRefused {
                    conn: self.shards[i].id,
                });
                self.shards[i].state = ConnState::GaveUp;
                self.halt(HaltReason::TokenExpired);
                return ConnState::GaveUp;
            }
        }
        self.retry_later(i, "handshake failed", now)
    }

    fn opened(&mut self, i: usize, mut ws: WebSocket<Stream>, now: Instant) -> ConnState {
        let sh = &mut self.shards[i];
        let mut ok = true;
        for m in subscribe_messages(&sh.tokens) {
            match ws.send(Message::Text(m.into())) {
                Ok(()) => {}
                Err(tungstenite::Error::Io(e)) if e.kind() == ErrorKind::WouldBlock => {}
                Err(_) => ok = false,
            }
        }
        let reconnect_us = sh
            .lost_at
            .take()
            .map(|t| now.duration_since(t).as_micros() as u32);
        if sh.ever_connected {
            Metrics::add(&self.metrics.ws_reconnects_total, 1);
        }
        sh.ever_connected = true;
        sh.attempt = 0;
        Metrics::add(&self.metrics.ws_connections_open, 1);
        sh.readable = true;
        if let Some(us) = reconnect_us {
            self.metrics
                .ws_last_reconnect_us
                .store(us as u64, std::sync::atomic::Ordering::Relaxed);
        }
        self.hot.emit(HotEvent::WsConnected {
            conn: sh.id,
            tokens: sh.tokens.len() as u32,
            reconnect_us,
        });
        let state = ConnState::Open {
            ws: Box::new(ws),
            last_rx: now,
        };
        if !ok {
            self.shards[i].state = state;
            self.lose(i, "subscribe failed", now);
            return std::mem::replace(&mut self.shards[i].state, ConnState::GaveUp);
        }
        state
    }
}
