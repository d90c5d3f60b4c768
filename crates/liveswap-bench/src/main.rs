//! `liveswap-bench`: every measurement side by side, in one run.
//!
//! `cargo run --release -p liveswap-bench -- --quick` for a short run, or
//! without `--quick` for the full run (BENCHMARKS.md says how long each
//! took); `--json` adds one JSON object as the last line. See BENCHMARKS.md
//! for what the figures mean.

use std::time::{Duration, Instant};

use clap::Parser;
use liveswap_bench::{big_files, calls, plugins, read_path, soak, state, storm, swaps, watch};
use liveswap_demo_types::Handles;
use serde_json::json;

#[derive(Parser, Debug)]
#[command(about = "Side-by-side measurements of liveswap")]
struct Args {
    /// A shorter run of everything (BENCHMARKS.md says how long it took)
    #[arg(long)]
    quick: bool,
    /// Print one JSON object with every figure as the last line
    #[arg(long)]
    json: bool,
    /// Only the watcher's rename-to-serve latency beside hot-lib-reloader's
    #[arg(long)]
    only_watch: bool,
    /// Only the cost of an export call, an import call and an async call
    #[arg(long)]
    only_calls: bool,
    /// Only what the trust checks cost: the path walk, the signature
    /// check and, beside them, the hash of the same bytes
    #[arg(long)]
    only_trust: bool,
    /// Only the read path: ns per call through each way of reaching a
    /// plugin, on one and on two threads
    #[arg(long)]
    only_read: bool,
}

/// Builds renamed into place for the watch latency (as many in a quick
/// run: the figure is a p99 over them).
const WATCH_BUILDS: usize = 50;

/// The watcher's rename-to-first-call latency and hot-lib-reloader's
/// change-to-reload latency, both in ms (p50, p99), over `WATCH_BUILDS`.
fn watch_section(p: &plugins::Plugins) -> Result<serde_json::Value, String> {
    eprintln!("watch to serve...");
    let ours = watch::watch_to_serve(&p.bench, WATCH_BUILDS)?;
    let theirs = swaps::hot_lib_reloader(&p.bench, WATCH_BUILDS);
    let (hlr_p50, hlr_p99) = match &theirs {
        Ok(r) => (r.noticed.p50_us / 1e3, r.noticed.p99_us / 1e3),
        Err(_) => (f64::NAN, f64::NAN),
    };
    println!("\n## From a build landing to serving it (ms, over {WATCH_BUILDS} builds)\n");
    println!("| watcher | p50 | p99 |");
    println!("|---|---:|---:|");
    println!(
        "| liveswap `deploy::Watcher`: rename into place -> first call on the new build | {:.2} | {:.2} |",
        ours.latency.p50_us / 1e3,
        ours.latency.p99_us / 1e3
    );
    println!(
        "| of which the swap itself (copy, checks, hash, load, publish) | {:.2} | {:.2} |",
        ours.swap.p50_us / 1e3,
        ours.swap.p99_us / 1e3
    );
    match &theirs {
        Ok(_) => println!(
            "| hot-lib-reloader: write -> `update()` reloads (its watcher, 10 ms debounce) | {hlr_p50:.2} | {hlr_p99:.2} |"
        ),
        Err(e) => println!("| hot-lib-reloader | not measured: {e} | |"),
    }
    let met = ours.latency.p50_us / 1e3 <= hlr_p50;
    println!(
        "\ntarget: watch-to-serve p50 <= hot-lib-reloader's: {}",
        if met { "met" } else { "**missed**" }
    );
    Ok(json!({
        "watch_to_serve_p50_ms": ours.latency.p50_us / 1e3,
        "watch_to_serve_p99_ms": ours.latency.p99_us / 1e3,
        "watch_swap_p50_ms": ours.swap.p50_us / 1e3,
        "hot_lib_reloader_watch_p50_ms": hlr_p50,
        "hot_lib_reloader_watch_p99_ms": hlr_p99,
        "watch_builds": ours.builds,
        "watch_target_met": met,
    }))
}

struct Plan {
    read_iters: u64,
    read_rounds: usize,
    swaps: usize,
    reloads: usize,
    storm: Duration,
    soak: Vec<u64>,
    busy_soak: u64,
    big_rounds: usize,
    state_rounds: usize,
}

/// A target: the ratio measured and the bound it must meet.
struct Target {
    name: &'static str,
    value: f64,
    bound: f64,
    at_most: bool,
}

