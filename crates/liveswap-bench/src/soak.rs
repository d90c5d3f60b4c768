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
        hs.wait_drained(Duration::from_secs(30));
        let dir = hs.copy_prefix().to_string_lossy().into_owned();
        let mapped_copies = liveswap::mapped_files()
            .iter()
            .filter(|f| f.starts_with(&dir))
            .count();
        let rss = rss_kib();
        out.push(AfterSwaps {
            swaps: done,
            rss_kib: rss,
            rss_growth_kib: rss as i64 - base,
            mapped_copies,
        });
    }
    Ok(out)
}
