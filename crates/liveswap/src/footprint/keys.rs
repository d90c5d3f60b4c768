//! pthread keys: created for plugin code with a destructor of this module,
//! deleted when their generation retires; and glibc's key table, read to
//! know how many keys the process has left.
//!
//! glibc calls a key's destructor at thread exit with the thread's value
//! only, so each key index has a destructor of its own here (a table of
//! 1,024 functions: `PTHREAD_KEYS_MAX`), which looks up the plugin's
//! destructor and its generation by index and runs it under the
//! generation's pin; once the generation has retired, the value is leaked.
//! The index a key will get is not known before it is created, so the
//! hook creates it with the destructor of the lowest free index (the one
//! glibc hands out), and if another thread took that index meanwhile,
//! deletes the key (nobody can hold a value for it yet) and tries again.
//!
//! Which generation creates a key is read from the destructor's address,
//! or, for a key without one, from the return addresses on the caller's
//! stack (the first that lies in a loaded generation). Keys without a
//! destructor are recorded and deleted at retire too. A key with a
//! destructor that cannot be routed (glibc's table unreadable, no index to
//! be had) is created as asked, and its generation is never closed.
//!
//! One record (about 32 bytes) is leaked per key created with a
//! destructor: a thread exiting at that moment may still read the record a
//! new key replaced.
//!
//! A limit, not closed: an exiting thread in glibc checks that its value
//! belongs to the key's current sequence number, reads the destructor, and
//! calls it; the destructor here then reads the index's record. If, within
//! that window, the generation retires, its key is deleted, and the index
//! is handed to a new key of another generation, that generation's
//! destructor is called with the old generation's value: a type confusion,
//! not a leak. It needs a thread preempted inside glibc's key destructor
//! loop across a whole retire and a new key's creation. glibc has the same
//! window for any program that deletes a key while threads that set it
//! exit.

use std::ffi::{CStr, c_int, c_void};
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};
use std::sync::{OnceLock, PoisonError, Weak};

use super::{Footprint, owner_of};
use crate::load::image::Ranges;

type Destructor = unsafe extern "C" fn(*mut c_void);

/// What a routed key's destructor runs, and for which generation.
struct KeyRecord {
    owner: Weak<Footprint>,
    destructor: Destructor,
}

/// Routed keys by index (`KEYS` of them).
static RECORDS: [AtomicPtr<KeyRecord>; KEYS] =
    [const { AtomicPtr::new(std::ptr::null_mut()) }; KEYS];

/// Key indexes with a destructor of their own here.
const KEYS: usize = 1024;

/// The destructor of key index `HI * 32 + LO`.
unsafe extern "C" fn destroy<const HI: usize, const LO: usize>(value: *mut c_void) {
    run_destructor(HI * 32 + LO, value);
}

fn run_destructor(index: usize, value: *mut c_void) {
    let record = RECORDS[index].load(Ordering::Acquire);
    if record.is_null() {
        return;
    }
    // SAFETY: records are leaked, never freed: a non-null pointer read
    // from `RECORDS` stays valid for the life of the process.
    let record = unsafe { &*record };
    let Some(owner) = record.owner.upgrade() else {
        return;
    };
    owner.pinned(|| {
        // SAFETY: the generation has not retired (the pin holds it loaded
        // until this returns); glibc passes the value the thread set for
        // this key, which the plugin's destructor was registered for.
        unsafe { (record.destructor)(value) }
    });
}

macro_rules! row {
    ($hi:literal) => {
        [
            destroy::<$hi, 0>,
            destroy::<$hi, 1>,
            destroy::<$hi, 2>,
            destroy::<$hi, 3>,
            destroy::<$hi, 4>,
            destroy::<$hi, 5>,
            destroy::<$hi, 6>,
            destroy::<$hi, 7>,
            destroy::<$hi, 8>,
            destroy::<$hi, 9>,
            destroy::<$hi, 10>,
            destroy::<$hi, 11>,
            destroy::<$hi, 12>,
            destroy::<$hi, 13>,
            destroy::<$hi, 14>,
            destroy::<$hi, 15>,
            destroy::<$hi, 16>,
            destroy::<$hi, 17>,
            destroy::<$hi, 18>,
            destroy::<$hi, 19>,
            destroy::<$hi, 20>,
            destroy::<$hi, 21>,
            destroy::<$hi, 22>,
            destroy::<$hi, 23>,
            destroy::<$hi, 24>,
            destroy::<$hi, 25>,
            destroy::<$hi, 26>,
            destroy::<$hi, 27>,
            destroy::<$hi, 28>,
            destroy::<$hi, 29>,
            destroy::<$hi, 30>,
            destroy::<$hi, 31>,
        ]
    };
}

