//! A plugin that calls `std::thread::current()` leaks a pthread key per
//! loaded copy; glibc has 1,024. This checks that the library warns (a
//! `tracing` event and `Stats::near_generation_limit`) long before that.
//!
//! Its own binary, without the test harness: every swap runs on the main
//! thread, which never runs its pthread-key destructors (returning from
//! `main` exits the process), so the dangling destructors this plugin leaves
//! behind are never called. On any other thread they would crash at thread
//! exit, which is exactly why plugins must not do this.

use std::io::Write;
use std::sync::{Arc, Mutex};

use liveswap::{GENERATION_WARNING, Slot};
use liveswap_tests::{Greeter, fixture};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The lowest free pthread key above 0 (std itself never keeps key 0, so
/// key 0 is usually free): it climbs by one for each leaked key.
fn lowest_free_pthread_key() -> u32 {
    let mut created = Vec::new();
    let lowest = loop {
        let mut key: libc::pthread_key_t = 0;
        // SAFETY: creating a key with no destructor; deleted below.
        assert_eq!(unsafe { libc::pthread_key_create(&mut key, None) }, 0);
        created.push(key);
        if key != 0 {
            break key;
        }
    };
    for key in created {
        // SAFETY: deleting keys this function created and never used.
        unsafe { libc::pthread_key_delete(key) };
    }
    lowest
}

fn main() {
    let logs = Captured::default();
    let writer = logs.clone();
    tracing_subscriber::fmt()
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();

    let hs = Slot::<Greeter>::load(fixture("greeter-v1")).unwrap();
    let keys_before = lowest_free_pthread_key();
    let mut warned_at = None;
    let mut flagged_at = None;
    let mut generation = 1;
    while generation < GENERATION_WARNING + 8 {
        hs.swap(fixture("thread-current")).unwrap();
        generation = hs.generation();
        assert_eq!(hs.current().answer(1), 7);
        let loaded = hs.stats().loaded_in_process;
        if flagged_at.is_none() && hs.stats().near_generation_limit {
            flagged_at = Some(loaded);
        }
        if warned_at.is_none()
            && String::from_utf8_lossy(&logs.0.lock().unwrap())
                .contains("many plugin generations loaded")
        {
            warned_at = Some(loaded);
        }
    }
    let leaked = lowest_free_pthread_key() - keys_before;
    println!(
        "{} generations of a plugin calling thread::current(): {leaked} pthread keys leaked; \
         stats flag from generation {flagged_at:?}, warning event from {warned_at:?} \
         (glibc's limit: 1024 keys)",
        generation
    );
    let mut failed = 0;
    let mut check = |ok: bool, what: &str| {
        if ok {
            println!("test {what} ... ok");
        } else {
            println!("test {what} ... FAILED");
            failed += 1;
        }
    };
    check(
        flagged_at == Some(GENERATION_WARNING),
        "stats_flag_the_generation_count_at_the_threshold",
    );
    check(
        warned_at == Some(GENERATION_WARNING),
        "a_warning_event_fires_at_the_threshold",
    );
    check(
        GENERATION_WARNING <= 1024 / 2,
        "the_threshold_is_well_before_the_platform_limit",
    );
    check(
        leaked as u64 >= generation - 1 - 8,
        "each_generation_of_such_a_plugin_leaks_a_key",
    );
    println!(
        "\ntest result: {}. {} passed; {failed} failed",
        if failed == 0 { "ok" } else { "FAILED" },
        4 - failed
    );
    // Unload the last generation and remove the private copies before
    // leaving: `exit` runs no destructors.
    drop(hs);
    std::process::exit(if failed == 0 { 0 } else { 1 });
}
