//! A task as it crosses: the plugin's box and its two functions, and the
//! host's function that takes it. `#[repr(C)]`; covered by the descriptor
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

/// The host's side: takes a task; returns [`SPAWNED`] or, when it refuses
/// it (it has already called `discard`), [`REFUSED`].
#[repr(C)]
pub struct HostSpawner {
    pub spawn: unsafe extern "C" fn(task: RawTask) -> u32,
}

/// The host took the task.
pub const SPAWNED: u32 = 0;
/// The host refused the task and discarded it.
pub const REFUSED: u32 = 1;
