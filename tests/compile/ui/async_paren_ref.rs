#[liveswap::interface(version = 1)]
pub trait Fetch: Send + Sync {
    async fn fetch(&self, key: (&str)) -> String;
}

fn main() {}
