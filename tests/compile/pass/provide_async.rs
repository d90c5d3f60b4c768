//! An interface with an `async fn` is lent to plugins as a host service.
use std::sync::Arc;

#[liveswap::interface(version = 1)]
pub trait Fetch: Send + Sync {
    async fn fetch(&self, key: u64) -> String;
}

struct Host;

impl Fetch for Host {
    async fn fetch(&self, key: u64) -> String {
        key.to_string()
    }
}

pub fn main() {
    let _ = liveswap::Options::default().provide::<dyn Fetch, _>(Arc::new(Host));
}
