//! Side-by-side measurements of liveswap: the read path against a plain
//! function pointer, locks and two peer crates (hot-lib-reloader,
//! dynamic_reload); swap latency; callers during a swap storm; memory after
//! thousands of swaps; warm-start snapshot and restore. The `liveswap-bench` binary runs them all in one
//! process and prints a table (and, with `--json`, one JSON object);
//! `cargo bench -p liveswap-bench` runs the read path under criterion.
//!
//! Every subject calls the same function of the same plugin
//! (`liveswap-bench-plugin`): `add(a, b)`, so what differs is only how the
//! call reaches the plugin.

pub mod big_files;
pub mod calls;
pub mod histogram;
pub mod plugins;
pub mod read_path;
pub mod soak;
pub mod state;
pub mod storm;
pub mod swaps;
pub mod trust;
pub mod watch;

/// The demo plugin's host service, as the bench lends it.
struct DemoHost;

impl liveswap_demo_types::Host for DemoHost {
    fn uptime_secs(&self) -> u64 {
        0
    }
}

/// What a host of the demo plugin must give it: the `Host` service it
/// imports.
pub fn demo_options() -> liveswap::Options {
    liveswap::Options::default()
        .provide::<dyn liveswap_demo_types::Host, _>(std::sync::Arc::new(DemoHost))
}

/// The bench plugin through hot-lib-reloader: every call takes its
/// `RwLock` read lock and looks the symbol up (what its macro generates).
/// It watches `libliveswap_bench_plugin.so` in the release directory of
/// the target directory this binary was built into.
#[hot_lib_reloader::hot_module(
    dylib = "liveswap_bench_plugin",
    lib_dir = crate::plugins::release_dir(),
    file_watch_debounce = 10
)]
pub mod hot_adder {
    hot_functions_from_file!("crates/liveswap-bench-plugin/src/plain.rs");
}
