// A `&'static str` in a struct points into the plugin that made it.
#[derive(liveswap::CrossSafe)]
pub struct Rule {
    pub name: &'static str,
}

fn main() {}
