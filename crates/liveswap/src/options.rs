//! [`Options`]: a slot's policy, set when it is loaded: what files it
//! accepts, where copies go, who must have signed, what host services
//! and executors its plugins get, and its limits.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::check::{TrustPolicy, TrustedKey};
use crate::error::Error;
use crate::history::DEFAULT_HISTORY_LEN;
use crate::imports::host::Imports;
use crate::interface::{Export, HostService};
use crate::load::open::DEFAULT_MAX_FILE_SIZE;
use crate::load::store::{DEFAULT_MEMFD_MAX, StoreDir, StorePolicy};
use crate::loader::LoadPolicy;
use crate::pipeline::Limits;
use crate::warm::StatePolicy;

/// The default cap on replaced versions waiting to be unloaded.
pub const DEFAULT_MAX_UNLOADING: usize = 16;
/// The default cap on a plugin's state snapshot: 256 MiB.
pub const DEFAULT_MAX_STATE_SIZE: usize = 256 << 20;
/// How long a swap waits, by default, for room under that cap.
pub const DEFAULT_UNLOAD_WAIT: Duration = Duration::from_secs(10);

/// Settings for [`Slot::load_with`](crate::Slot::load_with).
#[derive(Debug, Clone)]
pub struct Options {
    max_file_size: u64,
    memfd_max: u64,
    store_dir: Option<PathBuf>,
    max_unloading: usize,
    unload_wait: Duration,
    trust: TrustPolicy,
    state: StatePolicy,
    history_len: usize,
    imports: Imports,
    executor: crate::tasks::host::Executor,
    /// The state the first load restores from (the isolated preflight's
    /// child: the parent's serving snapshot).
    first_state: Option<Arc<(u32, Vec<u8>)>>,
    reclaim_heap: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_file_size: DEFAULT_MAX_FILE_SIZE,
            memfd_max: DEFAULT_MEMFD_MAX,
            store_dir: None,
            max_unloading: DEFAULT_MAX_UNLOADING,
            unload_wait: DEFAULT_UNLOAD_WAIT,
            trust: TrustPolicy::default(),
            state: StatePolicy {
                max_size: DEFAULT_MAX_STATE_SIZE,
                cold_on_failure: false,
            },
            history_len: DEFAULT_HISTORY_LEN,
            imports: Imports::default(),
            executor: crate::tasks::host::Executor::default(),
            first_state: None,
            reclaim_heap: true,
        }
    }
}

impl Options {
    /// Default options (see each setter for its default).
    pub fn new() -> Self {
        Self::default()
    }

    /// Refuses plugin files bigger than `bytes` before reading them
    /// ([`Error::TooLarge`]). Default [`DEFAULT_MAX_FILE_SIZE`](crate::defaults::DEFAULT_MAX_FILE_SIZE) (1 GiB).
    pub fn max_file_size(mut self, bytes: u64) -> Self {
        self.max_file_size = bytes;
        self
    }

    /// Holds the private copy of files up to `bytes` in a sealed memfd
    /// (shared memory); bigger files go to an unnamed file on disk. Default
    /// [`DEFAULT_MEMFD_MAX`](crate::defaults::DEFAULT_MEMFD_MAX) (16 MiB). `0` puts every copy on disk where a
    /// directory allows it, `u64::MAX` every copy in a memfd.
    pub fn memfd_max(mut self, bytes: u64) -> Self {
        self.memfd_max = bytes;
        self
    }

