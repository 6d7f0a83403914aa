//! HTTP/1.1 request heads, parsed from bytes with no I/O (RFC 9112, strictly where being
//! lenient would let a request mean two things: one Content-Length, no folded headers, no
//! Content-Length beside a Transfer-Encoding). Pure, so it is fuzzed in process.

/// A request method; `Other` keeps an unknown token for the log line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
    Post,
    Put,
    Delete,
    Options,
    Patch,
    Other(Box<str>),
}

impl Method {
    fn from_token(t: &str) -> Method {
        match t {
            "GET" => Method::Get,
            "HEAD" => Method::Head,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "DELETE" => Method::Delete,
            "OPTIONS" => Method::Options,
            "PATCH" => Method::Patch,
            other => Method::Other(other.into()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
            Method::Options => "OPTIONS",
            Method::Patch => "PATCH",
            Method::Other(t) => t,
        }
    }
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The request line and headers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Head {
    pub method: Method,
    /// The request target as sent: path and query.
    pub target: String,
    pub headers: Vec<(String, String)>,
    /// The client asked for `100 Continue` before it sends the body.
    pub expects_continue: bool,
    /// The client will send another request on this connection: HTTP/1.1 unless it says
    /// `Connection: close`, HTTP/1.0 only when it says `Connection: keep-alive`.
    pub keep_alive: bool,
}

impl Head {
    /// The first header of that name (names compare case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// How the body after the head is framed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// Exactly this many bytes (0: no body).
    Length(u64),
    /// Transfer-Encoding: we read no body of unknown length.
    Chunked,
}

/// What a buffer holds so far.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Parsed {
    /// No end of the head yet, and still under the limit: read more.
    Partial,
    /// A whole head; the body starts at this offset of the buffer.
    Complete(Head, Framing, usize),
    /// Refused: the status and why.
    Bad(u16, &'static str),
}

/// Most headers a request may carry.
pub const MAX_HEADERS: usize = 64;

/// Longest request head taken: request line and headers.
pub const MAX_HEAD_BYTES: usize = 8192;

/// Parses the head at the start of `buf`, of at most `MAX_HEAD_BYTES`.
pub fn parse(buf: &[u8]) -> Parsed {
    let limit = MAX_HEAD_BYTES;
    // A recipient ignores empty lines before the request line (RFC 9112 §2.2).
    let skip = buf
        .iter()
        .take_while(|&&b| b == b'\r' || b == b'\n')
        .count();
    let Some((head_len, body_at)) = end_of_head(&buf[skip..]) else {
        return if buf.len() >= limit {
            Parsed::Bad(431, "the request head is over 8 KiB")
        } else {
            Parsed::Partial
        };
    };
    if skip + head_len > limit {
        return Parsed::Bad(431, "the request head is over 8 KiB");
    }
    let head = &buf[skip..skip + head_len];
    match parse_head(head) {
        Ok(h) => match framing(&h) {
            Ok(f) => Parsed::Complete(h, f, skip + body_at),
            Err(why) => Parsed::Bad(400, why),
        },
        Err(bad) => Parsed::Bad(bad.0, bad.1),
    }
}

/// Length of the head without its blank line, and where the body starts; lines end in
/// CRLF or a bare LF.
fn end_of_head(b: &[u8]) -> Option<(usize, usize)> {
    let mut i = 0;
    while let Some(nl) = b[i..].iter().position(|&c| c == b'\n') {
        let at = i + nl;
        // The line after this LF is empty: "\n\n" or "\n\r\n".
        match b.get(at + 1..) {
            Some([b'\n', ..]) => return Some((at, at + 2)),
            Some([b'\r', b'\n', ..]) => return Some((at, at + 3)),
            _ => i = at + 1,
        }
    }
    None
}

fn is_tchar(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c)
}

fn parse_head(head: &[u8]) -> Result<Head, (u16, &'static str)> {
    let mut lines = head
        .split(|&c| c == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let line = lines.next().unwrap_or_default();
    let mut parts = line.split(|&c| c == b' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err((400, "the request line is not METHOD TARGET HTTP/1.1"));
    };
    if method.is_empty() || method.len() > 16 || !method.iter().all(|&c| is_tchar(c)) {
        return Err((400, "the method is not a token"));
    }
    if target.first() != Some(&b'/') || !target.iter().all(|&c| (0x21..=0x7e).contains(&c)) {
        return Err((400, "the target must be a path of visible ASCII"));
    }
    match version {
        b"HTTP/1.1" | b"HTTP/1.0" => {}
        v if v.starts_with(b"HTTP/") => return Err((505, "only HTTP/1.0 and HTTP/1.1")),
        _ => return Err((400, "the request line does not end in HTTP/1.1")),
    }
    let mut headers = Vec::new();
    for line in lines {
        if line.first().is_some_and(|&c| c == b' ' || c == b'\t') {
            return Err((400, "folded header lines are not accepted"));
        }
        let Some(colon) = line.iter().position(|&c| c == b':') else {
            return Err((400, "a header line has no colon"));
        };
        let (name, value) = (&line[..colon], &line[colon + 1..]);
        if name.is_empty() || !name.iter().all(|&c| is_tchar(c)) {
            return Err((400, "a header name is not a token"));
        }
        let value = value.trim_ascii();
        if value.iter().any(|&c| (c < 0x20 && c != b'\t') || c == 0x7f) {
            return Err((400, "a header value holds a control character"));
        }
        if headers.len() == MAX_HEADERS {
            return Err((431, "more than 64 headers"));
        }
        headers.push((
            String::from_utf8_lossy(name).into_owned(),
            String::from_utf8_lossy(value).into_owned(),
        ));
    }
    let mut h = Head {
        method: Method::from_token(&String::from_utf8_lossy(method)),
        target: String::from_utf8_lossy(target).into_owned(),
        headers,
        expects_continue: false,
        keep_alive: false,
    };
    h.expects_continue = h
        .header("Expect")
        .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"));
    // Connection is a list of tokens and may come in several lines.
    let says = |token: &str| {
        h.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("Connection"))
            .flat_map(|(_, v)| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    };
    h.keep_alive = if version == b"HTTP/1.1" {
        !says("close")
    } else {
        says("keep-alive")
    };
    Ok(h)
}

/// The body's framing: one Content-Length (repeats must agree), none beside a
/// Transfer-Encoding, digits only (no sign, no spaces inside).
fn framing(h: &Head) -> Result<Framing, &'static str> {
    let te = h.header("Transfer-Encoding").is_some();
    let mut len: Option<u64> = None;
    for (_, v) in h
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("Content-Length"))
    {
        if v.is_empty() || !v.bytes().all(|c| c.is_ascii_digit()) {
            return Err("Content-Length is not a number");
        }
        // Past u64 is past any limit: saturate, and the size check refuses it.
        let n = v.parse::<u64>().unwrap_or(u64::MAX);
        if len.is_some_and(|l| l != n) {
            return Err("two different Content-Lengths");
        }
        len = Some(n);
    }
    match (te, len) {
        (true, Some(_)) => Err("Content-Length beside Transfer-Encoding"),
        (true, None) => Ok(Framing::Chunked),
        (false, n) => Ok(Framing::Length(n.unwrap_or(0))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(raw: &str) -> (Head, Framing, usize) {
        match parse(raw.as_bytes()) {
            Parsed::Complete(h, f, at) => (h, f, at),
            other => panic!("{raw:?}: {other:?}"),
        }
    }

    fn bad(raw: &[u8]) -> u16 {
        match parse(raw) {
            Parsed::Bad(code, _) => code,
            other => panic!("{raw:?}: {other:?}"),
        }
    }

    #[test]
    fn a_plain_request_and_its_body_offset() {
        let raw = "POST /flatten?reason=x HTTP/1.1\r\nHost: a\r\ncontent-length: 2\r\n\r\n{}";
        let (h, f, at) = ok(raw);
        assert_eq!(h.method, Method::Post);
        assert_eq!(h.target, "/flatten?reason=x");
        assert_eq!(h.header("Content-Length"), Some("2"));
        assert_eq!(f, Framing::Length(2));
        assert_eq!(&raw[at..], "{}");
        assert!(h.keep_alive);
        // Bare LFs, leading blank lines, an unknown method kept for the log.
        let (h, f, at) = ok("\r\n\nBREW /pot HTTP/1.0\nX-A:  b \n\nrest");
        assert_eq!(h.method.as_str(), "BREW");
        assert_eq!(h.header("x-a"), Some("b"));
        assert_eq!(f, Framing::Length(0));
        assert_eq!(at, "\r\n\nBREW /pot HTTP/1.0\nX-A:  b \n\n".len());
        assert!(!h.keep_alive);
    }

    #[test]
    fn keep_alive_by_version_and_connection_tokens() {
        for (raw, keep) in [
            ("GET / HTTP/1.1\r\n\r\n", true),
            ("GET / HTTP/1.1\r\nConnection: Close\r\n\r\n", false),
            (
                "GET / HTTP/1.1\r\nConnection: x\r\nConnection: te, close\r\n\r\n",
                false,
            ),
            ("GET / HTTP/1.1\r\nConnection: closed\r\n\r\n", true),
            ("GET / HTTP/1.0\r\n\r\n", false),
            ("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", true),
        ] {
            assert_eq!(ok(raw).0.keep_alive, keep, "{raw:?}");
        }
    }

    #[test]
    fn partial_until_the_blank_line_then_the_limit() {
        assert_eq!(
            parse(b"GET /health HTTP/1.1\r\nHost: a\r\n"),
            Parsed::Partial
        );
        assert_eq!(parse(b""), Parsed::Partial);
        let long = format!("GET /{} HTTP/1.1\r\n", "a".repeat(9000));
        assert_eq!(bad(long.as_bytes()), 431);
        let many: String = (0..65).map(|i| format!("X-{i}: v\r\n")).collect();
        assert_eq!(bad(format!("GET / HTTP/1.1\r\n{many}\r\n").as_bytes()), 431);
    }

    #[test]
    fn ambiguous_or_broken_heads_are_refused() {
        for (raw, code) in [
            (&b"GET /x HTTP/2\r\n\r\n"[..], 505),
            (b"GET  /x HTTP/1.1\r\n\r\n", 400),
            (b"GET x HTTP/1.1\r\n\r\n", 400),
            (b"GET /a\x01 HTTP/1.1\r\n\r\n", 400),
            (b"G(T / HTTP/1.1\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nNoColon\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nA: b\x00c\r\n\r\n", 400),
            (b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400),
            (
                b"POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\n",
                400,
            ),
            (
                b"POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
                400,
            ),
        ] {
            assert_eq!(bad(raw), code, "{:?}", String::from_utf8_lossy(raw));
        }
        let (_, f, _) = ok("POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n");
        assert_eq!(f, Framing::Length(u64::MAX));
        let (h, f, _) =
            ok("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nExpect: 100-Continue\r\n\r\n");
        assert_eq!((f, h.expects_continue), (Framing::Chunked, true));
        let (_, f, _) = ok("POST / HTTP/1.1\r\nContent-Length: 3\r\ncontent-length: 3\r\n\r\n");
        assert_eq!(f, Framing::Length(3));
    }

    use proptest::prelude::*;

    /// A well-formed request from parts, with where its body starts.
    fn request(method: &str, path: &str, headers: &[(String, String)], body: &[u8]) -> Vec<u8> {
        let mut out = format!("{method} {path} HTTP/1.1\r\n").into_bytes();
        for (n, v) in headers {
            out.extend_from_slice(format!("{n}: {v}\r\n").as_bytes());
        }
        out.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
        out.extend_from_slice(body);
        out
    }

    fn parts() -> impl Strategy<Value = (String, String, Vec<(String, String)>, Vec<u8>)> {
        (
            "[A-Z]{1,10}",
            "/[a-z0-9/?=&%+._-]{0,60}",
            proptest::collection::vec(("X-[A-Za-z0-9-]{1,20}", "[ -~]{0,40}"), 0..8),
            proptest::collection::vec(any::<u8>(), 0..64),
        )
    }

    /// Cases per property: the suite runs a few thousand; the long run by hand sets
    /// AITRAPP_PARSE_FUZZ_CASES (millions).
    fn cases(default: u32) -> u32 {
        std::env::var("AITRAPP_PARSE_FUZZ_CASES")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(default)
    }

    fn invariants(buf: &[u8]) {
        match parse(buf) {
            Parsed::Complete(h, _, at) => {
                assert!(at <= buf.len());
                assert!(h.target.starts_with('/'));
                assert!(h.headers.len() <= MAX_HEADERS);
            }
            Parsed::Bad(code, why) => assert!(matches!(code, 400 | 431 | 505) && !why.is_empty()),
            Parsed::Partial => assert!(buf.len() < MAX_HEAD_BYTES),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(cases(5_000)))]

        /// A well-formed request parses back to its parts, and every prefix that stops
        /// inside its head is Partial (a request arriving in pieces is never refused).
        #[test]
        fn requests_round_trip_and_prefixes_wait((m, path, hs, body) in parts(), cut in any::<prop::sample::Index>()) {
            let raw = request(&m, &path, &hs, &body);
            let Parsed::Complete(h, f, at) = parse(&raw) else { panic!("{:?}", String::from_utf8_lossy(&raw)) };
            prop_assert_eq!(h.method.as_str(), m.as_str());
            prop_assert_eq!(&h.target, &path);
            prop_assert_eq!(f, Framing::Length(body.len() as u64));
            prop_assert_eq!(&raw[at..], &body[..]);
            for (n, v) in &hs {
                prop_assert!(h.headers.iter().any(|(hn, hv)| hn == n && hv == v.trim()));
            }
            let k = cut.index(at - 1);
            prop_assert_eq!(parse(&raw[..k]), Parsed::Partial);
        }

        /// Mutated requests and random bytes: an answer, never a panic, and the answer keeps
        /// its invariants.
        #[test]
        fn any_bytes_are_answered(
            (m, path, hs, body) in parts(),
            edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..4), 0..6),
            noise in proptest::collection::vec(any::<u8>(), 0..200),
        ) {
            let mut raw = request(&m, &path, &hs, &body);
            for (at, byte, op) in edits {
                let i = at.index(raw.len().max(1));
                match op {
                    0 if i < raw.len() => raw[i] = byte,
                    1 if i < raw.len() => { raw.remove(i); }
                    2 => raw.insert(i.min(raw.len()), byte),
                    _ => raw.truncate(i),
                }
            }
            invariants(&raw);
            invariants(&noise);
        }
    }
}
