//! Where plugin code started something, for reports: the return addresses
//! of the current call stack (the unwinder of the C runtime,
//! `_Unwind_Backtrace`, which reads the `.eh_frame` every Rust library
//! carries), and their names in the plugin's own symbol table.
//!
//! Costs: a walk of the stack (a few microseconds) each time plugin code
//! starts a thread; names are looked up only when a report is written.

use std::ffi::{c_int, c_void};

use object::read::Object;

/// The most frames kept.
const DEPTH: usize = 48;

#[repr(C)]
struct UnwindContext {
    _private: [u8; 0],
}

type TraceFn = extern "C" fn(*mut UnwindContext, *mut c_void) -> c_int;

unsafe extern "C" {
    fn _Unwind_Backtrace(trace: TraceFn, arg: *mut c_void) -> c_int;
    fn _Unwind_GetIP(context: *mut UnwindContext) -> usize;
}

/// `_URC_NO_REASON`: go on; `_URC_END_OF_STACK`-like: stop.
const CONTINUE: c_int = 0;
const STOP: c_int = 5;

extern "C" fn visit(context: *mut UnwindContext, arg: *mut c_void) -> c_int {
    // SAFETY: `arg` is the `Vec` passed by `addresses`, alive for the walk.
    let frames = unsafe { &mut *arg.cast::<Vec<usize>>() };
    // SAFETY: `context` is the unwinder's, valid during this callback.
    let ip = unsafe { _Unwind_GetIP(context) };
    if ip != 0 {
        frames.push(ip);
    }
    if frames.len() >= DEPTH {
        STOP
    } else {
        CONTINUE
    }
}

/// The return addresses of the current stack, innermost first.
pub(crate) fn addresses() -> Vec<usize> {
    let mut frames: Vec<usize> = Vec::with_capacity(DEPTH);
    // SAFETY: `visit` matches the callback type and only pushes to the
    // `Vec` it is given, which outlives the walk.
    unsafe { _Unwind_Backtrace(visit, (&raw mut frames).cast()) };
    frames
}

/// Whether a demangled name is the standard library's, or a generic
/// adapter that says nothing of who called.
fn is_plumbing(name: &str) -> bool {
    let bare = name.trim_start_matches('<');
    ["std::", "core::", "alloc::", "F as ", "liveswap::"]
        .iter()
        .any(|p| bare.starts_with(p))
        // The entry point and the call shims `liveswap` generates, and
        // the compiler's own helpers (`__rust_try` of `catch_unwind`).
        || name.starts_with("liveswap_")
        || name.contains("::liveswap_entry")
        || name.contains("Shims<")
        || name.starts_with("__")
}

/// What started a thread, named from `file` (the plugin's bytes, loaded
/// with load bias `bias`): the innermost function of the plugin's
/// dependencies or own code on `stack` (`rayon_core::registry::Registry::new`),
/// and the outermost plugin function (where the host's call entered).
/// `None` when the file has no symbols (stripped) or no frame is in it.
pub(crate) fn cause(file: &[u8], bias: usize, stack: &[usize]) -> Option<String> {
    let file = object::File::parse(file).ok()?;
    let symbols = file.symbol_map();
    let names: Vec<String> = stack
        .iter()
        .filter_map(|&ip| {
            // A return address points after the call; look one byte back.
            let at = ip.checked_sub(bias)?.checked_sub(1)? as u64;
            let symbol = symbols.containing(at)?;
            Some(format!("{:#}", rustc_demangle::demangle(symbol.name())))
        })
        .filter(|name| !is_plumbing(name))
        .collect();
    let first = names.first()?;
    match names.last() {
        Some(last) if last != first => Some(format!("started by `{first}`, reached from `{last}`")),
        _ => Some(format!("started by `{first}`")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stack_of_this_thread_has_frames() {
        assert!(addresses().len() > 2);
    }

    #[test]
    fn std_and_adapters_are_plumbing_and_a_crates_function_is_not() {
        assert!(is_plumbing("std::thread::Builder::spawn_unchecked_"));
        assert!(is_plumbing(
            "<F as core::ops::function::FnOnce<()>>::call_once"
        ));
        assert!(is_plumbing(
            "<alloc::boxed::Box<F,A> as core::ops::function::FnOnce<Args>>::call_once"
        ));
        assert!(is_plumbing("rules_api::__RulesShims<T>::decide"));
        assert!(!is_plumbing("rayon_core::registry::Registry::new"));
        assert!(!is_plumbing(
            "<rayon_pool::Build12 as fixture_api::Greet>::answer"
        ));
    }
}
