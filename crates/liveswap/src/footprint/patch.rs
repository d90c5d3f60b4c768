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

/// Where a library reaches the hooked functions.
#[derive(Debug, Default)]
pub(crate) struct Sites {
    pub sites: Vec<Site>,
    /// Hooked functions the library imports but reaches some other way
    /// (a relocation of another kind): then it cannot be hooked.
    pub unreachable: Vec<&'static str>,
    /// Why the file could not be read for its sites.
    pub unreadable: Option<String>,
}

const HOOKED: [&str; 4] = [
    "__cxa_thread_atexit_impl",
    "pthread_key_create",
    "pthread_key_delete",
    "pthread_create",
];

/// The words of `bytes` (a checked ELF shared object of this process's
/// architecture) that hold the address of a hooked function.
pub(crate) fn sites(bytes: &[u8]) -> Sites {
    let file = match object::File::parse(bytes) {
        Ok(file) => file,
        Err(e) => {
            return Sites {
                unreadable: Some(e.to_string()),
                ..Sites::default()
            };
        }
    };
    let imported: Vec<&'static str> = file
        .dynamic_symbols()
        .filter(|s| s.is_undefined())
        .filter_map(|s| {
            let name = s.name().ok()?;
            HOOKED.iter().copied().find(|h| *h == name)
        })
        .collect();
    let (Some(symbols), Some(relocations)) =
        (file.dynamic_symbol_table(), file.dynamic_relocations())
    else {
        return Sites {
            unreachable: imported,
            ..Sites::default()
        };
    };
    let sites: Vec<Site> = relocations
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
        .collect();
    // A hooked import reached only by relocations of other kinds (which
    // do not write its bare address into a word) cannot be redirected.
    let unreachable = imported
        .into_iter()
        .filter(|name| Hook::of(name).is_some_and(|hook| !sites.iter().any(|s| s.hook == hook)))
        .collect();
    Sites {
        sites,
        unreachable,
        unreadable: None,
    }
}

/// Writes each hook's address at its sites in the library placed at
/// `placement`. Must run before any code of the library that could read
/// those words runs on another thread (right after `dlopen`). All or
/// nothing for the checks: a site outside the library's writable or RELRO
/// pages, or a hooked import with no site, refuses before any word is
/// written. The words are written with their RELRO pages made writable,
/// and the pages are made read-only again after, each once.
pub(crate) fn apply(found: &Sites, placement: &Placement) -> Result<usize, String> {
    if let Some(why) = &found.unreadable {
        return Err(format!("its dynamic relocations are unreadable: {why}"));
    }
    if !found.unreachable.is_empty() {
        return Err(format!(
            "it reaches {} other than through its global offset table",
            found.unreachable.join(", ")
        ));
    }
    if placement.ranges.0.is_empty() {
        return Err("the loader does not list it".into());
    }
    let page = page_size();
    let word = size_of::<usize>();
    let mut writes = Vec::with_capacity(found.sites.len());
    for site in &found.sites {
        let at = usize::try_from(site.offset)
            .ok()
            .and_then(|o| placement.bias.checked_add(o))
            .filter(|at| at.is_multiple_of(word))
            .ok_or_else(|| format!("a site at offset {:#x} is misplaced", site.offset))?;
        let inside = |r: &std::ops::Range<usize>| r.start <= at && at + word <= r.end;
        let relro = placement.relro.as_ref().is_some_and(inside);
        if !relro && !placement.writable.iter().any(inside) {
            return Err(format!(
                "a site at offset {:#x} is in neither its writable nor its RELRO pages",
                site.offset
            ));
        }
        writes.push((at, site.hook.address(), relro.then_some(at & !(page - 1))));
    }
    let mut pages: Vec<usize> = writes.iter().filter_map(|w| w.2).collect();
    pages.sort_unstable();
    pages.dedup();
    for &start in &pages {
        protect(start, page, libc::PROT_READ | libc::PROT_WRITE)
            .map_err(|e| format!("mprotect of its RELRO page at {start:#x}: {e}"))?;
    }
    for &(at, address, _) in &writes {
        // SAFETY: `at` is an aligned word inside a writable segment or a
        // RELRO page of the library just loaded, writable now (made so
        // above); no code of the library reads it yet. The mapping is
        // private: the copy's file is not written.
        unsafe { (at as *mut usize).write(address) };
    }
    for &start in &pages {
        protect(start, page, libc::PROT_READ)
            .map_err(|e| format!("mprotect of its RELRO page at {start:#x}: {e}"))?;
    }
    Ok(writes.len())
}

fn protect(start: usize, len: usize, prot: i32) -> std::io::Result<()> {
    // SAFETY: `start` is page-aligned and the page belongs to the library
    // just loaded; changing its protection affects that library alone.
    if unsafe { libc::mprotect(start as *mut c_void, len, prot) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}
