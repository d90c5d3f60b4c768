//! Replace a running process's plugin code without restarting it and
//! without dropping a call.
//!
//! A *plugin* is a `cdylib` that exports one API object through
//! [`export!`]. A [`Slot`] handle loads it, gives it to any number of
//! concurrent callers, and swaps in a newer build on request: calls in
//! flight finish on the version they started with, new calls see the new
//! version at once, and the old version is destroyed and its library
//! unloaded when its last caller lets go. It is the Rust counterpart of
//! GHC's hot-swap library (`registerHotswap` / `withSO` / `swapSO` are
//! [`Slot::load`] / [`Slot::with`] / [`Slot::swap`]).
//!
//! By default code is swapped, not state: each version starts from its
//! constructor, and whatever the old version held (a counter, a cache)
//! goes with it. A plugin that implements [`WarmStart`] and is exported
//! with `export!(Trait => warm Type)` carries its state instead: the
//! serving version's snapshot is handed to the next one (see the README's
//! "Warm start").
//!
//! ```no_run
//! // The interface, in a crate both sides depend on:
//! #[liveswap::interface(version = 1)]
//! pub trait Handles: Send + Sync {
//!     fn some_data(&self) -> String;
//!     fn some_fn(&self, i: i64) -> String;
//! }
//!
//! // The plugin, a `cdylib`:
//! struct MyHandles;
//! impl Handles for MyHandles {
//!     fn some_data(&self) -> String { "I live in a shared object".into() }
//!     fn some_fn(&self, i: i64) -> String { format!("Adding to 10: {}", i + 10) }
//! }
//! liveswap::export!(Handles => MyHandles);
//!
//! // The host:
//! use liveswap::Slot;
//! let plugin = Slot::<dyn Handles>::load("target/debug/libmy_plugin.so")?;
//! println!("{}", plugin.current().some_fn(7)?);          // never waits
//! let report = plugin.swap("target/debug/libmy_plugin.so")?; // rebuilt in place
//! println!("now generation {} ({:?})", report.generation, report.total());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Guarantees
//!
//! - **Readers never wait.** [`Slot::current`] publishes the version it
//!   reads in a hazard slot of the calling thread's own with release stores
//!   (no atomic read-modify-write; no lock or shared counter between
//!   readers and the swapper); the swapper releases a replaced version
//!   once, after a `membarrier`, no slot holds it; where `membarrier` is
//!   refused, readers and swapper fence instead (`tests/read_path.rs`,
//!   the latter under a seccomp filter that refuses it).
//!   A [`Reader`] is one relaxed load while nothing was swapped.
//! - **A guard pins its version.** A [`Version`] owns its instance and its
//!   library and drops them in that order. What the host gets from a plugin
//!   is borrowed from a guard or copied into host values.
//! - **No reader pays for an unload.** The last guard to drop hands its
//!   version to the handle's reaper thread, which runs the plugin's
//!   destructor and `dlclose`.
//! - **A swap is all or nothing.** On any error the current version keeps
//!   serving and nothing of the rejected file stays mapped. Only the
//!   publish step is serialized; concurrent swaps publish in call order (a
//!   call overtaken by a later one gets [`Error::Superseded`]) and
//!   generations strictly increase.
//! - **Nothing of a rejected file runs.** The handshake is read from the
//!   file's bytes (an ELF section) before `dlopen`: compiler, target,
//!   library version, interface name and version, then every method and
//!   every type that crosses, field by field (see [`CrossSafe`]). A refusal
//!   names the first difference: "method `check`, argument 1:
//!   `rules_api::Request`, field `age_days`: the host has `u64`, the plugin
//!   `u32`". A types crate at a release semver calls compatible is
//!   compared by contents; at an incompatible one it is refused, naming
//!   both releases. Two arguments of one type declared in the other order
//!   are refused by name (`tests/boundary.rs`). This holds for what the
//!   checks refuse: the handshake reads what a file says of itself, so a
//!   library crafted to carry a real plugin's sections passes it, and its
//!   constructors run at `dlopen`, unless [`Options::trusted_keys`] requires a
//!   signature (checked before `dlopen` too, `tests/trust.rs`).
//! - **Nothing that crosses can dangle.** Every argument, result and field
//!   type is [`CrossSafe`]: it owns its data. References, trait objects,
//!   function pointers and `'static` borrows of the plugin's memory do not
//!   compile. What the host gets from a plugin is owned, or borrowed from a
//!   guard that keeps the plugin mapped.
//! - **One allocator.** The plugin's global allocator forwards to the
//!   host's, so values change hands without a cross-allocator free.
//! - **A plugin's statics do not leak at every swap.** Every block a
//!   generation's code allocates is recorded; what crosses to the host is
//!   adopted by it at the boundary; what is left once the generation is
//!   verified unloaded (a `LazyLock<Regex>`, a cache in a `static`) is
//!   freed, and [`GenerationInfo::heap`](crate::stats::GenerationInfo::heap) says how much ([`HeapReport`](crate::stats::HeapReport);
//!   `tests/heap.rs`, whose handed-over values are read after the reclaim
//!   under valgrind in CI). An interface that passes a type the walk cannot
//!   follow (`VecDeque`, `BTreeMap`, `BTreeSet`, a hand-written
//!   [`CrossSafe`]) keeps its generations' heap and names the type. Costs:
//!   a lock and a hash-map insert or remove per plugin allocation or free
//!   (about 17 ns per 64-byte allocation and free, 1.7-2.3x the host's
//!   allocator alone), one remove per heap block of a value that crosses
//!   to the host (none for scalars), about 40 bytes per live plugin block,
//!   one pass over the record at unload.
//! - **Each load maps a private copy**, never the source file, so the source
//!   may be rebuilt, overwritten in place (same inode), truncated or deleted
//!   while its version serves, and swapped in again from the same path
//!   (tested in `tests/lifecycle.rs`). The source is opened once, without blocking, and judged by
//!   `fstat` on that descriptor (size cap: [`Options::max_file_size`]); the
//!   copy is a sealed memfd or an unnamed file on disk ([`Storage`](crate::stats::Storage)): no
//!   name anyone could plant or remove, nothing left after a crash, and the
//!   handshake reads the very bytes `dlopen` maps.
//! - **Every unload is verified** with the loader and the kernel's mappings
//!   of the library's own address ranges; a library that stays loaded is
//!   reported as [`State::Pinned`](crate::stats::State::Pinned) with its cause (the threads it started
//!   and what started them, a signal handler), and, for most causes,
//!   closed once that cause ends (tested in `tests/pinning.rs` and `tests/ecosystem.rs`).
//! - **Plugin code cannot make the host abort by creating pthread keys or
//!   pin it with thread-locals**: the plugin's thread-exit destructors,
//!   pthread keys and threads go through the library, which runs the
//!   destructors while the generation serves, deletes its keys when it
//!   retires, and waits for its threads (`tests/generation_limit.rs`: 1,100
//!   generations of a `thread::current()` plugin, all unloaded, keys flat).
//!   Below [`KEY_RESERVE`](crate::defaults::KEY_RESERVE) free keys a swap is refused
//!   ([`Error::KeysExhausted`]), and likewise below 32 free file
//!   descriptors ([`Error::DescriptorsExhausted`], a read of
//!   `/proc/self/fd` per swap). Costs: nothing on a call; a
//!   read-locked scan of the loaded generations when plugin code registers
//!   a destructor, a key or a thread; up to 250 ms of the reaper's time for
//!   a retiring generation whose threads are still running.
//! - **Unloads keep up**: at most [`Options::max_unloading`] replaced
//!   versions wait to unload; beyond that a swap waits, then fails with
//!   [`Error::Backlog`].
//! - **State can survive a swap** ([`WarmStart`], `export!(Trait => warm
//!   Type)`): the serving version's snapshot, taken after the new file
//!   passed every check, restores the new one, which migrates older
//!   schemas in its own code; calls on the old version after the snapshot
//!   are merged once it drains when the plugin implements
//!   [`WarmStart::merge`]. A snapshot or restore that fails, panics or is
//!   over [`Options::max_state_size`] refuses the swap and the old version
//!   keeps its state (or, by [`Options::cold_on_state_failure`], the new
//!   one starts cold, as [`SwapReport::state`] says). Tests:
//!   `tests/warm_start.rs`; semantics in the `WarmStart` docs.
//! - **fork**: a child may read and call; swapping there is
//!   [`Error::Forked`], and dropping the handle there does nothing.
//!
//! # Costs
//!
//! Measured by `liveswap-bench` (BENCHMARKS.md in the repository, the
//! latest run) on a 2-core virtualized AMD EPYC, Linux 6.18, glibc 2.36,
//! rustc 1.95, release builds, calling a plugin method
//! `add(i64, i64) -> i64`, each read inlined into the calling loop, each
//! measuring thread pinned to a CPU of its own; a bare function pointer to
//! the same code costs 2.2 ns a call there. Per call, one thread / two
//! threads calling at once (the figures move with the machine and the run:
//! with the threads left to the scheduler, earlier runs on the same
//! machine gave 3.0 to 4.5 ns for `current` on one thread; in the latest
//! run unpinned and pinned agree, 3.0 / 3.0 ns):
//!
//! | read | ns per call | what it costs |
//! |---|---:|---|
//! | [`Reader::get`] + call | 2.5 / 2.5 | one relaxed load while nothing was swapped; pins its version while idle |
//! | [`Slot::current`] + call | 3.0 / 3.0 | a hazard slot of the calling thread's own: a thread-local, a test of the thread's first slot (nested guards' slots are searched out of line), two loads of the slot's pointer around a release store, a relaxed load of the fence mode and a compiler fence, a release store at drop (plain `mov`s on x86_64); no atomic read-modify-write; the guard is two words |
//! | [`Slot::with`] + call | as `current` | `current` around a closure |
//! | [`Slot::current_owned`] + call | 4.4 / 15.6 | an `Arc` clone: one shared reference count, contended by every thread |
//! | for comparison: `RwLock<Arc<_>>` + call | 5.0 / 24.7 | |
//!
//! A thread holding 8 guards at once makes the next ones fall back to the
//! reference count (the `current_owned` figure), and a guard held long
//! keeps the version it reads loaded after a swap (a background thread,
//! `liveswap-grace`, releases it within a millisecond of the guard's
//! drop): take a guard for a call, not for a request. A swap pays a
//! `membarrier` call and a pass over the threads' hazard slots.
//!
//! A swap costs an in-kernel copy of the file (about `cp`'s
//! time), a parse of the mapped copy, a `dlopen` and the plugin's
//! constructor, all on the swapping thread and outside any lock; after the
//! swap the process's RSS does not grow with the file's size (during it,
//! the copy is read once to hash it, 1 MiB at a time, by a second thread
//! while it is written when it is 16 MiB or more: a 200 MB plugin swaps in
//! 1.25x `cp`'s time with 0.37 MB of peak RSS growth). A copy up to 64 MiB
//! ([`Options::memfd_max`]) is held in shared memory for as long as its
//! version (or the rollback copy) lives; bigger ones in page cache.
//!
//! Warm start adds nothing to a call. A swap of a plugin with state adds
//! its snapshot and restore: with postcard, 0.9 ms and 0.3 ms for 1 MiB of
//! `u64` counters, 118 ms and 73 ms for 100 MiB (BENCHMARKS.md,
//! "Warm start"); the
//! snapshot is held until the new version is built, and, when the plugin
//! merges, until the replaced version drains.
//!
//! # Deploying
//!
//! [`Slot::swap_with`] runs checks between load and publish
//! ([`SwapOptions`]: skip a build already serving, a [`Preflight`] of
//! golden requests, a gate before the candidate is mapped);
//! [`Slot::set_swap_policy`] makes them the slot's policy, which every
//! swap follows unless its own options name a setting otherwise. With the
//! `deploy` feature, `deploy::Watcher` swaps to each new build that lands
//! at a path, `deploy::IsolatedPreflight` runs the preflight in a child
//! process, and `deploy::Probation` rolls back a new build that panics too
//! often. [`Slot::history`] lists the last attempts, whatever asked.
//!
//! # The plugin contract
//!
//! Host and plugin must be built by the same compiler, for the same target,
//! with the same `liveswap` version, and agree on every type that crosses
//! (all checked, before the plugin is mapped). The plugin's allocations go
//! to the host's allocator ([`export!`] sets the plugin's global allocator;
//! a plugin that allocates while its library is being opened is refused).
//! Plugins are built with `panic = "unwind"` (checked): their shims catch
//! every panic and return it as an error, because a panic that reached the
//! host would be a foreign exception to the host's own copy of std, and
//! abort the process. A destructor that panics while another panic unwinds
//! aborts the process by Rust's own rules; no shim can catch that.
//!
//! A plugin can call the host through host services: interfaces the host
//! implements and lends ([`Options::provide`]), which the plugin declares
//! in `export!(.., imports(dyn I))` and takes with [`import`]; each is
//! checked like the export before any plugin code runs (tested in
//! `tests/imports.rs`).
//!
//! An interface may have `async fn` methods: the host awaits the plugin's
//! future ([`RemoteFuture`]) on its own runtime, and the plugin needs
//! none (tested in `tests/async_calls.rs`). A host service may have them
//! too: plugin code awaits the host's future, and a waker of plugin code
//! the host's future keeps holds the plugin's generation loaded until the
//! host drops it (tested in `tests/async_imports.rs`).
//!
//! A plugin hands a future to the host with [`spawn`] (instead of
//! `tokio::spawn`): it runs on [`Options::future_executor`] (the host's
//! runtime) or a thread of the library's pool, and the plugin's generation
//! stays loaded until it completes or is dropped (tested in
//! `tests/tasks.rs`).
//!
//! A plugin hands blocking work to the host with [`spawn_blocking`]: it
//! runs on a host thread (the library's pool, or [`Options::executor`]),
//! and the plugin's generation stays loaded until it ends (tested in
//! `tests/tasks.rs`).
//!
//! A plugin's `log` records and `tracing` events reach the host's
//! subscriber (or its `log` logger) with no setup in the plugin: the entry
//! point installs the forwarding in the plugin's own copies of those
//! crates, at the host's level (tested in `tests/logs.rs`).
//!
//! A plugin may use thread-locals with destructors, `std::thread::current()`
//! and tokio's `block_on`; threads it starts must be stopped and joined in
//! its instance's `Drop` (the retire hook, run after the last guard and
//! before the unload), or its generation stays loaded (reported pinned)
//! for as long as they run. The heap a `static` holds (a `LazyLock` cache)
//! is freed once its generation is verified unloaded (see the guarantees
//! above). The README's "What plugins may do" has the whole table.
//!
//! # Trust model
//!
//! Before any byte of a file is mapped, a load or swap checks, in order:
//!
//! 1. **Who could have written it** (on by default, [`check::check_path`]):
//!    the file, every directory above it and every symbolic link on the
//!    way (each followed and its target walked) must be owned by root or
//!    the effective uid and not writable by others, nor by a group other
//!    than the owner's private group; a sticky directory writable by others
//!    (`/tmp`) is allowed, its entries being held to the same rule. Checked
//!    before the file is read, so a refusal reads nothing; once a path
//!    passes, only trusted users can change it, so the check cannot be
//!    raced by anyone else. Refusal: [`Error::UnsafePath`], naming the
//!    component, its owner and mode. [`Options::allow_unsafe_path`] turns
//!    it into a warning in [`SwapReport::warnings`].
//! 2. **Who signed it** (when [`Options::trusted_keys`] are given):
//!    `<plugin>.minisig`, a minisign signature by one of the keys, verified
//!    over the private copy's bytes, the bytes then mapped.
//!    Refusal: [`Error::Signature`] (missing, malformed, unknown key, or
//!    not matching). [`SwapReport::signer`] and [`GenerationInfo::signer`](crate::stats::GenerationInfo::signer)
//!    carry the key id and trusted comment. A trusted comment naming a
//!    release (`release:N`) binds the signature to it: once such a build
//!    serves, a swap to an older release (or to one naming none) is
//!    refused, and [`Options::minimum_release`] sets a floor; rollback is
//!    not bound by it (`tests/trust.rs`). Costs one read of the
//!    signature file, a BLAKE2b-512 hash of the plugin taken in the pass
//!    that copies and hashes it anyway (about 1.3 ms per MB, no page of
//!    the file mapped), and one Ed25519 verification.
//! 3. **What it is built for**: the handshake (compiler, target, library
//!    version, interface, type layouts), the same check the `liveswap
//!    check` tool runs offline with [`check::check_section`].
//!
//! The handshake alone catches mistakes, not malice: a file crafted to
//! pass it (a copied descriptor section) would run its constructors at
//! `dlopen` like any library; the path policy and signatures are what stand
//! against that.
//!
//! What stays the deployer's job: guarding the signing key and the list
//! of trusted keys, the host binary and the accounts of root and the
//! service's user (trusted by definition), installing plugins by writing
//! a new file and renaming it over, and restarting without a revoked key.

