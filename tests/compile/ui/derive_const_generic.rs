// A const parameter changes meaning without changing layout
// (`Fixed<2>` against `Fixed<3>`): it is not described, so refused.
#[derive(liveswap::CrossSafe)]
pub struct Fixed<const SCALE: u32> {
    pub raw: u64,
}

fn main() {}
