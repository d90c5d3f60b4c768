//! The host's half: takes a plugin's task, counts it against the
//! generation whose code it is, and hands it to the slot's executor (or
//! the library's pool).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use super::wire::{HostSpawner, REFUSED, RawTask, SPAWNED};
use crate::footprint::{self, Footprint};

/// A slot's executor, if it has one (`None`: the library's pool).
#[derive(Clone, Default)]
pub(crate) struct Executor(pub Option<TaskExecutor>);

impl std::fmt::Debug for Executor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "host executor"
        } else {
            "library pool"
        })
    }
}

/// This process's spawner, as plugins see it.
pub(crate) static HOST_SPAWNER: HostSpawner = HostSpawner { spawn };

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

/// Threads of the library's pool.
const POOL_THREADS: usize = 2;

/// The library's pool: `POOL_THREADS` threads named `liveswap-task`, made
/// on the first task, that run tasks in order.
fn pool() -> Option<&'static Sender<Task>> {
    static POOL: OnceLock<Option<Sender<Task>>> = OnceLock::new();
    POOL.get_or_init(|| {
        let (send, receive) = mpsc::channel::<Task>();
        let receive: &'static Mutex<Receiver<Task>> = Box::leak(Box::new(Mutex::new(receive)));
        let mut started = 0;
        for _ in 0..POOL_THREADS {
            let worker = std::thread::Builder::new()
                .name("liveswap-task".into())
                .spawn(move || {
                    loop {
                        let next = receive
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .recv();
                        match next {
                            Ok(task) => task.run(),
                            Err(_) => return,
                        }
                    }
                });
            started += usize::from(worker.is_ok());
        }
        (started > 0).then_some(send)
    })
    .as_ref()
}

/// The library's pool as an executor.
fn run_on_pool(task: Task) {
    if let Some(pool) = pool() {
        // A send fails only if every worker has gone: the task is dropped
        // (discarded) with the error.
        let _ = pool.send(task);
    }
}

unsafe extern "C" fn spawn(task: RawTask) -> u32 {
    let owner = footprint::owner_of(task.run as usize).filter(|o| !o.retired());
    let Some(owner) = owner else {
        // Not a loaded generation's code, or one being unloaded.
        // SAFETY: the plugin's own function for its own box.
        unsafe { (task.discard)(task.data) };
        return REFUSED;
    };
    owner.task_started();
    let executor = owner.executor();
    let task = Task {
        raw: Some(task),
        owner,
    };
    // A host executor that panics must not unwind into the plugin; the
    // task, moved into it, is dropped (discarded) on the way.
    let ran = catch_unwind(AssertUnwindSafe(move || match executor {
        Some(executor) => executor(task),
        None => run_on_pool(task),
    }));
    match ran {
        Ok(()) => SPAWNED,
        Err(payload) => {
            crate::abi::plugin::drop_payload(payload);
            REFUSED
        }
    }
}
