#[liveswap::interface(version = 1)]
pub trait Consume: Send + Sync {
    fn finish(self) -> u64;
}

fn main() {}
