//! Checks that an unloaded library is really gone.
//!
//! `dlclose` returning 0 does not mean the library was unmapped: glibc keeps
//! a library loaded while it has pending thread-local destructors, and says
//! nothing. So after `dlclose` we ask the loader (`dlopen` with
//! `RTLD_NOLOAD`, which never loads) and the kernel (`/proc/self/maps`).

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// What remains of a library after `dlclose`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Residue {
    /// The loader still has it in its list of loaded objects.
    Loaded,
    /// The loader forgot it but some of its pages are still mapped.
    Mapped,
}

/// `None` when neither the loader nor the kernel knows `path` any more.
pub(crate) fn residue(path: &Path) -> Option<Residue> {
    if loader_has(path) {
        Some(Residue::Loaded)
    } else if is_mapped(path) {
        Some(Residue::Mapped)
    } else {
        None
    }
}

/// Asks the loader whether `path` is loaded, without loading it.
pub(crate) fn loader_has(path: &Path) -> bool {
    let Ok(c_path) = CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: `c_path` is a valid C string; with RTLD_NOLOAD `dlopen` loads
    // nothing and runs no code, it only looks the name up and, if found,
    // takes a reference that we give back at once.
    unsafe {
        let handle = libc::dlopen(c_path.as_ptr(), libc::RTLD_NOLOAD | libc::RTLD_LAZY);
        if handle.is_null() {
            false
        } else {
            libc::dlclose(handle);
            true
        }
    }
}

/// Whether `/proc/self/maps` lists `path` (also as `path (deleted)`).
pub(crate) fn is_mapped(path: &Path) -> bool {
    mapped_files()
        .iter()
        .any(|mapped| mapped.as_bytes() == path.as_os_str().as_bytes())
}

/// The distinct file paths in `/proc/self/maps`, with any ` (deleted)`
/// suffix removed.
pub fn mapped_files() -> Vec<String> {
    let Ok(maps) = std::fs::read_to_string("/proc/self/maps") else {
        return Vec::new();
    };
    let mut files: Vec<String> = maps
        .lines()
        .filter_map(|line| {
            // address perms offset dev inode path: only the path has a '/'.
            let path = &line[line.find('/')?..];
            Some(path.trim_end_matches(" (deleted)").to_string())
        })
        .collect();
    files.sort();
    files.dedup();
    files
}
