//! The connection threads, kept rather than spawned per connection: a new thread per request
//! maps and unmaps a stack each time in the pipeline's process, and at 2,000 requests a
//! second that cost showed in the pipeline's latency (PERF.md, control API under load). The
//! pool grows on demand to `max` (a slow client still costs one thread, never the serving
//! thread) and shrinks back to `keep` after `idle`. What a thread is handed (`T`) is the
//! server's business: a connection, or one whose answer is half written.

use super::handoff::{Pop, Queue, Refused};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// What happened to an accepted connection.
#[derive(Debug)]
pub enum Handed<T> {
    /// A waiting thread took it.
    ToIdle,
    /// A new thread was started for it.
    ToNew,
    /// Every thread is busy and there are `max` of them.
    Full(T),
}

struct Counts {
    /// Threads waiting for a connection, less the connections handed to them not yet taken.
    idle: AtomicUsize,
    /// Threads alive.
    alive: AtomicUsize,
}

/// The acceptor's side of the pool.
pub struct ConnectionThreads<T, F> {
    streams: Arc<Queue<T>>,
    counts: Arc<Counts>,
    serve: Arc<F>,
    max: usize,
    keep: usize,
    idle: Duration,
}

impl<T: Send + 'static, F: Fn(T) + Send + Sync + 'static> ConnectionThreads<T, F> {
    pub fn new(max: usize, keep: usize, idle: Duration, serve: F) -> Self {
        ConnectionThreads {
            streams: Arc::new(Queue::new(max)),
            counts: Arc::new(Counts {
                idle: AtomicUsize::new(0),
                alive: AtomicUsize::new(0),
            }),
            serve: Arc::new(serve),
            max,
            keep,
            idle,
        }
    }

    /// Gives `stream` to a waiting thread, or to a new one while fewer than `max` live.
    pub fn hand(&self, stream: T) -> Handed<T> {
        // Reserve a waiting thread: the stream sent below is then sure to be taken at once.
        let reserved = self
            .counts
            .idle
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if reserved {
            return match self.streams.push(stream) {
                Ok(()) => Handed::ToIdle,
                Err(Refused::Full(s) | Refused::Closed(s)) => Handed::Full(s),
            };
        }
        let grown = self
            .counts
            .alive
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n < self.max).then_some(n + 1)
            })
            .is_ok();
        if !grown {
            return Handed::Full(stream);
        }
        let (streams, counts, serve) = (
            self.streams.clone(),
            self.counts.clone(),
            self.serve.clone(),
        );
        let (keep, idle) = (self.keep, self.idle);
        let spawned = std::thread::Builder::new()
            .name("aitrapp-http-conn".into())
            .stack_size(256 * 1024)
            .spawn(move || {
                serve(stream);
                work(&streams, &counts, &*serve, keep, idle);
                counts.alive.fetch_sub(1, Ordering::SeqCst);
            });
        match spawned {
            Ok(_) => Handed::ToNew,
            // The stream went down with the closure; the client sees its connection close.
            Err(_) => {
                self.counts.alive.fetch_sub(1, Ordering::SeqCst);
                Handed::ToNew
            }
        }
    }
}

impl<T, F> Drop for ConnectionThreads<T, F> {
    /// The acceptor is gone: waiting threads end, queued connections close.
    fn drop(&mut self) {
        self.streams.close(true);
    }
}

/// A connection thread after its first connection: waits for the next, and leaves after
/// `idle` without one while more than `keep` threads live. Returns when the acceptor is gone.
fn work<T, F: Fn(T)>(streams: &Queue<T>, counts: &Counts, serve: &F, keep: usize, idle: Duration) {
    loop {
        counts.idle.fetch_add(1, Ordering::SeqCst);
        match streams.pop_timeout(idle) {
            Pop::Item(stream) => serve(stream),
            Pop::Closed => return,
            Pop::Timeout => {
                if counts.alive.load(Ordering::SeqCst) <= keep {
                    // Stay: take back the idle mark set above, the loop sets it again.
                    if unidle(counts) {
                        continue;
                    }
                } else if unidle(counts) {
                    return;
                }
                // The acceptor reserved this thread in the meantime: its stream is coming.
                loop {
                    match streams.pop_timeout(idle) {
                        Pop::Item(stream) => break serve(stream),
                        Pop::Closed => return,
                        Pop::Timeout => continue,
                    }
                }
            }
        }
    }
}

/// Takes this thread's idle mark back unless the acceptor has reserved it.
fn unidle(counts: &Counts) -> bool {
    counts
        .idle
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::time::Instant;

    fn pair(l: &TcpListener) -> (TcpStream, TcpStream) {
        let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (s, _) = l.accept().unwrap();
        (c, s)
    }

    fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while !f() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Echoes one byte back, then closes.
    fn echo(mut s: TcpStream) {
        let mut b = [0u8; 1];
        if s.read_exact(&mut b).is_ok() {
            let _ = s.write_all(&b);
        }
    }

    #[test]
    fn threads_are_reused_grow_to_the_cap_and_shrink_back() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let pool = ConnectionThreads::new(3, 1, Duration::from_millis(200), echo);
        // One after another: one thread serves them all.
        for k in 0..20u8 {
            let (mut c, s) = pair(&l);
            assert!(!matches!(pool.hand(s), Handed::Full(_)));
            c.write_all(&[k]).unwrap();
            let mut b = [0u8; 1];
            c.read_exact(&mut b).unwrap();
            assert_eq!(b[0], k);
            wait_for("the thread to wait again", || {
                pool.counts.idle.load(Ordering::SeqCst) == 1
            });
        }
        assert_eq!(pool.counts.alive.load(Ordering::SeqCst), 1);
        // Three held at once (clients that never send): the pool grows to 3, a fourth is
        // refused, and the held ones still get served when they speak.
        let mut held: Vec<TcpStream> = Vec::new();
        for _ in 0..3 {
            let (c, s) = pair(&l);
            assert!(!matches!(pool.hand(s), Handed::Full(_)));
            held.push(c);
        }
        wait_for("three threads", || {
            pool.counts.alive.load(Ordering::SeqCst) == 3
        });
        let (_c, s) = pair(&l);
        assert!(matches!(pool.hand(s), Handed::Full(_)));
        for (k, c) in held.iter_mut().enumerate() {
            c.write_all(&[k as u8]).unwrap();
            let mut b = [0u8; 1];
            c.read_exact(&mut b).unwrap();
            assert_eq!(b[0], k as u8);
        }
        // Idle past 200 ms: back to the one kept.
        wait_for("the pool to shrink", || {
            pool.counts.alive.load(Ordering::SeqCst) == 1
        });
        let (mut c, s) = pair(&l);
        assert!(matches!(pool.hand(s), Handed::ToIdle));
        c.write_all(&[7]).unwrap();
        let mut b = [0u8; 1];
        c.read_exact(&mut b).unwrap();
        assert_eq!(b[0], 7);
        // Dropping the pool ends its threads.
        drop(pool);
    }
}
