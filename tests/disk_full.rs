//! A private copy directory that runs out of space. Simulated with
//! `RLIMIT_FSIZE` (writes past the limit fail with `EFBIG`), which is
//! process-wide: hence a test binary of its own.

use liveswap::{Error, Slot};
use liveswap_tests::{Greeter, fixture, mapped_under, open_fds};

fn set_file_size_limit(bytes: libc::rlim_t) {
    let limit = libc::rlimit {
        rlim_cur: bytes,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: setrlimit with a valid struct; lowering and raising the soft
    // limit below the (infinite) hard limit is always allowed.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_FSIZE, &limit) }, 0);
}

#[test]
fn a_full_copy_directory_is_a_copy_error_that_leaves_nothing_behind() {
    let v2 = fixture("greeter-v2"); // builds the fixtures before the limit
    let hs = Slot::<Greeter>::load(fixture("greeter-v1")).unwrap();
    let fds_before = open_fds();

    // SAFETY: ignoring SIGXFSZ makes an oversized write fail with EFBIG
    // instead of killing the process; no handler code runs.
    unsafe { libc::signal(libc::SIGXFSZ, libc::SIG_IGN) };
    set_file_size_limit(64 * 1024);
    let result = hs.swap(&v2);
    set_file_size_limit(libc::RLIM_INFINITY);

    let err = result.unwrap_err();
    match &err {
        Error::Copy { source, .. } => assert_eq!(source.raw_os_error(), Some(libc::EFBIG), "{err}"),
        other => panic!("{other:?}"),
    }
    assert!(
        err.to_string().contains("greeter_v2"),
        "names the plugin: {err}"
    );
    assert_eq!(
        hs.current().answer(1),
        2,
        "the current version keeps serving"
    );
    // Copies are memfds or unnamed files: nothing has a name to list, so
    // a copy left behind would be a descriptor left open.
    assert_eq!(open_fds(), fds_before, "the partial copy is closed");
    assert_eq!(mapped_under(hs.copy_prefix()).len(), 1);

    hs.swap(&v2).unwrap();
    assert_eq!(
        hs.current().answer(1),
        3,
        "with room again, the swap goes through"
    );
}
