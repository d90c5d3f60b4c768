//! A plugin that calls `std::thread::current()` creates a pthread key whose
//! destructor is plugin code. The library creates it with a destructor of
//! its own and deletes it when the generation retires, so the generation is
//! unloaded, and a thread that set the key exits after the unload without
//! calling into unmapped code. Its own binary: it counts the process's keys.

use std::sync::mpsc;
use std::thread;

use liveswap::{Slot, stats::State};

/// The tests count the process's free keys: one at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
use liveswap_tests::{Greeter, REAP_TIMEOUT, fixture, mapped_under};

#[test]
fn a_plugin_with_a_pthread_key_destructor_is_unloaded_and_a_thread_that_set_the_key_exits_cleanly()
{
    let _serial = serial();
    let hs = std::sync::Arc::new(Slot::<Greeter>::load(fixture("greeter-v1")).unwrap());
    let free_before = hs
        .stats()
        .free_pthread_keys
        .expect("the key table is readable");

    // A non-main thread swaps the plugin in (its constructor calls
    // thread::current() there, setting the key on this thread), calls it,
    // and waits until the version has been unloaded before it exits.
    let (release, wait) = mpsc::channel::<()>();
    let (called, has_called) = mpsc::channel::<()>();
    let worker = {
        let hs = std::sync::Arc::clone(&hs);
        thread::spawn(move || {
            hs.swap(fixture("thread-current")).unwrap();
            assert_eq!(hs.current().answer(1), 7);
            called.send(()).unwrap();
            wait.recv().unwrap();
        })
    };
    // Not before its call: a swap between its swap and its call would
    // answer for another build.
    has_called.recv().expect("the worker swapped and called");
    assert!(
        hs.stats().free_pthread_keys.unwrap() < free_before,
        "the plugin holds a key while it serves"
    );
    hs.swap(fixture("greeter-v2")).unwrap();
    assert!(hs.wait_drained(REAP_TIMEOUT));
    let state = hs
        .stats()
        .generations
        .into_iter()
        .find(|g| g.generation == 2)
        .unwrap()
        .state;
    assert_eq!(state, State::Unloaded);
    assert_eq!(
        mapped_under(hs.copy_prefix()).len(),
        1,
        "only the current copy"
    );
    assert_eq!(
        hs.stats().free_pthread_keys,
        Some(free_before),
        "its key was deleted"
    );

    // The thread exits after the unload: its key's value is leaked, not
    // handed to unmapped code. A crash here would kill the test process.
    release.send(()).unwrap();
    worker.join().unwrap();
    hs.swap(fixture("greeter-v1")).unwrap();
    assert_eq!(hs.current().answer(1), 2);
}

#[test]
fn a_plugin_without_pthread_keys_is_unloaded() {
    let _serial = serial();
    let hs = Slot::<Greeter>::load(fixture("greeter-v1")).unwrap();
    let worker = thread::scope(|s| {
        s.spawn(|| {
            hs.swap(fixture("greeter-v2")).unwrap();
            hs.current().answer(1)
        })
        .join()
        .unwrap()
    });
    assert_eq!(worker, 3);
    hs.swap(fixture("greeter-v1")).unwrap();
    assert!(hs.wait_drained(REAP_TIMEOUT));
    let stats = hs.stats();
    assert_eq!((stats.pinned(), stats.unloaded()), (0, 2));
}

#[test]
fn forty_candidates_refused_by_the_preflight_leave_no_key_copy_or_descriptor() {
    let _serial = serial();
    use liveswap::{Preflight, SwapOptions, Version};
    let hs = Slot::<Greeter>::load(fixture("greeter-v1")).unwrap();
    let refuse = SwapOptions::new().preflight(Preflight::new(|api: &Version<Greeter>| {
        // The candidate's code runs (thread::current() in its constructor
        // took a key), then the host refuses it.
        assert_eq!(api.answer(1), 7);
        Err("refused by the test".to_string())
    }));
    let fds = || std::fs::read_dir("/proc/self/fd").unwrap().count();
    // One refusal first, so that what is opened once per process is not
    // counted.
    assert!(hs.swap_with(fixture("thread-current"), &refuse).is_err());
    let (keys_before, fds_before) = (hs.stats().free_pthread_keys.unwrap(), fds());
    for _ in 0..40 {
        let err = hs
            .swap_with(fixture("thread-current"), &refuse)
            .unwrap_err();
        assert!(matches!(err, liveswap::Error::Preflight { .. }), "{err}");
    }
    assert_eq!(hs.current().answer(1), 2, "the serving version answers");
    assert_eq!(
        mapped_under(hs.copy_prefix()).len(),
        1,
        "only the serving copy"
    );
    assert_eq!(
        hs.stats().free_pthread_keys.unwrap(),
        keys_before,
        "no key kept"
    );
    assert!(fds() <= fds_before, "no descriptor kept");
}

#[test]
fn keys_without_a_destructor_are_deleted_with_their_generation() {
    let _serial = serial();
    let hs = Slot::<Greeter>::load(fixture("greeter-v1")).unwrap();
    let free_before = hs.stats().free_pthread_keys.unwrap();
    for _ in 0..20 {
        hs.swap(fixture("null-key")).unwrap();
        assert_eq!(hs.current().answer(1), 17);
        hs.swap(fixture("greeter-v1")).unwrap();
    }
    assert!(hs.wait_drained(REAP_TIMEOUT));
    let stats = hs.stats();
    assert_eq!(stats.pinned(), 0, "{:?}", stats.generations);
    assert_eq!(stats.free_pthread_keys, Some(free_before), "no key kept");
}

#[test]
fn a_swap_is_refused_before_the_process_runs_out_of_keys_and_the_serving_version_goes_on() {
    let _serial = serial();
    let hs = Slot::<Greeter>::load(fixture("greeter-v1")).unwrap();
    // Something else in the process (here: this test) takes keys until
    // fewer than the reserve are left.
    let mut taken = Vec::new();
    while hs.stats().free_pthread_keys.unwrap() >= liveswap::defaults::KEY_RESERVE {
        let mut key: libc::pthread_key_t = 0;
        // SAFETY: a valid out-pointer and no destructor; deleted below.
        assert_eq!(unsafe { libc::pthread_key_create(&mut key, None) }, 0);
        taken.push(key);
    }
    assert!(hs.stats().near_generation_limit);
    let err = hs.swap(fixture("thread-current")).unwrap_err();
    assert!(
        matches!(&err, liveswap::Error::KeysExhausted { free, reserve, .. }
            if *free < *reserve && *reserve == liveswap::defaults::KEY_RESERVE),
        "{err}"
    );
    assert!(
        err.to_string().contains("thread-current") || err.to_string().contains("thread_current"),
        "{err}"
    );
    assert_eq!(hs.current().answer(1), 2, "the serving version answers");
    assert_eq!(hs.generation(), 1);
    for key in taken {
        // SAFETY: keys this test created and never used.
        unsafe { libc::pthread_key_delete(key) };
    }
    hs.swap(fixture("thread-current")).unwrap();
    assert_eq!(hs.current().answer(1), 7);
}