#![warn(missing_docs)]

mod abi;
pub mod check;
#[cfg(feature = "control")]
pub mod control;
#[cfg(feature = "deploy")]
pub mod deploy;
mod descriptor;
mod error;
mod filekind;
mod footprint;
mod generation;
mod handshake;
mod hash;
mod heap;
pub mod history;
mod imports;
mod interface;
pub mod layout;
mod load;
mod loader;
mod logs;
mod manage;
mod maps;
mod options;
mod pipeline;
mod preflight;
mod read;
mod reaper;
mod registry;
mod remote_error;
mod slot;
#[cfg(feature = "state")]
pub mod state;
pub mod tasks;
mod telemetry;
mod warm;

pub use abi::future::RemoteFuture;
pub use error::{CallError, Error, Panic};
pub use generation::Version;
pub use hash::ContentHash;
pub use imports::{Import, ImportError, import};
pub use interface::{Export, HostService, Interface};
pub use layout::CrossSafe;
/// Derives [`CrossSafe`] for a struct or an enum whose every field is
/// `CrossSafe`: the layout (size, alignment, field offsets, variants and
/// discriminants, the crate's name and version) is measured at compile
/// time and checked against the plugin's before the plugin is mapped.
///
/// ```
/// #[derive(liveswap::CrossSafe)]
/// pub struct Request {
///     pub user: String,
///     pub urls: Vec<String>,
///     pub score: u64,
/// }
///
/// #[derive(liveswap::CrossSafe)]
/// #[repr(u8)]
/// pub enum Action { Allow, Review, Block = 10 }
///
/// // Types may contain themselves and each other.
/// #[derive(liveswap::CrossSafe)]
/// pub struct Tree { pub label: String, pub children: Vec<Tree>, pub notes: Vec<Note> }
///
/// #[derive(liveswap::CrossSafe)]
/// pub struct Note { pub text: String, pub about: Option<Box<Tree>> }
/// ```
///
/// Refused at compile time, with the offending field's type named: fields
/// that borrow (`&'static str`), trait objects (`Box<dyn Error>`,
/// `Box<dyn Any>`), `std::io::Error`, function pointers, and any type that
/// is not `CrossSafe`; lifetime parameters; unions. Type parameters must be
/// `CrossSafe`. A generic type that contains itself is refused (a
/// non-generic one is described once, in a static). `#[liveswap(crate = path)]` names the library when
/// it is a renamed dependency.
pub use liveswap_macros::CrossSafe;
/// Declares a plugin interface from a trait.
///
/// ```
/// #[liveswap::interface(version = 1)]
/// pub trait Handles: Send + Sync {
///     /// Doc comments carry over to the host's methods.
///     fn some_data(&self) -> String;
///     fn some_fn(&self, i: i64) -> String;
///     fn name(&self) -> &str; // borrowed from the instance, tied to the guard
/// }
///
/// // Plugin side: implement the trait, export one instance.
/// struct MyHandles;
/// impl Handles for MyHandles {
///     fn some_data(&self) -> String { "I live in a shared object".into() }
///     fn some_fn(&self, i: i64) -> String { format!("Adding to 10: {}", i + 10) }
///     fn name(&self) -> &str { "mine" }
/// }
/// liveswap::export!(Handles => MyHandles);
///
/// // Host side: `Slot<dyn Handles>`; every method returns a `Result`.
/// fn answer(plugin: &liveswap::Slot<dyn Handles>) -> Result<String, liveswap::CallError> {
///     plugin.current().some_fn(7)
/// }
/// ```
///
/// `version = N` is the interface's version, bumped by hand on a change of
/// meaning; `name = "..."` overrides the name checked by the handshake
/// (by default `module_path!()::Trait`).
///
/// For trait `Handles` it generates, beside the unchanged trait:
///
/// - `HandlesVTable`, a `#[repr(C)]` table of `extern "C"` shims, one per
///   method, each running the method inside `catch_unwind` and returning a
///   panic's message and location as a value: nothing unwinds across the
///   boundary (a panic reaching the host's copy of std would abort it);
/// - `HandlesApi`, the host's view, whose methods mirror the trait's and
///   return `Result<T, CallError>`;
/// - `impl Interface for dyn Handles`, whose `METHODS` describe every
///   method's argument and result types, which must each be [`CrossSafe`]
///   (or a reference to one at the top of the signature): the handshake
///   compares them, type by type, with the plugin's before it is mapped;
/// - `impl<T: Handles + Send + Sync> Export<T> for dyn Handles`, used by
///   [`export!`].
///
/// Scalar arguments and results (integers up to 64 bits, floats, `bool`,
/// `char`, `()`) travel by value in registers when a method has only those;
/// otherwise arguments and results travel as Rust values by pointer, under
/// the same-toolchain contract (checked by the handshake): any
/// [`CrossSafe`] type, `&T`, `&mut T`, `&[T]` and `&str` arguments, and
/// results that borrow from `&self`. Owned values change hands; the
/// plugin's allocations use the host's allocator (see [`export!`]).
///
/// Rejected at compile time: any type that is not `CrossSafe` (with a
/// message naming it and what to use instead), closure, trait-object and
/// function-pointer arguments (a host panic inside a callback would abort
/// the process), returned references with `'static` or a named lifetime,
/// returned trait objects and function pointers, generic methods, an
/// `async fn` taking or returning a reference, `impl Trait`, `Self` in a
/// signature, and methods without `&self`.
///
/// An `async fn` (owned arguments and result) becomes, in the trait, a
/// method returning `impl Future<Output = T> + Send` (implement it with
/// `async fn`); the host's view returns a [`RemoteFuture`] that borrows
/// the guard, so the version stays loaded while the future lives. Such an
/// interface may also be a [`HostService`], awaited by plugin code.
///
/// `crate = path` names the library when it is a renamed dependency (as
/// serde's `crate` attribute does).
pub use liveswap_macros::interface;
pub use manage::{Inspection, ManagedSlot};
pub use options::Options;
pub use pipeline::{Candidate, SwapOptions, SwapReport};
pub use preflight::Preflight;
pub use registry::Stats;
pub use remote_error::RemoteError;
pub use slot::{Guard, Reader, Slot};
pub use tasks::{spawn, spawn_blocking};
pub use warm::{Snapshot, StateReport, WarmStart};

