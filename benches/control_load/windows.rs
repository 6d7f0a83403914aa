//! Measured windows: what happened between two readings, pooled by kind (and without the
//! ones the host stole from), and printed as the bench's table rows.

use super::histogram::{p99_change_interval, Buckets};
use super::{Load, Reading};

/// What happened between two readings; windows of the same kind add up.
#[derive(Clone, Default)]
pub struct Window {
    pub secs: f64,
    pub cpu_ticks: u64,
    pub steal_ticks: u64,
    pub ticks: u64,
    pub strategy: Buckets,
    pub risk: Buckets,
    pub intent: Buckets,
}

impl Window {
    pub fn between(a: &Reading, b: &Reading) -> Window {
        Window {
            secs: (b.at - a.at).as_secs_f64(),
            cpu_ticks: b.process_ticks.saturating_sub(a.process_ticks),
            steal_ticks: b.steal_ticks.saturating_sub(a.steal_ticks),
            ticks: b.ticks.saturating_sub(a.ticks),
            strategy: a.strategy.since(&b.strategy),
            risk: a.risk.since(&b.risk),
            intent: a.intent.since(&b.intent),
        }
    }

    pub fn add(&mut self, w: &Window) {
        let sum = |x: &Buckets, y: &Buckets| {
            if x.cum.is_empty() {
                return y.clone();
            }
            Buckets {
                cum: x
                    .cum
                    .iter()
                    .zip(&y.cum)
                    .map(|(&(le, a), &(_, b))| (le, a + b))
                    .collect(),
                sum: x.sum + y.sum,
            }
        };
        self.secs += w.secs;
        self.cpu_ticks += w.cpu_ticks;
        self.steal_ticks += w.steal_ticks;
        self.ticks += w.ticks;
        self.strategy = sum(&self.strategy, &w.strategy);
        self.risk = sum(&self.risk, &w.risk);
        self.intent = sum(&self.intent, &w.intent);
    }
}

fn us(s: Option<f64>) -> String {
    s.map_or("n/a".into(), |s| format!("{:.1}", s * 1e6))
}

pub fn row(phase: &str, w: &Window, load: Option<&Load>) -> String {
    let hz = 100.0; // USER_HZ on Linux
    let cpu = w.cpu_ticks as f64 / hz / w.secs * 100.0;
    let steal = w.steal_ticks as f64 / hz / w.secs * 1e3;
    let load_cols = match load {
        Some(l) => format!(
            "{:.0} | {} | {:.2} / {:.2}",
            l.answered as f64 / w.secs,
            l.failed,
            l.answer_us.value_at_quantile(0.5) as f64 / 1e3,
            l.answer_us.value_at_quantile(0.99) as f64 / 1e3
        ),
        None => "0 | 0 | -".into(),
    };
    let (s, r, i) = (&w.strategy, &w.risk, &w.intent);
    format!(
        "| {phase} | {:.0} | {load_cols} | {:.0} | {cpu:.1} | {steal:.1} | {} | {} / {} | {} / {} | {} | {} / {} |",
        w.secs,
        w.ticks as f64 / w.secs,
        s.count(),
        us(s.quantile(0.5)),
        us(s.quantile(0.99)),
        us(r.quantile(0.5)),
        us(r.quantile(0.99)),
        i.count(),
        us(i.quantile(0.5)),
        us(i.quantile(0.99)),
    )
}

/// The host may take this share of the machine's time (steal) in a window before the window
/// is left out of the second pool: a virtual machine whose cores the host takes away stalls
/// with or without our load, and a single such stall sets a window's p99.
pub const STEAL_LIMIT: f64 = 0.01;

/// One measured window, in the order run.
pub struct Measured {
    /// The session's day, numbered as run.
    pub day: usize,
    pub window: Window,
    pub load: Option<Load>,
}

impl Measured {
    pub fn stolen(&self) -> bool {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
        self.window.steal_ticks as f64 / 100.0 > STEAL_LIMIT * cores * self.window.secs
    }
}

/// Windows pooled by kind.
pub struct Pool {
    pub quiet: Window,
    pub loaded: Window,
    pub load: Load,
}

impl Pool {
    pub fn of<'a>(windows: impl Iterator<Item = &'a Measured>) -> Pool {
        let mut p = Pool {
            quiet: Window::default(),
            loaded: Window::default(),
            load: Load::empty(),
        };
        for m in windows {
            match &m.load {
                Some(l) => {
                    p.loaded.add(&m.window);
                    p.load.add(l);
                }
                None => p.quiet.add(&m.window),
            }
        }
        p
    }

    pub fn print(&self, what: &str) {
        let (q, l) = (&self.quiet, &self.loaded);
        if q.secs == 0.0 || l.secs == 0.0 {
            return println!("| **{what}** | no window of each kind |");
        }
        println!("{}", row(&format!("**quiet, {what}**"), q, None));
        println!("{}", row(&format!("**load, {what}**"), l, Some(&self.load)));
    }

    pub fn print_changes(&self, what: &str) {
        let (q, l) = (&self.quiet, &self.loaded);
        let change = |q: Option<f64>, l: Option<f64>| match (q, l) {
            (Some(q), Some(l)) => format!("{:+.1}%", (l - q) / q * 100.0),
            _ => "n/a".into(),
        };
        println!(
            "{what}: under load vs quiet: feed->risk p99 {}, p50 {}, mean {}; tick->intent p99 {} ({} and {} samples)",
            change(q.risk.quantile(0.99), l.risk.quantile(0.99)),
            change(q.risk.quantile(0.5), l.risk.quantile(0.5)),
            change(q.risk.mean(), l.risk.mean()),
            change(q.intent.quantile(0.99), l.intent.quantile(0.99)),
            q.intent.count(),
            l.intent.count(),
        );
        if let Some((lo, hi)) = p99_change_interval(&q.intent, &l.intent) {
            println!("  tick->intent p99 change, 90% bootstrap interval: {lo:+.1}% to {hi:+.1}%");
        }
    }
}

/// Each loaded window's feed->risk p99 change against the quiet windows run next to it on
/// the same day (their mean), leaving out windows the host stole from: the spread of these
/// says whether a pooled change is the load or the day.
pub fn pair_changes(windows: &[Measured]) -> Vec<f64> {
    let p99 = |m: &Measured| m.window.risk.quantile(0.99).filter(|_| !m.stolen());
    let mut out = Vec::new();
    for (i, m) in windows.iter().enumerate() {
        let Some(l) = p99(m).filter(|_| m.load.is_some()) else {
            continue;
        };
        let beside: Vec<f64> = [i.checked_sub(1), Some(i + 1)]
            .into_iter()
            .flatten()
            .filter_map(|j| windows.get(j))
            .filter(|q| q.day == m.day && q.load.is_none())
            .filter_map(p99)
            .collect();
        if !beside.is_empty() {
            let q = beside.iter().sum::<f64>() / beside.len() as f64;
            out.push((l - q) / q * 100.0);
        }
    }
    out
}
