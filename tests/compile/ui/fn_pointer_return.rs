#[liveswap::interface(version = 1)]
pub trait Callbacks: Send + Sync {
    fn callback(&self) -> fn(u32) -> u32;
}

fn main() {}
