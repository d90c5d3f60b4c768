//! Load, read, swap, rollback and unload, one behaviour per test.

use std::fs;
use std::time::Duration;

use liveswap::{
    Options, Slot, Version,
    stats::{State, Storage},
};
use liveswap_tests::{Greeter, REAP_TIMEOUT, files_in, fixture, install, mapped_under};

fn plugin_dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

#[test]
fn load_then_call_answers_the_loaded_build() {
    let hs = Slot::<Greeter>::load(fixture("greeter-v1")).unwrap();
    assert_eq!(hs.current().answer(10), 11);
    assert_eq!(hs.current().build(), 1);
    assert_eq!(hs.generation(), 1);
}

#[test]
fn with_runs_the_closure_on_the_current_version() {
    let hs = Slot::<Greeter>::load(fixture("greeter-v1")).unwrap();
    assert_eq!(hs.with(|g| g.answer(41)), 42);
}

#[test]
fn swap_then_call_answers_the_new_build() {
    let hs = Slot::<Greeter>::load(fixture("greeter-v1")).unwrap();
    let report = hs.swap(fixture("greeter-v2")).unwrap();
    assert_eq!((report.generation, report.previous), (2, 1));
    assert_eq!(report.source, fixture("greeter-v2"));
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    assert_eq!(hs.current().answer(10), 12);
    assert_eq!(Version::generation(&hs.current()), 2);
}

#[test]
fn rebuild_at_the_same_path_then_swap_answers_the_new_build() {
    let dir = plugin_dir();
    let path = dir.path().join("libgreeter.so");
    install("greeter-v1", &path);
    let hs = Slot::<Greeter>::load(&path).unwrap();
    assert_eq!(hs.current().build(), 1);

    install("greeter-v2", &path);
    hs.swap(&path).unwrap();
    assert_eq!(hs.current().build(), 2);

    install("greeter-v1", &path);
    hs.swap(&path).unwrap();
    assert_eq!(hs.current().build(), 1);
    assert_eq!(hs.generation(), 3);
}

#[test]
fn deleting_the_source_while_loaded_is_harmless() {
    let dir = plugin_dir();
    let path = dir.path().join("libgreeter.so");
    install("greeter-v1", &path);
    let hs = Slot::<Greeter>::load(&path).unwrap();
    fs::remove_file(&path).unwrap();
    assert_eq!(hs.current().answer(1), 2);
}

#[test]
fn overwriting_and_truncating_the_source_in_place_while_loaded_is_harmless() {
    // Each load maps a private copy, so writing into the source file (the
    // same inode: `cp` over it, a linker writing in place, a truncation)
    // never touches mapped code.
    use std::os::unix::fs::MetadataExt;
    let dir = plugin_dir();
    let path = dir.path().join("libgreeter.so");
    install("greeter-v1", &path);
    let inode = fs::metadata(&path).unwrap().ino();
    let hs = Slot::<Greeter>::load(&path).unwrap();
    let guard = hs.current();

    fs::copy(fixture("greeter-v2"), &path).unwrap();
    assert_eq!(
        fs::metadata(&path).unwrap().ino(),
        inode,
        "written in place"
    );
    assert_eq!(guard.answer(1), 2, "the loaded build keeps answering");
    assert_eq!(hs.current().answer(1), 2);

    fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(0)
        .unwrap();
    assert_eq!(fs::metadata(&path).unwrap().ino(), inode);
    assert_eq!(guard.answer(1), 2, "truncating the source changes nothing");
    assert!(
        hs.swap(&path).is_err(),
        "an empty source is refused, and generation 1 keeps serving"
    );
    assert_eq!(hs.current().answer(1), 2);

    fs::copy(fixture("greeter-v2"), &path).unwrap();
    drop(guard);
    hs.swap(&path).unwrap();
    assert_eq!(hs.current().build(), 2, "a rebuild in place swaps in");
}

