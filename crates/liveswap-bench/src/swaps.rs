//! Swap latency: `Slot::swap` split into its steps, and
//! hot-lib-reloader's reload of the same plugin.

use std::path::Path;
use std::time::{Duration, Instant};

use liveswap::Slot;

/// p50 and p99 of a set of durations, in microseconds.
#[derive(Debug, Clone, Copy, Default)]
pub struct Percentiles {
    /// Median.
    pub p50_us: f64,
    /// 99th percentile.
    pub p99_us: f64,
}

/// Percentiles of `samples` (sorted here).
pub fn percentiles(samples: &mut [Duration]) -> Percentiles {
    if samples.is_empty() {
        return Percentiles::default();
    }
    samples.sort();
    let at = |q: f64| {
        let i = ((samples.len() as f64 * q).ceil() as usize).clamp(1, samples.len()) - 1;
        samples[i].as_secs_f64() * 1e6
    };
    Percentiles {
        p50_us: at(0.5),
        p99_us: at(0.99),
    }
}

/// Each step of a liveswap swap, over many swaps.
#[derive(Debug, Clone, Copy, Default)]
pub struct SwapLatency {
    /// Reading the file and writing the private copy.
    pub copy: Percentiles,
    /// Parsing and checking the descriptor.
    pub check: Percentiles,
    /// `dlopen`, entry point, constructor.
    pub load: Percentiles,
    /// Publishing to readers.
    pub publish: Percentiles,
    /// All of it.
    pub total: Percentiles,
    /// How many swaps.
    pub swaps: usize,
    /// The plugin's size in bytes.
    pub file_bytes: u64,
}

/// Swaps `path` in `n` times (the same path: each swap maps a fresh copy).
pub fn liveswap<I: liveswap::Interface + ?Sized + 'static>(
    path: &Path,
    options: liveswap::Options,
    n: usize,
) -> Result<SwapLatency, String> {
    let hs = Slot::<I>::load_with(path, options).map_err(|e| e.to_string())?;
    let mut steps: [Vec<Duration>; 5] = Default::default();
    for _ in 0..n {
        let r = hs.swap(path).map_err(|e| e.to_string())?;
        for (v, d) in steps
            .iter_mut()
            .zip([r.copy, r.check, r.load, r.publish, r.total()])
        {
            v.push(d);
        }
    }
    let [copy, check, load, publish, total] = &mut steps;
    Ok(SwapLatency {
        copy: percentiles(copy),
        check: percentiles(check),
        load: percentiles(load),
        publish: percentiles(publish),
        total: percentiles(total),
        swaps: n,
        file_bytes: std::fs::metadata(path).map(|m| m.len()).unwrap_or(0),
    })
}

/// hot-lib-reloader's reloads of the bench plugin.
#[derive(Debug, Clone, Copy, Default)]
pub struct Reloads {
    /// The `update()` call that reloads: close, copy, hash, load.
    pub update: Percentiles,
    /// From the file's change to the reload: its file watcher's delay.
    pub noticed: Percentiles,
    /// How many reloads.
    pub reloads: usize,
}

/// hot-lib-reloader's `LibReloader` for `n` reloads of the bench plugin:
/// the file is rewritten with a different tag each time (it reloads only
/// when the file's hash changes), and `update()` is polled every
/// millisecond until its watcher has noticed.
pub fn hot_lib_reloader(bench: &Path, n: usize) -> Result<Reloads, String> {
    let dir = std::env::temp_dir().join(format!("liveswap-bench-hlr-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let watched = dir.join("libliveswap_bench_plugin.so");
    let variants = [
        crate::plugins::tagged(bench, b'A')?,
        crate::plugins::tagged(bench, b'B')?,
    ];
    std::fs::write(&watched, &variants[0]).map_err(|e| e.to_string())?;
    let mut reloader = hot_lib_reloader::LibReloader::new(
        &dir,
        "liveswap_bench_plugin",
        Some(Duration::from_millis(10)),
        None,
    )
    .map_err(|e| format!("hot-lib-reloader: {e:?}"))?;
    // Its watcher starts on a thread of its own: a change made before that
    // thread watches the file is never seen.
    std::thread::sleep(Duration::from_millis(500));
    let mut update = Vec::with_capacity(n);
    let mut noticed = Vec::with_capacity(n);
    for i in 0..n {
        std::fs::write(&watched, &variants[(i + 1) % 2]).map_err(|e| e.to_string())?;
        let written = Instant::now();
        loop {
            let started = Instant::now();
            let reloaded = reloader
                .update()
                .map_err(|e| format!("hot-lib-reloader: {e:?}"))?;
            if reloaded {
                update.push(started.elapsed());
                noticed.push(written.elapsed());
                break;
            }
            if written.elapsed() > Duration::from_secs(30) {
                return Err(format!(
                    "hot-lib-reloader did not notice change {i} within 30 s"
                ));
            }

            std::thread::sleep(Duration::from_millis(1));
        }
    }
    drop(reloader);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(Reloads {
        update: percentiles(&mut update),
        noticed: percentiles(&mut noticed),
        reloads: n,
    })
}
