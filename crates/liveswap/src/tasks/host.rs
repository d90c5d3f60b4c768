//! The host's half: takes a plugin's task, counts it against the
//! generation whose code it is, and hands it to the slot's executor (or
//! the library's pool, which also polls spawned futures when the slot has
//! no future executor: `spawned.rs`).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use super::pool::run_on_pool;
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

impl Executor {
    /// The executors given, as a generation's footprint holds them.
    pub(crate) fn lent(&self) -> Vec<Arc<dyn std::any::Any + Send + Sync>> {
        let mut lent: Vec<Arc<dyn std::any::Any + Send + Sync>> = Vec::new();
        if let Some(tasks) = &self.tasks {
            lent.push(Arc::new(Arc::clone(tasks)));
        }
        if let Some(futures) = &self.futures {
            lent.push(Arc::new(Arc::clone(futures)));
        }
        lent
    }
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
    let executor = owner.executor::<TaskExecutor>();
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
                crate::abi::panics::drop_payload(payload);
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
