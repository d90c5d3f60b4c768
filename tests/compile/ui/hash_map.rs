// An empty `HashMap` points at a static "empty group" inside the binary
// that made it: returned by a plugin, it dangles once the plugin unloads.
#[liveswap::interface(version = 1)]
pub trait Index: Send + Sync {
    fn index(&self) -> std::collections::HashMap<u64, String>;
}

fn main() {}
