//! The read path: how [`Slot::current`](crate::Slot::current) reaches the
//! serving version without an atomic read-modify-write and without a
//! shared reference count (RCU, as the Linux kernel and `liburcu`'s
//! membarrier flavour do it).
//!
//! - `hazard.rs`: each thread owns a record of [`SLOTS`](hazard::SLOTS)
//!   hazard slots, found through a thread-local and kept in a global list.
//!   A reader publishes the version it is about to read into a free slot
//!   of its own with a release store (a plain `mov` on x86_64), then
//!   checks that the slot still serves it; a guard's drop stores null. Nested guards take the next
//!   slot; a thread holding all of them gets an owned reference instead.
//! - `grace.rs`: the swapper's side. After it replaces the pointer it
//!   issues `membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED)`, which makes
//!   every thread of the process pass a full memory barrier, and then
//!   reads every hazard slot: from then on no reader can newly protect the
//!   old version, so once no slot holds it, the slot's reference to it is
//!   released. Where the syscall is missing or refused (old kernels,
//!   seccomp), readers fence with `SeqCst` and the swapper does too: each
//!   read then costs a full fence (`tests/read_path.rs` runs readers and
//!   swaps under a seccomp filter that refuses the syscall).
//! - `cell.rs`: `Current`, the slot's pointer with its one reference;
//!   [`Guard`](cell::Guard) and [`Reader`](cell::Reader).
//!
//! Costs: a read is a thread-local access, a load of the first slot (the
//! others are searched out of line, for nested guards), a store, two
//! loads of the slot's pointer, a relaxed load of the fence mode and a
//! compiler fence, and its guard's drop one store; the guard is two
//! words; a swap adds the
//! `membarrier` call (microseconds) and a pass over the hazard slots (8
//! per thread that ever read). A version still read when it is replaced
//! is released by the thread `liveswap-grace`, which looks again every
//! millisecond while one waits and is parked otherwise; a swap and the
//! slot's drop also look first. A slot's store orders what the previous
//! guard of that slot read before the swapper can see the slot free (a
//! release store, an acquire load when a free slot is chosen).
//!
//! Not for signal handlers: a handler that reads while its thread is in
//! the middle of a read could share a slot with it.
//!
//! The protocol (publish, fence, check; replace, fence, scan) is modelled
//! with `loom` over every interleaving and weak-memory outcome in
//! `tests/read_protocol_model.rs`, with the fence fallback (`loom` cannot
//! model `membarrier`); a variant without the reader's fence must fail
//! there, and does.
//!
//! The hazard slots and the grace period themselves are checked under
//! Miri (`-Zmiri-strict-provenance`) by the eight unit tests of `tests.rs`,
//! over plain boxed values (no plugin): `.ci/run` runs
//! `cargo +nightly miri test -p liveswap --lib read::tests::` when a nightly
//! toolchain with miri and rust-src can be had, and says the step was
//! skipped otherwise. Under Miri the fence mode is the fenced one (Miri
//! cannot make the `membarrier` call, `fence.rs`) and a retire sweeps in
//! place instead of starting `liveswap-grace` (Miri's leak check fails a
//! process that leaves a thread parked, `grace.rs`). A variant that reads
//! after its hazard dropped and a sweep ran was checked to fail there as
//! a use after free ("memory access failed: ... has been freed").
//! `Current` and `Guard` over real versions are not covered by Miri (they
//! need a loaded plugin, which Miri cannot `dlopen`): the integration
//! tests (`tests/read_path.rs`) and valgrind (`.ci/run`) cover them.

//! Why not a crate: `arc-swap` (which this replaced) and `seize` take an
//! atomic read-modify-write per read; `crossbeam-epoch`'s pin issues a
//! full fence; `haphazard` has this design (hazard pointers with an
//! asymmetric barrier) but owns the retirement of what it protects, while
//! a version's release must go through the slot's reaper thread, and
//! RCU libraries in C (`liburcu`) would add a C dependency for 300 lines.

pub(crate) mod cell;
pub(crate) mod fence;
pub(crate) mod grace;
pub(crate) mod hazard;
#[cfg(test)]
mod tests;