    /// Puts on-disk copies (unnamed `O_TMPFILE` files) in `dir` instead of
    /// the plugin file's own directory. `dir` is opened once, when the
    /// handle is created, and held by descriptor; it must be owned by this
    /// user (or root), not writable by others unless sticky, and not on a
    /// `noexec` mount ([`Error::StoreDir`] otherwise).
    pub fn store_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.store_dir = Some(dir.into());
        self
    }

    /// The most replaced versions that may wait to be unloaded (held by a
    /// guard, or queued for the reaper) before [`Slot::swap`](crate::Slot::swap) and
    /// [`Slot::rollback`](crate::Slot::rollback) wait for one to go. Default
    /// [`DEFAULT_MAX_UNLOADING`](crate::defaults::DEFAULT_MAX_UNLOADING) (16). Values below 1 count as 1.
    pub fn max_unloading(mut self, versions: usize) -> Self {
        self.max_unloading = versions.max(1);
        self
    }

    /// Lends `object` to the plugins of this slot as host service `I` (an
    /// interface made with [`#[liveswap::interface]`](crate::interface)
    /// that the host implements): a plugin that declares it in `export!`
    /// (`imports(dyn I)`) takes it with [`import`](crate::import) and calls
    /// it; one whose `I` has other types than the host's is refused before
    /// any of its code runs, and so is one that imports an interface the
    /// slot does not provide. The object stays alive until every
    /// generation given it is unloaded. Providing `I` again replaces it for
    /// later loads.
    ///
    /// ```no_run
    /// # #[liveswap::interface(version = 1)]
    /// # pub trait Rules: Send + Sync { fn decide(&self, user: u64) -> bool; }
    /// #[liveswap::interface(version = 1)]
    /// pub trait HostData: Send + Sync {
    ///     fn score(&self, user: u64) -> u32;
    /// }
    ///
    /// struct Scores;
    /// impl HostData for Scores {
    ///     fn score(&self, user: u64) -> u32 {
    ///         (user % 100) as u32
    ///     }
    /// }
    ///
    /// let options = liveswap::Options::default()
    ///     .provide::<dyn HostData, _>(std::sync::Arc::new(Scores));
    /// let slot = liveswap::Slot::<dyn Rules>::load_with("librules.so", options)?;
    /// # Ok::<(), liveswap::Error>(())
    /// ```
    pub fn provide<I, T>(mut self, object: Arc<T>) -> Self
    where
        I: HostService + Export<T> + ?Sized,
        T: Send + Sync + 'static,
    {
        self.imports = self.imports.with::<I, T>(object);
        self
    }

    /// Runs the tasks this slot's plugins spawn
    /// ([`spawn_blocking`](crate::spawn_blocking)) with `executor`, which
    /// is called once per task on the plugin's thread and must run it
    /// ([`Task::run`](crate::tasks::Task::run)) on a thread of its own (a tokio
    /// runtime's `spawn_blocking`, a pool), or drop it. Default: the
    /// library's pool of threads named `liveswap-task`, one more started
    /// whenever tasks queue beyond its idle threads, up to 64.
    ///
    /// ```
    /// let pool = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    /// let queue = std::sync::Arc::clone(&pool);
    /// let options = liveswap::Options::default().executor(move |task| {
    ///     // Keep it for a thread of the host's to `run()`.
    ///     queue.lock().unwrap().push(task);
    /// });
    /// ```
    pub fn executor(
        mut self,
        executor: impl Fn(crate::tasks::Task) + Send + Sync + 'static,
    ) -> Self {
        self.executor.tasks = Some(Arc::new(executor));
        self
    }

    /// Runs the futures this slot's plugins spawn
    /// ([`spawn`](crate::spawn)) with `executor`, which is called once per
    /// future on the plugin's thread and must poll it to completion or
    /// drop it (which cancels it). With tokio, hand it to the runtime:
    /// the plugin's futures then run on the host's workers, and the
    /// plugin needs no runtime of its own. Default: the library's pool
    /// (see [`executor`](Self::executor)) polls each future once per
    /// wake, so a future that waits holds no thread.
    ///
    /// With tokio, `handle` being the runtime's `Handle`:
    ///
    /// ```text
    /// Options::default().future_executor(move |future| { handle.spawn(future); })
    /// ```
    ///
    /// Or kept for the host's own loop to poll:
    ///
    /// ```
    /// let pending = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    /// let queue = std::sync::Arc::clone(&pending);
    /// let options = liveswap::Options::default().future_executor(move |future| {
    ///     queue.lock().unwrap().push(future);
    /// });
    /// ```
    pub fn future_executor(
        mut self,
        executor: impl Fn(crate::tasks::SpawnedFuture) + Send + Sync + 'static,
    ) -> Self {
        self.executor.futures = Some(Arc::new(executor));
        self
    }

    /// How long a swap waits for room under
    /// [`max_unloading`](Self::max_unloading) before it is refused with
    /// [`Error::Backlog`], and how long dropping the handle waits for the
    /// last version's unload (a plugin whose `Drop` blocks cannot hang the
    /// drop: past the wait, the version is left loaded and a warning
    /// logged). Default [`DEFAULT_UNLOAD_WAIT`](crate::defaults::DEFAULT_UNLOAD_WAIT) (10 s); zero refuses at
    /// once.
    pub fn unload_wait(mut self, wait: Duration) -> Self {
        self.unload_wait = wait;
        self
    }

    /// Whether the heap a generation's code leaves allocated (its statics:
    /// a `LazyLock<Regex>`, a cache) is freed once the generation is
    /// verified unloaded. Default `true`. Turn it off for plugins that hand
    /// memory they allocated to C code that keeps the pointer after the
    /// plugin is gone (`putenv`, `setvbuf`, a buffer handed to the kernel):
    /// that memory would be freed under it. Off, each retired generation
    /// leaves its statics' heap behind, and
    /// [`GenerationInfo::heap`](crate::stats::GenerationInfo::heap) counts it as
    /// `left`.
    pub fn reclaim_heap(mut self, on: bool) -> Self {
        self.reclaim_heap = on;
        self
    }

    /// Requires every plugin to carry a minisign signature beside it
    /// (`<plugin>.minisig`) made by one of these keys (added to any given
    /// before; several at once allow a key rotation). See the crate docs,
    /// "Trust model".
    pub fn trusted_keys(mut self, keys: impl IntoIterator<Item = TrustedKey>) -> Self {
        self.trust.keys.extend(keys);
        self
    }

    /// With [`trusted_keys`](Self::trusted_keys): refuses a signature
    /// whose trusted comment names a release (`release:N`, as in `minisign
    /// -S -m libplugin.so -t "release:42"`) older than `release`, or names
    /// none. Whatever the minimum, once a build naming a release serves, a
    /// swap to an older release (or to one naming none) is refused with
    /// [`SignatureProblem::OldRelease`](crate::check::SignatureProblem::OldRelease)
    /// (`NoRelease`): an old signed build, one since found faulty, cannot
    /// be swapped back in under a current name. [`Slot::rollback`](crate::Slot::rollback) is not
    /// bound by it.
    pub fn minimum_release(mut self, release: u64) -> Self {
        self.trust.minimum_release = Some(release);
        self
    }

    /// Relaxes the safe-path policy, for development: a plugin that others
    /// could have written is loaded all the same, and the load's
    /// [`SwapReport::warnings`](crate::SwapReport::warnings) (and the log) say so.
    pub fn allow_unsafe_path(mut self) -> Self {
        self.trust.allow_unsafe_path = true;
        self
    }

    /// Refuses a swap whose serving version's state snapshot (see
    /// [`WarmStart`](crate::WarmStart)) is bigger than `bytes`
    /// ([`Error::StateTooLarge`]). Checked once the snapshot is taken.
    /// Default [`DEFAULT_MAX_STATE_SIZE`](crate::defaults::DEFAULT_MAX_STATE_SIZE) (256 MiB).
    pub fn max_state_size(mut self, bytes: usize) -> Self {
        self.state.max_size = bytes;
        self
    }

    /// When the serving version's state cannot be carried (its snapshot
    /// fails, panics or is over [`max_state_size`](Self::max_state_size),
    /// or the new version's restore fails or panics), start the new
    /// version cold rather than refuse the swap;
    /// [`SwapReport::state`](crate::SwapReport::state) says why. Off by default.
    pub fn cold_on_state_failure(mut self, cold: bool) -> Self {
        self.state.cold_on_failure = cold;
        self
    }

    /// How many attempts [`Slot::history`](crate::Slot::history) remembers (default
    /// [`DEFAULT_HISTORY_LEN`](crate::defaults::DEFAULT_HISTORY_LEN), 64; `0` keeps
    /// none).
    pub fn history_len(mut self, attempts: usize) -> Self {
        self.history_len = attempts;
        self
    }

    /// For the isolated preflight's child: the plugin is a descriptor
    /// inherited from a parent that checked its path and signature.
    #[cfg(feature = "deploy")]
    pub(crate) fn inherited(mut self) -> Self {
        self.trust.inherited = true;
        self
    }

    /// For the isolated preflight's child: the first load restores from
    /// this snapshot (schema, bytes) rather than from nothing.
    #[cfg(feature = "deploy")]
    pub(crate) fn first_state(mut self, schema: u32, bytes: Vec<u8>) -> Self {
        self.first_state = Some(Arc::new((schema, bytes)));
        self
    }

    /// Whether plugins must be signed, and by which keys.
    pub fn trusted_key_ids(&self) -> Vec<&str> {
        self.trust.keys.iter().map(TrustedKey::id).collect()
    }

    /// Whether the safe-path policy is relaxed.
    pub fn unsafe_path_allowed(&self) -> bool {
        self.trust.allow_unsafe_path
    }
}

impl Options {
    /// The load policy and limits of a new slot; opens the store
    /// directory.
    pub(crate) fn into_parts(self) -> Result<(LoadPolicy, Limits), Error> {
        let dir = match &self.store_dir {
            Some(dir) => Some(Arc::new(StoreDir::open(dir)?)),
            None => None,
        };
        let mut trust = self.trust;
        // This handle's own record of the release serving.
        trust.serving_release = Arc::default();
        let policy = LoadPolicy {
            max_file_size: self.max_file_size,
            store: StorePolicy::new(self.memfd_max, dir),
            trust,
            state: self.state,
            imports: self.imports,
            executor: self.executor,
            first_state: self.first_state,
            reclaim_heap: self.reclaim_heap,
        };
        let limits = Limits {
            max_unloading: self.max_unloading,
            unload_wait: self.unload_wait,
            history_len: self.history_len,
        };
        Ok((policy, limits))
    }
}
