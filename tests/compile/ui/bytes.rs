// `bytes::Bytes` holds a vtable of the library that made it.
#[liveswap::interface(version = 1)]
pub trait Blobs: Send + Sync {
    fn get(&self, key: u64) -> bytes::Bytes;
}

fn main() {}
