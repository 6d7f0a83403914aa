//! Moving averages: EMA seeded by the simple mean of its first n values, and a windowed SMA.

/// Exponential moving average (TA-Lib seeding: SMA of the first n inputs, then k = 2/(n+1)).
#[derive(Clone, Copy, Debug)]
pub struct Ema {
    n: usize,
    k: f64,
    seen: usize,
    sum: f64,
    value: f64,
}

impl Ema {
    pub fn new(n: usize) -> Ema {
        let n = n.max(1);
        Ema {
            n,
            k: 2.0 / (n as f64 + 1.0),
            seen: 0,
            sum: 0.0,
            value: 0.0,
        }
    }

    pub fn update(&mut self, x: f64) -> Option<f64> {
        self.seen += 1;
        if self.seen < self.n {
            self.sum += x;
            return None;
        }
        if self.seen == self.n {
            self.value = (self.sum + x) / self.n as f64;
        } else {
            self.value += self.k * (x - self.value);
        }
        Some(self.value)
    }
}

/// Simple moving average over the last n inputs. Integer inputs keep the running sums exact,
/// so a day of updates does not drift. The window is allocated once.
#[derive(Clone, Debug)]
pub struct Sma {
    window: Vec<i64>,
    next: usize,
    filled: usize,
    sum: i128,
    sum_sq: i128,
}

impl Sma {
    pub fn new(n: usize) -> Sma {
        Sma {
            window: vec![0; n.max(1)],
            next: 0,
            filled: 0,
            sum: 0,
            sum_sq: 0,
        }
    }

    #[cfg(test)]
    pub(super) fn capacity(&self) -> usize {
        self.window.capacity()
    }

    /// Adds x; the mean once n values have been seen.
    pub fn update(&mut self, x: i64) -> Option<f64> {
        let n = self.window.len();
        if self.filled == n {
            let old = self.window[self.next] as i128;
            self.sum -= old;
            self.sum_sq -= old * old;
        } else {
            self.filled += 1;
        }
        self.window[self.next] = x;
        self.next = (self.next + 1) % n;
        self.sum += x as i128;
        self.sum_sq += x as i128 * x as i128;
        self.mean()
    }

    pub fn mean(&self) -> Option<f64> {
        let n = self.window.len();
        (self.filled == n).then(|| self.sum as f64 / n as f64)
    }

    /// Population standard deviation of the window (exact integer sums, one square root).
    pub fn std_dev(&self) -> Option<f64> {
        let n = self.window.len() as i128;
        if self.filled as i128 != n {
            return None;
        }
        let var_n2 = n * self.sum_sq - self.sum * self.sum;
        Some((var_n2.max(0) as f64).sqrt() / n as f64)
    }
}
