//! CPU pinning and the oversubscription guard: never two spinning threads on one core.

use super::WaitStrategy;

/// CPUs this process may run on (sched_getaffinity), sorted.
pub fn allowed_cpus() -> Vec<usize> {
    let mut out = Vec::new();
    // SAFETY: cpu_set_t is plain data; sched_getaffinity fills it for pid 0 (this thread).
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) == 0 {
            for cpu in 0..libc::CPU_SETSIZE as usize {
                if libc::CPU_ISSET(cpu, &set) {
                    out.push(cpu);
                }
            }
        }
    }
    if out.is_empty() {
        out = (0..std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1))
            .collect();
    }
    out
}

/// The waiting and pinning the pipeline will actually use, after checking the config
/// against the CPU mask.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ThreadPlan {
    pub wait: WaitStrategy,
    pub cpus: Vec<usize>,
    pub warnings: Vec<String>,
}

/// `hot_threads` is how many threads run the wait strategy (feed + stage threads).
pub fn plan(
    wait: WaitStrategy,
    cpus: &[usize],
    hot_threads: usize,
    allowed: &[usize],
    downgrade: bool,
) -> Result<ThreadPlan, String> {
    let mut warnings = Vec::new();
    for c in cpus {
        if !allowed.contains(c) {
            return Err(format!(
                "pipeline.cpus: CPU {c} is not in this process's allowed set {allowed:?}"
            ));
        }
    }
    let mut seen = cpus.to_vec();
    seen.sort_unstable();
    seen.dedup();
    let distinct = if cpus.is_empty() {
        allowed.len()
    } else {
        seen.len()
    };
    // Leave a core for the side threads (control, logger) when nothing is pinned.
    let spinners_fit = if cpus.is_empty() {
        hot_threads < allowed.len()
    } else {
        seen.len() == cpus.len() && hot_threads <= distinct
    };
    if wait.is_spinner() && !spinners_fit {
        let msg = format!(
            "{hot_threads} spinning threads ({}) do not fit {} usable CPU(s) {:?}",
            wait.name(),
            distinct,
            if cpus.is_empty() { allowed } else { cpus }
        );
        if !downgrade {
            return Err(format!("{msg}; refusing to start (set pipeline.wait: yield, or pipeline.downgrade_on_oversubscription: true)"));
        }
        warnings.push(format!("{msg}; downgrading pipeline.wait to yield"));
        return Ok(ThreadPlan {
            wait: WaitStrategy::Yield,
            cpus: cpus.to_vec(),
            warnings,
        });
    }
    Ok(ThreadPlan {
        wait,
        cpus: cpus.to_vec(),
        warnings,
    })
}

/// Pins the calling thread; a failure is reported, not fatal.
pub fn pin_current(cpu: usize) -> bool {
    core_affinity::set_for_current(core_affinity::CoreId { id: cpu })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spinners_on_two_cores_downgrade_or_refuse() {
        let allowed = [0, 1];
        let p = plan(WaitStrategy::BusySpin, &[], 2, &allowed, true).unwrap();
        assert_eq!(p.wait, WaitStrategy::Yield);
        assert_eq!(p.warnings.len(), 1);
        assert!(plan(WaitStrategy::BusySpin, &[], 4, &allowed, false).is_err());
        // Two spinners pinned on one core is never allowed.
        assert!(plan(WaitStrategy::BusySpin, &[1, 1], 2, &allowed, false).is_err());
        assert!(plan(WaitStrategy::Yield, &[], 4, &allowed, false).is_ok());
        assert!(plan(WaitStrategy::BusySpin, &[0, 1], 2, &allowed, false).is_ok());
        assert!(plan(WaitStrategy::Yield, &[7], 1, &allowed, false).is_err());
    }
}
