//! The read path under criterion, one thread: `cargo bench -p liveswap-bench`.
//! The `liveswap-bench` binary measures the same subjects on two threads too,
//! and everything else side by side.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use liveswap_bench::read_path::Subjects;
use liveswap_bench_api::{PLAIN_ADD, PlainAdd};

fn read_path(c: &mut Criterion) {
    let plugins = liveswap_bench::plugins::build().expect("build the bench plugin");
    let (s, _keeper) = Subjects::load(&plugins.bench).expect("load the bench plugin");
    let mut g = c.benchmark_group("read_path");
    g.bench_function("floor_fn_pointer", |b| {
        let f = s.floor;
        b.iter(|| black_box(f)(black_box(1), 1))
    });
    g.bench_function("current", |b| {
        b.iter(|| s.liveswap.current().add(black_box(1), 1))
    });
    g.bench_function("cached_reader", |b| {
        let mut r = s.liveswap.reader();
        b.iter(|| r.get().add(black_box(1), 1))
    });
    g.bench_function("current_owned", |b| {
        b.iter(|| s.liveswap.current_owned().add(black_box(1), 1))
    });
    g.bench_function("rwlock_arc", |b| {
        b.iter(|| s.rwlock.read().unwrap().add(black_box(1), 1))
    });
    g.bench_function("mutex_arc", |b| {
        b.iter(|| s.mutex.lock().unwrap().add(black_box(1), 1))
    });
    g.bench_function("hot_lib_reloader", |b| {
        b.iter(|| liveswap_bench::hot_adder::add(black_box(1), 1))
    });
    g.bench_function("dynamic_reload_symbol_per_call", |b| {
        b.iter(|| {
            // SAFETY: the plain `add` symbol of the bench plugin, kept loaded
            // by the `Arc<Lib>`.
            unsafe {
                let add: dynamic_reload::Symbol<PlainAdd> =
                    s.dynamic_reload.lib.get(PLAIN_ADD).unwrap();
                add(black_box(1), 1)
            }
        })
    });
    g.finish();
}

criterion_group!(benches, read_path);
criterion_main!(benches);
