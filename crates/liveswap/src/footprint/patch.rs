//! Points a freshly loaded library's references to four C library
//! functions at this module's hooks, before any of its Rust code runs.
//!
//! A Rust `cdylib` reaches `__cxa_thread_atexit_impl`, `pthread_key_create`,
//! `pthread_key_delete` and `pthread_create` through words of its global
//! offset table that the loader fills at `dlopen` (dynamic relocations of
//! type `GLOB_DAT`, `JUMP_SLOT` or an absolute 64-bit word, against the
//! symbol). Their places are read from the checked file's bytes; after
//! `dlopen` each is overwritten with the hook's address. Full RELRO (which
//! Rust links with) leaves those pages read-only: each is made writable for
//! the write and read-only again. Only the private mapping of this load's
//! copy is written (copy-on-write): the file is untouched.
//!
//! Costs: one pass over the dynamic relocations at load (a few thousand
//! entries for a typical plugin) and two `mprotect` calls per page written.

use std::ffi::c_void;

use object::read::{Object, ObjectSymbol, ObjectSymbolTable, RelocationTarget};
use object::{RelocationFlags, elf};

use crate::load::image::{Placement, page_size};

/// A function the hooks stand in for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hook {
    ThreadAtexit,
    KeyCreate,
    KeyDelete,
    ThreadCreate,
}

impl Hook {
    fn of(symbol: &str) -> Option<Hook> {
        Some(match symbol {
            "__cxa_thread_atexit_impl" => Hook::ThreadAtexit,
            "pthread_key_create" => Hook::KeyCreate,
            "pthread_key_delete" => Hook::KeyDelete,
            "pthread_create" => Hook::ThreadCreate,
            _ => return None,
        })
    }

    fn address(self) -> usize {
        match self {
            Hook::ThreadAtexit => super::tls::hook_thread_atexit as *const c_void as usize,
            Hook::KeyCreate => super::keys::hook_create as *const c_void as usize,
            Hook::KeyDelete => super::keys::hook_delete as *const c_void as usize,
            Hook::ThreadCreate => super::threads::hook_create as *const c_void as usize,
        }
    }
}

/// One word to overwrite: at `offset` from the load bias.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Site {
    pub offset: u64,
    pub hook: Hook,
}

/// Whether a relocation writes the symbol's address alone into a word.
fn writes_address(flags: RelocationFlags, addend: i64) -> bool {
    let RelocationFlags::Elf { r_type } = flags else {
        return false;
    };
    addend == 0
        && matches!(
            r_type,
            elf::R_X86_64_GLOB_DAT
                | elf::R_X86_64_JUMP_SLOT
                | elf::R_X86_64_64
                | elf::R_AARCH64_GLOB_DAT
                | elf::R_AARCH64_JUMP_SLOT
                | elf::R_AARCH64_ABS64
        )
}

/// The words of `bytes` (a checked ELF shared object of this process's
/// architecture) that hold the address of a hooked function.
pub(crate) fn sites(bytes: &[u8]) -> Vec<Site> {
    let Ok(file) = object::File::parse(bytes) else {
        return Vec::new();
    };
    let (Some(symbols), Some(relocations)) =
        (file.dynamic_symbol_table(), file.dynamic_relocations())
    else {
        return Vec::new();
    };
    relocations
        .filter_map(|(offset, relocation)| {
            let RelocationTarget::Symbol(index) = relocation.target() else {
                return None;
            };
            if !writes_address(relocation.flags(), relocation.addend()) {
                return None;
            }
            let symbol = symbols.symbol_by_index(index).ok()?;
            let hook = Hook::of(symbol.name().ok()?)?;
            Some(Site { offset, hook })
        })
        .collect()
}

/// Writes each hook's address at its sites in the library placed at
/// `placement`. Must run before any code of the library that could read
/// those words runs on another thread (right after `dlopen`). Returns how
/// many words were written.
pub(crate) fn apply(sites: &[Site], placement: &Placement) -> std::io::Result<usize> {
    let page = page_size();
    let word = size_of::<usize>();
    let mut written = 0;
    for site in sites {
        let Some(at) = usize::try_from(site.offset)
            .ok()
            .and_then(|o| placement.bias.checked_add(o))
        else {
            continue;
        };
        // Only a word inside the library's own segments, aligned.
        if !at.is_multiple_of(word)
            || !placement
                .ranges
                .0
                .iter()
                .any(|r| r.start <= at && at + word <= r.end)
        {
            continue;
        }
        let start = at & !(page - 1);
        let protected = placement
            .relro
            .as_ref()
            .is_some_and(|relro| relro.contains(&start));
        if protected {
            protect(start, page, libc::PROT_READ | libc::PROT_WRITE)?;
        }
        // SAFETY: `at` is an aligned word inside a segment of the library
        // just loaded, writable now (a RELRO page was made writable above;
        // the others are the writable data segment); no code of the library
        // reads it yet. The mapping is private: the copy's file is not
        // written.
        unsafe { (at as *mut usize).write(site.hook.address()) };
        if protected {
            protect(start, page, libc::PROT_READ)?;
        }
        written += 1;
    }
    Ok(written)
}

fn protect(start: usize, len: usize, prot: i32) -> std::io::Result<()> {
    // SAFETY: `start` is page-aligned and the page belongs to the library
    // just loaded; changing its protection affects that library alone.
    if unsafe { libc::mprotect(start as *mut c_void, len, prot) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}
