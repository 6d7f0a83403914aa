//! What the benches share.

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
