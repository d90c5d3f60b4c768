//! The read path: the cost of one call of `add(a, 1)` through each way of
//! reaching the plugin, on one thread and on several at once.

use std::hint::black_box;
use std::path::Path;
use std::sync::{Arc, Barrier, Mutex, RwLock};
use std::time::Instant;

use libloading::os::unix::Library;
use liveswap::{Slot, Version};
use liveswap_bench_api::{Adder, PLAIN_ADD, PlainAdd};

/// Everything the read path is measured through, loaded once.
pub struct Subjects {
    /// liveswap's handle.
    pub liveswap: Slot<dyn Adder>,
    /// The plain function, resolved once: the floor.
    pub floor: PlainAdd,
    _floor_library: Library,
    /// A version behind a read-write lock.
    pub rwlock: RwLock<Arc<Version<dyn Adder>>>,
    /// A version behind a mutex.
    pub mutex: Mutex<Arc<Version<dyn Adder>>>,
    /// dynamic_reload's handle on the plugin.
    pub dynamic_reload: Arc<dynamic_reload::Lib>,
}

/// dynamic_reload's reloader, which must outlive its libraries but is not
/// `Sync`, so it stays with the caller.
pub struct DynamicReloadKeeper(#[allow(dead_code)] dynamic_reload::DynamicReload);

impl Subjects {
    /// Loads the bench plugin at `path` every way.
    pub fn load(path: &Path) -> Result<(Subjects, DynamicReloadKeeper), String> {
        let liveswap = Slot::<dyn Adder>::load(path).map_err(|e| e.to_string())?;
        // SAFETY: the bench plugin's initialisers are the plain Rust ones.
        let library = unsafe {
            Library::open(
                Some(path.as_os_str()),
                libloading::os::unix::RTLD_NOW | libloading::os::unix::RTLD_LOCAL,
            )
        }
        .map_err(|e| e.to_string())?;
        // SAFETY: `add` is the plugin's `#[no_mangle] pub fn(i64, i64) ->
        // i64`, built by this compiler; the library stays loaded as long as
        // `Subjects` (it is kept beside the pointer).
        let floor: PlainAdd =
            *unsafe { library.get::<PlainAdd>(PLAIN_ADD) }.map_err(|e| e.to_string())?;
        let dir = path.parent().ok_or("plugin path has no directory")?;
        let dir = dir.to_string_lossy().into_owned();
        let mut reload = dynamic_reload::DynamicReload::new(
            Some(vec![dir.as_str()]),
            Some(dir.as_str()),
            dynamic_reload::Search::Default,
            std::time::Duration::from_secs(1),
        );
        // SAFETY: as for `Library::open` above.
        let dynamic = unsafe {
            reload.add_library("liveswap_bench_plugin", dynamic_reload::PlatformName::Yes)
        }
        .map_err(|e| format!("dynamic_reload: {e:?}"))?;
        let version = liveswap.current_owned();
        Ok((
            Subjects {
                floor,
                _floor_library: library,
                rwlock: RwLock::new(Arc::clone(&version)),
                mutex: Mutex::new(version),
                liveswap,
                dynamic_reload: dynamic,
            },
            DynamicReloadKeeper(reload),
        ))
    }
}

/// Where a measuring thread runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// The `k`-th measuring thread on the `k`-th CPU the process may use,
    /// so that the scheduler neither moves it nor puts the two on one CPU.
    Pinned,
    /// Wherever the scheduler puts it, as a caller's threads usually run.
    Floating,
}

/// Nanoseconds per call of `make()`'s closure on one thread and, per
/// thread, on two threads calling at once: each thread calls `iters`
/// times; the median of `rounds` rounds of each. The one- and two-thread
/// rounds alternate, so that both figures of a row see the same machine
/// (measuring all of one before all of the other put the machine's drift
/// in the ratio).
pub fn per_call<F, M>(iters: u64, rounds: usize, placement: Placement, make: M) -> (f64, f64)
where
    M: Fn() -> F + Sync,
    F: FnMut(i64) -> i64,
{
    let (mut one, mut two): (Vec<f64>, Vec<f64>) = (0..rounds)
        .map(|_| {
            (
                round(1, iters, placement, &make),
                round(2, iters, placement, &make),
            )
        })
        .unzip();
    (median(&mut one), median(&mut two))
}

