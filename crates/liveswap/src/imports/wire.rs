//! What crosses for each import: the host object's section (descriptor
//! and type table, the plugin checks it against its own), instance and
//! vtable. `#[repr(C)]`; covered by the descriptor version.

use std::ffi::c_void;

/// One object the host provides.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct RawImport {
    /// The interface's section as the host built it.
    pub section: *const u8,
    /// Its length.
    pub section_len: usize,
    /// The host's object.
    pub instance: *const c_void,
    /// Its vtable, in host code.
    pub vtable: *const c_void,
}
