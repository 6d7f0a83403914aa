//! The server over real loopback sockets: framing, keep-alive, the shortcut, deadlines.
use super::*;

fn exchange(addr: SocketAddr, raw: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(raw).unwrap();
    // Nothing more comes: a kept connection closes after the answer.
    s.shutdown(Shutdown::Write).unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

/// Serves `n` requests with `f` on a thread.
fn serving(
    server: HttpServer,
    n: usize,
    f: impl Fn(&Request) -> Response + Send + 'static,
) -> JoinHandle<()> {
    std::thread::spawn(move || {
        for _ in 0..n {
            let r = server.recv_timeout(Duration::from_secs(10)).unwrap();
            let answer = f(&r);
            r.respond(answer);
        }
    })
}

#[test]
fn a_request_and_its_answer() {
    let server = HttpServer::bind("127.0.0.1:0", 16, None).unwrap();
    let addr = server.local_addr();
    let t = serving(server, 2, |r| {
        Response::new(
            200,
            "text/plain",
            format!(
                "{} {} {:?} {:?}",
                r.method(),
                r.url(),
                r.header("x-k"),
                r.body
            ),
        )
    });
    let out = exchange(
        addr,
        b"POST /a?b=1 HTTP/1.1\r\nX-K: v\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
    );
    assert!(out.starts_with("HTTP/1.1 200 OK\r\n"), "{out}");
    assert!(out.contains("Connection: close\r\n"), "{out}");
    assert!(
        out.ends_with("POST /a?b=1 Some(\"v\") Bytes([123, 125])"),
        "{out}"
    );
    // Over the body limit: not read, the handler decides.
    let out = exchange(
        addr,
        b"POST /a HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\nxx",
    );
    assert!(out.ends_with("TooLarge(99999999999)"), "{out}");
    // The body was not read, so its bytes cannot be taken for a next request.
    assert!(out.contains("Connection: close\r\n"), "{out}");
    t.join().unwrap();
}

/// Reads one answer framed by its Content-Length.
fn one_answer(s: &mut TcpStream) -> String {
    let mut got = Vec::new();
    let mut byte = [0u8; 1];
    while !got.ends_with(b"\r\n\r\n") {
        assert_eq!(s.read(&mut byte).unwrap(), 1, "{got:?}");
        got.push(byte[0]);
    }
    let head = String::from_utf8(got).unwrap();
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .unwrap()
        .parse()
        .unwrap();
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).unwrap();
    head + std::str::from_utf8(&body).unwrap()
}

#[test]
fn a_kept_connection_takes_requests_one_after_another_and_pipelined() {
    let shortcut: Shortcut = Arc::new(|h: &Head| {
        (h.target == "/fast").then(|| Response::new(200, "text/plain", "from the connection"))
    });
    let server = HttpServer::bind("127.0.0.1:0", 16, Some(shortcut)).unwrap();
    let addr = server.local_addr();
    // Only the requests the shortcut does not take reach the serving thread.
    let t = serving(server, 3, |r| {
        Response::new(200, "text/plain", format!("{} {:?}", r.url(), r.body))
    });
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"GET /a HTTP/1.1\r\n\r\n").unwrap();
    let out = one_answer(&mut s);
    assert!(out.contains("Connection: keep-alive\r\n"), "{out}");
    assert!(out.ends_with("/a Bytes([])"), "{out}");
    // Two at once, a body in the first; and a GET the shortcut answers.
    s.write_all(b"POST /b HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}GET /fast HTTP/1.1\r\n\r\n")
        .unwrap();
    assert!(one_answer(&mut s).ends_with("/b Bytes([123, 125])"));
    assert!(one_answer(&mut s).ends_with("from the connection"));
    // A POST to the shortcut's path is not its to answer.
    s.write_all(b"POST /fast HTTP/1.1\r\nConnection: close\r\n\r\n")
        .unwrap();
    let out = one_answer(&mut s);
    assert!(
        out.ends_with("/fast Bytes([])") && out.contains("Connection: close\r\n"),
        "{out}"
    );
    assert_eq!(s.read(&mut [0u8; 1]).unwrap(), 0, "closed after a close");
    t.join().unwrap();
}

#[test]
fn an_idle_kept_connection_is_closed_after_the_read_deadline() {
    // Served here, so the server lives on after the answer (a dropped one closes).
    let server = HttpServer::bind("127.0.0.1:0", 16, None).unwrap();
    let mut s = TcpStream::connect(server.local_addr()).unwrap();
    s.set_read_timeout(Some(READ_DEADLINE * 3)).unwrap();
    s.write_all(b"GET /a HTTP/1.1\r\n\r\n").unwrap();
    let r = server.recv_timeout(Duration::from_secs(10)).unwrap();
    r.respond(Response::new(200, "text/plain", "x"));
    assert!(one_answer(&mut s).contains("Connection: keep-alive\r\n"));
    let t0 = Instant::now();
    assert_eq!(s.read(&mut [0u8; 1]).unwrap(), 0);
    let waited = t0.elapsed();
    assert!(
        waited >= READ_DEADLINE - Duration::from_millis(100),
        "{waited:?}"
    );
}

