//! The benchmark plugin's interface: one trivial method, so that what is
//! measured is the cost of reaching the plugin, not the work it does.

/// Adds two integers.
#[liveswap::interface(version = 1)]
pub trait Adder: Send + Sync {
    /// `a + b`, wrapping.
    fn add(&self, a: i64, b: i64) -> i64;
    /// The sum of the host's `HostAdder::add(i, 1)` for `i` in `0..n`,
    /// called from the plugin (0 when the host lends no `HostAdder`).
    fn add_through_host(&self, n: u64) -> i64;
    /// `a + b`, as a future ready at its first poll.
    async fn add_async(&self, a: i64, b: i64) -> i64;
    /// [`churn`] run in the plugin: `n` blocks of `size` bytes allocated and
    /// freed by its code (what the heap account records).
    fn churn(&self, n: u64, size: u64) -> u64;
    /// A string of `len` bytes, allocated by the plugin and handed to the
    /// host (which adopts its block).
    fn text(&self, len: u64) -> String;
}

/// Allocates and frees `n` blocks of `size` bytes, one at a time, touching
/// each; returns a checksum. Run in the plugin ([`Adder::churn`]) and in
/// the host, to compare their allocators' costs.
#[inline(never)]
pub fn churn(n: u64, size: u64) -> u64 {
    let mut sum = 0u64;
    for i in 0..n {
        let block = std::hint::black_box(vec![i as u8; size as usize]);
        sum = sum.wrapping_add(u64::from(block[block.len() / 2]));
    }
    sum
}

/// What the bench host lends the bench plugin: the same addition, in the
/// host, to time a call from plugin to host.
#[liveswap::interface(version = 1)]
pub trait HostAdder: Send + Sync {
    /// `a + b`, wrapping.
    fn add(&self, a: i64, b: i64) -> i64;
}

/// The symbol of the plain `#[no_mangle]` function the plugin also exports
/// (the floor, and what other reloaders call).
pub const PLAIN_ADD: &[u8] = b"add";

/// The plain function's type.
pub type PlainAdd = fn(i64, i64) -> i64;

/// A plugin holding a large warm-start state, to time its snapshot and
/// restore at a swap.
#[liveswap::interface(version = 1)]
pub trait Store: Send + Sync {
    /// Replaces the state with about `bytes` bytes of counters.
    fn fill(&self, bytes: u64);
    /// How many counters the state holds, and their sum.
    fn summary(&self) -> (u64, u64);
}
