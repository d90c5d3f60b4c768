// `std::io::Error` can hold a `Box<dyn Error>` whose vtable is the plugin's.
#[liveswap::interface(version = 1)]
pub trait Files: Send + Sync {
    fn size(&self, path: String) -> Result<u64, std::io::Error>;
}

fn main() {}
