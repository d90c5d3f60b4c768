//! The wire contract between host and plugin, and both halves of it.
//!
//! A plugin exports one function, [`ENTRY_SYMBOL`](crate::wire::ENTRY_SYMBOL), of
//! type [`EntryFn`]. The host passes an [`EntryCall`]: its allocator, and a
//! [`MessageSink`] for an error. The plugin fills in a pointer to its
//! descriptor section and either a [`RawObject`] or an error message,
//! written through the sink into host memory. Everything that crosses
//! (the entry call, the object, the sink, futures, tasks) is `#[repr(C)]`,
//! and its layout is covered by
//! [`DESCRIPTOR_VERSION`](crate::wire::DESCRIPTOR_VERSION); the host-side
//! wrappers around it (`RemoteFuture`, the guarded wakers) are ordinary
//! Rust types that never cross.
//!
//! - `host`: what generated host code calls (sinks, results, the view);
//! - `plugin`: what generated plugin code calls (shims, the entry point,
//!   panics caught and reported), and `export!`;
//! - `alloc`: the plugin's allocations routed to the host's allocator.
//!
//! All of it is plumbing for generated code, reached through the hidden
//! `__private` module; every function that takes a raw pointer is `unsafe`.

use std::ffi::c_void;

pub(crate) mod alloc;
pub(crate) mod future;
pub(crate) mod host;
pub(crate) mod message;
pub(crate) mod panics;
pub(crate) mod plugin;

pub use message::Message;

/// Serializes a plugin instance's state into `out` (a host-owned, empty
/// `Vec<u8>`, filled with memory from the host's allocator); returns
/// [`CALL_OK`], [`CALL_FAILED`] or [`CALL_PANICKED`] (message in `sink`).
pub type SnapshotFn = unsafe extern "C" fn(
    instance: *const c_void,
    out: *mut Vec<u8>,
    sink: *mut host::MessageSink<'_>,
) -> u32;

/// Folds into a plugin instance what a replaced version changed after its
/// state was carried: its snapshot when carried (`base`) and its final one
/// (`last`), both of schema `schema`. Returns as [`SnapshotFn`] does.
pub type MergeFn = unsafe extern "C" fn(
    instance: *const c_void,
    schema: u32,
    base: *const u8,
    base_len: usize,
    last: *const u8,
    last_len: usize,
    sink: *mut host::MessageSink<'_>,
) -> u32;

/// Writes a plugin instance's state in an older schema `schema` into
/// `out` (as [`SnapshotFn`]), setting `*written` to 1; leaves `*written`
/// 0 when the plugin cannot. Returns as [`SnapshotFn`] does.
pub type DowngradeFn = unsafe extern "C" fn(
    instance: *const c_void,
    schema: u32,
    out: *mut Vec<u8>,
    written: *mut u8,
    sink: *mut host::MessageSink<'_>,
) -> u32;

/// The plugin's instance: a boxed value, its vtable and its destructor,
/// and, for a plugin with warm-start state, its schema and state functions.
///
/// Field order is part of the wire contract: `instance`, `vtable`, `drop`,
/// `panics`, `schema`, `snapshot`, `merge`, `downgrade`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct RawObject {
    /// The boxed instance.
    pub instance: *mut c_void,
    /// The interface's vtable, in the plugin's memory.
    pub vtable: *const c_void,
    /// Drops the boxed instance; catches its panics.
    pub drop: unsafe extern "C" fn(*mut c_void),
    /// The number of panics the plugin's shims have caught, in the
    /// plugin's memory (each loaded copy has its own). Read by the host
    /// off the call path; the plugin counts only when a call panics.
    pub panics: *const std::sync::atomic::AtomicU64,
    /// The instance's state schema (meaningful when `snapshot` is set).
    pub schema: u32,
    /// Takes a snapshot of the instance's state; `None` for a plugin that
    /// declares no state (`export!` without `warm`).
    pub snapshot: Option<SnapshotFn>,
    /// Merges a replaced version's late changes; `None` when the plugin
    /// does not (`WarmStart::MERGES` is false).
    pub merge: Option<MergeFn>,
    /// Writes the state in an older schema, for a rollback to a build that
    /// reads only that one; `None` for a plugin without state.
    pub downgrade: Option<DowngradeFn>,
}