// The derive and the attribute name the library `::liveswap`; inside the
// library itself, that is this crate.
extern crate self as liveswap;

/// What a slot knows of its generations ([`Slot::stats`]), and what this
/// process has mapped ([`mapped_files`](stats::mapped_files)).
pub mod stats {
    pub use crate::heap::HeapReport;
    pub use crate::load::store::Storage;
    pub use crate::maps::mapped_files;
    pub use crate::registry::{GenerationInfo, State, Stats};
}

/// The defaults of [`Options`] and [`SwapOptions`], and the pthread-key
/// thresholds below which swaps are warned of and refused.
pub mod defaults {
    pub use crate::history::DEFAULT_HISTORY_LEN;
    pub use crate::load::open::DEFAULT_MAX_FILE_SIZE;
    pub use crate::load::store::DEFAULT_MEMFD_MAX;
    pub use crate::options::{DEFAULT_MAX_STATE_SIZE, DEFAULT_MAX_UNLOADING, DEFAULT_UNLOAD_WAIT};
    pub use crate::preflight::DEFAULT_PREFLIGHT_TIMEOUT;
    pub use crate::registry::{KEY_RESERVE, KEY_WARNING};
}

/// What a plugin file says of itself, for tools that read plugins without
/// loading them (`liveswap inspect`): the descriptor, the ELF section it
/// lives in, the entry point's symbol, and the values a host compares.
pub mod wire {
    pub use crate::descriptor::{
        DESCRIPTOR_SIZE, DESCRIPTOR_VERSION, Descriptor, ENTRY_SYMBOL, FLAG_PANIC_UNWIND,
        LIVESWAP_VERSION, MAGIC, RUSTC_VERSION, SECTION, TARGET,
    };
}

