// An out-parameter is written by the plugin: a `&'static str` in it dangles.
#[liveswap::interface(version = 1)]
pub trait Fill: Send + Sync {
    fn fill(&self, out: &mut Option<&'static str>);
}

fn main() {}