/// `DESTRUCTORS[hi][lo]` is the destructor of key index `hi * 32 + lo`.
#[rustfmt::skip]
static DESTRUCTORS: [[Destructor; 32]; 32] = [
    row!(0), row!(1), row!(2), row!(3), row!(4), row!(5), row!(6), row!(7),
    row!(8), row!(9), row!(10), row!(11), row!(12), row!(13), row!(14), row!(15),
    row!(16), row!(17), row!(18), row!(19), row!(20), row!(21), row!(22), row!(23),
    row!(24), row!(25), row!(26), row!(27), row!(28), row!(29), row!(30), row!(31),
];

/// How many times the hook tries to get the index it guessed.
const ATTEMPTS: usize = 8;

/// `pthread_key_create`, as plugin code sees it.
pub(crate) unsafe extern "C" fn hook_create(
    key: *mut libc::pthread_key_t,
    destructor: Option<Destructor>,
) -> c_int {
    let owner = destructor
        .and_then(|d| owner_of(d as usize))
        .or_else(|| super::stack::addresses().into_iter().find_map(owner_of));
    let Some(owner) = owner else {
        // Not a plugin's: glibc's own.
        // SAFETY: the caller's arguments, passed on as they came.
        return unsafe { libc::pthread_key_create(key, destructor) };
    };
    let Some(destructor) = destructor else {
        // SAFETY: the caller's arguments, passed on as they came.
        let rc = unsafe { libc::pthread_key_create(key, None) };
        if rc == 0 {
            // SAFETY: glibc wrote the key through the caller's pointer.
            record(&owner, unsafe { key.read() });
        }
        return rc;
    };
    for _ in 0..ATTEMPTS {
        let Some(guess) = lowest_free().filter(|&i| i < KEYS) else {
            break;
        };
        let mut created: libc::pthread_key_t = 0;
        // SAFETY: `created` is a valid out-pointer; the destructor is a
        // function of this module, which is never unloaded.
        let rc = unsafe {
            libc::pthread_key_create(&mut created, Some(DESTRUCTORS[guess / 32][guess % 32]))
        };
        if rc != 0 {
            return rc;
        }
        if created as usize == guess {
            let record = Box::new(KeyRecord {
                owner: std::sync::Arc::downgrade(&owner),
                destructor,
            });
            RECORDS[guess].store(Box::into_raw(record), Ordering::Release);
            self::record(&owner, created);
            // SAFETY: the caller passes a valid out-pointer, as for
            // `pthread_key_create`.
            unsafe { key.write(created) };
            return 0;
        }
        // Another thread took the index guessed: no thread can hold a
        // value for a key not yet handed out, so it goes at once.
        // SAFETY: `created` is a key this function just created.
        unsafe { libc::pthread_key_delete(created) };
    }
    // No routed index to be had: created as asked, and the generation is
    // never closed.
    owner.unroutable_key.store(true, Ordering::Release);
    // SAFETY: the caller's arguments, passed on as they came.
    unsafe { libc::pthread_key_create(key, Some(destructor)) }
}

/// Records `key` as `owner`'s.
fn record(owner: &Footprint, key: libc::pthread_key_t) {
    owner
        .keys
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(key);
    owner.counts.keys_created.fetch_add(1, Ordering::Relaxed);
}

/// `pthread_key_delete`, as plugin code sees it.
pub(crate) unsafe extern "C" fn hook_delete(key: libc::pthread_key_t) -> c_int {
    for owner in super::LOADED
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
    {
        owner
            .keys
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|&k| k != key);
    }
    // SAFETY: the caller's key, passed on.
    unsafe { libc::pthread_key_delete(key) }
}

/// Deletes the keys a retired generation created. Each thread's value is
/// leaked: its destructor is plugin code.
pub(crate) fn delete_all(footprint: &Footprint) {
    let keys = std::mem::take(
        &mut *footprint
            .keys
            .lock()
            .unwrap_or_else(PoisonError::into_inner),
    );
    for key in keys {
        // SAFETY: a key the generation created and did not delete; it has
        // retired, so none of its code uses the key any more.
        unsafe { libc::pthread_key_delete(key) };
    }
}

