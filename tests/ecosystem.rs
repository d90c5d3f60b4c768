//! Plugins that use tokio and rayon the way their authors would, without
//! a thought for unloading, called from long-lived host threads and
//! swapped many times: the host never aborts, every generation that can be
//! unloaded is, and the one that cannot (rayon's global pool never stops
//! its threads) is reported with its threads.
//!
//! The soak (`--ignored`, with `--release`) runs 2,000 swaps of each.

use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use liveswap::{Slot, Version, stats::State};
use liveswap_tests::{Greeter, REAP_TIMEOUT, figures, fixture, mapped_under};

/// The tests count the process's free keys: one at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Two long-lived "worker" threads that call whatever version they are
/// handed, as a host's request threads do.
struct Workers {
    send: Vec<mpsc::Sender<std::sync::Arc<Version<Greeter>>>>,
    answers: mpsc::Receiver<u64>,
    threads: Vec<thread::JoinHandle<()>>,
}

impl Workers {
    fn start() -> Workers {
        let (answer, answers) = mpsc::channel();
        let mut send = Vec::new();
        let mut threads = Vec::new();
        for _ in 0..2 {
            let (tx, rx) = mpsc::channel::<std::sync::Arc<Version<Greeter>>>();
            let answer = answer.clone();
            threads.push(thread::spawn(move || {
                for version in rx {
                    answer.send(version.answer(1)).unwrap();
                }
            }));
            send.push(tx);
        }
        Workers {
            send,
            answers,
            threads,
        }
    }

    /// Each worker calls the current version once; the answers.
    fn call(&self, hs: &Slot<Greeter>) -> Vec<u64> {
        for tx in &self.send {
            tx.send(hs.current_owned()).unwrap();
        }
        self.send
            .iter()
            .map(|_| self.answers.recv().unwrap())
            .collect()
    }

    fn stop(self) {
        drop(self.send);
        for t in self.threads {
            t.join().unwrap();
        }
    }
}

/// Swaps between `plugin` (answering `answer`) and greeter-v1 `swaps`
/// times, each generation called from both workers.
fn cycle(plugin: &str, answer: u64, swaps: usize) -> Slot<Greeter> {
    let hs = Slot::<Greeter>::load(fixture("greeter-v1")).unwrap();
    let workers = Workers::start();
    for i in 0..swaps {
        let (path, want) = if i % 2 == 0 {
            (plugin, answer)
        } else {
            ("greeter-v1", 2)
        };
        hs.swap(fixture(path)).unwrap();
        assert_eq!(workers.call(&hs), vec![want, want], "swap {i}");
    }
    hs.swap(fixture("greeter-v2")).unwrap();
    assert_eq!(workers.call(&hs), vec![3, 3]);
    workers.stop();
    hs
}

/// Waits until no generation is pinned, up to `REAP_TIMEOUT`.
fn wait_none_pinned(hs: &Slot<Greeter>) -> usize {
    let deadline = Instant::now() + REAP_TIMEOUT;
    loop {
        let pinned = hs.stats().pinned();
        if pinned == 0 || Instant::now() > deadline {
            return pinned;
        }
        thread::sleep(Duration::from_millis(50));
    }
}

fn every_generation_unloads(plugin: &str, answer: u64, swaps: usize) {
    let free_before = liveswap_free_keys();
    let hs = cycle(plugin, answer, swaps);
    assert!(hs.wait_drained(REAP_TIMEOUT));
    assert_eq!(wait_none_pinned(&hs), 0, "{:?}", hs.stats().generations);
    assert_eq!(
        mapped_under(hs.copy_prefix()).len(),
        1,
        "only the current copy"
    );
    let free_after = liveswap_free_keys();
    assert!(
        free_after + 4 >= free_before,
        "keys flat: {free_before} free before, {free_after} after"
    );
}

fn liveswap_free_keys() -> usize {
    Slot::<Greeter>::load(fixture("greeter-v1"))
        .unwrap()
        .stats()
        .free_pthread_keys
        .expect("the key table is readable")
}

#[test]
fn a_tokio_current_thread_runtime_per_call_on_host_threads_unloads_every_generation() {
    let _serial = serial();
    every_generation_unloads("tokio-per-call", 11, 40);
}

#[test]
fn a_tokio_runtime_owned_by_the_instance_and_shut_down_in_drop_unloads_every_generation() {
    let _serial = serial();
    every_generation_unloads("tokio-owned", 12, 40);
}

#[test]
fn a_rayon_pool_owned_by_the_instance_and_stopped_in_drop_unloads_every_generation() {
    let _serial = serial();
    every_generation_unloads("rayon-owned", 19, 40);
}

#[test]
fn rayons_global_pool_keeps_its_generation_reported_with_its_threads_and_serving_goes_on() {
    let _serial = serial();
    let hs = cycle("rayon-pool", 13, 6);
    assert!(hs.wait_drained(REAP_TIMEOUT));
    let pinned = pinned_reasons(&hs.stats());
    assert_eq!(pinned.len(), 3, "each rayon generation: {pinned:?}");
    for reason in &pinned {
        assert!(
            reason.contains("threads started by this plugin are still running")
                && reason.contains("rayon_core::registry::ThreadSpawn>::spawn`")
                && reason.contains("Build12 as fixture_api::Greet>::answer`"),
            "{reason}"
        );
    }
    assert_eq!(hs.current().answer(1), 3);
    // The same cause, word for word, for every generation: nothing of it
    // depends on timing or thread ids.
    assert!(pinned.iter().all(|r| *r == pinned[0]), "{pinned:?}");
}

