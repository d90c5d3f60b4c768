//! The benchmark plugin. The same addition is reachable two ways: through
//! the liveswap interface (`handles`), and as the plain `#[no_mangle]`
//! function in `plain.rs`, which is also the file hot-lib-reloader reads.

mod plain;

use liveswap_bench_api::Adder;

struct Add;

impl Adder for Add {
    fn add(&self, a: i64, b: i64) -> i64 {
        plain::add(a, b)
    }
}

liveswap::export!(Adder => Add);
