//! How an idle hot thread waits for work, as `pipeline.wait` names it. Only `busy_spin` and
//! `spin_hint` count as spinners that need a core of their own. `adaptive` (the shipped
//! default) spins briefly, then yields, then parks until its producer rings (consumers) or
//! blocks in the source's poll with a short timeout (the feed thread): an idle market costs
//! next to nothing, a burst is met by a spinning thread.

use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitStrategy {
    BusySpin,
    SpinHint,
    Yield,
    SleepUs(u32),
    Adaptive,
}

impl WaitStrategy {
    pub fn parse(s: &str) -> Result<WaitStrategy, String> {
        match s.trim() {
            "busy_spin" => Ok(WaitStrategy::BusySpin),
            "spin_hint" => Ok(WaitStrategy::SpinHint),
            "yield" => Ok(WaitStrategy::Yield),
            "adaptive" => Ok(WaitStrategy::Adaptive),
            other => match other.strip_prefix("sleep_us:").map(|n| n.parse::<u32>()) {
                Some(Ok(n)) if n >= 1 => Ok(WaitStrategy::SleepUs(n)),
                _ => Err(format!(
                    "must be adaptive, busy_spin, spin_hint, yield or sleep_us:N with N >= 1 (got `{other}`)"
                )),
            },
        }
    }

    pub fn is_spinner(self) -> bool {
        matches!(self, WaitStrategy::BusySpin | WaitStrategy::SpinHint)
    }

    /// One idle step, with no memory of the steps before (a full ring, a barrier): adaptive
    /// yields here; its spin-yield-park runs where a thread keeps an `Idler`.
    #[inline]
    pub fn idle(self) {
        match self {
            WaitStrategy::BusySpin => {}
            WaitStrategy::SpinHint => std::hint::spin_loop(),
            WaitStrategy::Yield | WaitStrategy::Adaptive => std::thread::yield_now(),
            WaitStrategy::SleepUs(n) => std::thread::sleep(Duration::from_micros(n as u64)),
        }
    }

    pub fn name(self) -> String {
        match self {
            WaitStrategy::BusySpin => "busy_spin".into(),
            WaitStrategy::SpinHint => "spin_hint".into(),
            WaitStrategy::Yield => "yield".into(),
            WaitStrategy::Adaptive => "adaptive".into(),
            WaitStrategy::SleepUs(n) => format!("sleep_us:{n}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_form() {
        assert_eq!(WaitStrategy::parse("busy_spin"), Ok(WaitStrategy::BusySpin));
        assert_eq!(
            WaitStrategy::parse("sleep_us:50"),
            Ok(WaitStrategy::SleepUs(50))
        );
        assert!(WaitStrategy::parse("sleep_us:0").is_err());
        assert!(WaitStrategy::parse("nap").is_err());
        assert_eq!(WaitStrategy::parse("adaptive"), Ok(WaitStrategy::Adaptive));
        assert!(!WaitStrategy::Adaptive.is_spinner());
        assert!(WaitStrategy::BusySpin.is_spinner() && !WaitStrategy::Yield.is_spinner());
    }
}
