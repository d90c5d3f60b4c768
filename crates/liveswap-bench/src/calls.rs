//! The cost of a call by kind, one thread: a plain method of the plugin
//! (export), a host service called from the plugin (import), and an async
//! method started and polled once to completion (its overhead over the
//! plain call: boxing the future, one poll across, dropping it), a call
//! returning a `String` the plugin allocated (its block adopted by the
//! host), and what an allocation costs plugin code (recorded in its heap
//! account) against the same allocation in the host.

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use liveswap::{Options, Slot};
use liveswap_bench_api::{Adder, HostAdder};

/// The host's adder lent to the plugin.
struct Host;

impl HostAdder for Host {
    fn add(&self, a: i64, b: i64) -> i64 {
        a.wrapping_add(b)
    }
}

/// ns per call of each kind (medians of `rounds` rounds of `iters` calls).
#[derive(Debug, Clone, Copy)]
pub struct Calls {
    pub export_call_ns: f64,
    pub import_call_ns: f64,
    pub async_call_ns: f64,
    pub async_call_overhead_ns: f64,
    /// A call returning a 16-byte `String` allocated by the plugin.
    pub string_call_ns: f64,
    /// One 64-byte allocation and free by plugin code.
    pub plugin_alloc_free_ns: f64,
    /// The same, by host code.
    pub host_alloc_free_ns: f64,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Loads the bench plugin at `path` with the host's adder lent, and times
/// each kind of call.
pub fn measure(path: &Path, iters: u64, rounds: usize) -> Result<Calls, String> {
    let slot = Slot::<dyn Adder>::load_with(
        path,
        Options::default().provide::<dyn HostAdder, _>(Arc::new(Host)),
    )
    .map_err(|e| e.to_string())?;
    let version = slot.current_owned();
    // (0 + 1) + (1 + 1) + (2 + 1)
    if version.add_through_host(3).map_err(|e| e.to_string())? != 6 {
        return Err("the plugin does not reach the host's adder".into());
    }
    let time = |f: &dyn Fn()| {
        median(
            (0..rounds)
                .map(|_| {
                    let started = Instant::now();
                    f();
                    started.elapsed().as_nanos() as f64 / iters as f64
                })
                .collect(),
        )
    };
    let export_call_ns = time(&|| {
        for i in 0..iters as i64 {
            black_box(version.add(black_box(i), 1).unwrap_or_default());
        }
    });
    let import_call_ns = time(&|| {
        black_box(
            version
                .add_through_host(black_box(iters))
                .unwrap_or_default(),
        );
    });
    let async_call_ns = time(&|| {
        let mut cx = Context::from_waker(Waker::noop());
        for i in 0..iters as i64 {
            let mut future = version.add_async(black_box(i), 1);
            let ready = std::pin::Pin::new(&mut future).poll(&mut cx);
            if let Poll::Ready(v) = ready {
                black_box(v.unwrap_or_default());
            }
        }
    });
    let string_call_ns = time(&|| {
        for _ in 0..iters {
            black_box(version.text(black_box(16)).unwrap_or_default());
        }
    });
    let plugin_alloc_free_ns = time(&|| {
        black_box(version.churn(black_box(iters), 64).unwrap_or_default());
    });
    let host_alloc_free_ns = time(&|| {
        black_box(liveswap_bench_api::churn(black_box(iters), 64));
    });
    Ok(Calls {
        string_call_ns,
        plugin_alloc_free_ns,
        host_alloc_free_ns,
        export_call_ns,
        import_call_ns,
        async_call_ns,
        async_call_overhead_ns: async_call_ns - export_call_ns,
    })
}
