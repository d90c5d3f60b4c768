#[liveswap::interface(version = 1)]
pub trait Names: Send + Sync {
    fn name(&self) -> &'static str;
}

fn main() {}
