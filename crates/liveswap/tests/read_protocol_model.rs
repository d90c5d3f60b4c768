//! A model of the read path's protocol (`src/read/`), explored over every
//! interleaving and every weak-memory outcome the C++ memory model allows
//! by `loom`: a reader publishes the version it is about to read in a
//! hazard slot of its own (release store), fences, and checks that the
//! slot's pointer still names it; the swapper replaces the pointer,
//! fences, and frees the old version only once no hazard slot holds it.
//!
//! The model uses the fence the library falls back to when `membarrier`
//! is missing (a `SeqCst` fence on both sides). With `membarrier`, the
//! reader's fence is a compiler fence and the swapper's system call makes
//! every running thread pass a full barrier, which gives the same
//! ordering (as `liburcu`'s membarrier flavour argues); `loom` cannot
//! model a system call, so that half rests on the kernel's documented
//! guarantee. The last model takes the reader's fence away and must fail:
//! the model can tell a broken protocol from a sound one.

use loom::cell::UnsafeCell;
use loom::sync::Arc;
use loom::sync::atomic::{AtomicPtr, Ordering, fence};
use loom::thread;

/// A version: a value that is "freed" (overwritten) once retired. A read
/// not ordered before the free is a causality violation to loom.
struct Version {
    value: UnsafeCell<u64>,
}

/// The slot's pointer, one reader's hazard slot, and the two versions.
struct World {
    current: AtomicPtr<Version>,
    hazard: AtomicPtr<Version>,
    first: Box<Version>,
    second: Box<Version>,
}

// SAFETY: the versions' cells are reached only through loom's checked
// accessors; the rest is atomics.
unsafe impl Sync for World {}
// SAFETY: as above.
unsafe impl Send for World {}

impl World {
    fn new() -> Arc<World> {
        let first = Box::new(Version {
            value: UnsafeCell::new(1),
        });
        let second = Box::new(Version {
            value: UnsafeCell::new(2),
        });
        let current = AtomicPtr::new(std::ptr::from_ref(&*first).cast_mut());
        Arc::new(World {
            current,
            hazard: AtomicPtr::new(std::ptr::null_mut()),
            first,
            second,
        })
    }

    fn second(&self) -> *mut Version {
        std::ptr::from_ref(&*self.second).cast_mut()
    }
}

/// `hazard::publish` (with its out-of-line retry, `republish`, folded into
/// one loop: a retry that reuses the value its check read is the same
/// protocol as one that loads it again): protect what `current` names,
/// until it still names it after the fence. `fenced` false is the broken
/// variant.
fn protect(world: &World, fenced: bool) -> *mut Version {
    let mut ptr = world.current.load(Ordering::Acquire);
    loop {
        world.hazard.store(ptr, Ordering::Release);
        if fenced {
            fence(Ordering::SeqCst);
        }
        let now = world.current.load(Ordering::Acquire);
        if now == ptr {
            return ptr;
        }
        ptr = now;
    }
}

/// A guard's read of its version, then its drop (`Hazard::drop`).
fn read_and_release(world: &World, ptr: *mut Version) -> u64 {
    // SAFETY: `ptr` is one of the world's two boxes, alive for the model.
    let value = unsafe { (*ptr).value.with(|v| *v) };
    world.hazard.store(std::ptr::null_mut(), Ordering::Release);
    value
}

/// `Current::swap` then `grace::retire`: replace, fence, and free the old
/// version once no hazard slot holds it (the grace thread looks again
/// until then).
fn swap_and_retire(world: &World) {
    let old = world.current.swap(world.second(), Ordering::AcqRel);
    fence(Ordering::SeqCst);
    while world.hazard.load(Ordering::Acquire) == old {
        thread::yield_now();
    }
    // SAFETY: `old` is the first box; "freeing" it overwrites its value,
    // which loom checks no read races with.
    unsafe { (*old).value.with_mut(|v| *v = 0) };
}

fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(3);
    builder.check(f);
}

/// One read on another thread while the version is replaced and freed.
fn reads_across_a_swap(reads: usize, fenced: bool) {
    model(move || {
        let world = World::new();
        let reader = {
            let world = Arc::clone(&world);
            thread::spawn(move || {
                for _ in 0..reads {
                    let ptr = protect(&world, fenced);
                    let value = read_and_release(&world, ptr);
                    assert!(value != 0, "read a freed version");
                }
            })
        };
        swap_and_retire(&world);
        reader.join().unwrap();
        assert_eq!(world.current.load(Ordering::Acquire), world.second());
        // The first version was freed, the second is still served.
        // SAFETY: both threads are done; loom checks the access.
        assert_eq!(unsafe { world.first.value.with(|v| *v) }, 0);
    });
}

#[test]
fn a_reader_never_reads_a_version_after_the_swapper_freed_it() {
    reads_across_a_swap(1, true);
}

#[test]
fn a_hazard_slot_reused_by_its_thread_across_a_swap_protects_each_read() {
    reads_across_a_swap(2, true);
}

#[test]
#[should_panic(expected = "Causality violation")]
fn without_the_readers_fence_the_model_finds_a_read_after_free() {
    reads_across_a_swap(1, false);
}