#[test]
fn guard_taken_before_a_swap_keeps_the_old_version_mapped_until_it_drops() {
    let hs = Slot::<Greeter>::load(fixture("greeter-v1")).unwrap();
    let old = hs.current();
    hs.swap(fixture("greeter-v2")).unwrap();

    assert_eq!(old.build(), 1, "the held guard still answers the old build");
    assert_eq!(hs.current().build(), 2, "new calls see the new build");
    assert_eq!(
        mapped_under(hs.copy_prefix()).len(),
        2,
        "both copies mapped"
    );
    assert_eq!(hs.stats().draining(), 1);

    drop(old);
    assert!(hs.wait_drained(REAP_TIMEOUT));
    let mapped = mapped_under(hs.copy_prefix());
    assert_eq!(
        mapped.len(),
        1,
        "only the current copy stays mapped: {mapped:?}"
    );
    assert!(
        mapped[0].contains("-libgreeter_v2.so"),
        "the mapped copy is generation 2's: {mapped:?}"
    );
    let old_state = &hs.stats().generations[0];
    assert_eq!(
        (old_state.generation, &old_state.state),
        (1, &State::Unloaded)
    );
}

#[test]
fn an_owned_version_outlives_swaps_until_dropped() {
    let hs = Slot::<Greeter>::load(fixture("greeter-v1")).unwrap();
    let owned = hs.current_owned();
    hs.swap(fixture("greeter-v2")).unwrap();
    hs.swap(fixture("greeter-v1")).unwrap();
    assert_eq!((Version::generation(&owned), owned.build()), (1, 1));
    assert!(
        !hs.wait_drained(Duration::from_millis(50)),
        "generation 1 is still held"
    );
    drop(owned);
    assert!(hs.wait_drained(REAP_TIMEOUT));
    assert_eq!(mapped_under(hs.copy_prefix()).len(), 1);
}

#[test]
fn a_cached_reader_follows_swaps_and_pins_its_version_while_idle() {
    let hs = Slot::<Greeter>::load(fixture("greeter-v1")).unwrap();
    let mut reader = hs.reader();
    assert_eq!(reader.get().build(), 1);
    hs.swap(fixture("greeter-v2")).unwrap();
    assert!(
        !hs.wait_drained(Duration::from_millis(50)),
        "the idle reader still holds generation 1"
    );
    assert_eq!(reader.get().build(), 2, "the next get sees the swap");
    assert!(hs.wait_drained(REAP_TIMEOUT), "and lets generation 1 go");
}

#[test]
fn rollback_returns_to_the_previous_build_even_after_its_file_is_rebuilt() {
    let dir = plugin_dir();
    let path = dir.path().join("libgreeter.so");
    install("greeter-v1", &path);
    let hs = Slot::<Greeter>::load(&path).unwrap();
    install("greeter-v2", &path);
    hs.swap(&path).unwrap();
    fs::remove_file(&path).unwrap();

    let report = hs.rollback().unwrap();
    assert_eq!((report.generation, report.previous), (3, 2));
    assert_eq!(hs.current().build(), 1, "back on build 1");
    hs.rollback().unwrap();
    assert_eq!(
        hs.current().build(),
        2,
        "rolling back twice returns to build 2"
    );
}

#[test]
fn rollback_before_any_swap_is_refused() {
    let hs = Slot::<Greeter>::load(fixture("greeter-v1")).unwrap();
    assert!(matches!(hs.rollback(), Err(liveswap::Error::NoRollback)));
    assert_eq!(hs.current().build(), 1);
}

#[test]
fn stats_list_each_generation_with_its_source_and_state() {
    let hs = Slot::<Greeter>::load(fixture("greeter-v1")).unwrap();
    hs.swap(fixture("greeter-v2")).unwrap();
    assert!(hs.wait_drained(REAP_TIMEOUT));
    let stats = hs.stats();
    assert_eq!(stats.current, 2);
    let states: Vec<_> = stats
        .generations
        .iter()
        .map(|g| (g.generation, g.source.clone(), g.state.clone()))
        .collect();
    assert_eq!(
        states,
        vec![
            (1, fixture("greeter-v1"), State::Unloaded),
            (2, fixture("greeter-v2"), State::Current),
        ]
    );
    assert_eq!(
        (
            stats.live(),
            stats.draining(),
            stats.pinned(),
            stats.unloaded()
        ),
        (1, 0, 0, 1)
    );
    assert!(stats.loaded_in_process >= 2);
}

