//! The handle: [`Slot`], the slot that holds the current [`Version`],
//! and the ways to read it.

use std::cell::Cell;
use std::mem::ManuallyDrop;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

pub use crate::read::cell::{Guard, Reader};

use crate::check::{Signer, TrustPolicy, TrustedKey};
use crate::error::Error;
use crate::generation::Version;
use crate::history::{
    Attempt, ContentHash, DEFAULT_HISTORY_LEN, History, Kind, Outcome, Steps, Trigger,
};
use crate::imports::host::Imports;
use crate::interface::{Export, HostService, Interface};
use crate::load::open::DEFAULT_MAX_FILE_SIZE;
use crate::load::store::{DEFAULT_MEMFD_MAX, StoreDir, StorePolicy, Stored};
use crate::loader::{self, Candidate, Gate, LoadInfo, LoadPolicy, Plugin};
use crate::preflight::SwapOptions;
use crate::read::cell::Current;
use crate::reaper::{self, ReaperSender};
use crate::registry::{Registry, Stats};
use crate::warm::{self, StatePolicy, StateReport};

/// The default cap on replaced versions waiting to be unloaded.
pub const DEFAULT_MAX_UNLOADING: usize = 16;
/// The default cap on a plugin's state snapshot: 256 MiB.
pub const DEFAULT_MAX_STATE_SIZE: usize = 256 << 20;
/// How long a swap waits, by default, for room under that cap.
pub const DEFAULT_UNLOAD_WAIT: Duration = Duration::from_secs(10);

