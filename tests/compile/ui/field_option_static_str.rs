// Also when wrapped in an `Option`.
#[derive(liveswap::CrossSafe)]
pub struct Rule {
    pub name: Option<&'static str>,
}

fn main() {}