#[test]
fn the_mapped_count_drops_with_each_verified_unload_while_the_loaded_count_only_grows() {
    // Other tests of this binary load and unload in parallel: each of their
    // loads adds one to both counts, each verified unload takes one from
    // the mapped count. So loaded minus mapped (the verified unloads of the
    // whole process) is at least this test's own.
    let hs = Slot::<Greeter>::load(fixture("greeter-v1")).unwrap();
    for i in 0..10 {
        let build = if i % 2 == 0 {
            "greeter-v2"
        } else {
            "greeter-v1"
        };
        hs.swap(fixture(build)).unwrap();
        assert!(hs.wait_drained(REAP_TIMEOUT));
    }
    let stats = hs.stats();
    assert_eq!(stats.unloaded(), 10);
    assert!(
        stats.mapped_in_process >= 1,
        "the serving generation is mapped"
    );
    assert!(
        stats.loaded_in_process - stats.mapped_in_process >= 10,
        "loaded {} mapped {}: ten verified unloads are not counted",
        stats.loaded_in_process,
        stats.mapped_in_process
    );
}

#[test]
fn a_copy_over_the_memfd_limit_is_an_unnamed_file_in_the_store_directory() {
    let store = plugin_dir();
    let hs = Slot::<Greeter>::load_with(
        fixture("greeter-v1"),
        Options::new().memfd_max(0).store_dir(store.path()),
    )
    .unwrap();
    assert_eq!(liveswap::Version::storage(&hs.current()), Storage::Disk);
    assert!(files_in(store.path()).is_empty(), "the copy has no name");
    let mapped = mapped_under(store.path());
    assert_eq!(mapped.len(), 1, "{mapped:?}");
    assert!(mapped[0].ends_with(" (deleted)"), "{mapped:?}");
    assert_eq!(hs.current().answer(1), 2);
}

#[test]
fn a_small_copy_is_a_sealed_memfd_named_after_its_handle() {
    let hs = Slot::<Greeter>::load(fixture("greeter-v1")).unwrap();
    assert_eq!(liveswap::Version::storage(&hs.current()), Storage::Memfd);
    let mapped = mapped_under(hs.copy_prefix());
    assert_eq!(mapped.len(), 1, "{mapped:?}");
    assert!(mapped[0].contains("-libgreeter_v1.so"), "{mapped:?}");
}

#[test]
fn dropping_the_handle_unloads_everything_and_removes_the_copies() {
    let hs = Slot::<Greeter>::load(fixture("greeter-v1")).unwrap();
    hs.swap(fixture("greeter-v2")).unwrap();
    let prefix = hs.copy_prefix().to_path_buf();
    drop(hs);
    assert!(
        mapped_under(&prefix).is_empty(),
        "nothing mapped after drop"
    );
}

#[test]
fn a_destructor_that_panics_twice_at_unload_neither_unwinds_nor_aborts() {
    let hs = Slot::<Greeter>::load(fixture("drop-panics")).unwrap();
    assert_eq!(hs.current().build(), 66);
    hs.swap(fixture("greeter-v1")).unwrap();
    assert!(hs.wait_drained(REAP_TIMEOUT), "the reaper survived");
    assert_eq!(hs.current().build(), 1);
    let swapped_again = hs.swap(fixture("greeter-v2")).unwrap();
    assert_eq!(swapped_again.generation, 3);
}

#[test]
fn dropping_the_handle_of_a_plugin_whose_drop_blocks_returns_after_the_unload_wait() {
    let hs = Slot::<Greeter>::load_with(
        fixture("drop-blocks"),
        liveswap::Options::default().unload_wait(Duration::from_millis(300)),
    )
    .unwrap();
    assert_eq!(hs.current().answer(1), 14);
    let started = std::time::Instant::now();
    drop(hs);
    // The reaper thread stays parked in the plugin's Drop; the library
    // stays mapped; the caller goes on.
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "drop(Slot) returned after {:?}",
        started.elapsed()
    );
}

#[test]
fn a_generation_whose_drop_does_not_return_is_reported_pinned_naming_its_drop() {
    let hs = Slot::<Greeter>::load_with(
        fixture("drop-blocks"),
        liveswap::Options::default().unload_wait(Duration::from_millis(300)),
    )
    .unwrap();
    hs.swap(fixture("greeter-v2")).unwrap();
    assert_eq!(hs.current().answer(1), 3, "the new build serves");
    let deadline = std::time::Instant::now() + REAP_TIMEOUT;
    let reason = loop {
        let stats = hs.stats();
        if let Some(State::Pinned { reason }) = stats
            .generations
            .iter()
            .find(|g| g.generation == 1)
            .map(|g| g.state.clone())
        {
            break reason;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "generation 1 never reported: {:?}",
            stats.generations
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        reason.contains("retire hook (the instance's Drop) has not returned"),
        "{reason}"
    );
    assert_eq!(hs.stats().pinned(), 1);
}
