// ... and inside a struct.
#[derive(liveswap::CrossSafe)]
pub struct Outcome {
    pub value: u64,
    pub error: Option<Box<dyn std::error::Error + Send + Sync>>,
}

fn main() {}
