// A type of the user's own must derive `CrossSafe` to cross.
pub struct Request {
    pub user: String,
}

#[liveswap::interface(version = 1)]
pub trait Rules: Send + Sync {
    fn check(&self, request: &Request) -> bool;
}

fn main() {}
