#[liveswap::interface(version = 1)]
pub trait Builder: Send + Sync {
    fn new() -> u32;
}

fn main() {}
