//! Big files: refused unread when over the cap, refused by their first
//! bytes when not ELF, and copied without reading them into memory when
//! they are plugins. Alone in its binary, so that RSS is this test's own.

use std::fs;

use liveswap::defaults::DEFAULT_MAX_FILE_SIZE;
use liveswap::{Error, Options, Slot, stats::Storage};
use liveswap_tests::{Greeter, REAP_TIMEOUT, fixture, install, rss_kib};

/// RSS growth allowed for handling a file of any size: 16 MiB.
const RSS_LIMIT_KIB: i64 = 16 * 1024;

#[test]
fn big_files_are_refused_or_loaded_without_reading_them_into_memory() {
    let dir = tempfile::tempdir().unwrap();
    let hs = Slot::<Greeter>::load_with(
        fixture("greeter-v1"),
        Options::new().max_file_size(DEFAULT_MAX_FILE_SIZE),
    )
    .unwrap();
    hs.swap(fixture("greeter-v2")).unwrap();
    hs.swap(fixture("greeter-v1")).unwrap();
    assert!(hs.wait_drained(REAP_TIMEOUT));
    let rss_before = rss_kib();

    // 2 GiB of holes: over the default cap, refused from its size alone.
    let sparse = dir.path().join("sparse.so");
    fs::File::create(&sparse).unwrap().set_len(2 << 30).unwrap();
    let err = hs.swap(&sparse).unwrap_err();
    assert!(
        matches!(err, Error::TooLarge { size, max, .. } if size == 2 << 30 && max == DEFAULT_MAX_FILE_SIZE),
        "{err:?}"
    );
    assert!(err.to_string().contains("sparse.so"), "{err}");

    // Under a raised cap, refused by its first bytes.
    let raised =
        Slot::<Greeter>::load_with(fixture("greeter-v1"), Options::new().max_file_size(4 << 30))
            .unwrap();
    let err = raised.swap(&sparse).unwrap_err();
    assert!(matches!(err, Error::NotSharedObject { .. }), "{err:?}");
    drop(raised);

    // A real plugin padded to 200 MB loads from an unnamed copy on disk.
    let big = dir.path().join("libbig.so");
    install("greeter-v2", &big);
    fs::OpenOptions::new()
        .write(true)
        .open(&big)
        .unwrap()
        .set_len(200 << 20)
        .unwrap();
    hs.swap(&big).unwrap();
    assert_eq!(hs.current().answer(1), 3);
    assert_eq!(liveswap::Version::storage(&hs.current()), Storage::Disk);
    assert_eq!(
        liveswap_tests::files_in(dir.path()),
        ["libbig.so", "sparse.so"]
    );
    hs.swap(fixture("greeter-v1")).unwrap();
    assert!(hs.wait_drained(REAP_TIMEOUT));

    let growth = rss_kib() as i64 - rss_before as i64;
    println!("RSS growth over a 2 GiB refusal and a 200 MB swap: {growth} KiB");
    assert!(growth < RSS_LIMIT_KIB, "RSS grew by {growth} KiB");
}