impl Target {
    fn met(&self) -> bool {
        if self.at_most {
            self.value <= self.bound
        } else {
            self.value >= self.bound
        }
    }
}

fn main() {
    if let Err(e) = run(Args::parse()) {
        eprintln!("liveswap-bench: {e}");
        std::process::exit(1);
    }
}

fn run(args: Args) -> Result<(), String> {
    let plan = if args.quick {
        Plan {
            read_iters: 2_000_000,
            read_rounds: 3,
            swaps: 50,
            reloads: 3,
            storm: Duration::from_secs(1),
            soak: vec![200, 1_000],
            busy_soak: 2_000,
            big_rounds: 3,
            state_rounds: 3,
        }
    } else {
        Plan {
            read_iters: 20_000_000,
            read_rounds: 9,
            swaps: 200,
            reloads: 20,
            storm: Duration::from_secs(5),
            soak: vec![1_000, 10_000],
            busy_soak: 10_000,
            big_rounds: 5,
            state_rounds: 10,
        }
    };
    let started = Instant::now();
    if cfg!(debug_assertions) {
        eprintln!("warning: a debug build of the harness; measure with --release");
    }
    eprintln!("building the plugins...");
    let p = plugins::build()?;
    if args.only_calls {
        eprintln!("calls...");
        let c = calls::measure(&p.bench, plan.read_iters / 4, plan.read_rounds)?;
        println!("## Calls by kind (ns per call, one thread; bench plugin, release)\n");
        println!("| call | ns |\n|---|---:|");
        println!(
            "| export: the host calls `add` on a version it holds | {:.2} |",
            c.export_call_ns
        );
        println!(
            "| import: the plugin calls the host's `HostAdder::add` | {:.2} |",
            c.import_call_ns
        );
        println!(
            "| async: `add_async` started, polled once to `Ready`, dropped | {:.2} |",
            c.async_call_ns
        );
        println!(
            "| string: `text(16)`, a `String` the plugin allocates, adopted by the host | {:.2} |",
            c.string_call_ns
        );
        println!(
            "| a 64-byte allocation and free in plugin code (recorded in its heap account) | {:.2} |",
            c.plugin_alloc_free_ns
        );
        println!(
            "| the same in host code (the host's allocator alone) | {:.2} |",
            c.host_alloc_free_ns
        );
        let ratio = c.import_call_ns / c.export_call_ns;
        println!(
            "\ntarget: import call <= 1.5x export call: {ratio:.2}x, {}",
            if ratio <= 1.5 { "met" } else { "missed" }
        );
        println!(
            "target: async call overhead < 100 ns per poll: {:.2} ns, {}",
            c.async_call_overhead_ns,
            if c.async_call_overhead_ns < 100.0 {
                "met"
            } else {
                "missed"
            }
        );
        if args.json {
            println!(
                "{}",
                json!({
                    "export_call_ns": c.export_call_ns,
                    "import_call_ns": c.import_call_ns,
                    "async_call_ns": c.async_call_ns,
                    "async_call_overhead_ns": c.async_call_overhead_ns,
                    "import_vs_export": ratio,
                    "string_call_ns": c.string_call_ns,
                    "plugin_alloc_free_ns": c.plugin_alloc_free_ns,
                    "host_alloc_free_ns": c.host_alloc_free_ns,
                })
            );
        }
        return Ok(());
    }
    if args.only_trust {
        eprintln!("trust...");
        let t = liveswap_bench::trust::measure(&p.demo_debug, plan.big_rounds.max(5))?;
        println!(
            "## What the trust checks cost (debug demo plugin, {:.1} MB; medians)\n",
            t.file_mb
        );
        println!("| check | cost |\n|---|---:|");
        println!(
            "| a swap, no key trusted | {:.1} ms |\n| the same swap, signature checked | {:.1} ms |",
            t.unsigned_swap_ms, t.signed_swap_ms
        );
        println!(
            "| what the signature adds (minisign: BLAKE2b-512 in the copy's pass, Ed25519) | {:.2} ms/MB |",
            t.signature_verify_ms_per_mb
        );
        println!(
            "| peak RSS growth over the signed swaps | {:.1} MB |",
            t.signed_swap_peak_rss_mb
        );
        println!(
            "| the verification alone (its BLAKE2b-512 pass over the bytes in memory, Ed25519) | {:.2} ms/MB |",
            t.signature_alone_ms_per_mb
        );
        println!(
            "| beside it: BLAKE3 of the same bytes (every load) | {:.2} ms/MB |",
            t.hash_ms_per_mb
        );
        println!(
            "| BLAKE2b-512 of the same bytes alone (minisign's prehash) | {:.2} ms/MB |",
            t.blake2b_ms_per_mb
        );
        println!("| the safe-path walk | {:.1} µs |", t.path_check_us);
        let ratio = t.signature_verify_ms_per_mb / t.hash_ms_per_mb;
        let passes = t.signature_verify_ms_per_mb / t.blake2b_ms_per_mb;
        println!(
            "\ntarget: the signature <= 1.2x hashing the same bytes with its own hash (BLAKE2b-512): {passes:.2}x, {}",
            if passes <= 1.2 { "met" } else { "missed" }
        );
        println!("against the BLAKE3 hash every load makes: {ratio:.2}x");
        let alone = t.signature_alone_ms_per_mb / t.blake2b_ms_per_mb;
        println!("the verification alone against one BLAKE2b-512 pass: {alone:.2}x");
        if args.json {
            println!(
                "{}",
                json!({
                    "signature_verify_ms_per_mb": t.signature_verify_ms_per_mb,
                    "unsigned_swap_ms": t.unsigned_swap_ms,
                    "signed_swap_ms": t.signed_swap_ms,
                    "signed_swap_peak_rss_mb": t.signed_swap_peak_rss_mb,
                    "signature_alone_ms_per_mb": t.signature_alone_ms_per_mb,
                    "signature_alone_vs_blake2b": alone,
                    "hash_ms_per_mb": t.hash_ms_per_mb,
                    "path_check_us": t.path_check_us,
                    "signature_vs_hash": ratio,
                    "blake2b_ms_per_mb": t.blake2b_ms_per_mb,
                    "signature_vs_blake2b": passes,
                })
            );
        }
        return Ok(());
    }
    if args.only_watch {
        let figures = watch_section(&p)?;
        if args.json {
            println!("{figures}");
        }
        return Ok(());
    }

    eprintln!("read path...");
    let (subjects, _keeper) = read_path::Subjects::load(&p.bench)?;
    let rows = read_path::measure(&subjects, plan.read_iters, plan.read_rounds);
    drop(subjects);
    if args.only_read {
        println!("| subject | 1 thread | 2 threads |\n|---|---:|---:|");
        for row in &rows {
            println!(
                "| {} | {:.2} | {:.2} |",
                row.name, row.one_thread, row.two_threads
            );
        }
        return Ok(());
    }
    let find = |name: &str| {
        rows.iter()
            .find(|r| r.name.starts_with(name))
            .cloned()
            .expect("row")
    };
    let unpinned_current = find("unpinned: current()");
    let (floor, current, cached, rwlock, hlr, dynrel) = (
        find("floor"),
        find("current()"),
        find("cached"),
        find("RwLock"),
        find("hot-lib-reloader"),
        find("dynamic_reload"),
    );

    eprintln!("swap latency...");
    let demo = liveswap_bench::demo_options;
    let swap_debug = swaps::liveswap::<dyn Handles>(&p.demo_debug, demo(), plan.swaps)?;
    let swap_release = swaps::liveswap::<dyn Handles>(&p.demo_release, demo(), plan.swaps)?;
    let swap_bench = swaps::liveswap::<dyn liveswap_bench_api::Adder>(
        &p.bench,
        liveswap::Options::default(),
        plan.swaps,
    )?;
    let hlr_reload = swaps::hot_lib_reloader(&p.bench, plan.reloads);

    let watched = watch_section(&p)?;

    eprintln!("callers during a swap storm...");
    let every = Some(Duration::from_millis(10));
    let hs_quiet = storm::liveswap(&p.bench, plan.storm, None)?;
    let ls_storm = storm::liveswap(&p.bench, plan.storm, every)?;
    let rw_quiet = storm::rwlock(&p.bench, plan.storm, None)?;
    let rw_storm = storm::rwlock(&p.bench, plan.storm, every)?;

    eprintln!("soak...");
    let soaked = soak::soak(&p.bench, &plan.soak)?;
    let busy = soak::soak_busy(&p.bench, plan.busy_soak)?;

    eprintln!("big files...");
    let work = std::env::temp_dir();
    let big = big_files::big_swap(&p.demo_release, &work, plan.big_rounds)?;
    let sparse = big_files::refuse_sparse(&p.demo_release, &work)?;

    eprintln!("warm start...");
    let state_costs = [1u64 << 20, 100 << 20]
        .iter()
        .map(|&bytes| state::measure(&p.state, bytes, plan.state_rounds))
        .collect::<Result<Vec<_>, _>>()?;

    let ratios = json!({
        "cached_vs_floor": cached.one_thread / floor.one_thread,
        "current_vs_floor": current.one_thread / floor.one_thread,
        "current_vs_floor_bound": current.one_thread / (1.1 * floor.one_thread + 1.0),
        "current_vs_rwlock": current.one_thread / rwlock.one_thread,
        "current_2t_vs_1t": current.two_threads / current.one_thread,
        "current_2t_vs_1t_unpinned": unpinned_current.two_threads / unpinned_current.one_thread,
        "rwlock_2t_vs_1t": rwlock.two_threads / rwlock.one_thread,
        "hot_lib_reloader_vs_current": hlr.one_thread / current.one_thread,
        "dynamic_reload_vs_current": dynrel.one_thread / current.one_thread,
        "storm_vs_quiet_throughput": ls_storm.calls_per_sec / hs_quiet.calls_per_sec,
        "storm_p99_vs_quiet_p99": ls_storm.p99_ns as f64 / hs_quiet.p99_ns as f64,
        "rwlock_storm_vs_quiet_throughput": rw_storm.calls_per_sec / rw_quiet.calls_per_sec,
        "rwlock_storm_p99_vs_quiet_p99": rw_storm.p99_ns as f64 / rw_quiet.p99_ns as f64,
        "rwlock_storm_p999_vs_liveswap_storm_p999": rw_storm.p999_ns as f64 / ls_storm.p999_ns as f64,
        "big_swap_vs_cp": big.swap_ms / big.cp_ms,
        "big_swap_peak_rss_mb": big.peak_rss_mb,
        "sparse_refusal_ms": sparse.ms,
        "sparse_refusal_peak_rss_mb": sparse.peak_rss_mb,
    });
    let r = |k: &str| ratios[k].as_f64().unwrap_or(f64::NAN);
    let targets = [
        Target {
            name: "cached reader <= 1.5x floor",
            value: r("cached_vs_floor"),
            bound: 1.5,
            at_most: true,
        },
        Target {
            name: "current() <= 1.1x floor + 1 ns (1 thread)",
            value: r("current_vs_floor_bound"),
            bound: 1.0,
            at_most: true,
        },
        Target {
            name: "current() <= RwLock read (1 thread)",
            value: r("current_vs_rwlock"),
            bound: 1.0,
            at_most: true,
        },
        Target {
            name: "current() 2 threads <= 1.1x 1 thread",
            value: r("current_2t_vs_1t"),
            bound: 1.1,
            at_most: true,
        },
        Target {
            name: "hot-lib-reloader >= 10x current()",
            value: r("hot_lib_reloader_vs_current"),
            bound: 10.0,
            at_most: false,
        },
        Target {
            name: "storm throughput >= 95% of quiet",
            value: r("storm_vs_quiet_throughput"),
            bound: 0.95,
            at_most: false,
        },
        Target {
            name: "storm p99 <= 2x quiet p99",
            value: r("storm_p99_vs_quiet_p99"),
            bound: 2.0,
            at_most: true,
        },
        Target {
            name: "200 MB plugin swap <= 1.5x cp",
            value: r("big_swap_vs_cp"),
            bound: 1.5,
            at_most: true,
        },
        Target {
            name: "200 MB plugin swap peak RSS growth <= 16 MB",
            value: r("big_swap_peak_rss_mb"),
            bound: 16.0,
            at_most: true,
        },
        Target {
            name: "2 GiB sparse file refused in < 300 ms",
            value: r("sparse_refusal_ms"),
            bound: 300.0,
            at_most: true,
        },
        Target {
            name: "2 GiB sparse refusal peak RSS growth <= 16 MB",
            value: r("sparse_refusal_peak_rss_mb"),
            bound: 16.0,
            at_most: true,
        },
        Target {
            name: "busy soak: 1 copy mapped after draining",
            value: if busy.drained {
                busy.mapped_copies as f64
            } else {
                f64::NAN
            },
            bound: 1.0,
            at_most: true,
        },
        Target {
            name: "busy soak: RSS growth < 10 MB",
            value: if busy.drained {
                busy.rss_growth_kib as f64 / 1024.0
            } else {
                f64::NAN
            },
            bound: 10.0,
            at_most: true,
        },
    ];

    // The table.
    println!("\n## Read path: ns per call of add(a, 1) (per thread)\n");
    println!("| subject | 1 thread | 2 threads |");
    println!("|---|---:|---:|");
    for row in &rows {
        println!(
            "| {} | {:.2} | {:.2} |",
            row.name, row.one_thread, row.two_threads
        );
    }
    println!(
        "\n## Swap latency (µs, p50 / p99, over {} swaps)\n",
        plan.swaps
    );
    println!("| plugin | size | copy | check | load | publish | total |");
    println!("|---|---:|---|---|---|---|---|");
    let pp = |p: swaps::Percentiles| format!("{:.0} / {:.0}", p.p50_us, p.p99_us);
    for (name, s) in [
        ("demo, debug", &swap_debug),
        ("demo, release", &swap_release),
        ("bench, release", &swap_bench),
    ] {
        println!(
            "| {name} | {:.1} MB | {} | {} | {} | {} | {} |",
            s.file_bytes as f64 / 1e6,
            pp(s.copy),
            pp(s.check),
            pp(s.load),
            pp(s.publish),
            pp(s.total)
        );
    }
    match &hlr_reload {
        Ok(r) => {
            println!(
                "| hot-lib-reloader `update()`, bench, release ({} reloads) | 0.4 MB | | | | | {} |",
                r.reloads,
                pp(r.update)
            );
            println!(
                "\nhot-lib-reloader's file watcher noticed each change after {} µs (p50 / p99).",
                pp(r.noticed)
            );
        }
        Err(e) => println!("| hot-lib-reloader | not measured: {e} |"),
    }
    println!(
        "\n## Two callers, quiet and with a swap every 10 ms ({:?} each)\n",
        plan.storm
    );
    println!("| design | swaps | calls/s | p50 ns | p99 ns | p99.9 ns | max ns |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for (name, c) in [
        ("liveswap, quiet", &hs_quiet),
        ("liveswap, storm", &ls_storm),
        ("RwLock (load under write lock), quiet", &rw_quiet),
        ("RwLock (load under write lock), storm", &rw_storm),
    ] {
        println!(
            "| {name} | {} | {:.0} | {} | {} | {} | {} |",
            c.swaps, c.calls_per_sec, c.p50_ns, c.p99_ns, c.p999_ns, c.max_ns
        );
    }
    println!("\n## Soak (bench plugin, release)\n");
    println!("| swaps | RSS | RSS growth | mapped copies |");
    println!("|---:|---:|---:|---:|");
    for s in &soaked {
        soak_row(s, "");
    }
    soak_row(&busy, ", 2 callers + 2 busy loops");
    println!("\n## Big files (demo plugin, release, padded)\n");
    println!("| case | time | vs cp | peak RSS growth | shmem growth | copy |");
    println!("|---|---:|---:|---:|---:|---|");
    println!(
        "| cp of the {:.0} MB file | {:.1} ms | | | | |",
        big.file_bytes as f64 / 1e6,
        big.cp_ms
    );
    println!(
        "| swap() to it | {:.1} ms | {:.2}x | {:.1} MB | {:.1} MB | {} |",
        big.swap_ms,
        big.swap_ms / big.cp_ms,
        big.peak_rss_mb,
        big.shmem_mb,
        if big.on_disk {
            "unnamed file on disk"
        } else {
            "memfd"
        }
    );
    println!(
        "| swap() to a 2 GiB sparse file (refused) | {:.2} ms | | {:.1} MB | | |",
        sparse.ms, sparse.peak_rss_mb
    );
    println!(
        "\n## Warm start: state carried at a swap (ms, p50 / p99, over {} swaps)\n",
        plan.state_rounds
    );
    println!("| state | snapshot size | snapshot | restore | whole swap |");
    println!("|---:|---:|---|---|---|");
    let ppm = |p: swaps::Percentiles| format!("{:.1} / {:.1}", p.p50_us / 1e3, p.p99_us / 1e3);
    for c in &state_costs {
        println!(
            "| {} MiB | {:.1} MB | {} | {} | {} |",
            c.state_bytes >> 20,
            c.snapshot_bytes as f64 / 1e6,
            ppm(c.snapshot),
            ppm(c.restore),
            ppm(c.total)
        );
    }
    println!("\n## Targets\n");
    println!("| target | measured | met |");
    println!("|---|---:|---|");
    for t in &targets {
        println!(
            "| {} | {:.2} | {} |",
            t.name,
            t.value,
            if t.met() { "yes" } else { "**no**" }
        );
    }
    println!(
        "\n({} run in {:.0} s)",
        if args.quick { "quick" } else { "full" },
        started.elapsed().as_secs_f64()
    );

    if args.json {
        let swap_json = |s: &swaps::SwapLatency| {
            let p = |p: swaps::Percentiles| json!({"p50_us": p.p50_us, "p99_us": p.p99_us});
            json!({
                "swaps": s.swaps, "file_bytes": s.file_bytes,
                "copy": p(s.copy), "check": p(s.check), "load": p(s.load),
                "publish": p(s.publish), "total": p(s.total),
            })
        };
        let callers = |c: &storm::Callers| {
            json!({"swaps": c.swaps, "calls_per_sec": c.calls_per_sec,
                   "p50_ns": c.p50_ns, "p99_ns": c.p99_ns, "p999_ns": c.p999_ns, "max_ns": c.max_ns})
        };
        let out = json!({
            "mode": if args.quick { "quick" } else { "full" },
            "read_path_ns": rows.iter().map(|r| json!({
                "subject": r.name, "one_thread": r.one_thread, "two_threads": r.two_threads
            })).collect::<Vec<_>>(),
            "swap_latency": {
                "demo_debug": swap_json(&swap_debug),
                "demo_release": swap_json(&swap_release),
                "bench_release": swap_json(&swap_bench),
                "hot_lib_reloader": hlr_reload.as_ref().map(|r| json!({
                    "reloads": r.reloads,
                    "update": {"p50_us": r.update.p50_us, "p99_us": r.update.p99_us},
                    "noticed_after": {"p50_us": r.noticed.p50_us, "p99_us": r.noticed.p99_us},
                })).unwrap_or(json!(null)),
            },
            "storm": {
                "liveswap_quiet": callers(&hs_quiet),
                "liveswap_storm": callers(&ls_storm),
                "rwlock_quiet": callers(&rw_quiet),
                "rwlock_storm": callers(&rw_storm),
            },
            "soak": soaked.iter().chain([&busy]).map(|s| json!({
                "swaps": s.swaps, "rss_kib": s.rss_kib,
                "rss_growth_kib": s.rss_growth_kib, "mapped_copies": s.mapped_copies,
                "drained": s.drained,
            })).collect::<Vec<_>>(),
            "big_swap": json!({
                "file_bytes": big.file_bytes, "cp_ms": big.cp_ms, "swap_ms": big.swap_ms,
                "peak_rss_mb": big.peak_rss_mb, "shmem_mb": big.shmem_mb, "on_disk": big.on_disk,
            }),
            "sparse_refusal": json!({"ms": sparse.ms, "peak_rss_mb": sparse.peak_rss_mb}),
            "state": state_costs.iter().map(|c| {
                let p = |p: swaps::Percentiles| json!({"p50_us": p.p50_us, "p99_us": p.p99_us});
                json!({
                    "state_bytes": c.state_bytes, "snapshot_bytes": c.snapshot_bytes,
                    "swaps": c.swaps, "snapshot": p(c.snapshot), "restore": p(c.restore),
                    "total": p(c.total),
                })
            }).collect::<Vec<_>>(),
            "big_swap_vs_cp": big.swap_ms / big.cp_ms,
            "big_swap_peak_rss_mb": big.peak_rss_mb,
            "targets_met": targets.iter().map(|t| (t.name.to_string(), json!(t.met()))).collect::<serde_json::Map<_, _>>(),
            "ratios": ratios,
            "watch_to_serve_p50_ms": watched["watch_to_serve_p50_ms"],
            "watch_to_serve_p99_ms": watched["watch_to_serve_p99_ms"],
            "hot_lib_reloader_watch_p50_ms": watched["hot_lib_reloader_watch_p50_ms"],
            "hot_lib_reloader_watch_p99_ms": watched["hot_lib_reloader_watch_p99_ms"],
            "watch_target_met": watched["watch_target_met"],
        });
        println!("{out}");
    }
    Ok(())
}

/// One soak row, or "drain timed out" instead of figures that would look
/// like a steady state.
fn soak_row(s: &soak::AfterSwaps, note: &str) {
    if s.drained {
        println!(
            "| {}{note} | {} KiB | {} KiB | {} |",
            s.swaps, s.rss_kib, s.rss_growth_kib, s.mapped_copies
        );
    } else {
        println!(
            "| {}{note} | drain timed out after {:?} ({} copies still mapped) | | |",
            s.swaps,
            soak::DRAIN_WAIT,
            s.mapped_copies
        );
    }
}
