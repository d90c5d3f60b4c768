//! The library's pool of threads, which runs the tasks and futures of
//! slots given no executor of their own.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Mutex, OnceLock, PoisonError};

/// The most threads of the library's pool.
const POOL_MAX_THREADS: usize = 64;

/// What the library's pool runs: a task, or a spawned future polled to
/// completion.
pub(crate) type Job = Box<dyn FnOnce() + Send>;

/// The library's pool: threads named `liveswap-task`, one more started
/// whenever a job arrives to find more jobs queued than threads idle,
/// up to `POOL_MAX_THREADS`; they run jobs in arrival order and stay for
/// the life of the process.
struct Pool {
    send: Mutex<Sender<Job>>,
    receive: Mutex<Receiver<Job>>,
    idle: AtomicUsize,
    queued: AtomicUsize,
    threads: AtomicUsize,
}

fn pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(|| {
        let (send, receive) = mpsc::channel::<Job>();
        Pool {
            send: Mutex::new(send),
            receive: Mutex::new(receive),
            idle: AtomicUsize::new(0),
            queued: AtomicUsize::new(0),
            threads: AtomicUsize::new(0),
        }
    })
}

fn work(pool: &'static Pool) {
    loop {
        pool.idle.fetch_add(1, Ordering::AcqRel);
        let next = pool
            .receive
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .recv();
        pool.idle.fetch_sub(1, Ordering::AcqRel);
        match next {
            Ok(job) => {
                pool.queued.fetch_sub(1, Ordering::AcqRel);
                job();
            }
            Err(_) => return,
        }
    }
}

/// The library's pool as an executor: `Err` gives the job back when no
/// thread can run it.
pub(crate) fn run_on_pool(job: Job) -> Result<(), Job> {
    let pool = pool();
    let queued = pool.queued.fetch_add(1, Ordering::AcqRel) + 1;
    let busy = queued > pool.idle.load(Ordering::Acquire);
    if busy && pool.threads.fetch_add(1, Ordering::AcqRel) < POOL_MAX_THREADS {
        let started = std::thread::Builder::new()
            .name("liveswap-task".into())
            .spawn(move || work(pool));
        if started.is_err() {
            pool.threads.fetch_sub(1, Ordering::AcqRel);
        }
    } else if busy {
        // At the cap: undo the count taken by the test above.
        pool.threads.fetch_sub(1, Ordering::AcqRel);
    }
    let sent = if pool.threads.load(Ordering::Acquire) == 0 {
        Err(job)
    } else {
        pool.send
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .send(job)
            .map_err(|e| e.0)
    };
    if sent.is_err() {
        pool.queued.fetch_sub(1, Ordering::AcqRel);
    }
    sent
}
