//! The loader with big files: a real plugin padded to 200 MB swapped in,
//! against `cp` of the same file on the same disk; and a 2 GiB sparse file
//! refused. Peak RSS is read from `VmHWM` after resetting it
//! (`/proc/self/clear_refs`); shared memory from `RssShmem` and the
//! system's `Shmem`.

use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use liveswap::{Slot, stats::Storage};
use liveswap_demo_types::Handles;

/// A 200 MB plugin swapped in, beside `cp`.
#[derive(Debug, Clone, Copy)]
pub struct BigSwap {
    /// File size, bytes.
    pub file_bytes: u64,
    /// `cp` of the file to the same directory, median, ms.
    pub cp_ms: f64,
    /// `swap()` to the file, median, ms.
    pub swap_ms: f64,
    /// Peak RSS growth during the swaps, MB.
    pub peak_rss_mb: f64,
    /// Growth of the system's shared memory while the big version serves, MB.
    pub shmem_mb: f64,
    /// Where the copy went.
    pub on_disk: bool,
}

/// A 2 GiB sparse file refused.
#[derive(Debug, Clone, Copy)]
pub struct Refusal {
    /// Time to the error, ms.
    pub ms: f64,
    /// Peak RSS growth, MB.
    pub peak_rss_mb: f64,
}

/// A field of `/proc/self/status`, KiB.
pub(crate) fn status_kib(field: &str) -> u64 {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(field))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

fn system_shmem_kib() -> u64 {
    fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Shmem:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// Resets `VmHWM` to the current RSS; returns the RSS, KiB.
pub(crate) fn reset_peak() -> u64 {
    let _ = fs::write("/proc/self/clear_refs", "5");
    status_kib("VmRSS:")
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Pads `plugin` with pseudo-random bytes to 200 MB in a fresh directory
/// under `work`, then times `cp` and `swap` of it `rounds` times each.
pub fn big_swap(plugin: &Path, work: &Path, rounds: usize) -> Result<BigSwap, String> {
    let dir = work.join(format!("liveswap-bench-big-{}", std::process::id()));
    fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let result = big_swap_in(plugin, &dir, rounds);
    let _ = fs::remove_dir_all(&dir);
    result
}

fn big_swap_in(plugin: &Path, dir: &Path, rounds: usize) -> Result<BigSwap, String> {
    const SIZE: u64 = 200 << 20;
    let big = dir.join("libbig.so");
    let mut bytes = fs::read(plugin).map_err(|e| e.to_string())?;
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    while (bytes.len() as u64) < SIZE {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        bytes.extend_from_slice(&x.to_le_bytes());
    }
    fs::File::create(&big)
        .and_then(|mut f| f.write_all(&bytes))
        .map_err(|e| e.to_string())?;
    drop(bytes);

    let mut cp = Vec::new();
    for _ in 0..rounds {
        let dest = dir.join("cp-copy.so");
        let t = Instant::now();
        let ok = Command::new("cp")
            .arg(&big)
            .arg(&dest)
            .status()
            .map_err(|e| e.to_string())?
            .success();
        cp.push(t.elapsed().as_secs_f64() * 1e3);
        let _ = fs::remove_file(&dest);
        if !ok {
            return Err("cp failed".into());
        }
    }

    let hs =
        Slot::<dyn Handles>::load_with(plugin, crate::demo_options()).map_err(|e| e.to_string())?;
    let shmem_before = system_shmem_kib();
    let rss_before = reset_peak();
    let mut swap = Vec::new();
    let mut shmem_mb = 0.0;
    let mut on_disk = true;
    for _ in 0..rounds {
        let t = Instant::now();
        hs.swap(&big).map_err(|e| e.to_string())?;
        swap.push(t.elapsed().as_secs_f64() * 1e3);
        on_disk &= liveswap::Version::storage(&hs.current()) == Storage::Disk;
        shmem_mb = f64::max(
            shmem_mb,
            (system_shmem_kib() as f64 - shmem_before as f64) / 1024.0,
        );
        hs.swap(plugin).map_err(|e| e.to_string())?;
        hs.wait_drained(Duration::from_secs(30));
    }
    let peak = status_kib("VmHWM:");
    Ok(BigSwap {
        file_bytes: SIZE,
        cp_ms: median(cp),
        swap_ms: median(swap),
        peak_rss_mb: (peak as f64 - rss_before as f64) / 1024.0,
        shmem_mb,
        on_disk,
    })
}

/// Swaps to a 2 GiB sparse file (under `work`) and times the refusal.
pub fn refuse_sparse(plugin: &Path, work: &Path) -> Result<Refusal, String> {
    let sparse = work.join(format!("liveswap-bench-sparse-{}.so", std::process::id()));
    let made = fs::File::create(&sparse).and_then(|f| f.set_len(2 << 30));
    let result = made.map_err(|e| e.to_string()).and_then(|()| {
        let hs = Slot::<dyn Handles>::load_with(plugin, crate::demo_options())
            .map_err(|e| e.to_string())?;
        let rss_before = reset_peak();
        let t = Instant::now();
        let refused = hs.swap(&sparse).is_err();
        let ms = t.elapsed().as_secs_f64() * 1e3;
        let peak = status_kib("VmHWM:");
        if !refused {
            return Err("a 2 GiB sparse file was accepted".into());
        }
        Ok(Refusal {
            ms,
            peak_rss_mb: (peak as f64 - rss_before as f64) / 1024.0,
        })
    });
    let _ = fs::remove_file(&sparse);
    result
}
