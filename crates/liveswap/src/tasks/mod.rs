//! Work a plugin hands to the host: `liveswap::spawn_blocking(closure)`
//! runs the closure on a host thread (a pool of the library's, grown when
//! tasks queue, up to 64 threads; or the host's own executor:
//! [`Options::executor`](crate::Options::executor)),
//! instead of a thread the plugin starts and must stop.
//!
//! A plugin's copy of std cannot use the host's runtime directly, and a
//! thread it starts is its own to stop. A task is plugin code run by the
//! host: the plugin boxes the closure and hands the host a `RawTask`
//! (`wire.rs`: the box and two functions of the plugin, run and discard,
//! each catching panics); the host counts it against the generation whose
//! code it is (`footprint`), and a generation with a task queued or
//! running is not closed: it is reported (`State::Pinned`, "N tasks ...
//! still running") and closed once they end. A panic in a task is caught
//! in the plugin and counted with its other panics (`Version::panics`).
//!
//! Costs: one allocation for the closure, a read-locked scan of the loaded
//! generations, and the executor's own hand-off (the library's pool: a
//! channel send) per task.

pub(crate) mod host;
pub(crate) mod plugin;
pub(crate) mod pool;
pub(crate) mod spawned;
pub(crate) mod wire;

pub use host::{Task, TaskExecutor};
pub use plugin::{SpawnError, spawn, spawn_blocking};
pub use spawned::{FutureExecutor, SpawnedFuture};
