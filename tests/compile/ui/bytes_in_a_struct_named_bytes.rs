// A user `struct Bytes` that holds `bytes::Bytes` (a vtable of the library
// that made it) does not compile: the inner `Bytes` is another type.
#[derive(liveswap::CrossSafe)]
pub struct Bytes {
    pub inner: Vec<Bytes>,
    pub data: bytes::Bytes,
}

fn main() {}
