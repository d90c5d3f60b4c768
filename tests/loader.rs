//! The loader against hostile files and hostile neighbours: FIFOs and
//! flipping symlinks, slow constructors, long names, untrusted store
//! directories, a backlog of unloads, crashes and `noexec` mounts.

use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use liveswap::{Error, Options, Slot, stats::Storage};
use liveswap_tests::{
    Greeter, REAP_TIMEOUT, files_in, fixture, install, mapped_under, marker_path,
};

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid C string path; creates a FIFO.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
}

#[test]
fn a_fifo_is_refused_at_once_as_not_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("plugin.so");
    mkfifo(&fifo);
    let hs = Slot::<Greeter>::load(fixture("greeter-v1")).unwrap();
    let err = hs.swap(&fifo).unwrap_err();
    assert!(
        matches!(err, Error::NotAFile { what: "a fifo", .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("plugin.so"), "{err}");
    assert_eq!(hs.current().answer(1), 2);
}

#[test]
fn a_fifo_behind_a_flipping_symlink_never_blocks_swaps_or_rollbacks() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    mkfifo(&fifo);
    let link = dir.path().join("plugin.so");
    let hs = Arc::new(Slot::<Greeter>::load(fixture("greeter-v1")).unwrap());
    hs.swap(fixture("greeter-v2")).unwrap();

    // Flip the link between a real plugin and the FIFO as fast as possible.
    let stop = Arc::new(AtomicBool::new(false));
    let flipper = {
        let (stop, dir, link, fifo) = (
            Arc::clone(&stop),
            dir.path().to_path_buf(),
            link.clone(),
            fifo.clone(),
        );
        thread::spawn(move || {
            let tmp = dir.join("next");
            let mut to_fifo = false;
            while !stop.load(Ordering::Relaxed) {
                let _ = fs::remove_file(&tmp);
                let target = if to_fifo {
                    fifo.clone()
                } else {
                    fixture("greeter-v1")
                };
                symlink(target, &tmp).unwrap();
                fs::rename(&tmp, &link).unwrap();
                to_fifo = !to_fifo;
            }
        })
    };
    let (done_tx, done_rx) = mpsc::channel();
    let swapper = {
        let (hs, link) = (Arc::clone(&hs), link.clone());
        thread::spawn(move || {
            let (mut loaded, mut refused) = (0, 0);
            for _ in 0..100 {
                match hs.swap(&link) {
                    Ok(_) => loaded += 1,
                    Err(Error::NotAFile { what: "a fifo", .. } | Error::NotFound { .. }) => {
                        refused += 1
                    }
                    Err(e) => panic!("{e}"),
                }
                hs.rollback().unwrap();
            }
            done_tx.send((loaded, refused)).unwrap();
        })
    };
    let result = done_rx.recv_timeout(Duration::from_secs(120));
    stop.store(true, Ordering::Relaxed);
    flipper.join().unwrap();
    let (loaded, refused) = result.expect("a swap blocked on the FIFO");
    swapper.join().unwrap();
    println!("{loaded} swaps loaded, {refused} refused the FIFO");
    assert_eq!(loaded + refused, 100);
}

/// Also: a swap holds no place among the versions waiting to unload
/// while it reads and loads, so one stuck in a constructor cannot fill a
/// backlog of one.
#[test]
fn a_rollback_completes_while_another_swap_is_stuck_in_its_constructor() {
    let gate = marker_path("slow-ctor-gate");
    let started = marker_path("slow-ctor");
    let _ = fs::remove_file(&started);
    fs::write(&gate, b"closed").unwrap();
    let options = Options::new()
        .max_unloading(1)
        .unload_wait(Duration::from_millis(300));
    let hs = Arc::new(Slot::<Greeter>::load_with(fixture("greeter-v1"), options).unwrap());
    hs.swap(fixture("greeter-v2")).unwrap();
    assert!(hs.wait_drained(REAP_TIMEOUT), "generation 1 unloads");

    let stuck = {
        let hs = Arc::clone(&hs);
        thread::spawn(move || hs.swap(fixture("slow-ctor")))
    };
    let deadline = Instant::now() + REAP_TIMEOUT;
    while !started.exists() {
        assert!(Instant::now() < deadline, "the slow constructor never ran");
        thread::sleep(Duration::from_millis(2));
    }

    // The other swap sits in its constructor; the rollback does not wait.
    let t = Instant::now();
    let report = hs.rollback().unwrap();
    let took = t.elapsed();
    assert!(!stuck.is_finished(), "the slow swap is still stuck");
    assert_eq!((report.generation, hs.current().build()), (3, 1));
    println!("rollback took {took:?} while another swap was stuck");

    fs::remove_file(&gate).unwrap();
    let err = stuck.join().unwrap().unwrap_err();
    assert!(matches!(err, Error::Superseded { by: 3, .. }), "{err:?}");
    assert_eq!(
        hs.current().build(),
        1,
        "the later call (the rollback) wins"
    );
    assert!(hs.wait_drained(REAP_TIMEOUT));
    assert_eq!(mapped_under(hs.copy_prefix()).len(), 1);
    let _ = fs::remove_file(&started);
}