/// The arguments of the entry point.
///
/// Field order is part of the wire contract: `allocator`, `section`,
/// `object`, `error`, `prior`, `prior_len`, `prior_schema`, `has_prior`,
/// `cold_on_failure`, `state`, `logger`, `imports`, `imports_len`, `spawner`.
#[repr(C)]
pub struct EntryCall<'a> {
    /// In: the host's allocator, which the plugin's allocations use from
    /// now on.
    pub allocator: *const alloc::HostAllocator,
    /// Out: the plugin's descriptor section, in its memory.
    pub section: *const u8,
    /// Out: the instance, when the status is [`ENTRY_OK`].
    pub object: RawObject,
    /// In: where to write the error of a failed constructor.
    pub error: host::MessageSink<'a>,
    /// In: the serving version's snapshot (host memory, valid for the
    /// call), when `has_prior` is 1.
    pub prior: *const u8,
    /// In: its length.
    pub prior_len: usize,
    /// In: the schema it was written with.
    pub prior_schema: u32,
    /// In: 1 when `prior` holds a snapshot, 0 otherwise.
    pub has_prior: u32,
    /// In: 1 when a restore that fails should start the instance cold
    /// (from no snapshot) instead of failing the entry point.
    pub cold_on_failure: u32,
    /// Out: one of the `STATE_*` values.
    pub state: u32,
    /// In: the host's logger, which the plugin's `log` and `tracing`
    /// deliver to from now on.
    pub logger: *const crate::logs::wire::HostLogger,
    /// In: the host services provided, alive while the library is loaded.
    pub imports: *const crate::imports::wire::RawImport,
    /// In: their number.
    pub imports_len: usize,
    /// In: the host's spawner, which `spawn_blocking` hands tasks to.
    pub spawner: *const crate::tasks::wire::HostSpawner,
}

/// [`EntryCall::state`]: no snapshot was used (none given, or the plugin
/// declares no state).
pub const STATE_NONE: u32 = 0;
/// The instance was restored from the snapshot.
pub const STATE_RESTORED: u32 = 1;
/// Restoring failed and the instance started cold; the sink says why.
pub const STATE_COLD: u32 = 2;
/// Restoring failed (or panicked: see the entry's status); the sink says why.
pub const STATE_FAILED: u32 = 3;

/// The entry point: fills `call` and returns an `ENTRY_*` status.
pub type EntryFn = unsafe extern "C" fn(call: *mut EntryCall<'_>) -> u32;
/// The constructor returned a value.
pub const ENTRY_OK: u32 = 0;
/// The constructor returned an error.
pub const ENTRY_FAILED: u32 = 1;
/// The constructor panicked.
pub const ENTRY_PANICKED: u32 = 2;
/// The plugin's code allocated memory while the library was being opened
/// (a static constructor), before it could use the host's allocator.
pub const ENTRY_EARLY_ALLOCATION: u32 = 3;

/// A method shim's status: the result was written.
pub const CALL_OK: u32 = 0;
/// A state shim's status: the plugin's code returned an error; the sink
/// holds its message.
pub const CALL_FAILED: u32 = 1;
/// A method shim's status: the method panicked; the sink holds the message.
pub const CALL_PANICKED: u32 = 2;

/// Which text a [`MessageSink`](host::MessageSink) write carries.
pub const FIELD_MESSAGE: u32 = 0;
/// See [`FIELD_MESSAGE`].
pub const FIELD_LOCATION: u32 = 1;

/// The result of a *direct* shim: methods whose arguments and result are all
/// scalars (integers, floats, `bool`, `char`, `()`) pass them by value and
/// return this, which comes back in registers.
#[repr(C)]
pub struct Direct<R> {
    /// The result, written when `status` is [`CALL_OK`].
    pub value: std::mem::MaybeUninit<R>,
    /// [`CALL_OK`] or [`CALL_PANICKED`].
    pub status: u32,
}
