// `Box<dyn Any>`: its vtable lives in the plugin.
#[derive(liveswap::CrossSafe)]
pub struct Payload {
    pub value: Box<dyn std::any::Any + Send>,
}

fn main() {}
