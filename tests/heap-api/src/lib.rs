//! The heap tests' interfaces, in a crate of their own so that no other
//! test host links them (a host's binary names every interface it links).

/// A plugin whose statics hold heap (`LazyLock` caches), and whose methods
/// hand the host values of every owned shape: what the heap tests reclaim
/// and keep.
/// A boxed pair, one shape of what `Cache::nested` returns.
pub type Nested = Box<(u32, String)>;

#[liveswap::interface(version = 1, name = "fixture::Cache")]
pub trait Cache: Send + Sync {
    /// Builds the statics on first use (a compiled regex and a 1 MiB
    /// table, each in a `LazyLock`) and returns the table's checksum.
    fn warm(&self) -> u64;
    /// Whether `text` matches the static regex.
    fn matches(&self, text: &str) -> bool;
    /// A new string, allocated by the plugin.
    fn echo(&self, text: String) -> String;
    /// Pushes `n` strings, allocated by the plugin, onto the host's vector.
    fn fill(&self, out: &mut Vec<String>, n: u32);
    /// A nested value: boxes, options, tuples, an error.
    fn nested(&self, n: u32) -> Result<Vec<Option<Nested>>, liveswap::RemoteError>;
}

/// A plugin that hands the host a `BTreeMap`, whose blocks the library
/// cannot walk: its heap is kept at unload, and said so.
#[liveswap::interface(version = 1, name = "fixture::Tally")]
pub trait Tally: Send + Sync {
    /// Words counted.
    fn counts(&self, text: String) -> std::collections::BTreeMap<String, u32>;
    /// Builds a static cache of 1 MiB.
    fn warm(&self) -> u64;
}
