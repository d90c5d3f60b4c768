//! The watcher (feature `deploy`): every way a build lands is served, and
//! every bad way is survived. Timings are generous: machines are noisy;
//! speed is measured by the bench, not here.

use std::fs;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use liveswap::deploy::{WatchEvent, WatchOptions, Watcher};
use liveswap::{
    ContentHash, Preflight, Slot, SwapOptions, Version,
    history::{Outcome, Trigger},
};
use liveswap_tests::{Greeter, REAP_TIMEOUT, fixture, install};

/// Long enough for anything on a loaded machine.
const PATIENCE: Duration = Duration::from_secs(20);

/// What a test sees of the watcher's events.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seen {
    Swapped(u64),
    Refused(String),
    Unchanged,
    Waiting,
    Missing,
    WatchError(String),
}

struct Setup {
    dir: tempfile::TempDir,
    slot: Arc<Slot<Greeter>>,
    events: Receiver<Seen>,
    watcher: Option<Watcher>,
}

impl Setup {
    fn path(&self) -> PathBuf {
        self.dir.path().join("libgreeter.so")
    }
}

/// Greeter build 1 at `<tmp>/libgreeter.so`, loaded and watched.
fn watched(configure: impl FnOnce(WatchOptions<Greeter>) -> WatchOptions<Greeter>) -> Setup {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("libgreeter.so");
    install("greeter-v1", &path);
    let slot = Arc::new(Slot::<Greeter>::load(&path).unwrap());
    let (tx, events) = mpsc::channel();
    let options = configure(WatchOptions::path(&path)).on_event(move |event| {
        let seen = match event {
            WatchEvent::Swapped(report) => Seen::Swapped(report.generation),
            WatchEvent::Refused { error, .. } => Seen::Refused(error.to_string()),
            WatchEvent::Unchanged { .. } => Seen::Unchanged,
            WatchEvent::Waiting { .. } => Seen::Waiting,
            WatchEvent::Missing { .. } => Seen::Missing,
            WatchEvent::WatchError { message } => Seen::WatchError(message.clone()),
            _ => return,
        };
        let _ = tx.send(seen);
    });
    let watcher = Watcher::start(Arc::clone(&slot), options).unwrap();
    Setup {
        dir,
        slot,
        events,
        watcher: Some(watcher),
    }
}

