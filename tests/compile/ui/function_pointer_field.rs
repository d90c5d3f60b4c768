// A function pointer points at the plugin's code.
#[derive(liveswap::CrossSafe)]
pub struct Hook {
    pub run: fn(u64) -> u64,
}

fn main() {}
