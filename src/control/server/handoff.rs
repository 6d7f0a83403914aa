//! The queue between the server's threads (accepted connections to connection threads,
//! requests to the serving thread, each answer back). A mutex and a condition variable: a
//! waiting thread sleeps in the kernel at once. The channel crates spin and then call
//! `sched_yield` a few times before they sleep, and on a machine with fewer cores than
//! threads those yields are taken from the hot threads.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// What a wait on the queue found.
#[derive(Debug)]
pub enum Pop<T> {
    Item(T),
    Timeout,
    /// Closed and empty: nothing more will come.
    Closed,
}

/// Why an item was not queued; the item comes back.
#[derive(Debug)]
pub enum Refused<T> {
    Full(T),
    Closed(T),
}

struct State<T> {
    items: VecDeque<T>,
    closed: bool,
}

/// A bounded multi-producer, multi-consumer queue.
pub struct Queue<T> {
    state: Mutex<State<T>>,
    ready: Condvar,
    cap: usize,
}

impl<T> Queue<T> {
    pub fn new(cap: usize) -> Queue<T> {
        Queue {
            state: Mutex::new(State {
                items: VecDeque::new(),
                closed: false,
            }),
            ready: Condvar::new(),
            cap,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // A panic while holding the lock leaves plain data behind: carry on with it.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn push(&self, item: T) -> Result<(), Refused<T>> {
        let mut s = self.lock();
        if s.closed {
            return Err(Refused::Closed(item));
        }
        if s.items.len() >= self.cap {
            return Err(Refused::Full(item));
        }
        s.items.push_back(item);
        drop(s);
        self.ready.notify_one();
        Ok(())
    }

    /// The next item, waiting at most `d`; items queued before a close are still handed out.
    pub fn pop_timeout(&self, d: Duration) -> Pop<T> {
        let deadline = Instant::now() + d;
        let mut s = self.lock();
        loop {
            if let Some(item) = s.items.pop_front() {
                return Pop::Item(item);
            }
            if s.closed {
                return Pop::Closed;
            }
            let now = Instant::now();
            if now >= deadline {
                return Pop::Timeout;
            }
            s = self
                .ready
                .wait_timeout(s, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// No more pushes; waiters wake. With `drop_queued`, the items still queued are dropped
    /// now (outside the lock) rather than handed out.
    pub fn close(&self, drop_queued: bool) {
        let mut s = self.lock();
        s.closed = true;
        let queued = if drop_queued {
            std::mem::take(&mut s.items)
        } else {
            VecDeque::new()
        };
        drop(s);
        self.ready.notify_all();
        drop(queued);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn bounded_fifo_with_timeouts_and_close() {
        let q = Queue::new(2);
        assert!(q.push(1).is_ok() && q.push(2).is_ok());
        assert!(matches!(q.push(3), Err(Refused::Full(3))));
        assert!(matches!(q.pop_timeout(Duration::ZERO), Pop::Item(1)));
        assert!(matches!(q.pop_timeout(Duration::ZERO), Pop::Item(2)));
        let t = Instant::now();
        assert!(matches!(
            q.pop_timeout(Duration::from_millis(30)),
            Pop::Timeout
        ));
        assert!(t.elapsed() >= Duration::from_millis(30));
        // Queued before the close: still handed out, then Closed.
        q.push(4).unwrap();
        q.close(false);
        assert!(matches!(q.push(5), Err(Refused::Closed(5))));
        assert!(matches!(q.pop_timeout(Duration::ZERO), Pop::Item(4)));
        assert!(matches!(q.pop_timeout(Duration::from_secs(5)), Pop::Closed));
        let q = Queue::new(4);
        q.push(6).unwrap();
        q.close(true);
        assert!(matches!(q.pop_timeout(Duration::ZERO), Pop::Closed));
    }

    #[test]
    fn a_waiter_wakes_on_a_push_and_on_a_close() {
        let q = Arc::new(Queue::new(1));
        let w = {
            let q = q.clone();
            std::thread::spawn(move || {
                let first = q.pop_timeout(Duration::from_secs(10));
                let second = q.pop_timeout(Duration::from_secs(10));
                (first, second)
            })
        };
        std::thread::sleep(Duration::from_millis(20));
        q.push(7u32).unwrap();
        std::thread::sleep(Duration::from_millis(20));
        let t = Instant::now();
        q.close(false);
        let (first, second) = w.join().unwrap();
        assert!(matches!(first, Pop::Item(7)));
        assert!(matches!(second, Pop::Closed));
        assert!(t.elapsed() < Duration::from_secs(5));
    }
}
