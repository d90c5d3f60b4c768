//! The lines the demo prints. Each is one line, so that a person can follow
//! it and a test can read it.

use std::path::Path;
use std::time::Duration;

use liveswap::{Options, Slot, StateReport, Stats, Version, check::TrustedKey, stats::State};
use liveswap_demo_types::Handles;

use crate::workers::Meter;

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

/// Runs `future` to completion on this thread (the demo has no async
/// runtime; a host with one awaits instead).
fn wait<F: std::future::Future>(future: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl std::task::Wake for Unpark {
        fn wake(self: std::sync::Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = std::task::Waker::from(std::sync::Arc::new(Unpark(std::thread::current())));
    let mut cx = std::task::Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        if let std::task::Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        std::thread::park();
    }
}

/// What the current version says: `someData`, `someFn 7` and, awaited,
/// `someAsync 7`.
pub fn says(plugin: &Slot<dyn Handles>) -> (u64, String) {
    let current = plugin.current();
    let show = |r: Result<String, liveswap::CallError>| match r {
        Ok(text) => format!("{text:?}"),
        Err(e) => format!("<{e}>"),
    };
    (
        Version::generation(&current),
        format!(
            "someData: {} | someFn 7: {} | someAsync 7: {}",
            show(current.some_data()),
            show(current.some_fn(7)),
            show(wait(current.some_async(7)))
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
            let mut extra = String::new();
            if let Some(signer) = &report.signer {
                extra.push_str(&format!(
                    "\n  signed by key {}: {}",
                    signer.key_id, signer.trusted_comment
                ));
            }
            for warning in &report.warnings {
                extra.push_str(&format!("\n  warning: {warning}"));
            }
            extra.push_str(&state(&report.state));
            format!(
                "swap ok: generation {} (was {}) from {} in {} (copy {}, check {}, load {}, publish {}): {says}",
                report.generation,
                report.previous,
                path.display(),
                ms(report.total()),
                ms(report.copy),
                ms(report.check),
                ms(report.load),
                ms(report.publish),
            ) + &extra
        }
        Err(e) => format!(
            "swap refused: {e}; still serving generation {}",
            plugin.generation()
        ),
    }
}

/// What a swap did with the plugin's state, as an indented line (none for
/// plugins without state).
fn state(state: &StateReport) -> String {
    let schema = |s: Option<u32>| s.map_or("none".to_string(), |s| s.to_string());
    if let Some(why) = &state.cold {
        return format!("\n  state NOT carried, started cold: {why}");
    }
    match (state.from_schema, state.to_schema) {
        (None, None) => String::new(),
        _ if state.restored => format!(
            "\n  state carried: schema {} -> {}, {} bytes, snapshot {}",
            schema(state.from_schema),
            schema(state.to_schema),
            state.bytes,
            ms(state.snapshot)
        ),
        (from, to) => format!(
            "\n  state not carried: schema {} -> {}",
            schema(from),
            schema(to)
        ),
    }
}

/// After an empty line.
pub fn status(stats: &Stats) -> String {
    let mut line = format!(
        "status: generation {} current; {} live, {} draining, {} pinned, {} unloaded; \
         {} libraries mapped in this process ({} loaded since it started)",
        stats.current,
        stats.live(),
        stats.draining(),
        stats.pinned(),
        stats.unloaded(),
        stats.mapped_in_process,
        stats.loaded_in_process
    );
    if stats.near_generation_limit {
        line.push_str(" (few pthread keys left: pinned generations keep theirs)");
    }
    for g in &stats.generations {
        line.push_str(&format!(
            "\n  gen {}: {}, from {}",
            g.generation,
            state_text(&g.state),
            g.source.display()
        ));
    }
    line
}

/// The load options the command line asks for.
pub fn options(
    key_files: &[std::path::PathBuf],
    allow_unsafe_path: bool,
) -> Result<Options, String> {
    let keys = key_files
        .iter()
        .map(TrustedKey::from_file)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    let options = Options::new().trusted_keys(keys);
    Ok(if allow_unsafe_path {
        options.allow_unsafe_path()
    } else {
        options
    })
}

/// Which trust policy is in force, in one line.
pub fn policy(options: &Options) -> String {
    let paths = if options.unsafe_path_allowed() {
        "safe-path policy RELAXED (--allow-unsafe-path: plugins others can write are loaded)"
    } else {
        "safe-path policy on"
    };
    let keys = options.trusted_key_ids();
    let signatures = if keys.is_empty() {
        "signatures not required".to_string()
    } else {
        format!("signatures required (trusted keys: {})", keys.join(", "))
    };
    format!("policy: {paths}; {signatures}")
}

/// A generation's state in words, with the reason when it is pinned.
fn state_text(state: &State) -> String {
    match state {
        State::Current => "current".into(),
        State::Draining => "draining".into(),
        State::Unloaded => "unloaded".into(),
        State::Pinned { reason } => format!("pinned ({reason})"),
    }
}

/// A watcher's event (`--watch`), or `None` for one not worth a line.
/// The caller appends what the plugin now says.
pub fn watched(event: &liveswap::deploy::WatchEvent) -> Option<String> {
    use liveswap::deploy::WatchEvent;
    Some(match event {
        WatchEvent::Swapped(report) => format!(
            "watch: swap ok: generation {} (was {}) from {} in {}",
            report.generation,
            report.previous,
            report.source.display(),
            ms(report.total())
        ),
        WatchEvent::Refused { error, .. } => format!("watch: swap refused: {error}"),
        WatchEvent::Missing { path } => format!(
            "watch: {} is not there now (removed, or being rebuilt); the serving generation goes on",
            path.display()
        ),
        WatchEvent::Unchanged { path } => format!(
            "watch: {} holds the bytes already serving; not loaded again",
            path.display()
        ),
        WatchEvent::WatchError { message } => format!("watch: watcher error: {message}"),
        _ => return None,
    })
}

/// Lines for the attempts made since `since` by the control socket or
/// probation (the demo prints its own swaps and the watcher's as they
/// happen); moves `since` past them.
pub fn operated(
    history: &[liveswap::history::Attempt],
    since: &mut std::time::SystemTime,
) -> Vec<String> {
    use liveswap::history::{Outcome, Trigger};
    let mut lines = Vec::new();
    let from = *since;
    for a in history.iter().filter(|a| a.at > from) {
        *since = (*since).max(a.at);
        if !matches!(a.trigger, Trigger::Control | Trigger::Probation) {
            continue;
        }
        let what = format!("{}: {}", a.trigger.as_str(), a.kind.as_str());
        lines.push(match &a.outcome {
            Outcome::Published {
                generation,
                previous,
            } => format!(
                "{what} ok: generation {generation} (was {previous}) from {}{}",
                a.source.display(),
                a.error
                    .as_ref()
                    .map(|why| format!(" ({why})"))
                    .unwrap_or_default()
            ),
            Outcome::Unchanged => format!("{what}: the same bytes already serve; not loaded"),
            _ => format!(
                "{what} refused: {}",
                a.error.as_deref().unwrap_or("no reason recorded")
            ),
        });
    }
    lines
}
