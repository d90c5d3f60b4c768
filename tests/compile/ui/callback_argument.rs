// A host closure called by the plugin: a host panic in it would abort.
#[liveswap::interface(version = 1)]
pub trait Each: Send + Sync {
    fn each(&self, f: &dyn Fn(u64));
}

fn main() {}
