//! The interface of a small rules engine: requests in, verdicts out. The
//! features alter it as a careless change to a shared types crate would;
//! see `tests/boundary.rs`.

use liveswap::CrossSafe;

/// A request to judge.
#[derive(CrossSafe, Debug, Clone, PartialEq, Eq)]
pub struct Request {
    #[cfg(not(feature = "swapped-fields"))]
    pub user: String,
    #[cfg(feature = "added-country")]
    pub country: String,
    pub urls: Vec<String>,
    #[cfg(feature = "swapped-fields")]
    pub user: String,
    #[cfg(not(feature = "swapped-scores"))]
    pub score: u64,
    #[cfg(not(feature = "narrow-age"))]
    pub age_days: u64,
    #[cfg(feature = "narrow-age")]
    pub age_days: u32,
    #[cfg(feature = "swapped-scores")]
    pub score: u64,
    #[cfg(feature = "grown-request")]
    pub history: [u64; 3],
}

/// What to do with a request.
#[derive(CrossSafe, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Allow,
    #[cfg(not(feature = "reordered-variants"))]
    Review,
    Block,
    #[cfg(feature = "reordered-variants")]
    Review,
    #[cfg(feature = "extra-variant")]
    Quarantine,
}

/// The answer.
#[derive(CrossSafe, Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub action: Action,
    pub reason: String,
}

/// A tree of rules: it contains itself, and beside itself another type of
/// the same last name, which must be described and compared in full.
#[derive(CrossSafe, Debug, Clone, PartialEq, Eq)]
pub struct Tree {
    pub kids: Vec<(Tree, other::Tree)>,
}

pub mod other {
    /// A weight pair, named like the tree that holds it.
    #[derive(liveswap::CrossSafe, Debug, Clone, PartialEq, Eq)]
    pub struct Tree {
        #[cfg(not(feature = "swapped-other-tree"))]
        pub tens: u32,
        pub ones: u32,
        #[cfg(feature = "swapped-other-tree")]
        pub tens: u32,
    }
}

/// The interface, with `clamp`'s limits declared in the order given (a
/// method cannot be under `#[cfg]`, so the trait is written once here and
/// instantiated per feature).
macro_rules! rules {
    ($($limits:tt)*) => {
        /// The engine.
        #[liveswap::interface(version = 1, name = "rules_api::Rules")]
        pub trait Rules: Send + Sync {
            /// Judges one request.
            fn check(&self, request: &Request) -> Verdict;
            /// Judges a batch.
            fn check_all(&self, requests: &[Request]) -> Vec<Verdict>;
            /// The weight of a tree: one per node, plus `10 * tens + ones`
            /// per edge.
            fn weigh(&self, tree: &Tree) -> u64;
            /// `value` clamped into `low..=high`.
            fn clamp(&self, value: u64, $($limits)*) -> u64;
        }
    };
}

#[cfg(not(feature = "swapped-limits"))]
rules!(low: u64, high: u64);
// Two arguments of one type declared the other way round: the plugin's
// body is unchanged and reads them by name.
#[cfg(feature = "swapped-limits")]
rules!(high: u64, low: u64);

/// A request as the tests build it, whatever the features.
pub fn request(user: &str, score: u64) -> Request {
    Request {
        user: user.to_string(),
        urls: vec![format!("https://{user}.example/")],
        #[cfg(feature = "added-country")]
        country: String::new(),
        score,
        age_days: 30,
        #[cfg(feature = "grown-request")]
        history: [0; 3],
    }
}

/// A tree of two edges: `10 * 1 + 2` and `10 * 0 + 9` to two leaves, so
/// its weight is 3 + 12 + 9 = 24 (tens and ones swapped: 3 + 21 + 90).
pub fn tree() -> Tree {
    let leaf = || Tree { kids: Vec::new() };
    let edge = |tens, ones| other::Tree { tens, ones };
    Tree {
        kids: vec![(leaf(), edge(1, 2)), (leaf(), edge(0, 9))],
    }
}
