//! From a build renamed into place to its first served call: liveswap's
//! watcher (`deploy::Watcher`) against hot-lib-reloader's watcher on the
//! same plugin.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use liveswap::deploy::{WatchOptions, Watcher};
use liveswap::{Slot, Version};
use liveswap_bench_api::Adder;

use crate::swaps::{Percentiles, percentiles};

/// Rename-to-first-call latency over a number of builds.
#[derive(Debug, Clone, Copy, Default)]
pub struct WatchToServe {
    /// p50 and p99.
    pub latency: Percentiles,
    /// Of which the swap itself (copy, checks, load, publish), as the
    /// slot's history records it.
    pub swap: Percentiles,
    /// Builds renamed into place.
    pub builds: usize,
}

/// `n` builds of the bench plugin (two variants, alternately, so that
/// each differs from the one serving) are written beside the watched file
/// and renamed over it, 150 ms apart (more than the watcher's cooldown);
/// a caller takes `current()` in a loop (yielding between tries) and the
/// time from the rename to its first call on the new generation is
/// recorded.
pub fn watch_to_serve(bench: &Path, n: usize) -> Result<WatchToServe, String> {
    let dir = std::env::temp_dir().join(format!("liveswap-bench-watch-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let result = measure(&dir, bench, n);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn measure(dir: &Path, bench: &Path, n: usize) -> Result<WatchToServe, String> {
    let watched = dir.join("libliveswap_bench_plugin.so");
    let incoming = dir.join(".incoming.so");
    let variants = [
        crate::plugins::tagged(bench, b'A')?,
        crate::plugins::tagged(bench, b'B')?,
    ];
    std::fs::write(&watched, &variants[0]).map_err(|e| e.to_string())?;
    let slot = Arc::new(Slot::<dyn Adder>::load(&watched).map_err(|e| e.to_string())?);
    let watcher = Watcher::start(Arc::clone(&slot), WatchOptions::path(&watched))
        .map_err(|e| format!("cannot watch: {e}"))?;
    std::thread::sleep(Duration::from_millis(200));
    let mut samples = Vec::with_capacity(n);
    let mut swaps = Vec::with_capacity(n);
    for i in 0..n {
        std::fs::write(&incoming, &variants[(i + 1) % 2]).map_err(|e| e.to_string())?;
        let before = slot.generation();
        std::thread::sleep(Duration::from_millis(150));
        let renamed = Instant::now();
        std::fs::rename(&incoming, &watched).map_err(|e| e.to_string())?;
        loop {
            let current = slot.current();
            if Version::generation(&current) != before {
                current
                    .add(1, 2)
                    .map_err(|e| format!("the new build failed its first call: {e}"))?;
                samples.push(renamed.elapsed());
                if let Some(last) = slot.history().pop() {
                    swaps.push(last.steps.total);
                }
                break;
            }
            drop(current);
            if renamed.elapsed() > Duration::from_secs(30) {
                return Err(format!("build {i} not served within 30 s"));
            }
            std::thread::yield_now();
        }
    }
    drop(watcher);
    Ok(WatchToServe {
        latency: percentiles(&mut samples),
        swap: percentiles(&mut swaps),
        builds: n,
    })
}
