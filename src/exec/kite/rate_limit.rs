//! One rate limiter for every Kite REST caller (io workers, login, instrument sync), so the
//! process as a whole stays under Kite's limits. Windows are rolling, which is never looser than
//! Kite's per-calendar-second counting: 10 grants in any 1 s window cannot put 11 in one
//! calendar second.
//!
//! Kite counts a request when it arrives, which is somewhere between our grant and our reading
//! its answer. A grant therefore holds its place in the window while the request is in flight
//! and is stamped with the time its answer came back ([`Permit`] on drop): a worker descheduled
//! between grant and send, or a slow connect, can never bunch 11 arrivals into Kite's second.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Which of Kite's limits a request counts against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndpointClass {
    /// Place, modify, cancel.
    Order,
    /// `/quote`, `/quote/ohlc`, `/quote/ltp`.
    Quote,
    /// Historical candles.
    Historical,
    /// Everything else.
    Other,
}

pub use crate::config::RateLimits;

/// How often a caller looks again while every grant in its window is still in flight.
const IN_FLIGHT_POLL: Duration = Duration::from_millis(2);

/// One grant: its ticket, and when its answer came back (None while in flight).
#[derive(Clone, Copy, Debug)]
struct Grant {
    ticket: u64,
    done_at: Option<Instant>,
}

/// At most `max` grants in any `window`, a grant counting from when its answer came back.
#[derive(Debug)]
struct Window {
    window: Duration,
    max: usize,
    grants: VecDeque<Grant>,
}

impl Window {
    fn new(window: Duration, max: u32) -> Window {
        let max = max.max(1) as usize;
        Window {
            window,
            max,
            grants: VecDeque::with_capacity(max),
        }
    }
    /// Forgets grants whose answer came back a whole window ago; in-flight ones stay.
    fn expire(&mut self, now: Instant) {
        let window = self.window;
        self.grants
            .retain(|g| g.done_at.is_none_or(|t| t + window > now));
    }
    /// How long until one more grant fits (zero: now).
    fn wait(&mut self, now: Instant) -> Duration {
        self.expire(now);
        if self.grants.len() < self.max {
            return Duration::ZERO;
        }
        self.grants
            .iter()
            .filter_map(|g| g.done_at)
            .min()
            .map_or(IN_FLIGHT_POLL, |t| {
                (t + self.window).saturating_duration_since(now)
            })
    }
    fn grant(&mut self, ticket: u64, done_at: Option<Instant>) {
        self.grants.push_back(Grant { ticket, done_at });
    }
    fn settle(&mut self, ticket: u64, at: Instant) {
        if let Some(g) = self.grants.iter_mut().find(|g| g.ticket == ticket) {
            g.done_at = Some(at);
        }
    }
}

/// Why a request may not go now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("wait {0:?} for the rate limit")]
    Wait(Duration),
    #[error("daily order cap of {0} reached")]
    DailyCapReached(u32),
}

#[derive(Debug)]
struct State {
    order_second: Window,
    order_minute: Window,
    quote: Window,
    historical: Window,
    other: Window,
    orders_per_day: u32,
    /// IST date (yyyymmdd) the day count belongs to.
    day: u32,
    orders_today: u32,
    next_ticket: u64,
}

impl State {
    /// The windows a request of `class` counts in: orders count per second and per minute.
    fn windows(&mut self, class: EndpointClass) -> impl Iterator<Item = &mut Window> {
        let (first, second) = match class {
            EndpointClass::Order => (&mut self.order_second, Some(&mut self.order_minute)),
            EndpointClass::Quote => (&mut self.quote, None),
            EndpointClass::Historical => (&mut self.historical, None),
            EndpointClass::Other => (&mut self.other, None),
        };
        std::iter::once(first).chain(second)
    }
}

/// A grant whose request is in flight. Dropping it (when the answer is read, or the call
/// failed) stamps the grant with that moment.
#[derive(Debug)]
pub struct Permit<'a> {
    limiter: &'a RateLimiter,
    class: EndpointClass,
    ticket: u64,
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        self.limiter.settle(self.class, self.ticket, Instant::now());
    }
}

#[derive(Debug)]
pub struct RateLimiter {
    state: Mutex<State>,
}

