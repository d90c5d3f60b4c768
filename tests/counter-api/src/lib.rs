//! The interface of the warm-start fixtures (`counter-v1`, `counter-v2`,
//! `counter-cold`).

/// A plugin with warm-start state: it counts its calls, and the count
/// survives swaps (see `tests/warm_start.rs`).
#[liveswap::interface(version = 1, name = "fixture::Counter")]
pub trait Counter: Send + Sync {
    /// Counts one call; returns the count after it.
    fn hit(&self) -> u64;
    /// The count, without counting.
    fn count(&self) -> u64;
    /// Which build this is (0: no state, 1: schema 1, 2: schema 2).
    fn build(&self) -> u32;
    /// Schema 2's added field (empty in builds without it).
    fn label(&self) -> String;
    /// Makes the state functions misbehave: one of the `FAULT_*` values.
    /// The fault is part of the state, so a restore sees it too.
    fn set_fault(&self, fault: u32);
}

/// `Counter::set_fault`: behave.
pub const FAULT_NONE: u32 = 0;
/// The snapshot panics.
pub const FAULT_SNAPSHOT_PANICS: u32 = 1;
/// The snapshot returns an error.
pub const FAULT_SNAPSHOT_FAILS: u32 = 2;
/// The snapshot is 1 MiB long.
pub const FAULT_SNAPSHOT_HUGE: u32 = 3;
/// The restore of this state panics.
pub const FAULT_RESTORE_PANICS: u32 = 4;
/// The snapshot is garbage: no valid state.
pub const FAULT_GARBAGE: u32 = 5;
/// The restore of this state takes two seconds.
pub const FAULT_SLOW_RESTORE: u32 = 6;
/// `restore` ends the process (`abort`) when given this state: what an
/// allocation of terabytes does.
pub const FAULT_RESTORE_ABORTS: u32 = 7;
/// The schema-2 build does not write its state in schema 1 for a
/// rollback (`WarmStart::snapshot_for` answers `None`).
pub const FAULT_NO_DOWNGRADE: u32 = 8;
