//! A host service and the interface of the plugins that call it: the
//! import tests' interfaces, in a crate of their own so that the binaries
//! of the other tests carry no sections of theirs.

/// A host service: what the host knows and lends to the `Quote` plugins.
#[liveswap::interface(version = 1, name = "fixture::HostData")]
pub trait HostData: Send + Sync {
    /// The host's price of `item`, if it knows one.
    fn price(&self, item: String) -> Option<u64>;
    /// Panics in the host.
    fn explode(&self) -> u32;
}

/// What a plugin that calls the host exports.
#[liveswap::interface(version = 1, name = "fixture::Quote")]
pub trait Quote: Send + Sync {
    /// Twice the host's price of `item`; `Err` when the host has none or
    /// its call failed.
    fn quote(&self, item: String) -> Result<u64, String>;
    /// What calling the host's `explode` gave, as text.
    fn host_panics(&self) -> String;
}

/// A plugin interface with async methods, awaited by the host.
#[liveswap::interface(version = 1, name = "fixture::Lookup")]
pub trait Lookup: Send + Sync {
    /// `key`, after `delay_ms` milliseconds (the plugin has no runtime: it
    /// hands a sleep to the host with `spawn_blocking` and is woken by it).
    async fn slow_echo(&self, key: String, delay_ms: u64) -> String;
    /// Panics when polled.
    async fn explode(&self) -> u32;
    /// Counts the futures of `slow_echo` the plugin has dropped.
    fn dropped(&self) -> u64;
}