#[test]
fn bad_heads_and_short_bodies_are_answered_by_the_connection() {
    let server = HttpServer::bind("127.0.0.1:0", 16, None).unwrap();
    let addr = server.local_addr();
    let out = exchange(addr, b"GET /a HTTP/3\r\n\r\n");
    assert!(out.starts_with("HTTP/1.1 505 "), "{out}");
    assert!(out.contains("\"error\""), "{out}");
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(b"POST /a HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc")
        .unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    assert!(out.starts_with("HTTP/1.1 400 "), "{out}");
    // Nothing reached the serving side.
    assert!(server.recv_timeout(Duration::from_millis(50)).is_none());
}

#[test]
fn a_dropped_request_is_a_500_and_head_gets_no_body() {
    let server = HttpServer::bind("127.0.0.1:0", 16, None).unwrap();
    let addr = server.local_addr();
    let t = std::thread::spawn(move || {
        drop(server.recv_timeout(Duration::from_secs(10)).unwrap());
        let r = server.recv_timeout(Duration::from_secs(10)).unwrap();
        r.respond(Response::new(200, "text/plain", "body"));
    });
    let out = exchange(addr, b"GET /a HTTP/1.1\r\n\r\n");
    assert!(out.starts_with("HTTP/1.1 500 "), "{out}");
    let out = exchange(addr, b"HEAD /a HTTP/1.1\r\n\r\n");
    assert!(out.starts_with("HTTP/1.1 200 "), "{out}");
    assert!(
        out.ends_with("\r\n\r\n") && out.contains("Content-Length: 4"),
        "{out}"
    );
    t.join().unwrap();
}

/// The acceptor's side of one accepted connection whose client has sent `raw` (all of it
/// there, when `raw` is not empty), with a shortcut that answers GET /fast with `body`.
fn accepted(raw: &[u8], body: Vec<u8>) -> (Connections, TcpStream, TcpStream) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let (s, _) = l.accept().unwrap();
    if !raw.is_empty() {
        c.write_all(raw).unwrap();
        s.peek(&mut [0u8; 1]).unwrap();
    }
    let shortcut: Shortcut = Arc::new(move |h: &Head| {
        (h.target == "/fast").then(|| Response::new(200, "text/plain", body.clone()))
    });
    let conns = Connections {
        queue: Arc::new(Queue::new(1)),
        max_body: 16,
        shortcut: Some(shortcut),
        stop: Arc::new(AtomicBool::new(false)),
    };
    (conns, c, s)
}

#[test]
fn a_closing_get_already_sent_is_answered_on_the_acceptor() {
    let (conns, mut c, s) = accepted(
        b"GET /fast HTTP/1.1\r\nConnection: close\r\n\r\n",
        b"snapshot".to_vec(),
    );
    assert!(conns.answer_at_accept(s).is_none(), "answered and closed");
    let mut out = String::new();
    c.read_to_string(&mut out).unwrap();
    assert!(out.starts_with("HTTP/1.1 200 OK\r\n"), "{out}");
    assert!(out.contains("Connection: close\r\n"), "{out}");
    assert!(out.ends_with("\r\n\r\nsnapshot"), "{out}");
}

#[test]
fn anything_else_goes_to_a_connection_thread_unread() {
    for raw in [
        // Kept: its next request belongs to a connection thread.
        &b"GET /fast HTTP/1.1\r\n\r\n"[..],
        // Not the shortcut's, or not a plain GET.
        b"GET /slow HTTP/1.1\r\nConnection: close\r\n\r\n",
        b"POST /fast HTTP/1.1\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
        // Two requests, or half of one, or nothing yet.
        b"GET /fast HTTP/1.1\r\n\r\nGET /fast HTTP/1.1\r\nConnection: close\r\n\r\n",
        b"GET /fast HTTP/1.1\r\nConnec",
        b"",
    ] {
        let (conns, _c, s) = accepted(raw, b"snapshot".to_vec());
        match conns.answer_at_accept(s) {
            Some(Accepted::Fresh(s)) => {
                // Left blocking, and with every byte the client sent still to read.
                let mut got = vec![0u8; raw.len()];
                s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                (&s).read_exact(&mut got).unwrap();
                assert_eq!(got, raw);
            }
            _ => panic!("{:?} was not handed on", String::from_utf8_lossy(raw)),
        }
    }
}

#[test]
fn an_answer_too_big_for_the_socket_is_finished_by_a_connection_thread() {
    let body: Vec<u8> = (0..8 << 20).map(|i| (i % 251) as u8).collect();
    let (conns, mut c, s) = accepted(
        b"GET /fast HTTP/1.1\r\nConnection: close\r\n\r\n",
        body.clone(),
    );
    let Some(Accepted::Finishing(s, rest)) = conns.answer_at_accept(s) else {
        panic!("8 MiB went into the socket at once");
    };
    let t = std::thread::spawn(move || finish(s, &rest));
    let mut out = Vec::new();
    c.read_to_end(&mut out).unwrap();
    t.join().unwrap();
    let at = out.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert!(out.starts_with(b"HTTP/1.1 200 OK\r\n"));
    assert!(
        out[at..] == body[..],
        "the answer arrived whole and in order"
    );
}
