//! The handshake's type-table work for an interface whose methods reach 50
//! user types (and the standard types inside them):
//! `cargo bench -p liveswap-bench --bench handshake`.
//!
//! - `host_table`: what the host computes for its own declaration at every
//!   load or swap (`encode_vec`); an accepted plugin then costs one
//!   comparison of bytes;
//! - `explain_refusal`: decoding both tables and comparing them type by
//!   type, which only a refused plugin pays.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use liveswap::CrossSafe;
use liveswap::layout::{MethodLayout, Table, compare_tables, encode_vec};

macro_rules! wide {
    ($($s:ident),*) => {
        $(
            #[derive(CrossSafe)]
            pub struct $s {
                pub id: u32,
                pub name: String,
                pub tags: Vec<String>,
                pub score: Option<u64>,
            }
        )*
        /// 50 types, each reached from one method's arguments.
        pub const METHODS: &[MethodLayout] = &[
            $(MethodLayout {
                name: stringify!($s),
                direct: false,
                args: &[<$s as CrossSafe>::LAYOUT],
                arg_names: &["x"],
                ret: <Vec<$s> as CrossSafe>::LAYOUT,
            }),*
        ];
    };
}

wide!(
    S00, S01, S02, S03, S04, S05, S06, S07, S08, S09, S10, S11, S12, S13, S14, S15, S16, S17, S18,
    S19, S20, S21, S22, S23, S24, S25, S26, S27, S28, S29, S30, S31, S32, S33, S34, S35, S36, S37,
    S38, S39, S40, S41, S42, S43, S44, S45, S46, S47, S48, S49
);

fn handshake(c: &mut Criterion) {
    let bytes = encode_vec(METHODS);
    let table = Table::decode(&bytes).unwrap();
    assert!(table.types.len() >= 50, "{} types", table.types.len());
    // The same table with its last method's name changed: the comparison
    // walks every method and type before it finds the difference.
    let mut other = table.clone();
    other.methods.last_mut().unwrap().name.push('x');
    assert!(compare_tables(&table, &other).is_err());

    let mut g = c.benchmark_group("handshake_50_types");
    g.bench_function("host_table", |b| b.iter(|| encode_vec(black_box(METHODS))));
    g.bench_function("explain_refusal", |b| {
        b.iter(|| {
            let host = Table::decode(black_box(&bytes)).unwrap();
            let plugin = Table::decode(black_box(&bytes)).unwrap();
            compare_tables(&host, &other).unwrap_err();
            plugin
        })
    });
    g.finish();
}

criterion_group!(benches, handshake);
criterion_main!(benches);
