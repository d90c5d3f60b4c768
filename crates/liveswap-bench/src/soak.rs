//! Soak cost: memory and mapped copies after many swaps.

use std::path::Path;
use std::time::Duration;

use liveswap::Slot;
use liveswap_bench_api::Adder;

/// The process after a number of swaps.
#[derive(Debug, Clone, Copy)]
pub struct AfterSwaps {
    /// Swaps done.
    pub swaps: u64,
    /// Resident set size, KiB.
    pub rss_kib: u64,
    /// RSS growth since the first version was loaded, KiB.
    pub rss_growth_kib: i64,
    /// Plugin copies mapped in the process.
    pub mapped_copies: usize,
    /// Whether every replaced version was unloaded within the drain wait;
    /// when not, the other figures are not a steady state.
    pub drained: bool,
}

/// How long a soak waits for the reaper before saying "drain timed out".
pub const DRAIN_WAIT: Duration = Duration::from_secs(30);

fn mapped_copies<I: liveswap::Interface + ?Sized + 'static>(hs: &Slot<I>) -> usize {
    let prefix = hs.copy_prefix().to_string_lossy().into_owned();
    liveswap::stats::mapped_files()
        .iter()
        .filter(|f| f.starts_with(&prefix))
        .count()
}

/// The soak under load: `swaps` swaps while 2 threads call the plugin and
/// 2 more spin, so the reaper competes for a saturated CPU.
pub fn soak_busy(plugin: &Path, swaps: u64) -> Result<AfterSwaps, String> {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let hs = Arc::new(Slot::<dyn Adder>::load(plugin).map_err(|e| e.to_string())?);
    for _ in 0..20 {
        hs.swap(plugin).map_err(|e| e.to_string())?;
    }
    hs.wait_drained(DRAIN_WAIT);
    let base = rss_kib() as i64;
    let done = Arc::new(AtomicBool::new(false));
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let (hs, done) = (Arc::clone(&hs), Arc::clone(&done));
            std::thread::spawn(move || {
                let mut x = 0i64;
                while !done.load(Ordering::Relaxed) {
                    x = if t < 2 {
                        hs.current().add(x, 1).unwrap_or_default()
                    } else {
                        std::hint::black_box(x.wrapping_mul(31).wrapping_add(1))
                    };
                }
            })
        })
        .collect();
    let mut result = Ok(());
    for _ in 0..swaps {
        if let Err(e) = hs.swap(plugin) {
            result = Err(e.to_string());
            break;
        }
    }
    done.store(true, Ordering::Relaxed);
    for t in threads {
        let _ = t.join();
    }
    result?;
    let drained = hs.wait_drained(DRAIN_WAIT);
    let rss = rss_kib();
    Ok(AfterSwaps {
        swaps,
        rss_kib: rss,
        rss_growth_kib: rss as i64 - base,
        mapped_copies: mapped_copies(&*hs),
        drained,
    })
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// Swaps `plugin` in again and again; reads the process at each of
/// `checkpoints` (ascending swap counts).
pub fn soak(plugin: &Path, checkpoints: &[u64]) -> Result<Vec<AfterSwaps>, String> {
    let hs = Slot::<dyn Adder>::load(plugin).map_err(|e| e.to_string())?;
    let base = rss_kib() as i64;
    let mut done = 0;
    let mut out = Vec::new();
    for &target in checkpoints {
        while done < target {
            hs.swap(plugin).map_err(|e| e.to_string())?;
            done += 1;
        }
        let drained = hs.wait_drained(DRAIN_WAIT);
        let rss = rss_kib();
        out.push(AfterSwaps {
            swaps: done,
            rss_kib: rss,
            rss_growth_kib: rss as i64 - base,
            mapped_copies: mapped_copies(&hs),
            drained,
        });
    }
    Ok(out)
}
