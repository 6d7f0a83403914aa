//! The /metrics histograms as the bench reads them: cumulative buckets, their quantiles
//! (as Prometheus' `histogram_quantile` takes them) and a bootstrap of the p99.

/// One histogram's cumulative buckets (upper bound in seconds, count) and its sum.
#[derive(Clone, Default)]
pub struct Buckets {
    pub cum: Vec<(f64, u64)>,
    pub sum: f64,
}

impl Buckets {
    /// The series `name` with `labels` (like `stage="risk"`, or empty) from a /metrics body.
    pub fn parse(body: &str, name: &str, labels: &str) -> Buckets {
        let sep = if labels.is_empty() { "" } else { "," };
        let bucket = format!("aitrapp_{name}_bucket{{{labels}{sep}le=\"");
        let sum = if labels.is_empty() {
            format!("aitrapp_{name}_sum ")
        } else {
            format!("aitrapp_{name}_sum{{{labels}}} ")
        };
        let mut b = Buckets::default();
        for line in body.lines() {
            if let Some(rest) = line.strip_prefix(bucket.as_str()) {
                let Some((le, n)) = rest.split_once("\"} ") else {
                    continue;
                };
                let le = if le == "+Inf" {
                    f64::INFINITY
                } else {
                    le.parse().unwrap_or(f64::NAN)
                };
                b.cum.push((le, n.trim().parse().unwrap_or(0)));
            } else if let Some(v) = line.strip_prefix(sum.as_str()) {
                b.sum = v.trim().parse().unwrap_or(0.0);
            }
        }
        b
    }

    /// What was observed between `self` (earlier) and `later`.
    pub fn since(&self, later: &Buckets) -> Buckets {
        Buckets {
            cum: later
                .cum
                .iter()
                .zip(&self.cum)
                .map(|(&(le, b), &(_, a))| (le, b.saturating_sub(a)))
                .collect(),
            sum: later.sum - self.sum,
        }
    }

    pub fn count(&self) -> u64 {
        self.cum.last().map_or(0, |&(_, n)| n)
    }

    /// The q-quantile in seconds, linear inside its bucket (Prometheus' histogram_quantile).
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let total = self.count();
        if total == 0 {
            return None;
        }
        let rank = q * total as f64;
        let (mut lo, mut below) = (0.0, 0u64);
        for &(le, n) in &self.cum {
            if n as f64 >= rank {
                if le.is_infinite() {
                    return Some(lo);
                }
                let inside = (n - below).max(1) as f64;
                return Some(lo + (le - lo) * (rank - below as f64) / inside);
            }
            (lo, below) = (le, n);
        }
        None
    }

    pub fn mean(&self) -> Option<f64> {
        let n = self.count();
        (n > 0).then(|| self.sum / n as f64)
    }

    /// As many draws as were counted, with replacement, from this histogram's buckets: one
    /// bootstrap replicate (the sum is left out; only quantiles are read from it).
    pub fn resample(&self, rng: &mut XorShift) -> Buckets {
        let total = self.count();
        let mut hits = vec![0u64; self.cum.len()];
        for _ in 0..total {
            let u = rng.below(total);
            // The first bucket whose cumulative count passes u.
            let at = self
                .cum
                .partition_point(|&(_, n)| n <= u)
                .min(hits.len() - 1);
            hits[at] += 1;
        }
        let mut running = 0;
        Buckets {
            cum: self
                .cum
                .iter()
                .zip(hits)
                .map(|(&(le, _), h)| {
                    running += h;
                    (le, running)
                })
                .collect(),
            sum: 0.0,
        }
    }
}

/// xorshift64*: the bootstrap's draws need to be cheap and repeatable, not good for crypto.
pub struct XorShift(u64);

impl XorShift {
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) % n.max(1)
    }
}

/// The 5th and 95th percentiles of the p99's change (percent, load against quiet) over
/// bootstrap replicates of both sides: how far sampling alone moves a p99 resting on a few
/// hundred intents.
pub fn p99_change_interval(quiet: &Buckets, loaded: &Buckets) -> Option<(f64, f64)> {
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let mut changes: Vec<f64> = (0..2000)
        .filter_map(|_| {
            let q = quiet.resample(&mut rng).quantile(0.99)?;
            let l = loaded.resample(&mut rng).quantile(0.99)?;
            Some((l - q) / q * 100.0)
        })
        .collect();
    if changes.is_empty() {
        return None;
    }
    changes.sort_by(f64::total_cmp);
    let at = |q: f64| changes[((changes.len() - 1) as f64 * q).round() as usize];
    Some((at(0.05), at(0.95)))
}
