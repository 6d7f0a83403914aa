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
    )
    .map_err(startup)?;
    for w in &plan.warnings {
        log::warn!(target: "pipeline", "{w}");
    }
    log::info!(target: "pipeline", topology = format!("{:?}", cfg.pipeline.topology).as_str(), wait = plan.wait.name().as_str(),
        ring_size = cfg.pipeline.ring_size; "Pipeline: {:?} topology, wait {}", cfg.pipeline.topology, plan.wait.name());
    Ok(plan)
}

/// Starts the feed thread on `cpu` (when pinning), running the sequencer until its end.
pub(super) fn spawn_feed(
    sequencer: Sequencer,
    cpu: Option<usize>,
) -> Result<std::thread::JoinHandle<FeedEnd>, AppError> {
    std::thread::Builder::new()
        .name("aitrapp-feed".into())
        .spawn(move || {
            if let Some(c) = cpu {
                affinity::pin_current(c);
            }
            sequencer.run()
        })
        .map_err(startup)
}
