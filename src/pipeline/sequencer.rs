//! The sequencer: the feed thread's loop and the only producer of ring A. Market frames,
//! the inbox (control commands, broker updates) and the session clock enter the system here,
//! in one order, so everything downstream is a deterministic function of ring A.
//!
//! The session clock publishes `Event::Clock { ts }` once per exchange second, before the
//! ticks of that second, whether or not any tick arrives. Its time comes from the source's own
//! clock (the synthetic market's simulated session), the wall clock (a live Kite feed: IST is
//! the exchange's clock, kept by NTP) or, for a recording, the frames' exchange timestamps.
//! It never runs backwards.

use super::{RingTx, WaitStrategy};
use crate::clock::mono_ns;
use crate::domain::{Event, InboxMsg, Slot, TickMode, BARRIER_ROUNDS};
use crate::feed::codec::decode_frame;
use crate::feed::record::RecordWriter;
use crate::feed::{FrameSource, SourcePoll};
use crate::telemetry::hot_log::{HotEvent, HotLog};
use crate::telemetry::Metrics;
use crossbeam_channel::Receiver;
use std::fs::File;
use std::io::BufWriter;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// How the feed loop ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FeedEnd {
    /// SIGINT/SIGTERM or a stop request.
    Stopped,
    /// The source finished (replay end, synthetic close with exit_at_close).
    SourceEnded,
}

/// Where the session clock reads exchange time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClockSource {
    /// The source keeps its own exchange clock (`FrameSource::exchange_now`).
    Source,
    /// The wall clock: a live feed.
    Wall,
    /// The newest exchange timestamp in the frames: a recording played back.
    EventTime,
}

/// The session clock: turns exchange time into one `Event::Clock` per new second.
#[derive(Clone, Copy, Debug, Default)]
pub struct SessionClock {
    last: u32,
}

impl SessionClock {
    /// The clock event for exchange time `now`, if a new second has begun.
    #[inline]
    pub fn advance(&mut self, now: u32) -> Option<Event> {
        (now > self.last).then(|| {
            self.last = now;
            Event::Clock { ts: now }
        })
    }
    /// The newest second the clock has reached (0 before its first).
    pub fn now(&self) -> u32 {
        self.last
    }
}

/// Everything the feed thread owns.
pub struct Sequencer {
    pub source: Box<dyn FrameSource>,
    pub ring: RingTx,
    pub inbox: Receiver<InboxMsg>,
    /// Lockstep sources wait for the last stage to pass each barrier.
    pub barrier_done: Arc<AtomicU64>,
    pub stop: Arc<AtomicBool>,
    pub wait: WaitStrategy,
    pub metrics: Arc<Metrics>,
    pub hot: HotLog,
    pub recorder: Option<RecordWriter<BufWriter<File>>>,
    /// Universe reloads: the ticker's new subscriptions.
    pub subscriptions: Receiver<Vec<(u32, TickMode)>>,
    /// `Wall` (a live feed) also measures the exchange-to-wall lag.
    pub clock_source: ClockSource,
}