#[test]
fn a_file_name_longer_than_a_memfd_name_loads() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("lib{}.so", "é".repeat(120)));
    install("greeter-v2", &path);
    let hs = Slot::<Greeter>::load(fixture("greeter-v1")).unwrap();
    let held = hs.current_owned();
    hs.swap(&path).unwrap();
    assert_eq!(hs.current().answer(1), 3);
    let mapped = mapped_under(hs.copy_prefix());
    assert_eq!(mapped.len(), 2, "{mapped:?}");
    // `/memfd:` + at most 249 bytes of name + ` (deleted)`.
    assert!(mapped.iter().all(|m| m.len() <= 7 + 249 + 10), "{mapped:?}");
    drop(held);
}

#[test]
fn a_store_dir_writable_by_others_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o777)).unwrap();
    let err =
        Slot::<Greeter>::load_with(fixture("greeter-v1"), Options::new().store_dir(dir.path()))
            .map(drop)
            .unwrap_err();
    assert!(
        matches!(&err, Error::StoreDir { reason, .. } if reason.contains("writable by others")),
        "{err:?}"
    );
}

#[test]
fn a_store_dir_reached_through_a_symlink_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().join("real");
    fs::create_dir(&real).unwrap();
    let link = dir.path().join("link");
    symlink(&real, &link).unwrap();
    let err = Slot::<Greeter>::load_with(fixture("greeter-v1"), Options::new().store_dir(&link))
        .map(drop)
        .unwrap_err();
    assert!(
        matches!(&err, Error::StoreDir { reason, .. } if reason.contains("symlinks")),
        "{err:?}"
    );
}

liveswap_tests::root_test!(
    "needs root: gives a directory to another user",
    fn a_store_dir_owned_by_another_user_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let theirs = dir.path().join("theirs");
        fs::create_dir(&theirs).unwrap();
        std::os::unix::fs::chown(&theirs, Some(65534), Some(65534)).unwrap();
        let err =
            Slot::<Greeter>::load_with(fixture("greeter-v1"), Options::new().store_dir(&theirs))
                .map(drop)
                .unwrap_err();
        assert!(
            matches!(&err, Error::StoreDir { reason, .. } if reason.contains("owned by uid 65534")),
            "{err:?}"
        );
    }
);

