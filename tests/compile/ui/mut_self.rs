#[liveswap::interface(version = 1)]
pub trait Counter: Send + Sync {
    fn bump(&mut self) -> u64;
}

fn main() {}
