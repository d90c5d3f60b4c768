//! The wire contract between host and plugin, and both halves of it.
//!
//! A plugin exports one function, [`ENTRY_SYMBOL`](crate::ENTRY_SYMBOL), of
//! type [`EntryFn`]. The host passes an [`EntryCall`]: its allocator, and a
//! [`MessageSink`] for an error. The plugin fills in a pointer to its
//! descriptor section and either a [`RawObject`] or an error message,
//! written through the sink into host memory. Everything here is
//! `#[repr(C)]`, and its layout is covered by
//! [`DESCRIPTOR_VERSION`](crate::DESCRIPTOR_VERSION).
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
pub(crate) mod host;
pub(crate) mod plugin;

/// The plugin's instance: a boxed value, its vtable and its destructor.
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
}

/// The arguments of the entry point.
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
}

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

/// What a [`MessageSink`](host::MessageSink) collected.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Message {
    /// The panic's or error's text.
    pub message: String,
    /// `file:line:column` of a panic, when known.
    pub location: Option<String>,
}