#[test]
fn copies_on_disk_and_in_memfds_cannot_be_written_by_this_process_or_another_user() {
    let store = tempfile::tempdir().unwrap();
    let hs = Slot::<Greeter>::load_with(
        fixture("greeter-v1"),
        Options::new().store_dir(store.path()),
    )
    .unwrap();
    hs.swap(fixture("greeter-v2")).unwrap();
    let on_disk = Slot::<Greeter>::load_with(
        fixture("greeter-v1"),
        Options::new().memfd_max(0).store_dir(store.path()),
    )
    .unwrap();
    assert_eq!(
        (
            liveswap::Version::storage(&hs.current()),
            liveswap::Version::storage(&on_disk.current())
        ),
        (Storage::Memfd, Storage::Disk)
    );
    // Every descriptor of a copy: a memfd of `hs`, or an unnamed file in `store`.
    let mut copies = Vec::new();
    for entry in fs::read_dir("/proc/self/fd").unwrap().flatten() {
        let Ok(target) = fs::read_link(entry.path()) else {
            continue;
        };
        let target = target.to_string_lossy().into_owned();
        let unnamed = target.ends_with(" (deleted)");
        if unnamed
            && (target.starts_with(&*hs.copy_prefix().to_string_lossy())
                || target.starts_with(&*store.path().to_string_lossy()))
        {
            copies.push(entry.path());
        }
    }
    assert!(copies.len() >= 3, "{copies:?}");
    for copy in &copies {
        let sealed = fs::read_link(copy)
            .unwrap()
            .to_string_lossy()
            .starts_with("/memfd:");
        if !sealed {
            // An unnamed file: read-only to its owner (root overrides modes).
            let mode = fs::metadata(copy).unwrap().permissions().mode() & 0o7777;
            assert_eq!(mode, 0o500, "{}", copy.display());
            if is_root() {
                continue;
            }
        }
        let written = fs::OpenOptions::new()
            .write(true)
            .open(copy)
            .and_then(|mut f| std::io::Write::write_all(&mut f, b"x"));
        assert!(written.is_err(), "{} could be written", copy.display());
    }
    if is_root() {
        // Another user cannot even open them.
        use std::os::unix::process::CommandExt;
        let pid = std::process::id();
        let paths: Vec<String> = copies
            .iter()
            .map(|c| {
                format!(
                    "/proc/{pid}/fd/{}",
                    c.file_name().unwrap().to_string_lossy()
                )
            })
            .collect();
        let out = std::process::Command::new("/bin/sh")
            .arg("-c")
            .arg("for f in \"$@\"; do if head -c1 \"$f\" >/dev/null 2>&1; then echo opened \"$f\"; fi; done; echo done")
            .arg("sh")
            .args(&paths)
            .current_dir("/")
            .uid(65534)
            .gid(65534)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            stdout.trim(),
            "done",
            "another user opened a copy: {stdout}"
        );
    }
    assert_eq!(hs.current().answer(1), 3);
    assert_eq!(on_disk.current().answer(1), 2);
}

