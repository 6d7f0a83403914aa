//! The hot threads' plan (wait strategy and cores, after the oversubscription guard) and
//! the feed thread's start; the consumers are started by `pipeline::spawn_consumers`.

use super::*;

/// Which wait strategy and cores the hot threads get, after the oversubscription guard,
/// logged as the operator will want to see it.
pub(super) fn thread_plan(cfg: &AppConfig) -> Result<affinity::ThreadPlan, AppError> {
    let wait = WaitStrategy::parse(&cfg.pipeline.wait).map_err(startup)?;
    let hot_threads = match cfg.pipeline.topology {
        crate::config::Topology::Collapsed => 2,
        crate::config::Topology::Pipeline => 4,
    };
    let plan = affinity::plan(
        wait,
        &cfg.pipeline.cpus,
        hot_threads,
        &affinity::allowed_cpus(),
        cfg.pipeline.downgrade_on_oversubscription,
        cfg.pipeline.hot_slice_us,
    )
    .map_err(startup)?;
    for w in &plan.warnings {
        log::warn!(target: "pipeline", "{w}");
    }
    log::info!(target: "pipeline", topology = format!("{:?}", cfg.pipeline.topology).as_str(), wait = plan.wait.name().as_str(),
        ring_size = cfg.pipeline.ring_size, hot_slice_us = plan.slice_us;
        "Pipeline: {:?} topology, wait {}, hot thread slice {}", cfg.pipeline.topology, plan.wait.name(),
        if plan.slice_us == 0 { "the kernel's default".to_string() } else { format!("{} us", plan.slice_us) });
    Ok(plan)
}

/// Starts the feed thread with the plan's slice, on its first core when pinning, running
/// the sequencer until its end.
pub(super) fn spawn_feed(
    sequencer: Sequencer,
    plan: &affinity::ThreadPlan,
) -> Result<std::thread::JoinHandle<FeedEnd>, AppError> {
    let (cpu, slice) = (plan.cpus.first().copied(), plan.slice_us);
    std::thread::Builder::new()
        .name("aitrapp-feed".into())
        .spawn(move || {
            affinity::settle_hot_thread("aitrapp-feed", cpu, slice);
            sequencer.run()
        })
        .map_err(startup)
}