/// The median of `values` (not empty).
fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// One round: ns per call, averaged over `threads` threads calling at
/// once, each `iters` times after a warm-up of a tenth of that.
fn round<F, M>(threads: usize, iters: u64, placement: Placement, make: &M) -> f64
where
    M: Fn() -> F + Sync,
    F: FnMut(i64) -> i64,
{
    let barrier = Barrier::new(threads);
    let per_thread: Vec<f64> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|k| {
                let barrier = &barrier;
                s.spawn(move || {
                    if placement == Placement::Pinned
                        && let Err(why) = pin_to_cpu(k)
                    {
                        warn_unpinned(&why);
                    }
                    let mut f = make();
                    for i in 0..iters / 10 {
                        black_box(f(black_box(i as i64)));
                    }
                    barrier.wait();
                    let start = Instant::now();
                    let mut acc = 0i64;
                    for i in 0..iters {
                        acc = acc.wrapping_add(f(black_box(i as i64)));
                    }
                    black_box(acc);
                    start.elapsed().as_nanos() as f64 / iters as f64
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("measuring thread"))
            .collect()
    });
    per_thread.iter().sum::<f64>() / threads as f64
}

/// Moves the calling thread to the `k`-th CPU the process may use (the
/// first, when it may use fewer); says why when the thread is not pinned
/// as the rows are labelled (refused, or fewer than 2 CPUs to share).
fn pin_to_cpu(k: usize) -> Result<(), String> {
    use rustix::thread::{CpuSet, sched_getaffinity, sched_setaffinity};
    let allowed = sched_getaffinity(None).map_err(|e| format!("sched_getaffinity failed: {e}"))?;
    let cpus: Vec<usize> = (0..CpuSet::MAX_CPU)
        .filter(|&c| allowed.is_set(c))
        .collect();
    let Some(&cpu) = cpus.get(k).or(cpus.first()) else {
        return Err("no CPU allowed".into());
    };
    let mut set = CpuSet::new();
    set.set(cpu);
    sched_setaffinity(None, &set)
        .map_err(|e| format!("sched_setaffinity to CPU {cpu} failed: {e}"))?;
    if cpus.len() < 2 {
        return Err(format!(
            "{} CPU allowed: the two measuring threads share it",
            cpus.len()
        ));
    }
    Ok(())
}

/// Says once, on stderr, that the pinned rows are not pinned as labelled.
fn warn_unpinned(why: &str) {
    static SAID: std::sync::Once = std::sync::Once::new();
    SAID.call_once(|| {
        eprintln!("warning: read-path rows not pinned as labelled ({why})");
    });
}

/// One measured subject.
#[derive(Debug, Clone)]
pub struct Row {
    /// Which way the call went.
    pub name: &'static str,
    /// ns per call, one thread.
    pub one_thread: f64,
    /// ns per call, per thread, two threads at once.
    pub two_threads: f64,
}

