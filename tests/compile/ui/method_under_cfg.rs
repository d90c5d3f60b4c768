// A method under `#[cfg]`: a host and a plugin built with other features
// would disagree on the methods.
#[liveswap::interface(version = 1)]
pub trait Rules: Send + Sync {
    fn check(&self, score: u64) -> bool;
    #[cfg(feature = "explain")]
    fn explain(&self, score: u64) -> String;
}

fn main() {}