#[test]
fn at_the_unload_cap_a_swap_waits_then_is_refused_with_a_backlog_error() {
    let hs = Slot::<Greeter>::load_with(
        fixture("greeter-v1"),
        Options::new()
            .max_unloading(2)
            .unload_wait(Duration::from_millis(100)),
    )
    .unwrap();
    let held: Vec<_> = (0..2)
        .map(|i| {
            let guard = hs.current_owned();
            hs.swap(fixture(if i % 2 == 0 {
                "greeter-v2"
            } else {
                "greeter-v1"
            }))
            .unwrap();
            guard
        })
        .collect();
    let err = hs.swap(fixture("greeter-v2")).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Backlog {
                waiting: 2,
                max: 2,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(hs.generation(), 3, "the refused swap changed nothing");
    assert_eq!(hs.stats().draining(), 2);
    assert_eq!(mapped_under(hs.copy_prefix()).len(), 3);

    // Once a held version goes, the next swap proceeds.
    drop(held);
    hs.swap(fixture("greeter-v2")).unwrap();
    assert!(hs.wait_drained(REAP_TIMEOUT));
    assert_eq!(mapped_under(hs.copy_prefix()).len(), 1);
}

#[test]
fn at_the_unload_cap_a_swap_goes_through_when_a_guard_drops_in_time() {
    let hs = Arc::new(
        Slot::<Greeter>::load_with(
            fixture("greeter-v1"),
            Options::new().max_unloading(1).unload_wait(REAP_TIMEOUT),
        )
        .unwrap(),
    );
    let held = hs.current_owned();
    hs.swap(fixture("greeter-v2")).unwrap();
    let waiter = {
        let hs = Arc::clone(&hs);
        thread::spawn(move || hs.swap(fixture("greeter-v1")).map(|r| r.generation))
    };
    thread::sleep(Duration::from_millis(100));
    assert!(
        !waiter.is_finished(),
        "the swap waits while the cap is reached"
    );
    drop(held);
    assert_eq!(waiter.join().unwrap().unwrap(), 3);
}

/// Run by `nothing_is_left_in_the_temp_dir_after_a_crash` in a child
/// process; does nothing when run any other way.
#[test]
#[ignore = "runs as a child of nothing_is_left_in_the_temp_dir_after_a_crash"]
fn crash_while_loaded() {
    let Some(big) = std::env::var_os("LIVESWAP_TEST_BIG") else {
        return;
    };
    let hs = Slot::<Greeter>::load(fixture("greeter-v1")).unwrap();
    hs.swap(fixture("greeter-v2")).unwrap();
    hs.swap(&big).unwrap();
    println!("storage {:?}", liveswap::Version::storage(&hs.current()));
    use std::io::Write;
    std::io::stdout().flush().unwrap();
    std::process::abort();
}

#[test]
fn nothing_is_left_in_the_temp_dir_or_beside_the_plugin_after_a_crash() {
    let temp = tempfile::tempdir().unwrap();
    let plugins = tempfile::tempdir().unwrap();
    let noexec = is_root() && mount_noexec_tmpfs(temp.path());
    // A plugin over the memfd limit: its copy goes to an unnamed file beside it.
    let big = plugins.path().join("libbig.so");
    install("greeter-v2", &big);
    fs::OpenOptions::new()
        .write(true)
        .open(&big)
        .unwrap()
        .set_len(liveswap::defaults::DEFAULT_MEMFD_MAX + (4 << 20))
        .unwrap();

    let out = liveswap_tests::child_test("crash_while_loaded")
        .env("TMPDIR", temp.path())
        .env("LIVESWAP_TEST_BIG", &big)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let leftovers = (files_in(temp.path()), files_in(plugins.path()));
    if noexec {
        unmount(temp.path());
    }
    assert!(!out.status.success(), "the child aborted");
    assert!(
        stdout.contains("storage Disk"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(leftovers, (vec![], vec!["libbig.so".to_string()]));
    println!(
        "temp dir {}noexec: nothing left",
        if noexec { "" } else { "not " }
    );
}

fn mount_noexec_tmpfs(at: &Path) -> bool {
    let c = std::ffi::CString::new(at.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: mount(2) with valid C strings; a private tmpfs over a
    // directory this test owns, unmounted by the test.
    let rc = unsafe {
        libc::mount(
            c"tmpfs".as_ptr(),
            c.as_ptr(),
            c"tmpfs".as_ptr(),
            libc::MS_NOEXEC | libc::MS_NOSUID | libc::MS_NODEV,
            c"size=64m,mode=0700".as_ptr().cast(),
        )
    };
    rc == 0
}

fn unmount(at: &Path) {
    let c = std::ffi::CString::new(at.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: unmounting the tmpfs `mount_noexec_tmpfs` mounted.
    assert_eq!(unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) }, 0);
}

liveswap_tests::root_test!(
    "needs root: mounts a noexec tmpfs",
    fn plugins_on_a_noexec_mount_load_from_memfds() {
        let dir = tempfile::tempdir().unwrap();
        if !mount_noexec_tmpfs(dir.path()) {
            println!("skipped: cannot mount a tmpfs here");
            return;
        }
        let small = dir.path().join("libsmall.so");
        install("greeter-v1", &small);
        let big = dir.path().join("libbig.so");
        install("greeter-v2", &big);
        fs::OpenOptions::new()
            .write(true)
            .open(&big)
            .unwrap()
            .set_len(liveswap::defaults::DEFAULT_MEMFD_MAX + (4 << 20))
            .unwrap();
        let result = (|| {
            let hs = Slot::<Greeter>::load(&small)?;
            let first = (
                hs.current().answer(1),
                liveswap::Version::storage(&hs.current()),
            );
            // Over the memfd limit, but the directory beside it cannot hold
            // executable files: the copy goes to a memfd after all.
            hs.swap(&big)?;
            let second = (
                hs.current().answer(1),
                liveswap::Version::storage(&hs.current()),
            );
            Ok::<_, Error>((first, second))
        })();
        unmount(dir.path());
        assert_eq!(result.unwrap(), ((2, Storage::Memfd), (3, Storage::Memfd)));
    }
);
