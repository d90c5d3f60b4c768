//! What a generation's code allocated, and taking back what it left.
//!
//! A plugin's statics are never dropped: a `LazyLock<Regex>` or a cache in a
//! `OnceLock` keeps its heap after the library is closed, so every swap
//! would leak it. The library takes that heap back:
//!
//! - every block a generation's code allocates is recorded, by address, in
//!   the [`ledger`] under that generation's [`Account`] (the plugin's
//!   global allocator is routed through the account's table, see
//!   `abi::alloc`); a block freed by any plugin code leaves the ledger;
//! - **what crosses to the host is adopted**: the generated host code walks
//!   every value the plugin hands the host (a method's result, what it put
//!   into a `&mut` argument, an import's arguments, a state snapshot) and
//!   takes its blocks out of the ledger, through
//!   [`CrossSafe`](crate::CrossSafe)'s walk. From then on the host owns
//!   them, as any value of its own;
//! - once the generation's library is verified unloaded (no code of it can
//!   run, its statics and thread-locals are gone), what is still in the
//!   ledger under its account was reachable only from them: it is freed
//!   ([`Account::settle`]).
//!
//! The walk is exact for the types the derive and the library describe,
//! except `VecDeque`, `BTreeMap` and `BTreeSet` (their node and buffer
//! addresses are not public), and for the views the interface macro
//! generates: a hand-written `CrossSafe` impl says `Walk::NO` (safe code
//! cannot say more), and a hand-written `Interface` adopts nothing unless
//! it says it does (`__ADOPTS`). When a type that crosses is not walked,
//! or the interface does not adopt, the generation's heap is kept, not
//! reclaimed, and [`HeapReport::reclaim_off`] says why. A slot may also
//! turn reclaim off ([`Options::reclaim_heap`](crate::Options::reclaim_heap)):
//! a plugin that hands memory to C code that keeps the pointer (`putenv`,
//! `setvbuf`, a buffer given to the kernel) must, since that memory is
//! freed at unload otherwise.
//!
//! Costs: a plugin allocation or free takes one shard lock of the ledger
//! and a hash-map insert or remove on top of the host's allocator (tens of
//! nanoseconds); a value crossing to the host costs one remove per heap
//! block it owns (a `String`: one; a `Vec<String>` of n: n + 1); scalars
//! cost nothing. Unload scans the ledger once. Memory: about 40 bytes per
//! live plugin block.

mod account;
pub(crate) mod ledger;

pub(crate) use account::Account;
pub use account::HeapReport;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::interface::Interface;
use crate::layout::{Kind, MethodLayout, TypeLayout};

/// Bytes freed at unloads, all handles together, since the process started.
pub(crate) static RECLAIMED_IN_PROCESS: AtomicU64 = AtomicU64::new(0);
/// Bytes left allocated at unloads (reclaim off), since the process started.
pub(crate) static LEFT_IN_PROCESS: AtomicU64 = AtomicU64::new(0);

/// Set once this process has created an account: a plugin's copy of the
/// library never does, so adoption there is one load and nothing else.
static ACTIVE: AtomicBool = AtomicBool::new(false);

/// The host takes ownership of the heap block at `ptr`, which a value that
/// crossed from a plugin owns: it leaves the ledger and is never reclaimed.
/// A block the ledger does not hold (the host's own) is left as it is.
///
/// Called by the walk of [`CrossSafe`](crate::CrossSafe) values; harmless
/// on any pointer (it only forgets), so safe.
#[inline]
pub fn adopt_block(ptr: *const u8) {
    if !ACTIVE.load(Ordering::Relaxed) {
        return;
    }
    account::adopt(ptr as usize);
}

/// Why what crosses interface `I` cannot all be adopted, if it cannot: its
/// view is hand-written and does not adopt, or a type reachable from an
/// argument or result is not walked (a `BTreeMap`, a hand-written
/// `CrossSafe`), named with the method that passes it.
pub(crate) fn unadopted<I: Interface + ?Sized>() -> Option<String> {
    if !I::__ADOPTS {
        return Some(format!(
            "interface `{}` is implemented by hand and does not adopt what crosses",
            I::NAME
        ));
    }
    unwalked(I::METHODS)
}

/// The first type reachable from these methods' arguments and results
/// whose walk is not exact, named with its method.
pub(crate) fn unwalked(methods: &[MethodLayout]) -> Option<String> {
    let mut seen: HashSet<*const TypeLayout> = HashSet::new();
    for method in methods {
        let mut stack: Vec<&'static TypeLayout> = method
            .args
            .iter()
            .chain(std::iter::once(&method.ret))
            .map(|l| l.get())
            .collect();
        while let Some(layout) = stack.pop() {
            if !seen.insert(std::ptr::from_ref(layout)) {
                continue;
            }
            if !layout.walked.is_exact() {
                return Some(format!(
                    "method `{}` passes `{}`, whose heap blocks the library cannot trace",
                    method.name, layout.name
                ));
            }
            stack.extend(layout.args.iter().map(|l| l.get()));
            match &layout.kind {
                Kind::Struct(fields) => stack.extend(fields.iter().map(|f| f.ty.get())),
                Kind::Enum { variants, .. } => stack.extend(
                    variants
                        .iter()
                        .flat_map(|v| v.fields.iter().map(|f| f.ty.get())),
                ),
                _ => {}
            }
        }
    }
    None
}

#[cfg(test)]
mod tests;
