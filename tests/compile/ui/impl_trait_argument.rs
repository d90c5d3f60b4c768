#[liveswap::interface(version = 1)]
pub trait Sink: Send + Sync {
    fn take(&self, items: impl Iterator<Item = u32>);
}

fn main() {}
