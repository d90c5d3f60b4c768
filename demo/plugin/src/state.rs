//! What the plugin remembers across swaps. The bytes of a [`Saved`] are
//! handed from the version serving to the next one; change the fields,
//! bump [`SCHEMA`], and teach [`restore`] to read the old format.

use liveswap::{RemoteError, Snapshot, state};
use serde::{Deserialize, Serialize};

/// The version of [`Saved`]'s format.
pub const SCHEMA: u32 = 1;

/// What survives a swap.
#[derive(Serialize, Deserialize, Default, Clone)]
pub struct Saved {
    /// How many times the plugin was called, all versions together.
    pub calls: u64,
}

impl Saved {
    /// What `someData` says about it.
    pub fn describe(&self, calls: u64) -> String {
        format!("called {calls} times")
    }
}

/// Reads what an earlier version saved.
pub fn restore(prior: Snapshot<'_>) -> Result<Saved, RemoteError> {
    match prior.schema {
        1 => state::decode(prior.bytes),
        n => Err(RemoteError::new(format!(
            "state schema {n} is unknown to this build (it reads schema 1)"
        ))),
    }
}