#[derive(Clone, Copy)]
struct KeyTable {
    base: usize,
    count: usize,
    entry: usize,
    seq: usize,
    destr: usize,
}

/// glibc's key table, located through the descriptors it exports for
/// debuggers (`libthread_db`).
fn key_table() -> Option<KeyTable> {
    static TABLE: OnceLock<Option<KeyTable>> = OnceLock::new();
    *TABLE.get_or_init(|| {
        let sym = |name: &CStr| {
            // SAFETY: `dlsym` on the global scope with a valid name only
            // looks a symbol up.
            let p = unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr()) };
            (!p.is_null()).then_some(p)
        };
        let table = sym(c"__pthread_keys")?;
        let array = sym(c"_thread_db___pthread_keys")?.cast::<[u32; 3]>();
        let seq = sym(c"_thread_db_pthread_key_struct_seq")?.cast::<[u32; 3]>();
        let destr = sym(c"_thread_db_pthread_key_struct_destr")?.cast::<[u32; 3]>();
        // SAFETY: these libthread_db descriptors are `const uint32_t[3]`:
        // element or field size in bits, count, offset.
        let (array, seq, destr) = unsafe { (*array, *seq, *destr) };
        let entry = array[0] as usize / 8;
        let word = size_of::<usize>();
        let fits = |field: [u32; 3]| {
            field[0] == usize::BITS
                && (field[2] as usize).is_multiple_of(word)
                && field[2] as usize + word <= entry
        };
        if entry == 0 || !entry.is_multiple_of(word) || !fits(seq) || !fits(destr) {
            return None;
        }
        Some(KeyTable {
            base: table as usize,
            count: array[1] as usize,
            entry,
            seq: seq[2] as usize,
            destr: destr[2] as usize,
        })
    })
}

impl KeyTable {
    /// Entry `key`'s sequence number and destructor.
    fn entry(&self, key: usize) -> (usize, usize) {
        let word = |at: usize| {
            // SAFETY: `at` is an aligned word inside glibc's static key
            // table (laid out as its libthread_db descriptors say, checked
            // in `key_table`); read atomically, since other threads may
            // create or delete keys meanwhile.
            unsafe { (*(at as *const AtomicUsize)).load(Ordering::Acquire) }
        };
        let at = self.base + key * self.entry;
        (word(at + self.seq), word(at + self.destr))
    }
}

/// glibc's test that a key index is free and may be handed out again: an
/// even sequence number that does not wrap when it is bumped.
fn usable(seq: usize) -> bool {
    seq & 1 == 0 && seq.checked_add(2).is_some()
}

/// The index glibc hands out next: the lowest free one.
fn lowest_free() -> Option<usize> {
    let t = key_table()?;
    (0..t.count).find(|&key| usable(t.entry(key).0))
}

/// How many more keys the process can create, measured in glibc's table;
/// `None` if the table cannot be read.
pub(crate) fn free() -> Option<usize> {
    let t = key_table()?;
    Some((0..t.count).filter(|&key| usable(t.entry(key).0)).count())
}

/// The keys in use whose destructor lies in `ranges`: created out of the
/// hooks' sight (they route every key they see), and a crash for each
/// thread that set one if the library were closed.
pub(crate) fn unrouted_in(ranges: &Ranges) -> Vec<(usize, usize)> {
    let Some(t) = key_table() else {
        return Vec::new();
    };
    (0..t.count)
        .filter_map(|key| {
            let (seq, destr) = t.entry(key);
            // An odd sequence number marks a key in use.
            (seq & 1 == 1 && destr != 0 && ranges.contains(destr)).then_some((key, destr))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_created_key_is_seen_in_use_and_free_again_once_deleted() {
        let table = key_table().expect("glibc's key table is readable");
        assert!(free().unwrap() <= table.count);
        let mut key: libc::pthread_key_t = 0;
        // SAFETY: a valid out-pointer and no destructor.
        assert_eq!(unsafe { libc::pthread_key_create(&mut key, None) }, 0);
        assert!(!usable(table.entry(key as usize).0), "in use");
        // SAFETY: the key just created.
        unsafe { libc::pthread_key_delete(key) };
        assert!(usable(table.entry(key as usize).0), "free again");
    }

    #[test]
    fn every_key_index_has_its_own_destructor() {
        let mut all: Vec<usize> = DESTRUCTORS.iter().flatten().map(|d| *d as usize).collect();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), KEYS);
    }
}
