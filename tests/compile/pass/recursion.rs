// Types that contain themselves through an alias, and two types that
// contain each other, cross: each is described once, and its fields point
// back at that description.
pub type Kids = Vec<Tree>;

#[derive(liveswap::CrossSafe)]
pub struct Tree {
    pub label: String,
    pub kids: Kids,
    pub forest: Option<Box<Forest>>,
}

#[derive(liveswap::CrossSafe)]
pub struct Forest {
    pub trees: Vec<Tree>,
    pub nested: Vec<Self>,
}

#[liveswap::interface(version = 1)]
pub trait Gardener: Send + Sync {
    fn plant(&self, tree: &Tree) -> Forest;
}

pub fn main() {}
