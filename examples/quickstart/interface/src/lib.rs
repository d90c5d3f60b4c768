/// What the plugin exports and the host calls. Both depend on this crate.
#[liveswap::interface(version = 1)]
pub trait Handles: Send + Sync {
    fn some_data(&self) -> String;
    fn some_fn(&self, i: i64) -> String;
}