/// Plumbing for the code that `#[liveswap::interface]`, `CrossSafe` and
/// `export!` generate. Not a public API: it may change in any release.
/// Everything here that takes a raw pointer is `unsafe`, and nothing here
/// can be misused from safe code.
#[doc(hidden)]
pub mod __private {
    pub use crate::abi::alloc::{HostAllocator, RoutedAllocator};
    pub use crate::abi::future::{FutureOf, RawFuture, start_future};
    pub use crate::abi::host::{MessageSink, RawView, finish_call, finish_direct};
    pub use crate::abi::plugin::{call_direct, call_shim, entry, entry_warm};
    pub use crate::abi::{
        CALL_OK, CALL_PANICKED, Direct, ENTRY_EARLY_ALLOCATION, ENTRY_FAILED, ENTRY_OK,
        ENTRY_PANICKED, EntryCall, EntryFn, Message, RawObject,
    };
    pub use crate::descriptor::Section;
    pub use crate::heap::adopt_block;
    /// What `#[derive(CrossSafe)]` says of its walk: exact.
    pub const EXACT_WALK: crate::layout::Walk = crate::layout::Walk::EXACT;
    pub use crate::layout::std_impls::{RefTo, STR_MUT, STR_REF, SliceOf};
    pub use crate::layout::{encode_table, table_len};
}
