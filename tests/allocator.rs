//! Host and plugin share one allocator: the host's. This test binary's
//! global allocator puts a 16-byte header before every block, so a block
//! of the system allocator freed through it (or one of its blocks freed by
//! the system allocator) would corrupt the heap at once.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use fixture_api::{Calc, Greeter};
use liveswap::{Error, Slot};
use liveswap_tests::{REAP_TIMEOUT, fixture};

const HEADER: usize = 16;
const MAGIC: usize = 0x4845_4144_4552_2121;

/// Counts blocks and checks, on every free, the header it wrote.
struct Headed {
    allocations: AtomicUsize,
}

fn outer(layout: Layout) -> Layout {
    Layout::from_size_align(layout.size() + HEADER, layout.align().max(HEADER)).unwrap()
}

// SAFETY: every block is a system block `HEADER` bytes longer, returned
// past its header (alignment at least `HEADER`, so the offset keeps it).
unsafe impl GlobalAlloc for Headed {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        self.allocations.fetch_add(1, Ordering::Relaxed);
        // SAFETY: `outer` is a valid, non-zero layout.
        let base = unsafe { System.alloc(outer(layout)) };
        if base.is_null() {
            return base;
        }
        // SAFETY: the block has room for the header, aligned for usize.
        unsafe {
            base.cast::<usize>().write(MAGIC);
            base.add(HEADER)
        }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `alloc` above, past its header.
        unsafe {
            let base = ptr.sub(HEADER);
            if base.cast::<usize>().read() != MAGIC {
                // Not one of ours: freed through the wrong allocator.
                std::process::abort();
            }
            System.dealloc(base, outer(layout));
        }
    }
}

#[global_allocator]
static ALLOCATOR: Headed = Headed {
    allocations: AtomicUsize::new(0),
};

#[test]
fn a_plugins_allocations_come_from_the_hosts_allocator() {
    let hs = Slot::<dyn Calc>::load(fixture("calc")).unwrap();
    let current = hs.current();
    let before = ALLOCATOR.allocations.load(Ordering::Relaxed);
    let words = current.words("one two three".to_string()).unwrap();
    let during = ALLOCATOR.allocations.load(Ordering::Relaxed) - before;
    // The vector and its three strings were allocated by the plugin.
    assert!(
        during >= 4,
        "{during} allocations seen by the host's allocator"
    );
    assert_eq!(words, ["one", "two", "three"]);
    // Freed here, by the host's allocator, which checks its header.
    drop(words);
    let greeting = current.greet("host").unwrap();
    assert_eq!(greeting, "hello, host");
}

#[test]
fn plugin_values_outlive_their_version_and_free_cleanly() {
    let hs = Slot::<dyn Calc>::load(fixture("calc")).unwrap();
    let words = hs.current().words("kept after unload".to_string()).unwrap();
    hs.swap(fixture("calc")).unwrap();
    assert!(hs.wait_drained(REAP_TIMEOUT));
    assert_eq!(words.join(" "), "kept after unload");
}

#[test]
fn a_plugin_that_allocates_while_being_opened_is_refused() {
    let hs = Slot::<Greeter>::load(fixture("greeter-v1")).unwrap();
    let err = hs.swap(fixture("early-alloc")).unwrap_err();
    match &err {
        Error::ConstructorFailed { message, .. } => {
            assert!(
                message.contains("allocated memory while its library was being opened"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(hs.current().build(), 1);
}