/// The reasons of the generations kept, in generation order.
fn pinned_reasons(stats: &liveswap::Stats) -> Vec<String> {
    stats
        .generations
        .iter()
        .filter_map(|g| match &g.state {
            State::Pinned { reason } => Some(reason.clone()),
            _ => None,
        })
        .collect()
}

#[test]
#[ignore = "soak: 2,000 swaps of each plugin; run with --release --ignored"]
fn soak_two_thousand_swaps_of_each_plugin_unload_every_generation_with_flat_rss_threads_and_fds() {
    let _serial = serial();
    for plugin in [
        "tokio-per-call",
        "tokio-owned",
        "thread-current",
        "tls-pin",
        "joins-thread",
    ] {
        soak(plugin, 10 * 1024);
    }
}

/// 2,000 swaps of `plugin` after 20 (what is allocated once per process
/// is not counted): every generation unloaded, threads and descriptors
/// flat, RSS growth under `rss_limit_kib`.
fn soak(plugin: &str, rss_limit_kib: u64) {
    let answer = Slot::<Greeter>::load(fixture(plugin))
        .unwrap()
        .current()
        .answer(1);
    every_generation_unloads(plugin, answer, 20);
    let (rss, threads, fds) = figures();
    let started = Instant::now();
    every_generation_unloads(plugin, answer, 2_000);
    let (rss_after, threads_after, fds_after) = figures();
    println!(
        "{plugin}: 2,000 swaps in {:.1?}; RSS {rss} -> {rss_after} KiB, threads \
         {threads} -> {threads_after}, fds {fds} -> {fds_after}",
        started.elapsed()
    );
    assert!(
        rss_after < rss + rss_limit_kib,
        "{plugin}: RSS grew by more than {rss_limit_kib} KiB"
    );
    assert!(threads_after <= threads, "{plugin}: threads grew");
    assert!(fds_after <= fds, "{plugin}: descriptors grew");
}

/// A rayon pool owned by the instance unloads every generation with its
/// threads; what each generation's copy of rayon leaves in its statics
/// (about 6 KB a swap) is freed at its unload, so RSS stays flat too.
#[test]
#[ignore = "soak: 2,000 swaps; run with --release --ignored"]
fn soak_two_thousand_swaps_of_a_rayon_pool_stopped_in_drop_unload_every_generation() {
    let _serial = serial();
    soak("rayon-owned", 10 * 1024);
}

/// 2,000 swap attempts between `plugin`, whose generations can never be
/// unloaded (their threads never end), and greeter-v1, each served
/// generation called from both workers: the host never aborts; every
/// attempt either serves or is refused with a typed error before a budget
/// (pthread keys, the unloading backlog) runs out; every kept generation
/// gives the same reason. Returns the figures line.
fn attempts_never_abort(plugin: &str, answer: u64) -> String {
    let hs = Slot::<Greeter>::load_with(
        fixture("greeter-v1"),
        liveswap::Options::default().unload_wait(Duration::ZERO),
    )
    .unwrap();
    let workers = Workers::start();
    let (mut served, mut backlog, mut keys) = (0, 0, 0);
    let started = Instant::now();
    for i in 0..2_000 {
        let (path, want) = if i % 2 == 0 {
            (plugin, answer)
        } else {
            ("greeter-v1", 2)
        };
        match hs.swap(fixture(path)) {
            Ok(_) => {
                served += 1;
                assert_eq!(workers.call(&hs), vec![want, want], "attempt {i}");
            }
            Err(liveswap::Error::Backlog { .. }) => backlog += 1,
            Err(liveswap::Error::KeysExhausted { .. }) => keys += 1,
            Err(other) => panic!("attempt {i}: an untyped refusal: {other}"),
        }
    }
    workers.stop();
    // The reaper has given each kept generation its 250 ms.
    hs.wait_drained(REAP_TIMEOUT);
    let stats = hs.stats();
    let states: Vec<String> = stats
        .generations
        .iter()
        .map(|g| format!("{:?}", g.state).chars().take(12).collect())
        .collect();
    let reasons = pinned_reasons(&stats);
    assert!(
        !reasons.is_empty(),
        "{plugin}: its generations are kept: {served} served, {backlog} backlog, {keys} keys; \
         {states:?}"
    );
    assert!(
        reasons.iter().all(|r| *r == reasons[0]),
        "{plugin}: one reason, word for word: {reasons:?}"
    );
    let (_, threads, _) = figures();
    let line = format!(
        "{plugin}: 2,000 attempts in {:.1?}: {served} served, {backlog} refused (backlog), \
         {keys} refused (keys); {} kept, one reason: {}; threads {threads}",
        started.elapsed(),
        reasons.len(),
        reasons[0]
    );
    println!("{line}");
    line
}

#[test]
#[ignore = "soak: 2,000 swap attempts; run with --release --ignored"]
fn soak_two_thousand_attempts_of_plugins_whose_threads_never_end_serve_or_refuse_typed() {
    let _serial = serial();
    attempts_never_abort("rayon-pool", 13);
    attempts_never_abort("spawns-thread", 6);
}
