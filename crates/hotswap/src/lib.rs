//! Replace a running process's plugin code without restarting it, without
//! dropping a call and without losing the state it holds.
//!
//! A *plugin* is a `cdylib` that exports one API object through
//! [`export!`]. A [`HotSwap`] handle loads it, gives it to any number of
//! concurrent callers, and swaps in a newer build on request: calls in
//! flight finish on the version they started with, new calls see the new
//! version at once, and the old version is destroyed and its library
//! unloaded when its last caller lets go. It is the Rust counterpart of
//! GHC's hot-swap library (`registerHotswap` / `withSO` / `swapSO` are
//! [`HotSwap::load`] / [`HotSwap::with`] / [`HotSwap::swap`]).
//!
//! ```no_run
//! # use std::ffi::c_void;
//! # #[repr(C)] pub struct GreeterVTable { pub answer: unsafe extern "C" fn(*const c_void) -> u64 }
//! # pub struct Greeter { this: *const c_void, vtable: *const GreeterVTable }
//! # unsafe impl Send for Greeter {}
//! # unsafe impl Sync for Greeter {}
//! # unsafe impl hotswap::Interface for Greeter {
//! #     type VTable = GreeterVTable;
//! #     type View = Greeter;
//! #     const NAME: &'static str = "doc::Greeter";
//! #     const VERSION: u32 = 1;
//! #     const FINGERPRINT: u64 = 1;
//! #     unsafe fn view(this: *const c_void, vtable: *const GreeterVTable) -> Self { Greeter { this, vtable } }
//! # }
//! # impl Greeter { pub fn answer(&self) -> u64 { unsafe { ((*self.vtable).answer)(self.this) } } }
//! use hotswap::HotSwap;
//!
//! let plugin = HotSwap::<Greeter>::load("target/debug/libgreeter.so")?;
//! println!("{}", plugin.current().answer());        // one atomic load
//! let report = plugin.swap("target/debug/libgreeter.so")?; // rebuilt in place
//! println!("now generation {} ({:?})", report.generation, report.total());
//! # Ok::<(), hotswap::Error>(())
//! ```
//!
//! # Guarantees
//!
//! - **Readers never wait.** [`HotSwap::current`] is one atomic load
//!   (`arc-swap`); no lock is shared between readers and the swapper.
//! - **A guard pins its version.** A [`Version`] owns its instance and its
//!   library and drops them in that order. What the host gets from a plugin
//!   is borrowed from a guard or copied into host values.
//! - **No reader pays for an unload.** The last guard to drop hands its
//!   version to the handle's reaper thread, which runs the plugin's
//!   destructor and `dlclose`.
//! - **A swap is all or nothing.** On any error the current version keeps
//!   serving and nothing of the rejected file stays mapped. Concurrent swaps
//!   are serialized; generations strictly increase.
//! - **Nothing of a rejected file runs.** The handshake is read from the
//!   file's bytes (an ELF section) before `dlopen`: compiler, target,
//!   library version, interface name, version, layout and fingerprint.
//! - **Each load maps a private copy**, so a plugin can be rebuilt in place,
//!   overwritten or deleted while loaded, and swapped again from the same
//!   path.
//! - **Every unload is verified** with the loader and `/proc/self/maps`; a
//!   library that stays mapped is reported as [`State::Pinned`].
//!
//! # Costs
//!
//! [`HotSwap::current`] costs an atomic load and a per-thread slot
//! (`arc-swap`'s debt list); holding many guards at once on a thread, or one
//! across a long wait, falls back to a reference count. [`Reader`] caches
//! the version per thread and costs one relaxed load while nothing changed,
//! but pins its version while idle. [`HotSwap::current_owned`] is an
//! `Arc` clone. A swap costs a file read and write, a parse, a `dlopen`
//! and the plugin's constructor, all on the swapping thread.
//!
//! # The plugin contract
//!
//! Host and plugin must be built by the same compiler, for the same target,
//! with the same `hotswap` version and the same interface source (checked),
//! and must use the same global allocator (not checked: both use the system
//! `malloc` unless one sets `#[global_allocator]`). Plugins are built with
//! `panic = "unwind"` (checked): their shims catch every panic and return it
//! as an error, because a panic that reached the host would be a foreign
//! exception to the host's own copy of std, and abort the process.
//!
//! A plugin must not keep a thread-local with a destructor, spawn threads,
//! or use `std::thread::current()`, `mpsc` timeouts, `arc-swap` or
//! `crossbeam-epoch` internally: each of these registers a thread-local
//! destructor or pthread key that keeps its library mapped (reported as
//! pinned) or, for `thread::current()`, leaks a pthread key per generation.
//! Nothing the plugin returns may be `'static` (a `&'static str`, a function
//! pointer, a `Box<dyn Trait>`): it dangles once the library is unloaded.

#![warn(missing_docs)]

pub mod abi;
mod descriptor;
mod error;
mod handshake;
mod interface;
mod loader;
mod reaper;
mod slot;
mod stats;
mod verify;
mod version;

pub use descriptor::{
    DESCRIPTOR_SIZE, DESCRIPTOR_VERSION, Descriptor, ENTRY_SYMBOL, FLAG_PANIC_UNWIND,
    HOTSWAP_VERSION, MAGIC, RUSTC_VERSION, SECTION, TARGET,
};
pub use error::Error;
pub use interface::{Export, Interface};
pub use slot::{Guard, HotSwap, Options, Reader, SwapReport};
pub use stats::{GENERATION_WARNING, GenerationInfo, State, Stats};
pub use verify::mapped_files;
pub use version::Version;
