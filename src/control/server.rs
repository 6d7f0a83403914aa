//! The HTTP/1.1 server under the control API and the dashboard. Each connection is read on
//! a connection thread of its own (kept for the next, see `workers`), with a deadline for
//! each request and a cap on its size, so a client that sends slowly, lies about its
//! Content-Length or never reads its answer costs a connection thread, never the thread
//! that serves the API (the kill switch must answer while anything else misbehaves).
//!
//! A connection stays open for the client's next request (HTTP/1.1 keep-alive) until it
//! says `Connection: close`, sends nothing for `READ_DEADLINE`, or sends a body we did not
//! read. Reads of shared state (`Shortcut`: the snapshot's views, the metrics) are answered
//! on the connection thread itself; every other request goes to the serving thread through
//! a bounded queue (`handoff`), and its answer comes back to the connection thread to write.
//! A polled GET /state then costs one thread wakeup, not four, and never queues behind a
//! flatten. A client that opens a connection for one such GET and closes it is answered on
//! the acceptor itself when its request is there by the time it is accepted.

mod handoff;
pub mod parse;
mod workers;

use handoff::{Pop, Queue, Refused};
pub use parse::Head;
pub use parse::Method;
use parse::{Framing, Parsed};
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use workers::{ConnectionThreads, Handed};

/// Connections served at once; past it a new one gets 503 at once.
pub const MAX_CONNECTIONS: usize = 256;
/// Connection threads kept waiting when the API is quiet, and how long a thread past them
/// waits for a connection before it ends.
const KEPT_THREADS: usize = 4;
const THREAD_IDLE: Duration = Duration::from_secs(60);
/// The whole request (head and body) must arrive within this; a kept connection with no
/// next request by then is closed.
const READ_DEADLINE: Duration = Duration::from_secs(5);
/// Writing the answer may take this long before the connection is dropped.
const WRITE_DEADLINE: Duration = Duration::from_secs(5);
/// The serving thread's answer: a flatten or a LIVE switch takes seconds, not this.
const ANSWER_DEADLINE: Duration = Duration::from_secs(60);
/// Whole requests waiting for the serving thread.
const QUEUE: usize = 64;

/// Answers a request on its connection thread, or None to pass it to the serving thread.
/// For reads of state shared across threads only (the snapshot's mapping, the metrics'
/// atomics): it runs on many threads at once and must not block.
pub type Shortcut = Arc<dyn Fn(&Head) -> Option<Response> + Send + Sync>;

/// A request's body, as far as it was read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Body {
    /// Read whole (empty when the request had none).
    Bytes(Vec<u8>),
    /// Its Content-Length is over the server's body limit: not read.
    TooLarge(u64),
    /// Chunked (Transfer-Encoding): not read.
    Chunked,
}

/// One whole request, answered once with `respond` (dropped unanswered: 500).
pub struct Request {
    head: Head,
    pub body: Body,
    answer: Arc<Queue<Response>>,
}

impl Request {
    pub fn method(&self) -> &Method {
        &self.head.method
    }

    /// Path and query, as sent.
    pub fn url(&self) -> &str {
        &self.head.target
    }

    /// The first header of that name, case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.header(name)
    }

    pub fn respond(self, r: Response) {
        // The connection thread may have given up on its deadline: nothing to do then.
        let _ = self.answer.push(r);
    }
}

impl Drop for Request {
    /// Answered or not, nothing more comes: an unanswered request's connection says 500.
    fn drop(&mut self) {
        self.answer.close(false);
    }
}

/// An answer: status, content type, body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

impl Response {
    pub fn new(status: u16, content_type: &'static str, body: impl Into<Vec<u8>>) -> Response {
        Response {
            status,
            content_type,
            body: body.into(),
        }
    }

    pub fn json(status: u16, body: &serde_json::Value) -> Response {
        Response::new(status, "application/json", body.to_string())
    }

    fn error(status: u16, why: &str) -> Response {
        Response::json(status, &serde_json::json!({ "error": why }))
    }

