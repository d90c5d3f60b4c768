// A `Waker` is a vtable of functions.
#[liveswap::interface(version = 1)]
pub trait Poll: Send + Sync {
    fn register(&self, waker: std::task::Waker);
}

fn main() {}
