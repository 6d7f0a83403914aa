//! `POST /strategies/reload` and `/universe/reload`: the config (and the ban list) re-read,
//! refused whole with every problem when invalid, else handed to the strategy stage through
//! the sequencer; and the daily rollover that rebuilds the universe for a new trading day.

use super::*;

/// What the reload endpoints need: the config file to re-read, and the channel to the
/// strategy stage with its acknowledgements.
pub struct Reloader {
    pub config_path: PathBuf,
    pub base_dir: PathBuf,
    pub master: Arc<InstrumentMaster>,
    pub updates: Sender<StrategyUpdate>,
    pub acks: Receiver<ReloadAck>,
    /// With the Kite ticker: a universe reload's new subscriptions, to the feed thread.
    pub subscriptions: Option<Sender<Vec<(u32, crate::domain::TickMode)>>>,
    /// What the running stage was built with and a reload cannot change (bars are
    /// preallocated per size): `(websocket.aggregation_windows, websocket.bar_history,
    /// indicators)`.
    pub fixed: (Vec<u32>, u32, crate::config::IndicatorsConfig),
    /// Previous-day turnover by master index (rupees), for the liquidity cut on reload.
    pub turnover: Arc<Vec<Option<f64>>>,
    /// Measures the previous day's turnover afresh for a new trading day (LIVE: Kite's
    /// historical candles through the rate limiter; it takes a while, so it runs on its own
    /// thread). None: the turnover from the start is kept.
    pub turnover_source: Option<TurnoverSource>,
}

/// A new day's date in, that day's previous-session turnover by master index out.
pub type TurnoverSource = Arc<dyn Fn(crate::domain::Date) -> Vec<Option<f64>> + Send + Sync>;

/// Notices the exchange date changing under a running engine (not the first date seen).
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct DayWatch {
    day: Option<crate::domain::Date>,
}

impl DayWatch {
    /// The new date when `exchange_ts` (epoch seconds, 0 = none yet) starts a later day.
    pub(super) fn rolled(&mut self, exchange_ts: u32) -> Option<crate::domain::Date> {
        if exchange_ts == 0 {
            return None;
        }
        let d = crate::clock::ist_date(exchange_ts as i64);
        let prev = self.day.replace(d);
        match prev {
            Some(p) if p < d => Some(d),
            _ => None,
        }
    }
}

impl ControlApi {
    /// The universe rebuilt for a new trading day, as `POST /universe/reload`.
    pub(super) fn rollover(&mut self, d: crate::domain::Date) {
        let (code, body) = self.reload("/universe/reload", Instant::now());
        log::info!(target: "control", date = d.to_string().as_str(), status = code;
            "Daily rollover to {d}: universe rebuilt ({code}) {body}");
    }