/// Settings for [`Slot::load_with`].
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
    /// guard, or queued for the reaper) before [`Slot::swap`] and
    /// [`Slot::rollback`] wait for one to go. Default
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
    /// ([`Task::run`](crate::Task::run)) on a thread of its own (a tokio
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
    pub fn executor(mut self, executor: impl Fn(crate::Task) + Send + Sync + 'static) -> Self {
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
        executor: impl Fn(crate::SpawnedFuture) + Send + Sync + 'static,
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
    /// [`GenerationInfo::heap`](crate::GenerationInfo::heap) counts it as
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
    /// [`SignatureProblem::OldRelease`](crate::SignatureProblem::OldRelease)
    /// (`NoRelease`): an old signed build, one since found faulty, cannot
    /// be swapped back in under a current name. [`Slot::rollback`] is not
    /// bound by it.
    pub fn minimum_release(mut self, release: u64) -> Self {
        self.trust.minimum_release = Some(release);
        self
    }

    /// Relaxes the safe-path policy, for development: a plugin that others
    /// could have written is loaded all the same, and the load's
    /// [`SwapReport::warnings`] (and the log) say so.
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
    /// [`SwapReport::state`] says why. Off by default.
    pub fn cold_on_state_failure(mut self, cold: bool) -> Self {
        self.state.cold_on_failure = cold;
        self
    }

    /// How many attempts [`Slot::history`] remembers (default
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

/// What a successful [`Slot::swap`] or [`Slot::rollback`] did, and
/// how long each step took.
#[derive(Debug, Clone)]
pub struct SwapReport {
    /// The generation now serving.
    pub generation: u64,
    /// The generation it replaced.
    pub previous: u64,
    /// The path the new generation was loaded from.
    pub source: PathBuf,
    /// Reading the file and writing its private copy.
    pub copy: Duration,
    /// Parsing the file and checking its descriptor.
    pub check: Duration,
    /// `dlopen`, the entry point and the plugin's constructor.
    pub load: Duration,
    /// The preflight checks asked for by [`Slot::swap_with`], isolated and
    /// in-process together (zero without).
    pub preflight: Duration,
    /// Publishing the new version to readers.
    pub publish: Duration,
    /// Hazards the handshake read from the plugin's imports (such as
    /// starting threads, which keeps a library from unloading); the plugin
    /// was loaded all the same; and, when the safe-path policy is
    /// relaxed, the violation it let through.
    pub warnings: Vec<String>,
    /// Who signed the plugin, when signatures are required.
    pub signer: Option<Signer>,
    /// What became of the plugin's warm-start state.
    pub state: StateReport,
    /// The BLAKE3 hash of the bytes loaded.
    pub content_hash: Option<ContentHash>,
}

impl SwapReport {
    /// The whole swap (with the state snapshot, when one was taken).
    pub fn total(&self) -> Duration {
        self.copy + self.check + self.state.snapshot + self.load + self.preflight + self.publish
    }
}

/// What an attempt learned before it ended, for its history record.
#[derive(Default)]
struct Trail {
    source: Option<PathBuf>,
    hash: Option<ContentHash>,
    signer: Option<Signer>,
    steps: Steps,
}

/// What a rollback returns to.
#[derive(Clone)]
struct Rollback {
    image: Arc<Stored>,
    source: PathBuf,
    signer: Option<Signer>,
    /// Its warm-start state schema, which the serving version is asked to
    /// write its state in.
    schema: Option<u32>,
}

/// What the publish lock guards.
struct Control {
    next_generation: u64,
    /// The ticket of the last call that published.
    last_ticket: u64,
    /// The copy the previous version was loaded from, for `rollback`, with
    /// its source, its signer and the state schema it read.
    rollback: Option<Rollback>,
    reaper: ReaperSender,
}

/// A hot-swappable plugin: load it, read it from any number of threads,
/// swap it for a newer build while they read.
///
/// See the [crate docs](crate) for the guarantees and their costs.
pub struct Slot<I: Interface + ?Sized> {
    current: ManuallyDrop<Arc<Current<I>>>,
    control: Mutex<Control>,
    tickets: AtomicU64,
    registry: Arc<Registry>,
    history: History,
    policy: LoadPolicy,
    /// What every swap not given options of its own does: `swap`, the
    /// control socket, the watcher (see [`set_swap_policy`](Self::set_swap_policy)).
    swap_policy: Mutex<SwapOptions<I>>,
    max_unloading: usize,
    unload_wait: Duration,
    alive: Arc<AtomicUsize>,
    reaper: Option<JoinHandle<()>>,
    /// The process that created the handle; a forked child's copy is inert.
    owner: u32,
}

impl<I: Interface + ?Sized + 'static> Slot<I> {
    /// Loads the first version of a plugin from `path`.
    ///
    /// # Errors
    ///
    /// Any [`Error`] about the file, its handshake or its constructor.
    ///
    /// ```no_run
    /// # #[liveswap::interface(version = 1)]
    /// # pub trait Handles: Send + Sync {
    /// #     fn some_fn(&self, i: i64) -> String;
    /// # }
    /// use liveswap::Slot;
    ///
    /// match Slot::<dyn Handles>::load("target/debug/libmy_plugin.so") {
    ///     Ok(plugin) => println!("serving generation {}", plugin.generation()),
    ///     // Display names the file and what was wrong with it.
    ///     Err(e) => eprintln!("{e}"),
    /// }
    /// ```
    pub fn load(path: impl AsRef<Path>) -> Result<Self, Error> {
        Self::load_with(path, Options::new())
    }

    /// [`load`](Self::load) with [`Options`].
    ///
    /// # Errors
    ///
    /// As for [`load`](Self::load), and [`Error::StoreDir`] or
    /// [`Error::Reaper`].
    pub fn load_with(path: impl AsRef<Path>, options: Options) -> Result<Self, Error> {
        let path = path.as_ref();
        let dir = match &options.store_dir {
            Some(dir) => Some(Arc::new(StoreDir::open(dir)?)),
            None => None,
        };
        let mut trust = options.trust.clone();
        // This handle's own record of the release serving.
        trust.serving_release = Arc::default();
        let policy = LoadPolicy {
            max_file_size: options.max_file_size,
            store: StorePolicy::new(options.memfd_max, dir),
            trust,
            state: options.state,
            imports: options.imports.clone(),
            executor: options.executor.clone(),
            first_state: options.first_state.clone(),
            reclaim_heap: options.reclaim_heap,
        };
        let registry = Arc::new(Registry::new(I::NAME));
        let at = SystemTime::now();
        let (mut plugin, info) = loader::load::<I>(path, &policy, None, None).inspect_err(|e| {
            tracing::warn!(path = %path.display(), error = %e, "plugin load rejected");
        })?;
        let (reaper_tx, reaper) = match reaper::spawn(Arc::clone(&registry)) {
            Ok(started) => started,
            Err(source) => {
                loader::discard(plugin);
                return Err(Error::Reaper { source });
            }
        };
        let alive = Arc::new(AtomicUsize::new(0));
        plugin.generation = 1;
        let version = Version::<I>::new(
            plugin,
            path.to_path_buf(),
            reaper_tx.clone(),
            Arc::clone(&alive),
        );
        if let Some(free) = registry.published(
            1,
            path.to_path_buf(),
            Version::loaded_at(&version),
            info.signer.clone(),
            info.hash,
            version.heap(),
        ) {
            Registry::warn_short_of_keys(free);
        }
        policy.trust.published(info.signer.as_ref());
        crate::telemetry::started(I::NAME);
        registry.record_state(1, Version::state_schema(&version), None);
        let history = History::new(options.history_len);
        history.record(Attempt {
            at,
            trigger: Trigger::Api,
            kind: Kind::Swap,
            source: path.to_path_buf(),
            content_hash: info.hash,
            signer: info.signer,
            outcome: Outcome::Published {
                generation: 1,
                previous: 0,
            },
            steps: Steps {
                copy: info.copy,
                check: info.check,
                load: info.load,
                total: at.elapsed().unwrap_or_default(),
                ..Steps::default()
            },
            state_schema: Version::state_schema(&version),
            restored_from: None,
            error: None,
        });
        tracing::info!(generation = 1, path = %path.display(), interface = I::NAME, "plugin loaded");
        Ok(Slot {
            current: ManuallyDrop::new(Arc::new(Current::new(Arc::new(version)))),
            control: Mutex::new(Control {
                next_generation: 2,
                last_ticket: 0,
                rollback: None,
                reaper: reaper_tx,
            }),
            tickets: AtomicU64::new(0),
            registry,
            history,
            policy,
            swap_policy: Mutex::new(SwapOptions::new()),
            max_unloading: options.max_unloading,
            unload_wait: options.unload_wait,
            alive,
            reaper: Some(reaper),
            owner: std::process::id(),
        })
    }

    /// The current version, for one call or a few. Lock-free and
    /// wait-free on its fast path (see [`Guard`]); never waits for a swap, a
    /// load or an unload.
    ///
    /// ```no_run
    /// # #[liveswap::interface(version = 1)]
    /// # pub trait Handles: Send + Sync {
    /// #     fn some_data(&self) -> String;
    /// #     fn some_fn(&self, i: i64) -> String;
    /// # }
    /// # let plugin = liveswap::Slot::<dyn Handles>::load("target/debug/libmy_plugin.so")?;
    /// let current = plugin.current();
    /// // Both calls answer from the same version, even if a swap happens
    /// // between them.
    /// println!("{} / {}", current.some_data()?, current.some_fn(7)?);
    /// println!("generation {}", liveswap::Version::generation(&current));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn current(&self) -> Guard<I> {
        self.current.load()
    }

    /// Runs `f` on the current version, which stays loaded until `f`
    /// returns (GHC hot-swap's `withSO`).
    ///
    /// ```no_run
    /// # #[liveswap::interface(version = 1)]
    /// # pub trait Handles: Send + Sync {
    /// #     fn some_data(&self) -> String;
    /// #     fn some_fn(&self, i: i64) -> String;
    /// # }
    /// # let plugin = liveswap::Slot::<dyn Handles>::load("target/debug/libmy_plugin.so")?;
    /// let answer: Result<String, liveswap::CallError> = plugin.with(|api| api.some_fn(7));
    /// println!("{}", answer?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with<R>(&self, f: impl FnOnce(&I::View) -> R) -> R {
        f(&self.current())
    }

    /// An owned reference to the current version, for long holds (across
    /// `.await`, or stored in a request). Costs a reference-count increment;
    /// keeps the version loaded until dropped.
    ///
    /// ```no_run
    /// # #[liveswap::interface(version = 1)]
    /// # pub trait Handles: Send + Sync {
    /// #     fn some_data(&self) -> String;
    /// #     fn some_fn(&self, i: i64) -> String;
    /// # }
    /// # let plugin = liveswap::Slot::<dyn Handles>::load("target/debug/libmy_plugin.so")?;
    /// let pinned = plugin.current_owned(); // an `Arc<Version<dyn Handles>>`
    /// let worker = std::thread::spawn(move || {
    ///     // However many swaps happen meanwhile, this is the same version.
    ///     let generation = liveswap::Version::generation(&pinned);
    ///     pinned.some_fn(7).map(|text| (generation, text))
    /// });
    /// let (generation, text) = worker.join().unwrap()?;
    /// println!("generation {generation} said {text}");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn current_owned(&self) -> Arc<Version<I>> {
        self.current.load_full()
    }

    /// A cached reader for one thread's hot loop; see [`Reader`].
    ///
    /// ```no_run
    /// # #[liveswap::interface(version = 1)]
    /// # pub trait Handles: Send + Sync {
    /// #     fn some_data(&self) -> String;
    /// #     fn some_fn(&self, i: i64) -> String;
    /// # }
    /// # let plugin = liveswap::Slot::<dyn Handles>::load("target/debug/libmy_plugin.so")?;
    /// let plugin = std::sync::Arc::new(plugin);
    /// let worker = {
    ///     let plugin = std::sync::Arc::clone(&plugin);
    ///     std::thread::spawn(move || {
    ///         let mut reader = plugin.reader(); // one per thread
    ///         let mut total = 0;
    ///         for i in 0..1_000_000 {
    ///             // One relaxed load while nothing was swapped; the next call
    ///             // after a swap sees the new version.
    ///             total += reader.get().some_fn(i).map_or(0, |s| s.len());
    ///         }
    ///         total
    ///     })
    /// };
    /// plugin.swap("target/debug/libmy_plugin.so")?; // the worker never waits
    /// println!("{}", worker.join().unwrap());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn reader(&self) -> Reader<I> {
        Reader::new(Arc::clone(&*self.current))
    }

    /// The current generation number.
    pub fn generation(&self) -> u64 {
        Version::generation(&self.current.load())
    }

    /// The prefix of this handle's copies as `/proc/self/maps` names
    /// them: `/memfd:liveswap-<16 hex digits>`, followed by `/<n>-` and
    /// the plugin file's name (`n` numbers loads in this process). Copies stored on disk (files bigger than
    /// [`Options::memfd_max`]) are unnamed files instead, shown as
    /// `<dir>/#<inode> (deleted)`.
    pub fn copy_prefix(&self) -> &Path {
        Path::new(self.policy.store.maps_prefix())
    }

    fn lock_control(&self) -> MutexGuard<'_, Control> {
        self.control.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Refuses to change a handle from a forked child: its reaper thread
    /// exists only in the parent.
    fn check_owner(&self) -> Result<(), Error> {
        if std::process::id() == self.owner {
            Ok(())
        } else {
            Err(Error::Forked { owner: self.owner })
        }
    }

    /// Waits (up to the handle's `unload_wait`) for room under its
    /// `max_unloading`, and takes it when `take`.
    fn reserve(&self, take: bool) -> Result<(), Error> {
        // Replaced versions whose guards are gone go now, not at the
        // grace thread's next look.
        crate::read::grace::sweep();
        let (max, wait) = (self.max_unloading, self.unload_wait);
        let room = if take {
            self.registry.reserve(max, wait)
        } else {
            self.registry.wait_for_room(max, wait)
        };
        room.map_err(|waiting| Error::Backlog {
            waiting,
            max,
            waited: wait,
        })
    }

    /// Loads, checks and publishes the plugin at `path` as the next
    /// generation. Calls in flight finish on the version they started with;
    /// new calls see the new one at once. The replaced version is unloaded
    /// by the reaper when its last guard drops.
    ///
    /// Readers are never blocked. Only the publish step is serialized:
    /// opening, copying, checking, `dlopen` and the plugin's constructor run
    /// outside any lock, so a slow swap delays no other swap or rollback.
    /// Calls publish in the order they were made: a call overtaken by a
    /// later `swap` or `rollback` that published first is refused with
    /// [`Error::Superseded`] (its library unloaded), so of calls that carry
    /// no state the last one made wins, and generations strictly increase.
    /// For a plugin with warm-start state, a call whose snapshot came from
    /// a version another call replaced meanwhile is refused with
    /// [`Error::StateStale`] instead, whichever was made last: state is
    /// never carried twice or skipped, and the refused call may be retried.
    /// Swapping to the same
    /// path again (after rebuilding the plugin there) works.
    ///
    /// When [`Options::max_unloading`] replaced versions are still waiting
    /// to be unloaded, the swap first waits for one to go, up to
    /// [`Options::unload_wait`].
    ///
    /// # Errors
    ///
    /// Any [`Error`] about the file, its handshake or its constructor;
    /// [`Error::Backlog`], [`Error::Superseded`], or [`Error::Forked`] in a
    /// forked child. The current version keeps serving and nothing of the
    /// file stays mapped.
    ///
    /// ```no_run
    /// # #[liveswap::interface(version = 1)]
    /// # pub trait Handles: Send + Sync {
    /// #     fn some_data(&self) -> String;
    /// #     fn some_fn(&self, i: i64) -> String;
    /// # }
    /// # let plugin = liveswap::Slot::<dyn Handles>::load("target/debug/libmy_plugin.so")?;
    /// // Rebuilt at the same path (`cargo build`): swap it in.
    /// match plugin.swap("target/debug/libmy_plugin.so") {
    ///     Ok(report) => println!(
    ///         "generation {} (was {}) in {:?}",
    ///         report.generation,
    ///         report.previous,
    ///         report.total()
    ///     ),
    ///     // A refusal changes nothing: the previous version keeps serving.
    ///     Err(e) => eprintln!("swap refused: {e}"),
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn swap(&self, path: impl AsRef<Path>) -> Result<SwapReport, Error> {
        // Recorded as the API's, whatever trigger the policy was given.
        self.swap_with(path, &self.swap_policy().trigger(Trigger::Api))
    }

    /// Sets what every swap not given options of its own does: [`swap`],
    /// a swap asked through the control socket (recorded under its
    /// trigger), and a [`Watcher`](crate::deploy::Watcher)'s (which adds
    /// its own trigger and skip-unchanged; a preflight or isolated check
    /// named in its own options runs instead of the policy's). So a
    /// preflight set here guards every way in that names none of its own; [`swap_with`](Self::swap_with) replaces it for
    /// one call. Rollbacks do not run it: they return to a build that
    /// already served, and must work when checks written for the new build
    /// fail on the old one. Signatures, the safe-path rule and the release
    /// floor are in [`Options`] and hold on every path.
    ///
    /// [`swap`]: Self::swap
    pub fn set_swap_policy(&self, policy: SwapOptions<I>) {
        *self
            .swap_policy
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = policy;
    }

    /// The options [`swap`](Self::swap) uses (see
    /// [`set_swap_policy`](Self::set_swap_policy)).
    pub fn swap_policy(&self) -> SwapOptions<I> {
        self.swap_policy
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// [`swap`](Self::swap), with checks between loading and publishing
    /// (see [`SwapOptions`]): skip a file whose bytes are already serving,
    /// run a gate before the candidate is mapped (an isolated preflight),
    /// run a [`Preflight`](crate::Preflight) against the loaded candidate.
    /// A refusal by any of them leaves the serving generation in place and
    /// unloads the candidate before returning. Every call is recorded in
    /// [`history`](Self::history) under the options' trigger.
    ///
    /// # Errors
    ///
    /// As [`swap`](Self::swap), and [`Error::Unchanged`] or
    /// [`Error::Preflight`].
    pub fn swap_with(
        &self,
        path: impl AsRef<Path>,
        options: &SwapOptions<I>,
    ) -> Result<SwapReport, Error> {
        let path = path.as_ref();
        let at = SystemTime::now();
        let started = Instant::now();
        let mut trail = Trail::default();
        let result = self.try_swap(path, options, &mut trail);
        self.record(
            Kind::Swap,
            options.trigger,
            path,
            at,
            started,
            trail,
            &result,
            None,
        );
        crate::telemetry::attempt(I::NAME, Kind::Swap.as_str(), &result);
        result
    }

    fn try_swap(
        &self,
        path: &Path,
        options: &SwapOptions<I>,
        trail: &mut Trail,
    ) -> Result<SwapReport, Error> {
        self.check_owner()?;
        let ticket = self.tickets.fetch_add(1, Ordering::SeqCst) + 1;
        self.reserve(false)?;
        let current = self.current.load_full();
        let serving = options
            .skip_unchanged
            .then(|| Version::content_hash(&current))
            .flatten();
        let seen = Cell::new(None);
        let isolated = Cell::new(Duration::ZERO);
        let gate = |candidate: &Candidate<'_>| -> Result<(), Error> {
            seen.set(Some(candidate.content_hash()));
            if let Some(before) = &options.before_load {
                let started = Instant::now();
                let verdict = before(candidate);
                isolated.set(started.elapsed());
                verdict.map_err(|message| Error::Preflight {
                    path: path.to_path_buf(),
                    isolated: true,
                    message,
                })?;
            }
            Ok(())
        };
        let gate = Gate {
            skip_if: serving,
            check: &gate,
            wants_state: options.before_load.is_some(),
        };
        let loaded = loader::load::<I>(path, &self.policy, current.serving(), Some(gate));
        trail.hash = seen.get();
        trail.steps.isolated_preflight = isolated.get();
        let (plugin, mut info) = match loaded {
            Ok(loaded) => loaded,
            Err(e) => {
                if matches!(e, Error::Unchanged { .. }) {
                    tracing::debug!(path = %path.display(), "plugin swap skipped: unchanged");
                } else {
                    tracing::warn!(path = %path.display(), error = %e, "plugin swap rejected");
                }
                return Err(e);
            }
        };
        trail.signer.clone_from(&info.signer);
        trail.steps.copy = info.copy;
        trail.steps.check = info.check;
        trail.steps.load = info.load;
        let plugin = match &options.preflight {
            None => plugin,
            Some(preflight) => {
                let started = Instant::now();
                let reaper = self.lock_control().reaper.clone();
                let candidate = Arc::new(Version::new(
                    plugin,
                    path.to_path_buf(),
                    reaper,
                    Arc::clone(&self.alive),
                ));
                let verdict = preflight.run(Arc::clone(&candidate), path);
                trail.steps.preflight = started.elapsed();
                // The check's thread has let go of the candidate unless it
                // timed out; then the reaper unloads it when it does.
                let plugin = Arc::try_unwrap(candidate)
                    .ok()
                    .and_then(Version::into_plugin);
                match (verdict, plugin) {
                    (Ok(()), Some(plugin)) => plugin,
                    (verdict, plugin) => {
                        if let Some(plugin) = plugin {
                            loader::discard(plugin);
                        }
                        let e = verdict.err().unwrap_or_else(|| Error::Preflight {
                            path: path.to_path_buf(),
                            isolated: false,
                            message: "the check kept a reference to the candidate".into(),
                        });
                        tracing::warn!(path = %path.display(), error = %e, "plugin swap refused by preflight");
                        return Err(e);
                    }
                }
            }
        };
        info.gate = trail.steps.isolated_preflight + trail.steps.preflight;
        self.publish(ticket, plugin, info, path, None)
    }

    /// Returns to the version that was current before the last swap or
    /// rollback, loaded again from a fresh copy of the private copy it was
    /// loaded from (so it works even if the original was deleted or
    /// rebuilt, and reads no file by name). It becomes a new generation;
    /// rolling back twice returns to where you started. It does not wait
    /// for a swap in progress.
    ///
    /// # Errors
    ///
    /// [`Error::NoRollback`] before any swap; otherwise as [`swap`](Self::swap).
    ///
    /// ```no_run
    /// # #[liveswap::interface(version = 1)]
    /// # pub trait Handles: Send + Sync {
    /// #     fn some_data(&self) -> String;
    /// #     fn some_fn(&self, i: i64) -> String;
    /// # }
    /// # let plugin = liveswap::Slot::<dyn Handles>::load("target/debug/libmy_plugin.so")?;
    /// plugin.swap("target/debug/libmy_plugin.so")?;
    /// if plugin.current().some_fn(7).is_err() {
    ///     // The new build panics: go back to the one before it.
    ///     let report = plugin.rollback()?;
    ///     println!("back on the previous build, as generation {}", report.generation);
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn rollback(&self) -> Result<SwapReport, Error> {
        self.rollback_by(Trigger::Rollback, None, None, false)
    }

    /// [`rollback`](Self::rollback) without carrying the serving version's
    /// state: the previous build starts from nothing (its
    /// [`WarmStart::restore`](crate::WarmStart::restore) given `None`).
    /// The way back when the serving build's state is of a schema the
    /// previous build cannot read, which makes a plain rollback fail with
    /// [`Error::Restore`]; what the serving version held is lost.
    ///
    /// # Errors
    ///
    /// As [`rollback`](Self::rollback).
    pub fn rollback_cold(&self) -> Result<SwapReport, Error> {
        self.rollback_by(Trigger::Rollback, None, None, true)
    }

    /// [`rollback`](Self::rollback), recorded in the history under
    /// `trigger`, with `reason` as its note.
    ///
    /// With `expect`, the rollback publishes only while that generation is
    /// still the one serving (checked under the publish lock): probation
    /// never rolls back a build published after the one it judged.
    pub(crate) fn rollback_by(
        &self,
        trigger: Trigger,
        reason: Option<String>,
        expect: Option<u64>,
        cold: bool,
    ) -> Result<SwapReport, Error> {
        let at = SystemTime::now();
        let started = Instant::now();
        let mut trail = Trail::default();
        let result = self.try_rollback(&mut trail, expect, cold);
        let source = trail.source.clone().unwrap_or_default();
        self.record(
            Kind::Rollback,
            trigger,
            &source,
            at,
            started,
            trail,
            &result,
            reason,
        );
        crate::telemetry::attempt(I::NAME, Kind::Rollback.as_str(), &result);
        if result.is_ok() {
            crate::telemetry::rollback(I::NAME, trigger.as_str());
        }
        result
    }

    fn try_rollback(
        &self,
        trail: &mut Trail,
        expect: Option<u64>,
        cold: bool,
    ) -> Result<SwapReport, Error> {
        self.check_owner()?;
        let ticket = self.tickets.fetch_add(1, Ordering::SeqCst) + 1;
        let Some(Rollback {
            image: kept,
            source,
            signer,
            schema,
        }) = self.lock_control().rollback.clone()
        else {
            return Err(Error::NoRollback);
        };
        trail.source = Some(source.clone());
        self.reserve(false)?;
        let serving = self.current.load_full();
        // The state, in the schema the previous build reads when the
        // serving one can write it (`WarmStart::snapshot_for`).
        let carried = if cold {
            None
        } else {
            serving
                .serving()
                .map(|serving| loader::Serving { schema, ..serving })
        };
        match loader::reload::<I>(&kept, &source, &self.policy, carried) {
            Ok((plugin, mut info)) => {
                info.expect_current = expect;
                self.publish(ticket, plugin, info, &source, Some(signer))
            }
            Err(e) => {
                tracing::warn!(path = %source.display(), error = %e, "plugin rollback rejected");
                Err(e)
            }
        }
    }

    /// Records an attempt in the history.
    #[allow(clippy::too_many_arguments)]
    fn record(
        &self,
        kind: Kind,
        trigger: Trigger,
        source: &Path,
        at: SystemTime,
        started: Instant,
        trail: Trail,
        result: &Result<SwapReport, Error>,
        note: Option<String>,
    ) {
        let mut steps = trail.steps;
        let (mut state_schema, mut restored_from) = (None, None);
        let (outcome, error, hash, signer) = match result {
            Ok(report) => {
                steps.copy = report.copy;
                steps.check = report.check;
                steps.load = report.load;
                steps.publish = report.publish;
                state_schema = report.state.to_schema;
                restored_from = report
                    .state
                    .restored
                    .then_some(report.state.from_schema)
                    .flatten();
                (
                    Outcome::Published {
                        generation: report.generation,
                        previous: report.previous,
                    },
                    note,
                    report.content_hash,
                    report.signer.clone(),
                )
            }
            Err(Error::Unchanged { hash, .. }) => (Outcome::Unchanged, None, Some(*hash), None),
            Err(e) => (
                Outcome::Refused,
                Some(match note {
                    Some(note) => format!("{note}: {e}"),
                    None => e.to_string(),
                }),
                trail.hash,
                trail.signer,
            ),
        };
        steps.total = started.elapsed();
        self.history.record(Attempt {
            at,
            trigger,
            kind,
            source: source.to_path_buf(),
            content_hash: hash,
            signer,
            outcome,
            steps,
            state_schema,
            restored_from,
            error,
        });
    }

    /// The last attempts to change this slot's code (the first load
    /// included), oldest first: when, what asked, from where, the content
    /// hash and signer, the outcome, each step's duration and the error.
    /// At most [`Options::history_len`] are kept.
    pub fn history(&self) -> Vec<Attempt> {
        self.history.snapshot()
    }

    /// Publishes a loaded plugin, under the publish lock, once it has a
    /// place among the versions waiting to unload (taken here, after all
    /// reading and loading, for the version it replaces).
    fn publish(
        &self,
        ticket: u64,
        mut plugin: Plugin,
        mut info: LoadInfo,
        source: &Path,
        // For a rollback copy: who signed it when it was first loaded.
        verified: Option<Option<Signer>>,
    ) -> Result<SwapReport, Error> {
        // A call already overtaken is told so below, not made to wait for
        // room first (tickets only grow: it is still overtaken there).
        let reserved = self.lock_control().last_ticket < ticket;
        if reserved && let Err(e) = self.reserve(true) {
            loader::discard(plugin);
            return Err(e);
        }
        let give_back = || {
            if reserved {
                self.registry.release();
            }
        };
        let mut control = self.lock_control();
        let serving = Version::generation(&self.current.load());
        if info
            .expect_current
            .is_some_and(|expected| expected != serving)
        {
            drop(control);
            give_back();
            loader::discard(plugin);
            tracing::warn!(path = %source.display(), by = serving, "rollback dropped: its generation was replaced first");
            return Err(Error::Superseded {
                path: source.to_path_buf(),
                by: serving,
            });
        }
        if control.last_ticket > ticket {
            let by = control.next_generation - 1;
            drop(control);
            give_back();
            loader::discard(plugin);
            tracing::warn!(path = %source.display(), by, "plugin swap superseded by a later call");
            return Err(Error::Superseded {
                path: source.to_path_buf(),
                by,
            });
        }
        if let Err(e) = warm::check_fresh(info.prior.as_ref(), &self.current.load(), source) {
            drop(control);
            give_back();
            loader::discard(plugin);
            tracing::warn!(path = %source.display(), error = %e, "plugin swap refused: its state snapshot is of a version replaced meanwhile");
            return Err(e);
        }
        match (verified, &info.signer) {
            (Some(signer), _) => info.signer = signer,
            // Checked again under the lock: a newer release published
            // since this one's signature was checked wins.
            (None, Some(signer)) => {
                if let Err(e) = self.policy.trust.check_release(source, signer) {
                    drop(control);
                    give_back();
                    loader::discard(plugin);
                    return Err(e);
                }
            }
            (None, None) => {}
        }
        self.policy.trust.published(info.signer.as_ref());
        let started = Instant::now();
        let generation = control.next_generation;
        control.next_generation += 1;
        control.last_ticket = ticket;
        plugin.generation = generation;
        let version = Arc::new(Version::new(
            plugin,
            source.to_path_buf(),
            control.reaper.clone(),
            Arc::clone(&self.alive),
        ));
        let old = self.current.swap(Arc::clone(&version));
        let publish = started.elapsed();
        let short_of_keys = self.registry.published(
            generation,
            source.to_path_buf(),
            Version::loaded_at(&version),
            info.signer.clone(),
            info.hash,
            version.heap(),
        );
        let prior = info.prior.take();
        warm::published(&self.registry, &old, &version, prior, &self.current);
        let old_signer = self.registry.signer(Version::generation(&old));
        control.rollback = old.image().map(|image| Rollback {
            image,
            source: Version::source(&old).to_path_buf(),
            signer: old_signer,
            schema: Version::state_schema(&old),
        });
        drop(control);
        if let Some(free) = short_of_keys {
            Registry::warn_short_of_keys(free);
        }
        drop(version);
        let report = SwapReport {
            generation,
            previous: Version::generation(&old),
            source: source.to_path_buf(),
            copy: info.copy,
            check: info.check,
            load: info.load,
            preflight: info.gate,
            publish,
            warnings: info.warnings,
            signer: info.signer,
            state: info.state,
            content_hash: info.hash,
        };
        drop(old);
        tracing::info!(
            generation,
            previous = report.previous,
            path = %source.display(),
            total_us = report.total().as_micros() as u64,
            "plugin swapped"
        );
        Ok(report)
    }

    /// Runs this slot's handshake on the file at `path` without loading
    /// it (no code of the file runs): what [`swap`](Self::swap) would
    /// decide before `dlopen`, under this slot's options. Returns the
    /// hazards read from its imports.
    ///
    /// # Errors
    ///
    /// The [`Error`] a swap to this file would return before loading it.
    pub fn check(&self, path: impl AsRef<Path>) -> Result<Vec<String>, Error> {
        loader::check_file::<I>(path.as_ref(), &self.policy)
    }

    /// What this handle knows of its generations.
    pub fn stats(&self) -> Stats {
        self.registry.snapshot()
    }

    /// Waits until every replaced generation has been unloaded (or found
    /// pinned), up to `timeout`. Returns whether none is still draining.
    pub fn wait_drained(&self, timeout: Duration) -> bool {
        self.registry.wait_drained(timeout)
    }
}

