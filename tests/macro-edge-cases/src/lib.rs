//! What the interface and derive macros must accept: a trait named `T`, methods named
//! like the guard's metadata, a renamed dependency, recursive and generic
//! types, `#[cfg]` fields.
use ls::CrossSafe;

#[ls::interface(version = 1, crate = ls)]
pub trait T: Send + Sync {
    fn generation(&self) -> u64;
    fn source(&self) -> String;
}

#[derive(CrossSafe)]
#[liveswap(crate = ls)]
pub struct Tree {
    pub label: String,
    pub children: Vec<Tree>,
    #[cfg(any())]
    pub never: u8,
}

#[derive(CrossSafe)]
#[liveswap(crate = ls)]
pub struct Page<X> {
    pub items: Vec<X>,
}

#[derive(CrossSafe)]
#[liveswap(crate = ls)]
#[repr(u16)]
pub enum Shape {
    Dot,
    Line { from: (i32, i32), to: (i32, i32) } = 7,
    Poly(Vec<(i32, i32)>),
}

#[ls::interface(version = 1, crate = ls)]
pub trait Forest: Send + Sync {
    fn grow(&self, seed: &Tree, pages: &[Page<String>]) -> Result<Tree, ls::RemoteError>;
    fn shapes(&self, text: &str, out: &mut Vec<Shape>) -> &str;
}
