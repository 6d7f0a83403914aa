//! How the hot threads wait: the disruptor rings use the configured `pipeline.wait`, and a
//! thread that keeps an `Idler` gets the adaptive wait's spin, yield, park.

pub use crate::config::WaitStrategy;
use std::sync::atomic::{fence, AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::Thread;
use std::time::Duration;

/// The disruptor crate's consumer-side wait for a ring that a stage polls.
impl disruptor::wait_strategies::WaitStrategy for WaitStrategy {
    #[inline]
    fn wait_for(&self, _sequence: disruptor::Sequence) {
        self.idle();
    }
}

/// Idle steps spent spinning, then yielding, before an adaptive wait parks. A spin step is
/// a few ns and a yield well under a microsecond on an idle core, so a thread stays awake
/// for some tens of microseconds after its last work: a burst's next frame finds it spinning.
const SPINS: u32 = 256;
const YIELDS: u32 = 64;

/// What one waiting thread remembers between idle steps, and its heartbeat: found work and,
/// every so often, waiting on an empty queue both count as progress for the watchdog.
#[derive(Clone, Copy, Debug)]
pub struct Idler<'a> {
    wait: WaitStrategy,
    idles: u32,
    quiet: u32,
    beat: &'a AtomicU64,
}

/// Idle steps between two heartbeats of a waiting thread (every step would be a shared
/// cache line written per spin).
const IDLE_STEPS_PER_BEAT: u32 = 1024;

impl<'a> Idler<'a> {
    pub fn new(wait: WaitStrategy, beat: &'a AtomicU64) -> Idler<'a> {
        Idler {
            wait,
            idles: 0,
            quiet: 0,
            beat,
        }
    }

    /// Work was found.
    #[inline]
    pub fn reset(&mut self) {
        self.idles = 0;
        self.beat.fetch_add(1, Ordering::Relaxed);
    }

    /// One idle step. True when the adaptive wait has spun and yielded enough and the
    /// caller should park (or block) now; the other strategies never ask.
    #[inline]
    pub fn idle(&mut self) -> bool {
        self.quiet = self.quiet.wrapping_add(1);
        if self.quiet.is_multiple_of(IDLE_STEPS_PER_BEAT) {
            self.beat.fetch_add(1, Ordering::Relaxed);
        }
        if self.wait != WaitStrategy::Adaptive {
            self.wait.idle();
            return false;
        }
        self.idles = self.idles.saturating_add(1);
        if self.idles <= SPINS {
            std::hint::spin_loop();
            false
        } else if self.idles <= SPINS + YIELDS {
            std::thread::yield_now();
            false
        } else {
            // About to park: a beat now, since a parked thread beats only when it wakes.
            self.beat.fetch_add(1, Ordering::Relaxed);
            true
        }
    }
}

/// How a parked consumer learns its ring has work: the producer rings after publishing when
/// the consumer said it is about to sleep. Both sides fence, so either the consumer sees the
/// slot on its last look or the producer sees it asleep; the park's timeout bounds anything
/// else.
#[derive(Debug, Default)]
pub struct Doorbell {
    sleeping: AtomicBool,
    consumer: OnceLock<Thread>,
}

/// Longest a parked consumer sleeps without a ring.
pub const PARK_TIMEOUT: Duration = Duration::from_millis(2);

impl Doorbell {
    pub fn new() -> Arc<Doorbell> {
        Arc::new(Doorbell::default())
    }

    /// The consumer is about to look once more and then park.
    #[inline]
    pub fn arm(&self) {
        let _ = self.consumer.get_or_init(std::thread::current);
        self.sleeping.store(true, Ordering::SeqCst);
        fence(Ordering::SeqCst);
    }

    /// The consumer found work on its last look after all.
    #[inline]
    pub fn disarm(&self) {
        self.sleeping.store(false, Ordering::Relaxed);
    }

    pub fn park(&self) {
        std::thread::park_timeout(PARK_TIMEOUT);
        self.sleeping.store(false, Ordering::Relaxed);
    }

    /// The producer published: wake the consumer if it sleeps.
    #[inline]
    pub fn ring(&self) {
        fence(Ordering::SeqCst);
        if self.sleeping.load(Ordering::Relaxed) && self.sleeping.swap(false, Ordering::AcqRel) {
            if let Some(t) = self.consumer.get() {
                t.unpark();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adaptive_spins_then_yields_then_asks_to_park() {
        let beat = AtomicU64::new(0);
        let mut i = Idler::new(WaitStrategy::Adaptive, &beat);
        let asks: Vec<bool> = (0..SPINS + YIELDS + 2).map(|_| i.idle()).collect();
        assert!(asks[..(SPINS + YIELDS) as usize].iter().all(|a| !a));
        assert!(asks[(SPINS + YIELDS) as usize..].iter().all(|a| *a));
        // One beat for each step that asked to park.
        assert_eq!(beat.load(Ordering::Relaxed), 2);
        i.reset();
        assert_eq!(beat.load(Ordering::Relaxed), 3);
        assert!(!i.idle());
        let quiet = AtomicU64::new(0);
        let mut y = Idler::new(WaitStrategy::Yield, &quiet);
        assert!((0..2048).all(|_| !y.idle()), "only adaptive parks");
        // A thread waiting on an empty queue still beats, every 1024 steps.
        assert_eq!(quiet.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn a_ring_wakes_a_parked_consumer() {
        let bell = Doorbell::new();
        let (tx, rx) = std::sync::mpsc::channel();
        let b = bell.clone();
        let t = std::thread::spawn(move || {
            let mut woke = 0;
            for _ in 0..50 {
                b.arm();
                tx.send(()).unwrap();
                b.park();
                woke += 1;
            }
            woke
        });
        for _ in 0..50 {
            rx.recv().unwrap();
            // Ring until it is seen (the consumer may not have parked yet: the flag stays
            // up until its park ends, so one ring is enough once it is armed).
            bell.ring();
        }
        assert_eq!(t.join().unwrap(), 50);
    }
}
