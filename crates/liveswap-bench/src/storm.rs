//! Callers during a swap storm: two threads call as fast as they can and
//! time every call, with no swaps and then with a swap every 10 ms, through
//! liveswap and through an `RwLock` design whose swap holds the write lock
//! while it loads (as hot-lib-reloader's does).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use libloading::os::unix::Library;
use liveswap::Slot;
use liveswap_bench_api::{Adder, PLAIN_ADD, PlainAdd};

use crate::histogram::Histogram;

/// What the callers saw.
#[derive(Debug, Clone, Copy, Default)]
pub struct Callers {
    /// Calls per second, both threads together.
    pub calls_per_sec: f64,
    /// Median call latency (ns, timer included).
    pub p50_ns: u64,
    /// 99th percentile.
    pub p99_ns: u64,
    /// 99.9th percentile: where calls blocked behind a swap show.
    pub p999_ns: u64,
    /// Slowest call.
    pub max_ns: u64,
    /// Swaps done meanwhile.
    pub swaps: u64,
}

const CALLERS: usize = 2;

/// Runs `CALLERS` timed callers of `call` for `duration`, while `swap` is
/// called every `every` (if any) on another thread.
fn run(
    duration: Duration,
    every: Option<Duration>,
    call: &(dyn Fn(i64) -> i64 + Sync),
    swap: &(dyn Fn() + Sync),
) -> Callers {
    let done = AtomicBool::new(false);
    let swaps = AtomicU64::new(0);
    let (hist, calls) = std::thread::scope(|s| {
        let callers: Vec<_> = (0..CALLERS)
            .map(|_| {
                s.spawn(|| {
                    let mut h = Histogram::default();
                    let mut i = 0i64;
                    while !done.load(Ordering::Relaxed) {
                        let t = Instant::now();
                        std::hint::black_box(call(std::hint::black_box(i)));
                        h.record(t.elapsed().as_nanos() as u64);
                        i = i.wrapping_add(1);
                    }
                    h
                })
            })
            .collect();
        if let Some(every) = every {
            let (done, swaps) = (&done, &swaps);
            s.spawn(move || {
                let mut next = Instant::now() + every;
                while !done.load(Ordering::Relaxed) {
                    std::thread::sleep(next.saturating_duration_since(Instant::now()));
                    next += every;
                    swap();
                    swaps.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        std::thread::sleep(duration);
        done.store(true, Ordering::Relaxed);
        let mut all = Histogram::default();
        for c in callers {
            all.merge(&c.join().expect("caller thread"));
        }
        let calls = all.count();
        (all, calls)
    });
    Callers {
        calls_per_sec: calls as f64 / duration.as_secs_f64(),
        p50_ns: hist.quantile(0.5),
        p99_ns: hist.quantile(0.99),
        p999_ns: hist.quantile(0.999),
        max_ns: hist.max(),
        swaps: swaps.load(Ordering::Relaxed),
    }
}

/// liveswap: callers take `current()` per call; the swapper swaps the bench
/// plugin in again.
pub fn liveswap(
    plugin: &Path,
    duration: Duration,
    every: Option<Duration>,
) -> Result<Callers, String> {
    let hs = Slot::<dyn Adder>::load(plugin).map_err(|e| e.to_string())?;
    let failed = AtomicBool::new(false);
    let result = run(
        duration,
        every,
        &|i| hs.current().add(i, 1).unwrap_or_default(),
        &|| {
            if hs.swap(plugin).is_err() {
                failed.store(true, Ordering::Relaxed);
            }
        },
    );
    if failed.load(Ordering::Relaxed) {
        return Err("a liveswap swap failed during the storm".into());
    }
    Ok(result)
}

/// The plain function of one loaded copy.
struct Loaded {
    add: PlainAdd,
    _library: Library,
    copy: PathBuf,
}

impl Drop for Loaded {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.copy);
    }
}

fn load_copy(plugin: &Path, n: u64) -> Result<Loaded, String> {
    let copy = std::env::temp_dir().join(format!(
        "liveswap-bench-rwlock-{}-{n}.so",
        std::process::id()
    ));
    std::fs::copy(plugin, &copy).map_err(|e| e.to_string())?;
    // SAFETY: the bench plugin, built by this compiler; the symbol is the
    // plain `fn(i64, i64) -> i64`, used only while `_library` lives.
    unsafe {
        let library = Library::open(
            Some(copy.as_os_str()),
            libloading::os::unix::RTLD_NOW | libloading::os::unix::RTLD_LOCAL,
        )
        .map_err(|e| e.to_string())?;
        let add = *library
            .get::<PlainAdd>(PLAIN_ADD)
            .map_err(|e| e.to_string())?;
        Ok(Loaded {
            add,
            _library: library,
            copy,
        })
    }
}

/// The `RwLock` design: callers take the read lock per call; a swap takes
/// the write lock, unloads the old copy and loads the new one under it.
pub fn rwlock(
    plugin: &Path,
    duration: Duration,
    every: Option<Duration>,
) -> Result<Callers, String> {
    let counter = AtomicU64::new(0);
    let slot = Arc::new(RwLock::new(load_copy(plugin, 0)?));
    let failed = AtomicBool::new(false);
    let result = run(
        duration,
        every,
        &|i| slot.read().map(|l| (l.add)(i, 1)).unwrap_or_default(),
        &|| {
            let mut guard = slot.write().unwrap_or_else(|p| p.into_inner());
            let n = counter.fetch_add(1, Ordering::Relaxed) + 1;
            match load_copy(plugin, n) {
                Ok(next) => *guard = next,
                Err(_) => failed.store(true, Ordering::Relaxed),
            }
        },
    );
    if failed.load(Ordering::Relaxed) {
        return Err("an RwLock-design swap failed during the storm".into());
    }
    Ok(result)
}
