//! What the benches share (each bench uses part of it).
#![allow(dead_code)]

use hdrhistogram::Histogram;

/// One line of quantiles, in ns.
pub fn print_hist(name: &str, h: &Histogram<u64>) {
    println!(
        "{name}: n={} p50={} ns p90={} ns p99={} ns p99.9={} ns max={} ns",
        h.len(),
        h.value_at_quantile(0.5),
        h.value_at_quantile(0.9),
        h.value_at_quantile(0.99),
        h.value_at_quantile(0.999),
        h.max()
    );
}

/// A number from the environment (a bench's size knob), or `default` when unset or not one.
pub fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
