#[liveswap::interface(version = 1)]
pub trait Store: Send + Sync {
    fn get<'a>(&'a self, key: &'a str) -> &'a str;
}

fn main() {}