/// Waits until `slot` serves `build`.
fn serves(slot: &Slot<Greeter>, build: u32) -> bool {
    let deadline = Instant::now() + PATIENCE;
    while Instant::now() < deadline {
        if slot.current().build() == build {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    false
}

/// Every event seen within `quiet` of the last.
fn drain(events: &Receiver<Seen>, quiet: Duration) -> Vec<Seen> {
    let mut seen = Vec::new();
    while let Ok(event) = events.recv_timeout(quiet) {
        seen.push(event);
    }
    seen
}

fn refusals(seen: &[Seen]) -> usize {
    seen.iter()
        .filter(|s| matches!(s, Seen::Refused(_)))
        .count()
}

#[test]
fn a_build_renamed_into_place_is_served_and_recorded() {
    let setup = watched(|o| o);
    install("greeter-v2", &setup.path());
    assert!(serves(&setup.slot, 2), "build 2 never served");
    // The last publish (a look that raced the rename may have loaded build
    // 2 already, and the rename's own look then found it unchanged). The
    // attempt is recorded just after the publish: wait for it.
    let deadline = Instant::now() + REAP_TIMEOUT;
    let last = loop {
        let last = setup
            .slot
            .history()
            .into_iter()
            .rfind(|a| matches!(a.outcome, Outcome::Published { .. }))
            .unwrap();
        if last.trigger == Trigger::Watch || Instant::now() > deadline {
            break last;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(last.trigger, Trigger::Watch);
    assert_eq!(
        last.outcome,
        Outcome::Published {
            generation: 2,
            previous: 1
        }
    );
    let bytes = fs::read(fixture("greeter-v2")).unwrap();
    assert_eq!(last.content_hash, Some(ContentHash::of(&bytes)));
    assert_eq!(last.source, setup.path());
}

#[test]
fn starting_a_watcher_on_the_build_just_loaded_does_not_swap() {
    let setup = watched(|o| o);
    let seen = drain(&setup.events, Duration::from_millis(500));
    assert!(
        seen.iter()
            .all(|s| matches!(s, Seen::Unchanged | Seen::Waiting)),
        "{seen:?}"
    );
    assert_eq!(setup.slot.generation(), 1);
}

#[test]
fn a_build_identical_to_the_serving_one_is_skipped() {
    let setup = watched(|o| o);
    drain(&setup.events, Duration::from_millis(300));
    install("greeter-v1", &setup.path()); // new inode, same bytes
    let seen = drain(&setup.events, Duration::from_millis(500));
    // Every candidate settles first (reported as waiting).
    let attempts: Vec<_> = seen.into_iter().filter(|s| *s != Seen::Waiting).collect();
    assert_eq!(attempts, [Seen::Unchanged]);
    assert_eq!(setup.slot.generation(), 1);
    let last = setup.slot.history().pop().unwrap();
    assert_eq!(last.outcome, Outcome::Unchanged);
}

#[test]
fn a_build_failing_the_handshake_is_refused_once_and_the_old_one_serves() {
    let setup = watched(|o| o);
    install("other-interface", &setup.path());
    let seen = drain(&setup.events, Duration::from_millis(700));
    assert_eq!(refusals(&seen), 1, "{seen:?}");
    assert!(
        seen.iter()
            .any(|s| matches!(s, Seen::Refused(m) if m.contains("libgreeter.so"))),
        "the refusal names the file: {seen:?}"
    );
    assert_eq!(setup.slot.current().build(), 1);
    // The watcher goes on.
    install("greeter-v2", &setup.path());
    assert!(serves(&setup.slot, 2));
}

#[test]
fn a_half_written_file_is_loaded_once_complete_and_never_refused() {
    let setup = watched(|o| o.settle(Duration::from_secs(3)));
    drain(&setup.events, Duration::from_millis(300));
    let bytes = fs::read(fixture("greeter-v2")).unwrap();
    let half = bytes.len() / 2;
    // An in-place write, in two parts with a pause between.
    fs::write(setup.path(), &bytes[..half]).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(setup.slot.current().build(), 1);
    {
        use std::io::Write;
        let mut file = fs::OpenOptions::new()
            .append(true)
            .open(setup.path())
            .unwrap();
        file.write_all(&bytes[half..]).unwrap();
    }
    assert!(serves(&setup.slot, 2), "the completed build never served");
    let seen = drain(&setup.events, Duration::from_millis(300));
    assert_eq!(refusals(&seen), 0, "{seen:?}");
}

#[test]
fn an_incomplete_file_left_as_it_is_is_refused_once_after_settling() {
    let setup = watched(|o| o.settle(Duration::from_millis(200)));
    drain(&setup.events, Duration::from_millis(300));
    let bytes = fs::read(fixture("greeter-v2")).unwrap();
    fs::write(setup.path(), &bytes[..bytes.len() / 2]).unwrap();
    let seen = drain(&setup.events, Duration::from_secs(1));
    assert_eq!(refusals(&seen), 1, "{seen:?}");
    assert_eq!(setup.slot.current().build(), 1);
}

#[test]
fn a_file_deleted_right_after_its_event_is_missing_not_refused() {
    let setup = watched(|o| o);
    drain(&setup.events, Duration::from_millis(300));
    install("greeter-v2", &setup.path());
    fs::remove_file(setup.path()).unwrap();
    let seen = drain(&setup.events, Duration::from_millis(500));
    // Caught before it went, seen missing, or never reported at all (the
    // debouncer drops a file created and removed within its window): but
    // never a refusal.
    assert_eq!(refusals(&seen), 0, "{seen:?}");
    install("greeter-v2", &setup.path());
    assert!(serves(&setup.slot, 2));
}

#[test]
fn the_watched_directory_removed_and_recreated_is_watched_again() {
    let setup = watched(|o| o);
    drain(&setup.events, Duration::from_millis(300));
    fs::remove_dir_all(setup.dir.path()).unwrap();
    drain(&setup.events, Duration::from_millis(300));
    fs::create_dir(setup.dir.path()).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    install("greeter-v2", &setup.path());
    assert!(
        serves(&setup.slot, 2),
        "the re-created directory is not watched"
    );
    assert_eq!(setup.slot.current().build(), 2);
}

#[test]
fn a_target_directory_removed_whole_as_cargo_clean_does_is_watched_again() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("target").join("debug");
    fs::create_dir_all(&dir).unwrap();
    let path = dir.join("libgreeter.so");
    install("greeter-v1", &path);
    let slot = Arc::new(Slot::<Greeter>::load(&path).unwrap());
    let watcher = Watcher::start(
        Arc::clone(&slot),
        WatchOptions::path(&path).settle(Duration::from_millis(20)),
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    // `cargo clean`: the watched directory's parent goes, with it.
    fs::remove_dir_all(root.path().join("target")).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    // The next build makes the path again, a level at a time.
    fs::create_dir(root.path().join("target")).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    fs::create_dir(&dir).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    install("greeter-v2", &path);
    assert!(
        serves(&slot, 2),
        "the rebuilt target directory is not watched"
    );
    drop(watcher);
}

#[test]
fn the_slots_swap_policy_guards_the_watchers_swaps_too() {
    let setup = watched(|o| o);
    drain(&setup.events, Duration::from_millis(300));
    setup
        .slot
        .set_swap_policy(
            SwapOptions::new().preflight(Preflight::new(|api: &Version<Greeter>| {
                match api.build() {
                    2 => Err("build 2 is not wanted here".into()),
                    _ => Ok(()),
                }
            })),
        );
    install("greeter-v2", &setup.path());
    let seen = drain(&setup.events, Duration::from_secs(2));
    assert!(refusals(&seen) >= 1, "{seen:?}");
    assert_eq!(setup.slot.current().build(), 1);
}

#[test]
fn a_hundred_rebuilds_in_one_second_end_with_the_last_serving_after_far_fewer_swaps() {
    let setup = watched(|o| o);
    drain(&setup.events, Duration::from_millis(300));
    let started = Instant::now();
    // Each rebuild lands as cargo's does: a hard link of the build, here
    // made beside the target and renamed over it.
    let incoming = setup.dir.path().join("incoming.so");
    for i in 0..100 {
        let build = fixture(if i % 2 == 0 {
            "greeter-v1"
        } else {
            "greeter-v2"
        });
        fs::hard_link(build, &incoming).unwrap();
        fs::rename(&incoming, setup.path()).unwrap();
        std::thread::sleep(Duration::from_millis(9));
    }
    let took = started.elapsed();
    assert!(serves(&setup.slot, 2), "the last build (2) does not serve");
    let seen = drain(&setup.events, Duration::from_millis(500));
    let swaps = seen
        .iter()
        .filter(|s| matches!(s, Seen::Swapped(_)))
        .count();
    println!(
        "100 rebuilds in {took:?}: {swaps} swaps, {} events",
        seen.len()
    );
    // One swap per cooldown (100 ms) at most, whatever the pace.
    let most = took.as_millis() / 100 + 2;
    assert!(
        swaps as u128 <= most && swaps < 50,
        "{swaps} swaps for 100 rebuilds in {took:?}"
    );
    assert_eq!(refusals(&seen), 0, "{seen:?}");
}

#[test]
fn a_kubernetes_style_data_link_swap_is_served() {
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("..2026_01_01_first");
    fs::create_dir(&first).unwrap();
    fs::copy(fixture("greeter-v1"), first.join("libgreeter.so")).unwrap();
    std::os::unix::fs::symlink("..2026_01_01_first", dir.path().join("..data")).unwrap();
    let path = dir.path().join("libgreeter.so");
    std::os::unix::fs::symlink("..data/libgreeter.so", &path).unwrap();
    let slot = Arc::new(Slot::<Greeter>::load(&path).unwrap());
    let watcher = Watcher::start(Arc::clone(&slot), WatchOptions::path(&path)).unwrap();
    // What the kubelet does: a new timestamped directory, a temporary
    // link to it, renamed over `..data`.
    let second = dir.path().join("..2026_01_02_second");
    fs::create_dir(&second).unwrap();
    fs::copy(fixture("greeter-v2"), second.join("libgreeter.so")).unwrap();
    std::os::unix::fs::symlink("..2026_01_02_second", dir.path().join("..data_tmp")).unwrap();
    fs::rename(dir.path().join("..data_tmp"), dir.path().join("..data")).unwrap();
    assert!(serves(&slot, 2), "the new ..data target never served");
    drop(watcher);
}

#[test]
fn polling_mode_serves_a_renamed_build() {
    let setup = watched(|o| o.poll(Duration::from_millis(50)));
    install("greeter-v2", &setup.path());
    assert!(serves(&setup.slot, 2), "polling never saw the build");
}

#[test]
fn a_build_matching_the_pattern_is_served() {
    let dir = tempfile::tempdir().unwrap();
    install("greeter-v1", &dir.path().join("libgreeter-1.so"));
    let slot = Arc::new(Slot::<Greeter>::load(dir.path().join("libgreeter-1.so")).unwrap());
    let watcher = Watcher::start(
        Arc::clone(&slot),
        WatchOptions::pattern(dir.path(), "libgreeter-*.so"),
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(50));
    install("other-interface", &dir.path().join("unrelated.so"));
    install("greeter-v2", &dir.path().join("libgreeter-2.so"));
    assert!(serves(&slot, 2));
    assert_eq!(
        liveswap::Version::source(&slot.current()),
        dir.path().join("libgreeter-2.so")
    );
    drop(watcher);
}

#[test]
fn dropping_the_watcher_stops_it() {
    let mut setup = watched(|o| o);
    drop(setup.watcher.take());
    install("greeter-v2", &setup.path());
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(setup.slot.current().build(), 1);
    // The callback (and its channel's sender) went with the watcher:
    // once what it sent is read, the channel says so.
    let end = loop {
        match setup.events.recv_timeout(Duration::from_secs(5)) {
            Ok(_) => continue,
            Err(end) => break end,
        }
    };
    assert_eq!(end, std::sync::mpsc::RecvTimeoutError::Disconnected);
    assert!(
        Arc::strong_count(&setup.slot) == 1,
        "the watcher let the slot go"
    );
}

#[test]
fn watching_leaves_nothing_in_the_directory() {
    let setup = watched(|o| o);
    install("greeter-v2", &setup.path());
    assert!(serves(&setup.slot, 2));
    let names = liveswap_tests::files_in(setup.dir.path());
    assert_eq!(names, ["libgreeter.so"]);
}

/// A slot of greeter build 1 at `<tmp>/libgreeter.so` made with `options`,
/// and a watcher on that path whose events go to the returned channel.
fn watched_with(
    options: liveswap::Options,
    signed_by: Option<&liveswap_tests::TestKey>,
    configure: impl FnOnce(WatchOptions<Greeter>) -> WatchOptions<Greeter>,
) -> Setup {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("libgreeter.so");
    install("greeter-v1", &path);
    if let Some(key) = signed_by {
        key.sign(&path, "build 1");
    }
    let slot = Arc::new(Slot::<Greeter>::load_with(&path, options).unwrap());
    let (tx, events) = mpsc::channel();
    let watch = configure(WatchOptions::path(&path)).on_event(move |event| {
        let seen = match event {
            WatchEvent::Swapped(report) => Seen::Swapped(report.generation),
            WatchEvent::Refused { error, .. } => Seen::Refused(error.to_string()),
            _ => return,
        };
        let _ = tx.send(seen);
    });
    let watcher = Watcher::start(Arc::clone(&slot), watch).unwrap();
    Setup {
        dir,
        slot,
        events,
        watcher: Some(watcher),
    }
}

#[test]
fn a_file_preallocated_renamed_in_then_filled_in_place_is_taken_only_once_whole() {
    use std::io::{Seek, SeekFrom, Write};
    let setup = watched(|o| o.settle(Duration::from_millis(500)));
    drain(&setup.events, Duration::from_millis(300));
    let bytes = fs::read(fixture("greeter-v2")).unwrap();
    // Full size at once, the ELF header and the section headers (the
    // end) written first: it looks like a whole ELF object from the start.
    let incoming = setup.dir.path().join("incoming.so");
    let mut file = fs::File::create(&incoming).unwrap();
    file.set_len(bytes.len() as u64).unwrap();
    let head = 4096.min(bytes.len());
    let tail = bytes.len() - 64 * 1024;
    file.write_all(&bytes[..head]).unwrap();
    file.seek(SeekFrom::Start(tail as u64)).unwrap();
    file.write_all(&bytes[tail..]).unwrap();
    fs::rename(&incoming, setup.path()).unwrap();
    // The middle, in place, in steps shorter than the settle time.
    for chunk in (head..tail).step_by(1 << 20) {
        let end = (chunk + (1 << 20)).min(tail);
        file.seek(SeekFrom::Start(chunk as u64)).unwrap();
        file.write_all(&bytes[chunk..end]).unwrap();
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(setup.slot.current().build(), 1, "taken mid-write");
    }
    drop(file);
    assert!(serves(&setup.slot, 2), "the whole build never served");
    let seen = drain(&setup.events, Duration::from_millis(300));
    assert_eq!(refusals(&seen), 0, "{seen:?}");
}

#[test]
fn a_build_refused_for_its_missing_signature_is_taken_when_the_signature_lands() {
    let key = liveswap_tests::TestKey::generate();
    let options = liveswap::Options::new().trusted_keys([key.trusted()]);
    let setup = watched_with(options, Some(&key), |o| o);
    drain(&setup.events, Duration::from_millis(300));
    // The natural order: the build renamed in, its signature a moment later.
    install("greeter-v2", &setup.path());
    let refused = setup.events.recv_timeout(PATIENCE).expect("an event");
    assert!(
        matches!(&refused, Seen::Refused(m) if m.contains("minisig")),
        "{refused:?}"
    );
    std::thread::sleep(Duration::from_millis(500));
    key.sign(&setup.path(), "build 2");
    assert!(
        serves(&setup.slot, 2),
        "the signed build was never tried again"
    );
}

#[test]
fn a_build_refused_for_the_backlog_is_retried_until_it_goes_through() {
    let options = liveswap::Options::new()
        .max_unloading(1)
        .unload_wait(Duration::from_millis(50));
    let setup = watched_with(options, None, |o| o);
    drain(&setup.events, Duration::from_millis(300));
    // Generation 1 held while replaced: the one place is taken.
    let held = setup.slot.current_owned();
    setup.slot.swap(fixture("greeter-v2")).unwrap();
    assert_eq!(setup.slot.current().build(), 2);
    install("greeter-v1", &setup.path());
    let refused = setup.events.recv_timeout(PATIENCE).expect("an event");
    assert!(
        matches!(&refused, Seen::Refused(m) if m.contains("waiting to be unloaded")),
        "{refused:?}"
    );
    drop(held);
    assert!(
        serves(&setup.slot, 1),
        "the build was never tried again once the backlog cleared"
    );
}

#[test]
fn in_pattern_mode_fifos_foreign_files_and_a_date_in_2099_do_not_shadow_the_next_build() {
    let dir = tempfile::tempdir().unwrap();
    install("greeter-v1", &dir.path().join("libgreeter-1.so"));
    let slot = Arc::new(Slot::<Greeter>::load(dir.path().join("libgreeter-1.so")).unwrap());
    let (tx, events) = mpsc::channel();
    let watcher = Watcher::start(
        Arc::clone(&slot),
        WatchOptions::pattern(dir.path(), "libgreeter-*.so").on_event(move |event| {
            if let WatchEvent::Refused { path, .. } = event {
                let _ = tx.send(path.clone());
            }
        }),
    )
    .unwrap();
    // A FIFO matching the pattern: never opened.
    rustix::fs::mknodat(
        rustix::fs::CWD,
        dir.path().join("libgreeter-fifo.so"),
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
        0,
    )
    .unwrap();
    // A build dated 2099 (anyone can set a modification time).
    let future = dir.path().join("libgreeter-9.so");
    install("greeter-v1", &future);
    fs::File::options()
        .write(true)
        .open(&future)
        .unwrap()
        .set_modified(std::time::UNIX_EPOCH + Duration::from_secs(4_070_908_800))
        .unwrap();
    // As root: a build owned by another user, never a candidate.
    if unsafe { libc::geteuid() } == 0 {
        let foreign = dir.path().join("libgreeter-8.so");
        install("greeter-v2", &foreign);
        std::os::unix::fs::chown(&foreign, Some(65534), Some(65534)).unwrap();
    }
    std::thread::sleep(Duration::from_millis(300));
    install("greeter-v2", &dir.path().join("libgreeter-2.so"));
    assert!(serves(&slot, 2), "the next build was shadowed");
    assert_eq!(
        liveswap::Version::source(&slot.current()),
        dir.path().join("libgreeter-2.so")
    );
    let refused: Vec<PathBuf> = events.try_iter().collect();
    assert!(refused.is_empty(), "{refused:?}");
    let t = Instant::now();
    drop(watcher);
    assert!(t.elapsed() < Duration::from_secs(5), "the watcher hung");
}

#[test]
fn dropping_a_watcher_busy_in_a_constructor_that_never_returns_waits_only_its_stop_wait() {
    let gate = liveswap_tests::marker_path("slow-ctor-gate");
    let started = liveswap_tests::marker_path("slow-ctor");
    let _ = fs::remove_file(&started);
    fs::write(&gate, b"closed").unwrap();
    let mut setup = watched(|o| o.stop_wait(Duration::from_millis(300)));
    drain(&setup.events, Duration::from_millis(300));
    install("slow-ctor", &setup.path());
    let deadline = Instant::now() + PATIENCE;
    while !started.exists() {
        assert!(Instant::now() < deadline, "the slow constructor never ran");
        std::thread::sleep(Duration::from_millis(5));
    }
    let t = Instant::now();
    drop(setup.watcher.take());
    let took = t.elapsed();
    fs::remove_file(&gate).unwrap();
    assert!(took < Duration::from_secs(5), "dropping took {took:?}");
    // The constructor, let go, ends; the swap it belonged to publishes.
    assert!(serves(&setup.slot, 8));
    let _ = fs::remove_file(&started);
}
