//! The API shared by the demo host and the demo plugin: the counterpart of
//! the GHC demo's `SOHandles { someData :: Text, someFn :: Int -> IO () }`.
//!
//! Both sides depend on this crate. The host never depends on the plugin:
//! it finds the plugin at run time, by path.

/// What the demo host lends its plugin (a host service): the plugin calls
/// it while it serves.
#[liveswap::interface(version = 1)]
pub trait Host: Send + Sync {
    /// Whole seconds since the host started.
    fn uptime_secs(&self) -> u64;
}

/// What the demo plugin exports and the demo host calls.
#[liveswap::interface(version = 1)]
pub trait Handles: Send + Sync {
    /// A piece of data the plugin holds.
    fn some_data(&self) -> String;
    /// Some logic the plugin runs on `i`.
    fn some_fn(&self, i: i64) -> String;
    /// The same, as an `async fn`: the host awaits the plugin's future.
    async fn some_async(&self, i: i64) -> String;
}
