// A type that crosses cannot borrow.
#[derive(liveswap::CrossSafe)]
pub struct View<'a> {
    pub text: &'a str,
}

fn main() {}
