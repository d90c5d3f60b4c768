#[liveswap::interface(version = 1)]
pub trait Store: Send + Sync {
    fn put<T: ToString>(&self, value: T);
}

fn main() {}
