// A closure boxed by the plugin carries its code.
#[liveswap::interface(version = 1)]
pub trait Fill: Send + Sync {
    fn fill(&self, out: &mut Vec<Box<dyn Fn() + Send>>);
}

fn main() {}
