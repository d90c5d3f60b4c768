//! The interface of a small rules engine: requests in, verdicts out. The
//! features alter it as a careless change to a shared types crate would;
//! see `tests/boundary.rs`.

use liveswap::CrossSafe;

/// A request to judge.
#[derive(CrossSafe, Debug, Clone, PartialEq, Eq)]
pub struct Request {
    #[cfg(not(feature = "swapped-fields"))]
    pub user: String,
    pub urls: Vec<String>,
    #[cfg(feature = "swapped-fields")]
    pub user: String,
    #[cfg(not(feature = "swapped-scores"))]
    pub score: u64,
    pub age_days: u64,
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

/// The engine.
#[liveswap::interface(version = 1, name = "rules_api::Rules")]
pub trait Rules: Send + Sync {
    /// Judges one request.
    fn check(&self, request: &Request) -> Verdict;
    /// Judges a batch.
    fn check_all(&self, requests: &[Request]) -> Vec<Verdict>;
}

/// A request as the tests build it, whatever the features.
pub fn request(user: &str, score: u64) -> Request {
    Request {
        user: user.to_string(),
        urls: vec![format!("https://{user}.example/")],
        score,
        age_days: 30,
        #[cfg(feature = "grown-request")]
        history: [0; 3],
    }
}
