// `&mut &'static str`: the plugin would store a reference into its own
// memory in the host's variable.
#[liveswap::interface(version = 1)]
pub trait Fill: Send + Sync {
    fn fill(&self, out: &mut &'static str);
}

fn main() {}
