//! A plugin file rewritten in place (same size, no truncation) while the
//! host swaps from it: every swap serves one whole build or is refused
//! with a typed error; the host never loads a copy that is part one build,
//! part the other.

use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use liveswap::{Error, Slot};
use liveswap_tests::{Greeter, fixture};

/// Two greeters built from different code (build 1, and build 4 with a
/// thread-local), padded with zeros to one size of at least 6 MiB (bytes
/// past their section headers, which nothing reads): a copy that mixes
/// them has one's relocations against the other's code. The size makes a
/// rewrite six writes and a copy several milliseconds long, so that a
/// writer that never pauses is seen changing even on a loaded machine.
fn two_builds_of_one_size() -> (Vec<u8>, Vec<u8>) {
    let mut one = fs::read(fixture("greeter-v1")).unwrap();
    let mut two = fs::read(fixture("tls-pin")).unwrap();
    let len = one.len().max(two.len()).max(6 << 20);
    one.resize(len, 0);
    two.resize(len, 0);
    assert_ne!(one, two);
    (one, two)
}

/// Writes `bytes` over `file` in 1 MiB pieces, yielding between them so
/// that a copy can fall in the middle: the first and last pieces (the ELF
/// header, the section headers and the descriptor) first, the code and
/// relocations in between last, so that a copy made in the middle has a
/// whole, valid descriptor over mixed code.
fn rewrite_in_place(file: &File, bytes: &[u8]) {
    let pieces: Vec<&[u8]> = bytes.chunks(1 << 20).collect();
    let last = pieces.len() - 1;
    let order = [0, last].into_iter().chain(1..last);
    for i in order {
        file.write_all_at(pieces[i], (i << 20) as u64).unwrap();
        thread::yield_now();
    }
}

/// A slot serving the first of two builds of one size, from a file of its
/// own: (its directory, the file, the slot).
fn serving_one_of_two_builds() -> (tempfile::TempDir, PathBuf, Slot<Greeter>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("greeter.so");
    let (one, _) = two_builds_of_one_size();
    fs::write(&path, &one).unwrap();
    let slot = Slot::<Greeter>::load(&path).unwrap();
    (dir, path, slot)
}

/// A thread rewriting `path` in place with one build, then the other,
/// pausing `pause(n)` after the `n`th rewrite, until the flag is set; it
/// returns how many rewrites it made.
fn rewriting_in_place(
    path: &Path,
    pause: impl Fn(u64) -> Duration + Send + 'static,
) -> (Arc<AtomicBool>, thread::JoinHandle<u64>) {
    let (one, two) = two_builds_of_one_size();
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (stop, path) = (stop.clone(), path.to_path_buf());
        thread::spawn(move || {
            let file = OpenOptions::new().write(true).open(&path).unwrap();
            let mut rewrites = 0u64;
            while !stop.load(Ordering::Relaxed) {
                rewrite_in_place(
                    &file,
                    if rewrites.is_multiple_of(2) {
                        &two
                    } else {
                        &one
                    },
                );
                rewrites += 1;
                let wait = pause(rewrites);
                if !wait.is_zero() {
                    thread::sleep(wait);
                }
            }
            rewrites
        })
    };
    (stop, writer)
}

#[test]
fn swaps_from_a_file_rewritten_in_place_serve_a_whole_build_or_are_refused() {
    let (_dir, path, slot) = serving_one_of_two_builds();
    // Pauses of 0 to 25 ms: some copies are made in a pause, some in the
    // middle of a rewrite.
    let (stop, writer) = rewriting_in_place(&path, |n| Duration::from_micros((n * 7919) % 25_000));

    let (mut served, mut refused) = (0, 0);
    for _ in 0..1000 {
        match slot.swap(&path) {
            Ok(_) => {
                served += 1;
                let api = slot.current();
                let build = api.build();
                assert!(build == 1 || build == 4, "build {build}");
                assert_eq!(api.answer(40), 40 + u64::from(build));
            }
            Err(Error::Changed { path: p, detail }) => {
                assert_eq!(p, path);
                assert!(!detail.is_empty());
                refused += 1;
            }
            // A copy made while the file was still whole zeros at its
            // start, or another clean refusal: typed, and the serving
            // version keeps serving.
            Err(e) => {
                assert!(e.path() == Some(path.as_path()), "{e}");
                refused += 1;
                assert!(slot.current().answer(1) > 1);
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    let rewrites = writer.join().unwrap();
    eprintln!("{served} served, {refused} refused, {rewrites} rewrites");
    assert!(rewrites > 100, "the file was rewritten while swaps ran");
    assert!(served > 0, "some swaps fell between rewrites");
}

/// Refused as changed, or, when a rewrite fell inside one tick of the
/// file's timestamps (coarser than a copy on a loaded machine), as the
/// torn bytes it copied: never served.
#[test]
fn a_file_that_keeps_changing_is_refused() {
    let (_dir, path, slot) = serving_one_of_two_builds();
    let (stop, writer) = rewriting_in_place(&path, |_| Duration::ZERO);
    let err = slot.swap(&path).expect_err("a file never still is refused");
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    match err {
        Error::Changed { path: p, detail } => {
            assert_eq!(p, path);
            assert!(
                detail.contains("kept changing") || detail.contains("written in place"),
                "{detail}"
            );
        }
        other => assert!(
            other.to_string().contains(&*path.to_string_lossy()),
            "a refusal naming the file: {other}"
        ),
    }
    assert_eq!(slot.generation(), 1);
    assert_eq!(slot.current().answer(1), 2);
}
