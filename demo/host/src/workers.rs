//! Worker threads that call the plugin in a tight loop, each through its own
//! cached reader, and count calls and failures.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Instant;

use liveswap::Slot;
use liveswap_demo_types::Handles;

#[derive(Default)]
struct Counters {
    calls: AtomicU64,
    failed: AtomicU64,
}

/// Running workers.
pub struct Workers {
    stop: Arc<AtomicBool>,
    counters: Vec<Arc<Counters>>,
    threads: Vec<JoinHandle<()>>,
}

/// Calls and failures, all workers together.
#[derive(Debug, Clone, Copy, Default)]
pub struct Totals {
    pub calls: u64,
    pub failed: u64,
}

/// Turns totals into rates between two readings.
pub struct Meter {
    counters: Vec<Arc<Counters>>,
    last: Totals,
    at: Instant,
}

impl Meter {
    /// Calls per second since the last reading, and the failures so far.
    pub fn read(&mut self) -> (f64, Totals) {
        let now = Instant::now();
        let totals = total(&self.counters);
        let secs = now.duration_since(self.at).as_secs_f64().max(1e-9);
        let rate = (totals.calls - self.last.calls) as f64 / secs;
        self.last = totals;
        self.at = now;
        (rate, totals)
    }

    /// How many workers there are.
    pub fn workers(&self) -> usize {
        self.counters.len()
    }
}

fn total(counters: &[Arc<Counters>]) -> Totals {
    counters.iter().fold(Totals::default(), |t, c| Totals {
        calls: t.calls + c.calls.load(Ordering::Relaxed),
        failed: t.failed + c.failed.load(Ordering::Relaxed),
    })
}

/// Starts `n` workers calling `some_fn(7)` on `plugin`.
pub fn start(plugin: &Arc<Slot<dyn Handles>>, n: usize) -> Workers {
    let stop = Arc::new(AtomicBool::new(false));
    let counters: Vec<Arc<Counters>> = (0..n).map(|_| Arc::default()).collect();
    let threads = counters
        .iter()
        .enumerate()
        .map(|(i, counters)| {
            let (plugin, stop, counters) =
                (Arc::clone(plugin), Arc::clone(&stop), Arc::clone(counters));
            std::thread::Builder::new()
                .name(format!("worker-{i}"))
                .spawn(move || {
                    let mut reader = plugin.reader();
                    while !stop.load(Ordering::Relaxed) {
                        match reader.get().some_fn(7) {
                            Ok(answer) if !answer.is_empty() => {
                                counters.calls.fetch_add(1, Ordering::Relaxed);
                            }
                            _ => {
                                counters.failed.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    }
                })
                .expect("spawn a worker thread")
        })
        .collect();
    Workers {
        stop,
        counters,
        threads,
    }
}

impl Workers {
    /// A meter over these workers' counters.
    pub fn meter(&self) -> Meter {
        Meter {
            counters: self.counters.clone(),
            last: total(&self.counters),
            at: Instant::now(),
        }
    }

    /// Stops and joins the workers; returns their totals.
    pub fn stop(self) -> Totals {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads {
            let _ = t.join();
        }
        total(&self.counters)
    }
}
