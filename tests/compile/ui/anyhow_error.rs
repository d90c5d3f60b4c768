// `anyhow::Error` carries a vtable in the plugin.
#[liveswap::interface(version = 1)]
pub trait Parse: Send + Sync {
    fn parse(&self, text: String) -> Result<u64, anyhow::Error>;
}

fn main() {}
