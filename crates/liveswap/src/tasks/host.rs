//! The host's half: takes a plugin's task, counts it against the
//! generation whose code it is, and hands it to the slot's executor (or
//! the library's pool, which also polls spawned futures when the slot has
//! no future executor: `spawned.rs`).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use super::wire::{HostSpawner, REFUSED, RawTask, SPAWNED};
use crate::footprint::{self, Footprint};

/// A slot's executors, where it has them (`None`: the library's pool).
#[derive(Clone, Default)]
pub(crate) struct Executor {
    /// Runs `spawn_blocking` closures.
    pub tasks: Option<TaskExecutor>,
    /// Runs `spawn` futures.
    pub futures: Option<super::spawned::FutureExecutor>,
}

impl std::fmt::Debug for Executor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = |host: bool| {
            if host {
                "host executor"
            } else {
                "library pool"
            }
        };
        f.debug_struct("Executor")
            .field("tasks", &name(self.tasks.is_some()))
            .field("futures", &name(self.futures.is_some()))
            .finish()
    }
}

/// This process's spawner, as plugins see it.
pub(crate) static HOST_SPAWNER: HostSpawner = HostSpawner {
    spawn,
    spawn_future: super::spawned::spawn_future,
};

/// What runs a slot's tasks: called once per task, on the plugin's
/// thread; it must run the task ([`Task::run`]) on a thread of its own,
/// now or later, or drop it.
pub type TaskExecutor = Arc<dyn Fn(Task) + Send + Sync>;

/// A closure of plugin code to run on a host thread. Running it
/// ([`run`](Task::run)) or dropping it ends it; until then its plugin's
/// generation is not unloaded.
pub struct Task {
    raw: Option<RawTask>,
    owner: Arc<Footprint>,
}

// SAFETY: the closure is `Send` (`spawn_blocking` requires it), and its
// two functions are plugin code kept mapped while the task exists (its
// generation counts it).
unsafe impl Send for Task {}

impl Task {
    /// Runs the task on this thread (a panic in it is caught in the
    /// plugin and counted with the plugin's panics).
    pub fn run(mut self) {
        if let Some(raw) = self.raw.take() {
            // SAFETY: the plugin's own function for its own box, called
            // once; the generation is loaded while `self` counts.
            unsafe { (raw.run)(raw.data) };
        }
    }
}

impl Drop for Task {
    fn drop(&mut self) {
        if let Some(raw) = self.raw.take() {
            // SAFETY: as in `run`; the box is freed without running.
            unsafe { (raw.discard)(raw.data) };
        }
        self.owner.task_ended();
    }
}

impl std::fmt::Debug for Task {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Task").finish_non_exhaustive()
    }
}

/// The most threads of the library's pool.
const POOL_MAX_THREADS: usize = 64;

/// What the library's pool runs: a task, or a spawned future polled to
/// completion.
pub(super) type Job = Box<dyn FnOnce() + Send>;

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
pub(super) fn run_on_pool(job: Job) -> Result<(), Job> {
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

unsafe extern "C" fn spawn(task: RawTask) -> u32 {
    // Counted before the retired bit is read (`task_started` says so), so
    // that a retiring generation either sees this task or refuses it.
    let owner = footprint::owner_of(task.run as usize).filter(|o| o.task_started());
    let Some(owner) = owner else {
        // Not a loaded generation's code, or one being unloaded.
        // SAFETY: the plugin's own function for its own box.
        unsafe { (task.discard)(task.data) };
        return REFUSED;
    };
    let executor = owner.executor().tasks;
    let task = Task {
        raw: Some(task),
        owner,
    };
    match executor {
        Some(executor) => {
            // Handed over: a host executor that panics must not unwind
            // into the plugin; the task, moved into it, is dropped
            // (discarded) on the way unless the executor kept it.
            if let Err(payload) = catch_unwind(AssertUnwindSafe(move || executor(task))) {
                crate::abi::plugin::drop_payload(payload);
            }
            SPAWNED
        }
        None => match run_on_pool(Box::new(move || task.run())) {
            Ok(()) => SPAWNED,
            // Dropped here: discarded, uncounted.
            Err(_job) => REFUSED,
        },
    }
}