/// Measures every subject on one and on two threads, each measuring
/// thread pinned to a CPU of its own; then the floor and `current()` again
/// with the threads left to the scheduler (rows named `unpinned: ...`).
pub fn measure(s: &Subjects, iters: u64, rounds: usize) -> Vec<Row> {
    let lib_reloader_iters = iters / 20; // about 20x slower; keep the time sane
    let mut rows = Vec::new();
    let mut row = |name, one_thread, two_threads| {
        rows.push(Row {
            name,
            one_thread,
            two_threads,
        })
    };
    macro_rules! both {
        ($name:expr, $iters:expr, $make:expr) => {
            both!($name, $iters, Placement::Pinned, $make)
        };
        ($name:expr, $iters:expr, $placement:expr, $make:expr) => {{
            let (one, two) = per_call($iters, rounds, $placement, $make);
            row($name, one, two)
        }};
    }
    let floor = s.floor;
    // Each body is inlined into the measuring loop, as it is in a caller's
    // own loop: left to itself the compiler outlines the larger ones
    // (`current()`, the locks), which then also pay a call and a frame.
    both!("floor (fn pointer)", iters, || {
        #[inline(always)]
        move |i| (black_box(floor))(i, 1)
    });
    both!("current() + call", iters, || {
        #[inline(always)]
        |i| s.liveswap.current().add(i, 1).unwrap_or_default()
    });
    both!("cached reader", iters, || {
        let mut reader = s.liveswap.reader();
        #[inline(always)]
        move |i| reader.get().add(i, 1).unwrap_or_default()
    });
    both!("current_owned() + call", iters, || {
        #[inline(always)]
        |i| s.liveswap.current_owned().add(i, 1).unwrap_or_default()
    });
    both!("RwLock<Arc<_>> + call", iters, || {
        #[inline(always)]
        |i| {
            s.rwlock
                .read()
                .map(|v| v.add(i, 1).unwrap_or_default())
                .unwrap_or_default()
        }
    });
    both!("Mutex<Arc<_>> + call", iters, || {
        #[inline(always)]
        |i| {
            s.mutex
                .lock()
                .map(|v| v.add(i, 1).unwrap_or_default())
                .unwrap_or_default()
        }
    });
    both!("hot-lib-reloader", lib_reloader_iters.max(1), || {
        #[inline(always)]
        |i| crate::hot_adder::add(i, 1)
    });
    both!(
        "dynamic_reload (symbol per call)",
        lib_reloader_iters.max(1),
        || {
            #[inline(always)]
            |i| {
                // SAFETY: `add` has this signature (see `Subjects::load`);
                // the library is kept alive by the `Arc<Lib>`.
                unsafe {
                    let add: dynamic_reload::Symbol<PlainAdd> =
                        s.dynamic_reload.lib.get(PLAIN_ADD).unwrap();
                    add(i, 1)
                }
            }
        }
    );
    both!(
        "unpinned: floor (fn pointer)",
        iters,
        Placement::Floating,
        || {
            #[inline(always)]
            move |i| (black_box(floor))(i, 1)
        }
    );
    both!(
        "unpinned: current() + call",
        iters,
        Placement::Floating,
        || {
            #[inline(always)]
            |i| s.liveswap.current().add(i, 1).unwrap_or_default()
        }
    );
    rows
}

#[cfg(test)]
mod tests {
    use super::pin_to_cpu;
    use rustix::thread::{CpuSet, sched_getaffinity, sched_setaffinity};

    fn allowed() -> Vec<usize> {
        let set = sched_getaffinity(None).expect("sched_getaffinity");
        (0..CpuSet::MAX_CPU).filter(|&c| set.is_set(c)).collect()
    }

    #[test]
    fn the_second_measuring_thread_is_pinned_to_the_second_allowed_cpu() {
        std::thread::spawn(|| {
            let before = allowed();
            let pinned = pin_to_cpu(1);
            // With one CPU allowed, the first, and the reason said.
            let expected = *before.get(1).unwrap_or(&before[0]);
            assert_eq!(allowed(), vec![expected]);
            assert_eq!(pinned.is_ok(), before.len() >= 2, "{pinned:?}");
        })
        .join()
        .expect("pinning thread");
    }

    #[test]
    fn a_thread_left_one_cpu_is_said_to_share_it() {
        std::thread::spawn(|| {
            let mut one = CpuSet::new();
            one.set(allowed()[0]);
            sched_setaffinity(None, &one).expect("sched_setaffinity");
            let why = pin_to_cpu(1).expect_err("one CPU is not two");
            assert!(why.contains("1 CPU allowed"), "{why}");
        })
        .join()
        .expect("pinning thread");
    }
}
