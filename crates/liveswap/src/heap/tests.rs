//! The account and the ledger through a plugin's allocator, as a plugin's
//! code drives them (the same `RoutedAllocator` `export!` installs).

use std::alloc::{GlobalAlloc, Layout};
use std::collections::BTreeMap;

use super::{Account, adopt_block, unwalked};
use crate::CrossSafe;
use crate::abi::alloc::RoutedAllocator;
use crate::layout::MethodLayout;

fn plugin_allocator(account: &std::sync::Arc<Account>) -> RoutedAllocator {
    let routed = RoutedAllocator::new();
    routed
        .attach(account.lend())
        .expect("nothing allocated early");
    routed
}

fn alloc(routed: &RoutedAllocator, size: usize) -> *mut u8 {
    // SAFETY: a valid, non-zero layout.
    let ptr = unsafe { routed.alloc(Layout::from_size_align(size, 8).unwrap()) };
    assert!(!ptr.is_null());
    ptr
}

#[test]
fn what_a_generation_left_allocated_is_reclaimed_when_it_settles() {
    let account = Account::new();
    let routed = plugin_allocator(&account);
    let _kept_by_a_static = alloc(&routed, 4096);
    let _another = alloc(&routed, 100);
    let before = account.report();
    assert_eq!(before.allocated, 4196);
    assert_eq!(before.live, 4196);
    // SAFETY: no code uses the blocks any more (they stand for a static's
    // heap of an unloaded library).
    unsafe { account.settle() };
    let after = account.report();
    assert_eq!(after.reclaimed, 4196);
    assert_eq!(after.live, 0);
    assert_eq!(after.reclaim_off, None);
}

#[test]
fn a_block_the_host_adopted_stays_valid_after_the_generation_settles() {
    let account = Account::new();
    let routed = plugin_allocator(&account);
    let layout = Layout::from_size_align(64, 8).unwrap();
    let ptr = alloc(&routed, 64);
    // SAFETY: 64 writable bytes.
    unsafe { ptr.write_bytes(0xA5, 64) };
    adopt_block(ptr);
    // SAFETY: as above.
    unsafe { account.settle() };
    // SAFETY: the host owns the block: still allocated, its bytes intact.
    unsafe {
        assert!(
            std::slice::from_raw_parts(ptr, 64)
                .iter()
                .all(|&b| b == 0xA5)
        );
        std::alloc::dealloc(ptr, layout);
    }
    let report = account.report();
    assert_eq!(report.handed_to_host, 64);
    assert_eq!(report.reclaimed, 0);
}

#[test]
fn a_string_and_a_vec_of_strings_are_adopted_block_by_block() {
    let account = Account::new();
    let routed = plugin_allocator(&account);
    // Build the values' blocks through the plugin's allocator, as plugin
    // code would, then hand them over as one `Vec<String>`.
    let mut words: Vec<String> = Vec::new();
    for word in ["alpha", "beta", "gamma"] {
        let ptr = alloc(&routed, word.len());
        // SAFETY: `ptr` holds `word.len()` bytes from the global allocator
        // (the routed one forwards to it), written with UTF-8 here.
        let s = unsafe {
            std::ptr::copy_nonoverlapping(word.as_ptr(), ptr, word.len());
            String::from_raw_parts(ptr, word.len(), word.len())
        };
        words.push(s);
    }
    words.__adopt();
    // The strings' three blocks were the account's; the vector's own
    // buffer was the host's (never recorded) and is simply not found.
    assert_eq!(account.report().handed_to_host, 5 + 4 + 5);
    // SAFETY: as above.
    unsafe { account.settle() };
    assert_eq!(account.report().reclaimed, 0);
    assert_eq!(words.join(" "), "alpha beta gamma");
}

#[test]
fn a_block_plugin_code_frees_is_counted_freed_and_not_reclaimed() {
    let account = Account::new();
    let routed = plugin_allocator(&account);
    let layout = Layout::from_size_align(256, 8).unwrap();
    let ptr = alloc(&routed, 256);
    // SAFETY: allocated above with this layout.
    unsafe { routed.dealloc(ptr, layout) };
    // SAFETY: as above.
    unsafe { account.settle() };
    let report = account.report();
    assert_eq!((report.freed, report.reclaimed), (256, 0));
}

#[test]
fn a_reallocated_block_is_recorded_at_its_new_address() {
    let account = Account::new();
    let routed = plugin_allocator(&account);
    let ptr = alloc(&routed, 16);
    // SAFETY: allocated above with this layout; grows it.
    let moved = unsafe { routed.realloc(ptr, Layout::from_size_align(16, 8).unwrap(), 1 << 20) };
    assert!(!moved.is_null());
    let report = account.report();
    assert_eq!(report.live, 1 << 20);
    // SAFETY: as above.
    unsafe { account.settle() };
    assert_eq!(account.report().reclaimed, 1 << 20);
}

#[test]
fn with_reclaim_off_the_leftovers_stay_allocated_and_are_counted_left() {
    let account = Account::new();
    account.keep_heap("method `m` passes `BTreeMap`".into());
    let routed = plugin_allocator(&account);
    let layout = Layout::from_size_align(32, 8).unwrap();
    let ptr = alloc(&routed, 32);
    // SAFETY: as above.
    unsafe { account.settle() };
    let report = account.report();
    assert_eq!((report.left, report.reclaimed), (32, 0));
    assert!(report.reclaim_off.unwrap().contains("BTreeMap"));
    // SAFETY: still allocated: the host may free it.
    unsafe { std::alloc::dealloc(ptr, layout) };
}

fn method(name: &'static str, ret: crate::layout::LayoutRef) -> MethodLayout {
    MethodLayout {
        name,
        direct: false,
        args: &[],
        arg_names: &[],
        ret,
    }
}

#[test]
fn an_interface_passing_owned_std_types_is_walked() {
    let methods = [
        method("words", <Vec<String> as CrossSafe>::LAYOUT),
        method("maybe", <Option<Box<(u8, String)>> as CrossSafe>::LAYOUT),
        method(
            "error",
            <Result<[u32; 4], crate::RemoteError> as CrossSafe>::LAYOUT,
        ),
    ];
    assert_eq!(unwalked(&methods), None);
}

#[test]
fn an_interface_passing_a_btree_map_at_any_depth_is_not_walked_and_says_where() {
    let methods = [
        method("words", <Vec<String> as CrossSafe>::LAYOUT),
        method(
            "counts",
            <Option<Vec<BTreeMap<String, u32>>> as CrossSafe>::LAYOUT,
        ),
    ];
    let why = unwalked(&methods).expect("not walked");
    assert!(why.contains("`counts`"), "{why}");
    assert!(why.contains("BTreeMap"), "{why}");
}