impl RateLimiter {
    pub fn new(l: RateLimits) -> RateLimiter {
        let margin = Duration::from_millis(l.margin_ms);
        let s = Duration::from_secs(1) + margin;
        RateLimiter {
            state: Mutex::new(State {
                order_second: Window::new(s, l.orders_per_second),
                order_minute: Window::new(Duration::from_secs(60) + margin, l.orders_per_minute),
                quote: Window::new(s, l.quotes_per_second),
                historical: Window::new(s, l.historical_per_second),
                other: Window::new(s, l.others_per_second),
                orders_per_day: l.orders_per_day,
                day: 0,
                orders_today: 0,
                next_ticket: 0,
            }),
        }
    }

    /// Takes a grant for `class` at `now` on IST date `day` (yyyymmdd) that counts from `now`,
    /// or says why not: for a caller that sees the request arrive (the simulator) and tests.
    pub fn try_acquire_at(
        &self,
        class: EndpointClass,
        now: Instant,
        day: u32,
    ) -> Result<(), Refusal> {
        self.try_grant(class, now, day, Some(now)).map(|_| ())
    }

    /// Takes a grant that counts as in flight until settled; its ticket.
    fn try_grant(
        &self,
        class: EndpointClass,
        now: Instant,
        day: u32,
        done_at: Option<Instant>,
    ) -> Result<u64, Refusal> {
        let mut guard = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let s = &mut *guard;
        let ticket = s.next_ticket;
        if class == EndpointClass::Order {
            if s.day != day {
                s.day = day;
                s.orders_today = 0;
            }
            if s.orders_today >= s.orders_per_day {
                return Err(Refusal::DailyCapReached(s.orders_per_day));
            }
        }
        let wait = s
            .windows(class)
            .map(|w| w.wait(now))
            .max()
            .unwrap_or(Duration::ZERO);
        if !wait.is_zero() {
            return Err(Refusal::Wait(wait));
        }
        for w in s.windows(class) {
            w.grant(ticket, done_at);
        }
        if class == EndpointClass::Order {
            s.orders_today += 1;
        }
        s.next_ticket += 1;
        Ok(ticket)
    }

