//! The benchmark plugin. The same addition is reachable two ways: through
//! the liveswap interface (`handles`), and as the plain `#[no_mangle]`
//! function in `plain.rs`, which is also the file hot-lib-reloader reads.

mod plain;

use std::sync::OnceLock;

use liveswap::Import;
use liveswap_bench_api::{Adder, HostAdder};

struct Add;

/// The host's adder, taken once (not declared in `export!`, so that hosts
/// that lend none load this plugin too).
static HOST: OnceLock<Option<Import<dyn HostAdder>>> = OnceLock::new();

impl Adder for Add {
    fn add(&self, a: i64, b: i64) -> i64 {
        plain::add(a, b)
    }
    fn add_through_host(&self, n: u64) -> i64 {
        let Some(host) = HOST.get_or_init(|| liveswap::import().ok()) else {
            return 0;
        };
        (0..n as i64).fold(0i64, |sum, i| {
            sum.wrapping_add(host.add(i, 1).unwrap_or_default())
        })
    }
    async fn add_async(&self, a: i64, b: i64) -> i64 {
        plain::add(a, b)
    }
    fn churn(&self, n: u64, size: u64) -> u64 {
        liveswap_bench_api::churn(n, size)
    }
    fn text(&self, len: u64) -> String {
        "x".repeat(len as usize)
    }
}

liveswap::export!(Adder => Add);