impl<I: Interface + ?Sized> Drop for Slot<I> {
    /// Releases the handle's own references. If that lets the last version
    /// go (no guard, owned reference or reader left), waits for the reaper
    /// to unload it; otherwise the reaper finishes on its own when the last
    /// reference drops.
    ///
    /// In a forked child the handle is inert: nothing is unloaded or
    /// joined (the reaper thread does not exist there); the child's copies
    /// of its versions are left mapped until the child exits.
    fn drop(&mut self) {
        let forked = std::process::id() != self.owner;
        let control = self.control.get_mut().unwrap_or_else(|p| p.into_inner());
        control.rollback = None;
        // Our sender goes; versions hold the others.
        drop(std::mem::replace(
            &mut control.reaper,
            std::sync::mpsc::channel().0,
        ));
        // SAFETY: `current` is not used again: this is `drop`.
        let slot = unsafe { ManuallyDrop::take(&mut self.current) };
        if forked {
            // A version dropped here would be queued for a reaper that
            // does not run in this process: keep it, mapped, instead.
            std::mem::forget(slot);
            std::mem::forget(self.reaper.take());
            return;
        }
        drop(slot);
        // A replaced version whose last guard dropped a moment ago may
        // wait for the grace thread's next look: release it now, so that
        // it is waited for below like the rest.
        crate::read::grace::sweep();
        if let Some(thread) = self.reaper.take()
            && self.alive.load(Ordering::Acquire) == 0
        {
            // No version is alive, so every sender is gone or going and the
            // reaper's loop ends once it has unloaded what it was sent,
            // unless a plugin's `Drop` blocks: then it is left behind.
            let deadline = Instant::now() + self.unload_wait;
            while !thread.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(1));
            }
            if thread.is_finished() {
                let _ = thread.join();
            } else {
                tracing::warn!(
                    waited = ?self.unload_wait,
                    "the handle is dropped while its last version is still being unloaded \
                     (the plugin's Drop has not returned): that version stays loaded, on its \
                     reaper thread"
                );
            }
        }
    }
}