    /// The bytes on the wire; HEAD gets the headers only. `keep`: the connection stays open
    /// for the next request.
    fn encode(&self, head_only: bool, keep: bool) -> Vec<u8> {
        let connection = if keep {
            "keep-alive\r\nKeep-Alive: timeout=5"
        } else {
            "close"
        };
        let mut out = format!(
            "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: {connection}\r\n\r\n",
            self.status,
            reason(self.status),
            self.content_type,
            self.body.len()
        )
        .into_bytes();
        if !head_only {
            out.extend_from_slice(&self.body);
        }
        out
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        411 => "Length Required",
        413 => "Content Too Large",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "",
    }
}

/// A listening server; dropping it stops the acceptor.
pub struct HttpServer {
    requests: Arc<Queue<Request>>,
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    acceptor: Option<JoinHandle<()>>,
}

impl HttpServer {
    /// Listens on `addr`; bodies over `max_body` bytes are not read (`Body::TooLarge`);
    /// `shortcut` answers what it can on the connection threads.
    pub fn bind(
        addr: &str,
        max_body: usize,
        shortcut: Option<Shortcut>,
    ) -> std::io::Result<HttpServer> {
        let listener = TcpListener::bind(addr)?;
        let addr = listener.local_addr()?;
        let requests = Arc::new(Queue::new(QUEUE));
        let tx = requests.clone();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let acceptor = std::thread::Builder::new()
            .name("aitrapp-http-accept".into())
            .spawn(move || accept(listener, tx, max_body, shortcut, flag))?;
        Ok(HttpServer {
            requests,
            addr,
            stop,
            acceptor: Some(acceptor),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The next whole request, waiting at most `d`.
    pub fn recv_timeout(&self, d: Duration) -> Option<Request> {
        match self.requests.pop_timeout(d) {
            Pop::Item(r) => Some(r),
            Pop::Timeout | Pop::Closed => None,
        }
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Requests still queued are answered 500 by their connection threads at once.
        self.requests.close(true);
        // Wakes the blocking accept.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_millis(200));
        if let Some(t) = self.acceptor.take() {
            let _ = t.join();
        }
    }
}

/// The nice value of the control side's threads: on a machine with fewer cores than threads
/// (the shipped default's two hot threads park and wake), a woken hot thread should win the
/// core from a thread answering HTTP. Raising one's own nice needs no privilege.
const SIDE_THREAD_NICE: i32 = 10;

/// Lowers the calling thread's priority to `SIDE_THREAD_NICE` (threads it starts inherit
/// it). The serving threads of the API and the dashboard call it; so does the acceptor,
/// for the connection threads.
pub fn yield_to_hot_threads() {
    // SAFETY: plain syscalls on the calling thread; a failure leaves the priority as it was.
    let rc = unsafe {
        libc::setpriority(
            libc::PRIO_PROCESS as _,
            libc::gettid() as libc::id_t,
            SIDE_THREAD_NICE,
        )
    };
    if rc != 0 {
        log::debug!(target: "control", "could not lower the control thread's priority: {}", std::io::Error::last_os_error());
    }
}

fn accept(
    listener: TcpListener,
    queue: Arc<Queue<Request>>,
    max_body: usize,
    shortcut: Option<Shortcut>,
    stop: Arc<AtomicBool>,
) {
    yield_to_hot_threads();
    let server = Arc::new(Connections {
        queue,
        max_body,
        shortcut,
        stop: stop.clone(),
    });
    let conns = server.clone();
    let threads =
        ConnectionThreads::new(
            MAX_CONNECTIONS,
            KEPT_THREADS,
            THREAD_IDLE,
            move |a| match a {
                Accepted::Fresh(s) => conns.serve(s),
                Accepted::Finishing(s, rest) => finish(s, &rest),
            },
        );
    for conn in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let Ok(stream) = conn else {
            // Out of descriptors, say: back off instead of spinning on the error.
            std::thread::sleep(Duration::from_millis(10));
            continue;
        };
        let Some(job) = server.answer_at_accept(stream) else {
            continue;
        };
        if let Handed::Full(job) = threads.hand(job) {
            match job {
                Accepted::Fresh(s) => refuse(s, 503, "too many connections to the control API"),
                // Its answer is half sent: a 503 after it would garble it.
                Accepted::Finishing(..) => {}
            }
        }
    }
}

/// The requests a `Shortcut` is asked about, on the acceptor or a connection thread: plain
/// GETs, with no body.
fn for_shortcut(head: &Head, framing: Framing) -> bool {
    head.method == Method::Get && framing == Framing::Length(0)
}

/// What a connection thread is handed.
enum Accepted {
    /// A connection to read requests from.
    Fresh(TcpStream),
    /// A connection whose one request the acceptor answered and whose answer did not all
    /// fit the socket: the rest, to write before closing.
    Finishing(TcpStream, Vec<u8>),
}

/// Writes the rest of an answer the acceptor began, then closes.
fn finish(mut stream: TcpStream, rest: &[u8]) {
    if stream.set_nonblocking(false).is_err()
        || stream.set_write_timeout(Some(WRITE_DEADLINE)).is_err()
        || stream.write_all(rest).is_err()
    {
        return;
    }
    close(stream);
}

/// Answers without reading on: the connection is past a limit.
fn refuse(mut stream: TcpStream, status: u16, why: &str) {
    let _ = stream.set_write_timeout(Some(Duration::from_millis(200)));
    let _ = stream.write_all(&Response::error(status, why).encode(false, false));
    close(stream);
}

/// Sends our FIN, then reads (and drops) a little of what the client still sends, so it
/// gets the answer rather than a reset for the body we did not read.
fn close(mut stream: TcpStream) {
    let _ = stream.shutdown(Shutdown::Write);
    let _ = stream.set_read_timeout(Some(Duration::from_millis(100)));
    let mut sink = [0u8; 4096];
    let mut left = 64 * 1024;
    while left > 0 {
        match stream.read(&mut sink) {
            Ok(0) | Err(_) => break,
            Ok(n) => left -= n.min(left),
        }
    }
}

/// How a read of a request's part ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ReadEnd {
    Done,
    /// The client closed (or reset) first.
    Closed,
    Deadline,
}

/// Reads into `buf` until `done(buf)`, the client closes, or the deadline.
fn read_until(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    deadline: Instant,
    mut done: impl FnMut(&[u8]) -> bool,
) -> ReadEnd {
    let mut chunk = [0u8; 4096];
    while !done(buf) {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || stream.set_read_timeout(Some(left)).is_err() {
            return ReadEnd::Deadline;
        }
        match stream.read(&mut chunk) {
            Ok(0) => return ReadEnd::Closed,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return ReadEnd::Deadline
            }
            Err(_) => return ReadEnd::Closed,
        }
    }
    ReadEnd::Done
}

