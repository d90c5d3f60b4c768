//! A host service and the interface of the plugins that call it: the
//! import tests' interfaces, in a crate of their own so that the binaries
//! of the other tests carry no sections of theirs.

/// What the host knows of an item. With the feature `u32-listing-price`
/// (the `quote-plugin-changed-listing` fixture), `price` is a `u32`: a
/// types crate changed between the host's build and the plugin's.
#[derive(liveswap::CrossSafe, Debug, Clone, PartialEq, Eq)]
pub struct Listing {
    pub item: String,
    #[cfg(not(feature = "u32-listing-price"))]
    pub price: u64,
    #[cfg(feature = "u32-listing-price")]
    pub price: u32,
}

/// A host service: what the host knows and lends to the `Quote` plugins.
#[liveswap::interface(version = 1, name = "fixture::HostData")]
pub trait HostData: Send + Sync {
    /// The host's price of `item`, if it knows one.
    fn price(&self, item: String) -> Option<u64>;
    /// Panics in the host.
    fn explode(&self) -> u32;
    /// The host's listing of `item`, if it has one.
    fn listing(&self, item: String) -> Option<Listing>;
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

/// An async host service: the host's data, fetched on the host's runtime.
#[liveswap::interface(version = 1, name = "fixture::HostFetch")]
pub trait HostFetch: Send + Sync {
    /// The host's price of `item`, after `delay_ms` milliseconds.
    async fn fetch(&self, item: String, delay_ms: u64) -> Option<u64>;
    /// Panics when polled, in the host.
    async fn explode(&self) -> u32;
    /// Keeps (in the host) the waker it is polled with; ready at once
    /// with 7.
    async fn keep_waker(&self) -> u32;
}

/// What a plugin that awaits the host's async service exports.
#[liveswap::interface(version = 1, name = "fixture::Pricer")]
pub trait Pricer: Send + Sync {
    /// Twice the host's price of `item`, fetched after `delay_ms`; `Err`
    /// when the host has none or its future failed.
    async fn price(&self, item: String, delay_ms: u64) -> Result<u64, String>;
    /// What awaiting the host's `explode` gave, as text.
    async fn host_panics(&self) -> String;
    /// The host's `keep_waker`, polled by the plugin's own `block_on`
    /// (a waker of plugin code).
    fn keep_waker_blocking(&self) -> u32;
    /// Spawns (`liveswap::spawn`) a future that fetches `item` and counts
    /// it; `false` when the host refused it.
    fn spawn_fetch(&self, item: String, delay_ms: u64) -> bool;
    /// Spawns (`liveswap::spawn_blocking`) a closure that fetches `item`
    /// with the plugin's own `block_on` and counts it; `false` when the
    /// host refused it.
    fn spawn_blocking_fetch(&self, item: String) -> bool;
    /// The prices the spawned futures and closures fetched, summed.
    fn fetched(&self) -> u64;
}
