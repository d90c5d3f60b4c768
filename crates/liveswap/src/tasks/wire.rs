//! A task as it crosses: the plugin's box and its two functions, and the
//! host's functions that take it. `#[repr(C)]`; covered by the descriptor
//! version.

use std::ffi::c_void;

/// A closure of plugin code, boxed by the plugin.
#[repr(C)]
pub struct RawTask {
    /// The boxed closure.
    pub data: *mut c_void,
    /// Runs and frees it (plugin code; catches panics).
    pub run: unsafe extern "C" fn(*mut c_void),
    /// Frees it without running it (plugin code; catches panics).
    pub discard: unsafe extern "C" fn(*mut c_void),
}

/// A future of plugin code (its output `()`), boxed by the plugin.
#[repr(C)]
pub struct RawSpawned {
    /// The boxed future, pinned (never moved until freed).
    pub data: *mut c_void,
    /// Polls it with the host's `&Waker` (plugin code; catches panics):
    /// [`POLL_READY`], [`POLL_PENDING`] or [`POLL_PANICKED`].
    pub poll: unsafe extern "C" fn(*mut c_void, *const c_void) -> u32,
    /// Frees it (plugin code; catches panics).
    pub drop: unsafe extern "C" fn(*mut c_void),
}

/// The spawned future completed.
pub const POLL_READY: u32 = 0;
/// The spawned future is pending; the waker will be woken.
pub const POLL_PENDING: u32 = 1;
/// The spawned future panicked (caught and counted in the plugin).
pub const POLL_PANICKED: u32 = 2;

/// The host's side: takes a task or a future; returns [`SPAWNED`] or,
/// when it refuses it (it has already freed it), [`REFUSED`].
#[repr(C)]
pub struct HostSpawner {
    pub spawn: unsafe extern "C" fn(task: RawTask) -> u32,
    pub spawn_future: unsafe extern "C" fn(future: RawSpawned) -> u32,
}

/// The host took the task.
pub const SPAWNED: u32 = 0;
/// The host refused the task and discarded it.
pub const REFUSED: u32 = 1;