/// The answer to a request cut short.
fn cut_short(end: ReadEnd, part: &str) -> (u16, String) {
    match end {
        ReadEnd::Deadline => (
            408,
            format!("the request's {part} did not arrive within 5 s"),
        ),
        _ => (
            400,
            format!("the connection closed before the request's {part} ended"),
        ),
    }
}

/// What every connection thread needs to serve its connections.
struct Connections {
    queue: Arc<Queue<Request>>,
    max_body: usize,
    shortcut: Option<Shortcut>,
    /// The server is going: answer the request in hand, then close.
    stop: Arc<AtomicBool>,
}

impl Connections {
    /// Answers on the acceptor itself, and closes, a connection that holds exactly one
    /// request by the time it is accepted: a GET the shortcut answers, from a client that
    /// closes after it (`Connection: close`, a script's curl in a loop). A connection
    /// thread would cost two more thread wakeups (the hand-off, and the client's FIN), and
    /// at 2,000 such requests a second those wakeups compete for the cores the pipeline's
    /// threads wake on. Nothing here waits: the socket is non-blocking, the request is
    /// peeked (read out only once answered here), and an answer the socket cannot take at
    /// once goes to a connection thread to finish. Anything else is returned to hand off.
    fn answer_at_accept(&self, mut stream: TcpStream) -> Option<Accepted> {
        let Some(shortcut) = &self.shortcut else {
            return Some(Accepted::Fresh(stream));
        };
        if stream.set_nonblocking(true).is_err() {
            return Some(Accepted::Fresh(stream));
        }
        let mut peeked = [0u8; 1024];
        let answer = stream.peek(&mut peeked).ok().and_then(|n| {
            let Parsed::Complete(head, framing, end) = parse::parse(&peeked[..n]) else {
                return None;
            };
            // One request, the shortcut's kind, the client's last.
            if end != n || head.keep_alive || !for_shortcut(&head, framing) {
                return None;
            }
            shortcut(&head).map(|r| (r.encode(false, false), n))
        });
        let Some((answer, n)) = answer else {
            return match stream.set_nonblocking(false) {
                Ok(()) => Some(Accepted::Fresh(stream)),
                Err(_) => None,
            };
        };
        // The peeked bytes are in the socket: this read takes them and does not wait.
        if stream.read_exact(&mut peeked[..n]).is_err() {
            return None;
        }
        let mut sent = 0;
        while sent < answer.len() {
            match stream.write(&answer[sent..]) {
                Ok(0) => return None,
                Ok(k) => sent += k,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    return Some(Accepted::Finishing(stream, answer[sent..].to_vec()));
                }
                Err(_) => return None,
            }
        }
        // Dropped: the FIN follows the answer. The request was read whole, so nothing
        // unread turns the close into a reset.
        None
    }

    /// Requests one after another on one connection, until it closes or must.
    fn serve(&self, mut stream: TcpStream) {
        let _ = stream.set_nodelay(true);
        let _ = stream.set_write_timeout(Some(WRITE_DEADLINE));
        // Bytes past one request are the start of the next (a pipelining client).
        let mut buf = Vec::with_capacity(1024);
        loop {
            let deadline = Instant::now() + READ_DEADLINE;
            let mut parsed = Parsed::Partial;
            let end = read_until(&mut stream, &mut buf, deadline, |b| {
                parsed = parse::parse(b);
                parsed != Parsed::Partial
            });
            let (head, framing, body_at) = match parsed {
                Parsed::Complete(h, f, at) => (h, f, at),
                Parsed::Bad(status, why) => return refuse(stream, status, why),
                // Closed or idle between requests: nothing to answer.
                Parsed::Partial if buf.is_empty() => return,
                Parsed::Partial => {
                    let (status, why) = cut_short(end, "head");
                    return refuse(stream, status, &why);
                }
            };
            // A body left unread ends the connection: its bytes are not a next request.
            let (body, used) = match framing {
                Framing::Chunked => (Body::Chunked, None),
                Framing::Length(n) if n > self.max_body as u64 => (Body::TooLarge(n), None),
                Framing::Length(n) => {
                    let n = n as usize;
                    if head.expects_continue && buf.len() - body_at < n {
                        let _ = stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n");
                    }
                    let end =
                        read_until(&mut stream, &mut buf, deadline, |b| b.len() - body_at >= n);
                    if end != ReadEnd::Done {
                        let (status, why) = cut_short(end, "body (its Content-Length)");
                        return refuse(stream, status, &why);
                    }
                    (
                        Body::Bytes(buf[body_at..body_at + n].to_vec()),
                        Some(body_at + n),
                    )
                }
            };
            let head_only = head.method == Method::Head;
            let keep = head.keep_alive && used.is_some();
            let ask_shortcut = for_shortcut(&head, framing);
            let response = self.answer(head, body, ask_shortcut);
            let keep = keep && !self.stop.load(Ordering::SeqCst);
            if stream.write_all(&response.encode(head_only, keep)).is_err() {
                return;
            }
            match used {
                Some(n) if keep => drop(buf.drain(..n)),
                _ => return close(stream),
            }
        }
    }

    fn answer(&self, head: Head, body: Body, ask_shortcut: bool) -> Response {
        if let Some(r) = self
            .shortcut
            .as_ref()
            .filter(|_| ask_shortcut)
            .and_then(|s| s(&head))
        {
            return r;
        }
        let answer = Arc::new(Queue::new(1));
        let request = Request {
            head,
            body,
            answer: answer.clone(),
        };
        match self.queue.push(request) {
            Ok(()) => match answer.pop_timeout(ANSWER_DEADLINE) {
                Pop::Item(r) => r,
                Pop::Timeout => {
                    Response::error(503, "the control thread did not answer within 60 s")
                }
                Pop::Closed => Response::error(500, "the request was dropped unanswered"),
            },
            Err(Refused::Full(_)) => Response::error(503, "the control API is busy: try again"),
            Err(Refused::Closed(_)) => Response::error(503, "the control API is shutting down"),
        }
    }
}

#[cfg(test)]
mod tests;
