#[liveswap::interface(version = 1)]
pub trait Factory: Send + Sync {
    fn make(&self) -> Box<dyn Fn() -> u32 + Send>;
}

fn main() {}
