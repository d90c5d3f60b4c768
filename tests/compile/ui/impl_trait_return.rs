#[liveswap::interface(version = 1)]
pub trait Numbers: Send + Sync {
    fn numbers(&self) -> impl Iterator<Item = u32>;
}

fn main() {}
