// A boxed error behind an alias is still a trait object.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[liveswap::interface(version = 1)]
pub trait Parse: Send + Sync {
    fn parse(&self, text: String) -> Result<u64, BoxError>;
}

fn main() {}
