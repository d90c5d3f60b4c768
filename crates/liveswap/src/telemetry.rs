//! Numbers for a fleet's monitoring, through the `metrics` facade (feature
//! `metrics`; without it every function here is empty and inlined away).
//! The host installs a recorder (such as `metrics-exporter-prometheus`);
//! without one, `metrics` drops the values.
//!
//! | name | kind | labels |
//! |---|---|---|
//! | `liveswap_swaps_total` | counter | `interface`, `kind` (`swap`, `rollback`), `outcome` (`ok`, `refused`) |
//! | `liveswap_rollbacks_total` | counter | `interface`, `cause`: the history's trigger (`rollback` by the host's code, `control`, `probation`) |
//! | `liveswap_swap_step_seconds` | histogram | `interface`, `step` (`copy`, `check`, `load`, `publish`) |
//! | `liveswap_generation` | gauge | `interface`: the generation serving |
//! | `liveswap_versions` | gauge | `interface`, `state` (`draining`, `pinned`) |
//! | `liveswap_generations_loaded` | gauge | loaded by this process since it started, all slots |
//! | `liveswap_generations_mapped` | gauge | mapped by this process now, all slots (pinned included) |
//! | `liveswap_pthread_keys_free` | gauge | pthread keys the process can still create; swaps are refused below `KEY_RESERVE` |
//! | `liveswap_plugin_panics_total` | counter | panics caught in plugins and returned as errors |
//!
//! Every counter is registered at zero when a slot starts, so that a
//! `rate()` over it, or an alert on it, has a value before anything
//! happened. Nothing here is on the read path: calls that do not panic
//! touch none of it.

/// A slot's gauges, as plain numbers (read only with feature `metrics`).
#[cfg_attr(not(feature = "metrics"), allow(dead_code))]
pub(crate) struct Gauges {
    pub current: u64,
    pub draining: usize,
    pub pinned: usize,
    pub loaded_in_process: u64,
    pub mapped_in_process: u64,
    pub free_pthread_keys: Option<usize>,
    pub heap_live: u64,
    pub heap_reclaimed: u64,
    pub heap_left: u64,
}

#[cfg(feature = "metrics")]
mod enabled {
    use super::Gauges;
    use crate::history::{Attempt, Outcome};

    pub(crate) fn attempt(interface: &'static str, attempt: &Attempt) {
        let published = matches!(attempt.outcome, Outcome::Published { .. });
        let outcome = if published { "ok" } else { "refused" };
        let kind = attempt.kind.as_str();
        metrics::counter!("liveswap_swaps_total", "interface" => interface, "kind" => kind, "outcome" => outcome)
            .increment(1);
        if published {
            let steps = &attempt.steps;
            for (step, took) in [
                ("copy", steps.copy),
                ("check", steps.check),
                ("load", steps.load),
                ("publish", steps.publish),
            ] {
                metrics::histogram!("liveswap_swap_step_seconds", "interface" => interface, "step" => step)
                    .record(took.as_secs_f64());
            }
        }
    }

    pub(crate) fn rollback(interface: &'static str, cause: &'static str) {
        metrics::counter!("liveswap_rollbacks_total", "interface" => interface, "cause" => cause)
            .increment(1);
    }

    pub(crate) fn states(interface: &'static str, gauges: &Gauges) {
        metrics::gauge!("liveswap_generation", "interface" => interface).set(gauges.current as f64);
        metrics::gauge!("liveswap_versions", "interface" => interface, "state" => "draining")
            .set(gauges.draining as f64);
        metrics::gauge!("liveswap_versions", "interface" => interface, "state" => "pinned")
            .set(gauges.pinned as f64);
        metrics::gauge!("liveswap_generations_loaded").set(gauges.loaded_in_process as f64);
        metrics::gauge!("liveswap_generations_mapped").set(gauges.mapped_in_process as f64);
        if let Some(free) = gauges.free_pthread_keys {
            metrics::gauge!("liveswap_pthread_keys_free").set(free as f64);
        }
        metrics::gauge!("liveswap_heap_live_bytes", "interface" => interface)
            .set(gauges.heap_live as f64);
        metrics::gauge!("liveswap_heap_reclaimed_bytes").set(gauges.heap_reclaimed as f64);
        metrics::gauge!("liveswap_heap_left_bytes").set(gauges.heap_left as f64);
    }

    #[cold]
    pub(crate) fn plugin_panic() {
        metrics::counter!("liveswap_plugin_panics_total").increment(1);
    }

    /// Every counter of a slot, at zero, when it starts: a `rate()` or an
    /// alert over a series nothing has touched yet has a value.
    pub(crate) fn started(interface: &'static str) {
        for kind in ["swap", "rollback"] {
            for outcome in ["ok", "refused"] {
                metrics::counter!("liveswap_swaps_total", "interface" => interface, "kind" => kind, "outcome" => outcome)
                    .increment(0);
            }
        }
        for cause in ["rollback", "control", "probation"] {
            metrics::counter!("liveswap_rollbacks_total", "interface" => interface, "cause" => cause)
                .increment(0);
        }
        metrics::counter!("liveswap_plugin_panics_total").increment(0);
    }
}

#[cfg(not(feature = "metrics"))]
mod enabled {
    use super::Gauges;
    use crate::history::Attempt;

    #[inline(always)]
    pub(crate) fn attempt(_: &'static str, _: &Attempt) {}
    #[inline(always)]
    pub(crate) fn rollback(_: &'static str, _: &'static str) {}
    #[inline(always)]
    pub(crate) fn states(_: &'static str, _: &Gauges) {}
    #[inline(always)]
    pub(crate) fn plugin_panic() {}
    #[inline(always)]
    pub(crate) fn started(_: &'static str) {}
}

pub(crate) use enabled::{attempt, plugin_panic, rollback, started, states};