    /// Re-reads the config file (and for the universe the F&O ban list), refuses it whole with
    /// every problem if it is invalid, else hands the new parameters to the strategy stage
    /// through the sequencer and waits for it to apply them.
    pub(super) fn reload(&mut self, path: &str, t0: Instant) -> Reply {
        let Some(r) = &self.reloader else {
            return (
                409,
                json!({"error": "this run has no config file to reload from"}),
            );
        };
        // Only the strategies and universe sections are used, so no environment overlay.
        let cfg = match config::load(&r.config_path, &Environment::default()) {
            Ok(c) => c,
            Err(e) => {
                log::error!(target: "control", path = path; "Reload refused: {}", e.to_string().trim_end());
                let problems: Vec<String> = e
                    .problems
                    .iter()
                    .map(|p| format!("{}: {}", p.path, p.message))
                    .collect();
                return (
                    400,
                    json!({"error": format!("{} is not valid; nothing changed", e.file), "problems": problems}),
                );
            }
        };
        let fixed = (
            cfg.websocket.aggregation_windows.clone(),
            cfg.websocket.bar_history,
            cfg.indicators.clone(),
        );
        if path == "/strategies/reload" && fixed != r.fixed {
            log::error!(target: "control", "Strategies reload refused: bar sizes, bar history or indicator periods changed; these need a restart");
            return (
                400,
                json!({"error": "websocket.aggregation_windows, websocket.bar_history and indicators.* cannot change while running; restart to apply them; nothing changed"}),
            );
        }
        let request = self.next_request;
        self.next_request += 1;
        while r.acks.try_recv().is_ok() {}
        let (update, command, detail) = if path == "/strategies/reload" {
            let st = &cfg.strategies;
            let detail = json!({
                "orb": {
                    "enabled": st.orb.enabled,
                    "window_min": st.orb.window_min,
                    "breakout_confirmation_ticks": st.orb.breakout_confirmation_ticks,
                    "rr_min": st.orb.rr_min,
                    "max_positions": st.orb.max_positions,
                },
                "trend_pullback": {
                    "enabled": st.trend_pullback.enabled,
                    "max_positions": st.trend_pullback.max_positions,
                },
                "vwap_reversion": {
                    "enabled": st.vwap_reversion.enabled,
                    "max_positions": st.vwap_reversion.max_positions,
                },
                "options_ranker": {
                    "enabled": st.options_ranker.enabled,
                    "strategy_type": format!("{:?}", st.options_ranker.strategy_type),
                    "ivp_min": st.options_ranker.ivp_min,
                    "ivp_max": st.options_ranker.ivp_max,
                    "max_positions": st.options_ranker.max_positions,
                },
                "ranking": {"enabled": cfg.ranking.enabled, "top_n": cfg.ranking.top_n},
            });
            (
                StrategyUpdate::Strategies {
                    request,
                    strategies: Box::new(st.clone()),
                    ranking: Box::new(cfg.ranking.clone()),
                },
                ControlCommand::ReloadStrategies {
                    request,
                    max_positions: st.max_positions(),
                },
                detail,
            )
        } else {
            let ban_path = crate::config::resolve_path(&r.base_dir, &cfg.universe.ban_list_file);
            let banned = match crate::universe::read_ban_list(&ban_path) {
                Ok(b) => b,
                Err(e) => {
                    log::error!(target: "control", "Universe reload refused: {e}");
                    return (400, json!({"error": e}));
                }
            };
            if let Some(why) = banned.staleness(crate::clock::today_ist()) {
                log::warn!(target: "universe", "{why}");
            }
            let mut universe = crate::universe::build_universe(&r.master, &cfg, &banned.symbols);
            let cut = crate::universe::turnover::rank_by_turnover(
                &r.master,
                &cfg.universe,
                &r.turnover,
                &mut universe,
            );
            if let Some(tx) = &r.subscriptions {
                let tokens = crate::universe::ticker_tokens(&cfg, &r.master, &universe);
                if tokens.len()
                    > crate::feed::kite_ws::MAX_TOKENS_PER_CONNECTION
                        * crate::feed::kite_ws::MAX_CONNECTIONS
                {
                    return (
                        400,
                        json!({"error": format!("the new universe needs {} streamed instruments, over Kite's 9000", tokens.len())}),
                    );
                }
                // Sent with the command: the ticker moves while the strategy switches.
                let _ = tx.try_send(tokens);
            }
            let detail = json!({
                "banned": banned.symbols,
                "ban_list_date": banned.date.map(|d| d.to_string()),
                "below_turnover_threshold": cut.below_threshold,
                "outside_turnover_top_n": cut.outside_top_n,
                "instruments": r.master.len(),
                "ban_list": ban_path.display().to_string(),
            });
            (
                StrategyUpdate::Universe { request, universe },
                ControlCommand::ReloadUniverse { request },
                detail,
            )
        };
        if r.updates.try_send(update).is_err() {
            return (
                503,
                json!({"error": "strategy stage has not taken the previous reload yet; try again"}),
            );
        }
        if let Err(e) = self.submit(command) {
            return e;
        }
        let Some(ack) = reply_for(&r.acks, Duration::from_secs(5), |a| a.request == request) else {
            return (
                504,
                json!({"error": "the strategy stage did not apply the reload within 5 s; check the log"}),
            );
        };
        let elapsed_ms = t0.elapsed().as_secs_f64() * 1000.0;
        log::info!(target: "control", path = path, tradable = ack.tradable, orb_enabled = ack.orb_enabled, elapsed_ms = elapsed_ms;
            "{} applied: {} tradable instruments, ORB {} ({:.1} ms)",
            if path == "/strategies/reload" { "Strategies reload" } else { "Universe reload" },
            ack.tradable, if ack.orb_enabled { "enabled" } else { "disabled" }, elapsed_ms);
        let mut body = json!({
            "status": "reloaded",
            "tradable_instruments": ack.tradable,
            "orb_enabled": ack.orb_enabled,
            "elapsed_ms": elapsed_ms,
        });
        if let (Some(b), Some(d)) = (body.as_object_mut(), detail.as_object()) {
            b.extend(d.clone());
        }
        (200, body)
    }
}

#[cfg(test)]
mod rollover_tests {
    use super::DayWatch;
    use crate::clock::{ist_epoch, TimeOfDay};
    use crate::domain::Date;

    #[test]
    fn only_a_later_day_is_a_rollover() {
        let at = |d: u32, h: u32| ist_epoch(Date(d), TimeOfDay::hm(h, 0)) as u32;
        let mut w = DayWatch::default();
        assert_eq!(w.rolled(0), None);
        assert_eq!(
            w.rolled(at(20261202, 9)),
            None,
            "the first date seen is not a rollover"
        );
        assert_eq!(w.rolled(at(20261202, 15)), None);
        assert_eq!(w.rolled(at(20261203, 9)), Some(Date(20261203)));
        assert_eq!(w.rolled(at(20261203, 10)), None);
    }
}
