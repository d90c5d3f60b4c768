//! The lines the demo prints. Each is one line, so that a person can follow
//! it and a test can read it.

use std::path::Path;
use std::time::Duration;

use liveswap::{Slot, State, Stats, Version};
use liveswap_demo_types::Handles;

use crate::workers::Meter;

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

/// What the current version says: `someData` and `someFn 7`.
fn says(plugin: &Slot<dyn Handles>) -> (u64, String) {
    let current = plugin.current();
    let show = |r: Result<String, liveswap::CallError>| match r {
        Ok(text) => format!("{text:?}"),
        Err(e) => format!("<{e}>"),
    };
    (
        Version::generation(&current),
        format!(
            "someData: {} | someFn 7: {}",
            show(current.some_data()),
            show(current.some_fn(7))
        ),
    )
}

/// After the first load.
pub fn loaded(plugin: &Slot<dyn Handles>, path: &Path) -> String {
    let (generation, says) = says(plugin);
    format!(
        "loaded {} as generation {generation}: {says}\n\
         type the path of a plugin to swap to it (the same path again after a rebuild), \
         an empty line for status, Ctrl-D to quit",
        path.display()
    )
}

/// Every interval.
pub fn tick(plugin: &Slot<dyn Handles>, meter: &mut Meter) -> String {
    let (generation, says) = says(plugin);
    let (rate, totals) = meter.read();
    format!(
        "[gen {generation}] {says} | {} workers: {:.0} calls/s, {} failed",
        meter.workers(),
        rate,
        totals.failed
    )
}

/// After a path on standard input.
pub fn swap(plugin: &Slot<dyn Handles>, path: &Path) -> String {
    match plugin.swap(path) {
        Ok(report) => {
            let (_, says) = says(plugin);
            let warnings: String = report
                .warnings
                .iter()
                .map(|w| format!(" | warning: {w}"))
                .collect();
            format!(
                "swap ok: generation {} (was {}) from {} in {} (copy {}, check {}, load {}, publish {}): {says}{warnings}",
                report.generation,
                report.previous,
                path.display(),
                ms(report.total()),
                ms(report.copy),
                ms(report.check),
                ms(report.load),
                ms(report.publish),
            )
        }
        Err(e) => format!(
            "swap refused: {e}; still serving generation {}",
            plugin.generation()
        ),
    }
}

/// After an empty line.
pub fn status(stats: &Stats) -> String {
    let mut line = format!(
        "status: generation {} current; {} live, {} draining, {} pinned, {} unloaded; \
         {} generations loaded in this process",
        stats.current,
        stats.live(),
        stats.draining(),
        stats.pinned(),
        stats.unloaded(),
        stats.loaded_in_process
    );
    if stats.near_generation_limit {
        line.push_str(" (near the platform's limit: plan a restart)");
    }
    for g in &stats.generations {
        let state = match &g.state {
            State::Current => "current".to_string(),
            State::Draining => "draining".to_string(),
            State::Unloaded => "unloaded".to_string(),
            State::Pinned { reason } => format!("pinned ({reason})"),
        };
        line.push_str(&format!(
            "\n  gen {}: {state}, from {}",
            g.generation,
            g.source.display()
        ));
    }
    line
}
