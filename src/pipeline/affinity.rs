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
    /// The scheduler slice each hot thread asks for (`request_slice`), 0 for the default.
    pub slice_us: u32,
    pub warnings: Vec<String>,
}

/// `hot_threads` is how many threads run the wait strategy (feed + stage threads).
pub fn plan(
    wait: WaitStrategy,
    cpus: &[usize],
    hot_threads: usize,
    allowed: &[usize],
    downgrade: bool,
    slice_us: u32,
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
            slice_us,
            warnings,
        });
    }
    Ok(ThreadPlan {
        wait,
        cpus: cpus.to_vec(),
        slice_us,
        warnings,
    })
}

/// What a hot thread does first: asks for the plan's slice, then pins itself to `cpu` when
/// pinning. Either failing is logged and not fatal (the thread runs, less well placed).
pub fn settle_hot_thread(name: &str, cpu: Option<usize>, slice_us: u32) {
    if !request_slice(slice_us) {
        log::warn!(target: "pipeline", thread = name, slice_us = slice_us;
            "{name}: the kernel did not take pipeline.hot_slice_us ({slice_us} us; it needs Linux 6.12+): it keeps the default slice");
    }
    if let Some(c) = cpu {
        if !pin_current(c) {
            log::warn!(target: "pipeline", thread = name, cpu = c; "Could not pin {name} to CPU {c}");
        }
    }
}

/// Pins the calling thread; a failure is reported, not fatal.
pub fn pin_current(cpu: usize) -> bool {
    core_affinity::set_for_current(core_affinity::CoreId { id: cpu })
}

/// Asks the scheduler for a short time slice for the calling thread (Linux 6.12+ EEVDF:
/// `sched_setattr` with `sched_runtime` on a SCHED_OTHER thread, no privilege needed). A
/// shorter slice is an earlier virtual deadline: a woken hot thread then preempts an
/// ordinary thread of the same nice at once instead of queueing behind it until the tick,
/// and is itself preempted less. The nice value is kept, and a thread under a real-time
/// policy (a unit's CPUSchedulingPolicy) is left as it is. Returns whether the slice is now
/// the thread's, read back from /proc (kernels before 6.12 accept the call and ignore it).
pub fn request_slice(slice_us: u32) -> bool {
    // SAFETY: a query of the calling thread's policy.
    if slice_us == 0 || unsafe { libc::sched_getscheduler(0) } != libc::SCHED_OTHER {
        return true;
    }
    // The kernel's `struct sched_attr`, first version (48 bytes).
    #[repr(C)]
    struct SchedAttr {
        size: u32,
        sched_policy: u32,
        sched_flags: u64,
        sched_nice: i32,
        sched_priority: u32,
        sched_runtime: u64,
        sched_deadline: u64,
        sched_period: u64,
    }
    // SAFETY: getpriority and sched_setattr on the calling thread (tid 0) with a valid,
    // fully initialised attribute struct whose size field is its size.
    unsafe {
        *libc::__errno_location() = 0;
        let nice = libc::getpriority(libc::PRIO_PROCESS, 0);
        if nice == -1 && *libc::__errno_location() != 0 {
            return false;
        }
        let attr = SchedAttr {
            size: std::mem::size_of::<SchedAttr>() as u32,
            sched_policy: libc::SCHED_OTHER as u32,
            sched_flags: 0,
            sched_nice: nice,
            sched_priority: 0,
            sched_runtime: slice_us as u64 * 1_000,
            sched_deadline: 0,
            sched_period: 0,
        };
        if libc::syscall(libc::SYS_sched_setattr, 0, &attr as *const SchedAttr, 0u32) != 0 {
            return false;
        }
    }
    own_slice_ns() == Some(slice_us as u64 * 1_000)
}

/// The calling thread's slice in ns as the kernel reports it (absent before EEVDF, 6.6).
fn own_slice_ns() -> Option<u64> {
    let sched = std::fs::read_to_string("/proc/thread-self/sched").ok()?;
    let line = sched
        .lines()
        .find(|l| l.trim_start().starts_with("se.slice"))?;
    line.split(':').nth(1)?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spinners_on_two_cores_downgrade_or_refuse() {
        let allowed = [0, 1];
        let p = plan(WaitStrategy::BusySpin, &[], 2, &allowed, true, 0).unwrap();
        assert_eq!(p.wait, WaitStrategy::Yield);
        assert_eq!(p.warnings.len(), 1);
        assert!(plan(WaitStrategy::BusySpin, &[], 4, &allowed, false, 0).is_err());
        // Two spinners pinned on one core is never allowed.
        assert!(plan(WaitStrategy::BusySpin, &[1, 1], 2, &allowed, false, 0).is_err());
        assert!(plan(WaitStrategy::Yield, &[], 4, &allowed, false, 0).is_ok());
        assert!(plan(WaitStrategy::BusySpin, &[0, 1], 2, &allowed, false, 0).is_ok());
        assert!(plan(WaitStrategy::Yield, &[7], 1, &allowed, false, 0).is_err());
    }

    #[test]
    fn a_requested_slice_is_the_threads_and_its_nice_is_kept() {
        std::thread::spawn(|| {
            // SAFETY: raising the calling thread's own nice needs no privilege.
            unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, 5) };
            let before = own_slice_ns();
            let took = request_slice(250);
            // SAFETY: as above, a read of the calling thread's nice.
            assert_eq!(
                unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) },
                5,
                "nice kept"
            );
            if took {
                assert_eq!(own_slice_ns(), Some(250_000));
            } else {
                // An older kernel: nothing changed.
                assert_eq!(own_slice_ns(), before);
            }
            // Kernels from 6.12 take it: a regression must not pass as an old kernel.
            let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
            let mut v = release
                .trim()
                .split(['.', '-'])
                .map(|x| x.parse::<u32>().unwrap_or(0));
            let (major, minor) = (v.next().unwrap_or(0), v.next().unwrap_or(0));
            if (major, minor) >= (6, 12) {
                assert!(took, "Linux {} should take a custom slice", release.trim());
            }
            assert!(request_slice(0), "0 asks for nothing");
        })
        .join()
        .unwrap();
    }
}