fn wall_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Longest the feed thread blocks in the source with the adaptive wait (a frame on a socket
/// wakes it sooner); inbox messages (commands, broker updates) wait at most this long.
const FEED_BLOCK: std::time::Duration = std::time::Duration::from_micros(500);

impl Sequencer {
    /// Publishes everything waiting in the inbox; returns how much.
    fn drain_inbox(&mut self) -> usize {
        let mut n = 0;
        while let Ok(msg) = self.inbox.try_recv() {
            n += 1;
            Metrics::add(&self.metrics.inbox_events_total, 1);
            let ev = match msg {
                InboxMsg::Control(c) => Event::Control(c),
                InboxMsg::Order(u) => Event::Order(u),
            };
            self.ring.publish(Slot {
                ev,
                recv_ns: mono_ns(),
            });
        }
        n
    }

    /// Publishes a clock event when exchange time `now` starts a new second.
    #[inline]
    fn tick_clock(&mut self, clock: &mut SessionClock, now: u32, recv_ns: u64) -> bool {
        match clock.advance(now) {
            Some(ev) => {
                self.ring.publish(Slot { ev, recv_ns });
                true
            }
            None => false,
        }
    }

    /// Lockstep: waits until the stages have handled everything published so far, then
    /// sequences the broker updates that caused (paper fills), and again for what those
    /// caused (a spread's second leg, a stop), until a round brings nothing back: every
    /// update lands before the next frame whatever the threads' timing, so a seed replays
    /// exactly.
    fn lockstep_barrier(&mut self, frame: &mut u64, recv_ns: u64) {
        *frame += 1;
        for round in 0..BARRIER_ROUNDS {
            let id = *frame * BARRIER_ROUNDS + round;
            self.ring.publish(Slot {
                ev: Event::Barrier { id },
                recv_ns,
            });
            while self.barrier_done.load(Ordering::Acquire) < id {
                if self.stop.load(Ordering::Relaxed) {
                    return;
                }
                self.wait.idle();
            }
            if self.drain_inbox() == 0 {
                break;
            }
        }
    }

    /// The feed loop: polls the source, runs the session clock, decodes frames onto ring A,
    /// sequences the inbox; until stop or the source ends.
    pub fn run(mut self) -> FeedEnd {
        let mut buf: Vec<u8> = Vec::with_capacity(1 << 16);
        let lockstep = self.source.lockstep();
        let mut barrier: u64 = 0;
        let mut clock = SessionClock::default();
        let metrics = self.metrics.clone();
        let mut idler = super::wait::Idler::new(self.wait, &metrics.heartbeats[0]);
        let end = loop {
            if self.stop.load(Ordering::Relaxed) {
                break FeedEnd::Stopped;
            }
            self.drain_inbox();
            if let Ok(tokens) = self.subscriptions.try_recv() {
                self.source.resubscribe(tokens);
            }
            let poll = self.source.poll(&mut buf);
            // A live feed's clock runs whether or not frames arrive; one wall-clock read per
            // poll serves the clock and the lag.
            let wall = (self.clock_source == ClockSource::Wall).then(wall_ms);
            if let Some(ms) = wall {
                self.tick_clock(&mut clock, (ms / 1000) as u32, mono_ns());
            }
            match poll {
                SourcePoll::Idle => {
                    if idler.idle() {
                        // The inbox waits at most this long while the market is quiet.
                        self.source.wait_ready(FEED_BLOCK);
                    }
                }
                SourcePoll::End => break FeedEnd::SourceEnded,
                SourcePoll::Frame => {
                    idler.reset();
                    let recv_ns = self.source.received_ns().unwrap_or_else(mono_ns);
                    let clocked = match self.clock_source {
                        ClockSource::Source => match self.source.exchange_now() {
                            Some(now) => self.tick_clock(&mut clock, now, recv_ns),
                            None => false,
                        },
                        ClockSource::EventTime => {
                            // The frame's newest stamp, read before its ticks are published.
                            let mut newest = 0u32;
                            let _ =
                                decode_frame(&buf, |t| newest = newest.max(t.exchange_timestamp));
                            newest > 0 && self.tick_clock(&mut clock, newest, recv_ns)
                        }
                        ClockSource::Wall => false,
                    };
                    let ticks = self.publish_frame(&buf, recv_ns, wall, clock.now());
                    if lockstep && (ticks > 0 || clocked) {
                        self.lockstep_barrier(&mut barrier, recv_ns);
                    }
                }
            }
        };
        // Orders still in flight (e.g. a flatten's exits) are sequenced before the rings close.
        self.drain_inbox();
        if let Some(r) = &mut self.recorder {
            let _ = r.flush();
        }
        end
    }

    /// Records and decodes one frame onto ring A; returns how many ticks it carried. With
    /// the wall time (a live feed) it also updates the exchange-to-wall lag. Ticks without an
    /// exchange timestamp (Kite's `ltp` and `quote` packets carry none) are stamped with the
    /// session clock's second, so bars, entries and exits run in every websocket mode.
    fn publish_frame(
        &mut self,
        buf: &[u8],
        recv_ns: u64,
        wall_ms: Option<u64>,
        clock_now: u32,
    ) -> u16 {
        Metrics::add(&self.metrics.feed_frames_total, 1);
        Metrics::add(&self.metrics.feed_bytes_total, buf.len() as u64);
        if let Some(r) = &mut self.recorder {
            if r.write_frame(recv_ns, buf).is_err() {
                self.recorder = None;
            }
        }
        let mut exchange_ts = 0u32;
        let ring = &mut self.ring;
        match decode_frame(buf, |t| {
            exchange_ts = exchange_ts.max(t.exchange_timestamp);
            ring.publish(Slot {
                ev: Event::Tick(stamped(t, clock_now)),
                recv_ns,
            })
        }) {
            Ok(s) => {
                if let Some(wall) = wall_ms.filter(|_| exchange_ts > 0) {
                    // Exchange timestamps are whole seconds: the lag is good to ~1 s.
                    let lag = wall.saturating_sub(exchange_ts as u64 * 1000);
                    self.metrics.feed_lag_ms.store(lag, Ordering::Relaxed);
                }
                let m = &self.metrics;
                Metrics::add(&m.feed_heartbeats_total, s.heartbeat as u64);
                Metrics::add(&m.feed_packets_total, s.packets as u64);
                Metrics::add(&m.feed_ticks_total, s.ticks as u64);
                Metrics::add(&m.feed_unknown_packets_total, s.unknown as u64);
                s.ticks
            }
            Err(error) => {
                Metrics::add(&self.metrics.feed_malformed_frames_total, 1);
                self.hot.emit(HotEvent::MalformedFrame { error });
                0
            }
        }
    }
}

/// Replays the first `frames` clocked frames of a lockstep source as `run` publishes them
/// (the clock event of each new exchange second, then the frame's ticks), handing each slot
/// to `f`, as fast as the source can make them: a restarted simulated session catches its
/// stages up to the frame its journal ended on. Returns how many frames it replayed.
pub fn fast_forward(
    source: &mut dyn FrameSource,
    clock_source: ClockSource,
    frames: u64,
    mut f: impl FnMut(&Slot),
) -> u64 {
    let mut buf: Vec<u8> = Vec::with_capacity(1 << 16);
    let mut clock = SessionClock::default();
    let mut done = 0;
    while done < frames {
        match source.catch_up(&mut buf) {
            SourcePoll::End => break,
            SourcePoll::Idle => std::thread::sleep(std::time::Duration::from_millis(1)),
            SourcePoll::Frame => {
                let now = match clock_source {
                    ClockSource::Source => source.exchange_now(),
                    ClockSource::EventTime => {
                        let mut newest = 0u32;
                        let _ = decode_frame(&buf, |t| newest = newest.max(t.exchange_timestamp));
                        Some(newest).filter(|&n| n > 0)
                    }
                    ClockSource::Wall => None,
                };
                let mut clocked = false;
                if let Some(ev) = now.and_then(|n| clock.advance(n)) {
                    f(&Slot { ev, recv_ns: 0 });
                    clocked = true;
                }
                let clock_now = clock.now();
                let mut ticks = 0u32;
                let _ = decode_frame(&buf, |t| {
                    ticks += 1;
                    f(&Slot {
                        ev: Event::Tick(stamped(t, clock_now)),
                        recv_ns: 0,
                    })
                });
                if ticks > 0 || clocked {
                    done += 1;
                }
            }
        }
    }
    source.resume_pacing();
    done
}

/// A tick as the stages see it: one without an exchange timestamp (`ltp` and `quote`
/// packets) takes the session clock's second.
fn stamped(t: &crate::domain::Tick, clock_now: u32) -> crate::domain::Tick {
    let mut tick = *t;
    if tick.exchange_timestamp == 0 {
        tick.exchange_timestamp = clock_now;
    }
    tick
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `websocket.mode: ltp` / `quote` packets carry no exchange time: bars, entries and
    /// square-off must still see one, the clock's; a full packet keeps its own.
    #[test]
    fn ticks_without_exchange_time_take_the_clock() {
        let ltp = crate::domain::Tick {
            last_price: 100,
            ..Default::default()
        };
        assert_eq!(
            stamped(&ltp, 1_764_650_000).exchange_timestamp,
            1_764_650_000
        );
        let full = crate::domain::Tick {
            exchange_timestamp: 1_764_649_999,
            ..ltp
        };
        assert_eq!(
            stamped(&full, 1_764_650_000).exchange_timestamp,
            1_764_649_999
        );
    }

    #[test]
    fn clock_emits_each_new_second_once_and_never_goes_back() {
        let mut c = SessionClock::default();
        assert_eq!(c.advance(100), Some(Event::Clock { ts: 100 }));
        assert_eq!(c.advance(100), None);
        assert_eq!(c.advance(99), None);
        assert_eq!(c.advance(160), Some(Event::Clock { ts: 160 }));
        assert_eq!(c.advance(159), None);
    }
}