    fn settle(&self, class: EndpointClass, ticket: u64, at: Instant) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        for w in s.windows(class) {
            w.settle(ticket, at);
        }
    }

    /// Blocks (sleeping, on an io worker) until `class` may go, or until `deadline`. The
    /// permit is held while the request is in flight.
    pub fn acquire(&self, class: EndpointClass, deadline: Instant) -> Result<Permit<'_>, Refusal> {
        loop {
            let now = Instant::now();
            let day = crate::clock::today_ist().0;
            match self.try_grant(class, now, day, None) {
                Ok(ticket) => {
                    return Ok(Permit {
                        limiter: self,
                        class,
                        ticket,
                    })
                }
                Err(Refusal::Wait(w)) if now + w <= deadline => std::thread::sleep(w),
                Err(e) => return Err(e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: u32 = 20261125;

    /// Grants in a simulated stream of attempts every `step`, over `span`.
    fn granted(
        l: &RateLimiter,
        class: EndpointClass,
        t0: Instant,
        step: Duration,
        span: Duration,
    ) -> Vec<Duration> {
        let mut out = Vec::new();
        let mut at = Duration::ZERO;
        while at < span {
            if l.try_acquire_at(class, t0 + at, DAY).is_ok() {
                out.push(at);
            }
            at += step;
        }
        out
    }

    /// No 1 s window (rolling, hence also no calendar second) ever holds more than the limit.
    fn max_in_window(grants: &[Duration], window: Duration) -> usize {
        grants
            .iter()
            .map(|&start| {
                grants
                    .iter()
                    .filter(|&&g| g >= start && g < start + window)
                    .count()
            })
            .max()
            .unwrap_or(0)
    }

    #[test]
    fn orders_hold_per_second_and_per_minute_caps() {
        let l = RateLimiter::new(RateLimits::default());
        let t0 = Instant::now();
        let g = granted(
            &l,
            EndpointClass::Order,
            t0,
            Duration::from_millis(10),
            Duration::from_secs(120),
        );
        assert_eq!(max_in_window(&g, Duration::from_secs(1)), 10);
        assert_eq!(max_in_window(&g, Duration::from_secs(60)), 200);
        // 200 in the first minute, 200 in the second: the minute cap binds, not the second.
        assert_eq!(g.len(), 400);
    }

    #[test]
    fn quote_historical_other_classes_are_separate() {
        let l = RateLimiter::new(RateLimits::default());
        let t0 = Instant::now();
        let step = Duration::from_millis(50);
        let span = Duration::from_secs(3);
        let q = granted(&l, EndpointClass::Quote, t0, step, span);
        let h = granted(&l, EndpointClass::Historical, t0, step, span);
        let o = granted(&l, EndpointClass::Other, t0, step, span);
        assert_eq!(max_in_window(&q, Duration::from_secs(1)), 1);
        assert_eq!(max_in_window(&h, Duration::from_secs(1)), 3);
        assert_eq!(max_in_window(&o, Duration::from_secs(1)), 10);
        assert_eq!(q.len(), 3);
    }

    #[test]
    fn refusal_says_how_long_to_wait() {
        // The 50 ms jitter margin makes the quote window 1.05 s.
        let l = RateLimiter::new(RateLimits::default());
        let t0 = Instant::now();
        assert!(l.try_acquire_at(EndpointClass::Quote, t0, DAY).is_ok());
        let later = t0 + Duration::from_millis(300);
        assert_eq!(
            l.try_acquire_at(EndpointClass::Quote, later, DAY),
            Err(Refusal::Wait(Duration::from_millis(750)))
        );
    }

    #[test]
    fn a_grant_in_flight_holds_its_place_and_counts_from_its_answer() {
        let l = RateLimiter::new(RateLimits {
            quotes_per_second: 1,
            margin_ms: 0,
            ..RateLimits::default()
        });
        let t0 = Instant::now();
        let p = l.try_grant(EndpointClass::Quote, t0, DAY, None).unwrap();
        // Long after the grant, but the request has not come back: still no room.
        let later = t0 + Duration::from_secs(5);
        assert_eq!(
            l.try_acquire_at(EndpointClass::Quote, later, DAY),
            Err(Refusal::Wait(IN_FLIGHT_POLL))
        );
        // Its answer came back at 5 s: the window runs from then, not from the grant.
        l.settle(EndpointClass::Quote, p, later);
        assert_eq!(
            l.try_acquire_at(
                EndpointClass::Quote,
                later + Duration::from_millis(400),
                DAY
            ),
            Err(Refusal::Wait(Duration::from_millis(600)))
        );
        assert!(l
            .try_acquire_at(EndpointClass::Quote, later + Duration::from_secs(1), DAY)
            .is_ok());
    }

    #[test]
    fn a_permit_settles_when_dropped() {
        let l = RateLimiter::new(RateLimits {
            orders_per_second: 1,
            margin_ms: 0,
            ..RateLimits::default()
        });
        let deadline = Instant::now() + Duration::from_secs(5);
        let permit = l.acquire(EndpointClass::Order, deadline).unwrap();
        assert!(matches!(
            l.try_acquire_at(EndpointClass::Order, Instant::now(), DAY),
            Err(Refusal::Wait(w)) if w == IN_FLIGHT_POLL
        ));
        drop(permit);
        match l.try_acquire_at(EndpointClass::Order, Instant::now(), DAY) {
            Err(Refusal::Wait(w)) => assert!(w > IN_FLIGHT_POLL, "{w:?}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn daily_cap_refuses_until_the_next_day() {
        let l = RateLimiter::new(RateLimits {
            orders_per_day: 5,
            ..RateLimits::default()
        });
        let t0 = Instant::now();
        for i in 0..5 {
            l.try_acquire_at(EndpointClass::Order, t0 + Duration::from_secs(i), DAY)
                .unwrap();
        }
        assert_eq!(
            l.try_acquire_at(EndpointClass::Order, t0 + Duration::from_secs(10), DAY),
            Err(Refusal::DailyCapReached(5))
        );
        assert!(l
            .try_acquire_at(EndpointClass::Order, t0 + Duration::from_secs(11), DAY + 1)
            .is_ok());
    }

    #[test]
    fn acquire_blocks_until_the_window_frees() {
        let l = RateLimiter::new(RateLimits {
            quotes_per_second: 1,
            ..RateLimits::default()
        });
        let t0 = Instant::now();
        l.acquire(EndpointClass::Quote, t0 + Duration::from_secs(5))
            .unwrap();
        l.acquire(EndpointClass::Quote, t0 + Duration::from_secs(5))
            .unwrap();
        assert!(t0.elapsed() >= Duration::from_millis(990));
        // A deadline shorter than the wait is refused at once.
        assert!(matches!(
            l.acquire(
                EndpointClass::Quote,
                Instant::now() + Duration::from_millis(10)
            ),
            Err(Refusal::Wait(_))
        ));
    }
}
