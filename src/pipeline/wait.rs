//! The disruptor rings wait with the configured `pipeline.wait` strategy.

pub use crate::config::WaitStrategy;

/// The disruptor crate's consumer-side wait for a ring that a stage polls.
impl disruptor::wait_strategies::WaitStrategy for WaitStrategy {
    #[inline]
    fn wait_for(&self, _sequence: disruptor::Sequence) {
        self.idle();
    }
}
