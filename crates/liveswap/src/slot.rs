//! The handle: [`Slot`], the slot that holds the current [`Version`],
//! and the ways to read it.

use std::fs;
use std::mem::ManuallyDrop;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use arc_swap::{ArcSwap, Cache};

use crate::check::{LoadPolicy, Signer, TrustedKey};
use crate::error::Error;
use crate::interface::Interface;
use crate::loader::{self, PrivateDir};
use crate::reaper::{self, ReaperSender};
use crate::stats::{Registry, Stats};
use crate::version::Version;

/// Settings for [`Slot::load_with`].
#[derive(Debug, Clone, Default)]
pub struct Options {
    copy_parent: Option<PathBuf>,
    policy: LoadPolicy,
}

impl Options {
    /// Default options: private copies under the system temporary directory.
    pub fn new() -> Self {
        Self::default()
    }

    /// Creates the private copy directory (mode 0700) under `parent`
    /// instead of the system temporary directory.
    pub fn copy_dir(mut self, parent: impl Into<PathBuf>) -> Self {
        self.copy_parent = Some(parent.into());
        self
    }

    /// Requires every plugin to carry a minisign signature beside it
    /// (`<plugin>.minisig`) made by one of these keys (added to any given
    /// before; several at once allow a key rotation). See the crate docs,
    /// "Trust model".
    pub fn trusted_keys(mut self, keys: impl IntoIterator<Item = TrustedKey>) -> Self {
        self.policy.keys.extend(keys);
        self
    }

    /// Relaxes the safe-path policy, for development: a plugin that others
    /// could have written is loaded all the same, and the load's
    /// [`SwapReport::warnings`] (and the log) say so.
    pub fn allow_unsafe_path(mut self) -> Self {
        self.policy.allow_unsafe_path = true;
        self
    }

    /// Whether plugins must be signed, and by which keys.
    pub fn trusted_key_ids(&self) -> Vec<&str> {
        self.policy.keys.iter().map(TrustedKey::id).collect()
    }

    /// Whether the safe-path policy is relaxed.
    pub fn unsafe_path_allowed(&self) -> bool {
        self.policy.allow_unsafe_path
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
    /// Publishing the new version to readers.
    pub publish: Duration,
    /// Hazards the handshake read from the plugin's imports (such as
    /// starting threads, which keeps a library from unloading); the plugin
    /// was loaded all the same; and, when the safe-path policy is
    /// relaxed, the violation it let through.
    pub warnings: Vec<String>,
    /// Who signed the plugin, when signatures are required.
    pub signer: Option<Signer>,
}

impl SwapReport {
    /// The whole swap.
    pub fn total(&self) -> Duration {
        self.copy + self.check + self.load + self.publish
    }
}

/// A short-lived read of the current version; derefs to [`Version`], and
/// through it to the interface's view (`I::View`). While it lives, its version
/// (instance and library) stays loaded.
///
/// Taking one never waits: it is an atomic load of the slot plus, on
/// `arc-swap`'s fast path, two uncontended atomic operations on a slot of
/// the calling thread's own (no shared reference count, no lock). Hold it for a call, not for long: a few are
/// cheap per thread, and beyond that taking one costs a reference count.
pub struct Guard<I: Interface + ?Sized>(arc_swap::Guard<Arc<Version<I>>>);

impl<I: Interface + ?Sized> std::ops::Deref for Guard<I> {
    type Target = Version<I>;
    fn deref(&self) -> &Version<I> {
        &self.0
    }
}

/// A per-thread cached reader for the hottest loops: after the first call,
/// [`Reader::get`] costs one relaxed atomic load while nothing was swapped.
///
/// It keeps a strong reference to the version it last saw: **an idle reader
/// pins its version** (and the library stays mapped) until its next `get`
/// or until it is dropped. Keep one per worker thread that calls often.
pub struct Reader<I: Interface + ?Sized>(Cache<Arc<ArcSwap<Version<I>>>, Arc<Version<I>>>);

impl<I: Interface + ?Sized> Reader<I> {
    /// The current version, refreshed if a swap happened since the last call.
    pub fn get(&mut self) -> &Version<I> {
        self.0.load()
    }
}

struct Control {
    next_generation: u64,
    /// A copy of the previous version's file, never mapped, for `rollback`:
    /// the copy, its source and its signer.
    rollback: Option<(PathBuf, PathBuf, Option<Signer>)>,
    reaper: ReaperSender,
}

/// A hot-swappable plugin: load it, read it from any number of threads,
/// swap it for a newer build while they read.
///
/// See the [crate docs](crate) for the guarantees and their costs.
pub struct Slot<I: Interface + ?Sized> {
    current: ManuallyDrop<Arc<ArcSwap<Version<I>>>>,
    control: Mutex<Control>,
    registry: Arc<Registry>,
    dir: Arc<PrivateDir>,
    alive: Arc<AtomicUsize>,
    reaper: Option<JoinHandle<()>>,
    policy: LoadPolicy,
}

impl<I: Interface + ?Sized> Slot<I> {
    /// Loads the first version of a plugin from `path`.
    ///
    /// # Errors
    ///
    /// Any [`Error`] about the file, its handshake or its constructor.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, Error> {
        Self::load_with(path, Options::new())
    }

    /// [`load`](Self::load) with [`Options`].
    ///
    /// # Errors
    ///
    /// As for [`load`](Self::load), and [`Error::CopyDir`] or
    /// [`Error::Reaper`].
    pub fn load_with(path: impl AsRef<Path>, options: Options) -> Result<Self, Error> {
        let path = path.as_ref();
        let dir = PrivateDir::create(options.copy_parent.as_deref())?;
        let registry = Arc::new(Registry::default());
        let (reaper_tx, reaper) =
            reaper::spawn(Arc::clone(&registry)).map_err(|source| Error::Reaper { source })?;
        let alive = Arc::new(AtomicUsize::new(0));
        let (plugin, info) =
            loader::load::<I>(path, &dir, 1, &options.policy).inspect_err(|e| {
                tracing::warn!(path = %path.display(), error = %e, "plugin load rejected");
            })?;
        let version = Version::<I>::new(
            plugin,
            path.to_path_buf(),
            reaper_tx.clone(),
            Arc::clone(&alive),
        );
        registry.published(
            1,
            path.to_path_buf(),
            Version::loaded_at(&version),
            info.signer,
        );
        tracing::info!(generation = 1, path = %path.display(), interface = I::NAME, "plugin loaded");
        Ok(Slot {
            current: ManuallyDrop::new(Arc::new(ArcSwap::from_pointee(version))),
            control: Mutex::new(Control {
                next_generation: 2,
                rollback: None,
                reaper: reaper_tx,
            }),
            registry,
            dir,
            alive,
            reaper: Some(reaper),
            policy: options.policy,
        })
    }

    /// The current version, for one call or a few. Lock-free and
    /// wait-free on its fast path (see [`Guard`]); never waits for a swap, a
    /// load or an unload.
    pub fn current(&self) -> Guard<I> {
        Guard(self.current.load())
    }

    /// Runs `f` on the current version, which stays loaded until `f`
    /// returns (GHC hot-swap's `withSO`).
    pub fn with<R>(&self, f: impl FnOnce(&I::View) -> R) -> R {
        f(&self.current())
    }

    /// An owned reference to the current version, for long holds (across
    /// `.await`, or stored in a request). Costs a reference-count increment;
    /// keeps the version loaded until dropped.
    pub fn current_owned(&self) -> Arc<Version<I>> {
        self.current.load_full()
    }

    /// A cached reader for one thread's hot loop; see [`Reader`].
    pub fn reader(&self) -> Reader<I> {
        Reader(Cache::new(Arc::clone(&*self.current)))
    }

    /// The current generation number.
    pub fn generation(&self) -> u64 {
        Version::generation(&self.current.load())
    }

    /// The private directory that holds this handle's copies.
    pub fn copy_dir(&self) -> &Path {
        self.dir.path()
    }

    fn lock_control(&self) -> MutexGuard<'_, Control> {
        self.control.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Loads, checks and publishes the plugin at `path` as the next
    /// generation. Calls in flight finish on the version they started with;
    /// new calls see the new one at once. The replaced version is unloaded
    /// by the reaper when its last guard drops.
    ///
    /// Concurrent swaps are serialized; readers are never blocked. Swapping
    /// to the same path again (after rebuilding the plugin there) works.
    ///
    /// # Errors
    ///
    /// Any [`Error`] about the file, its handshake or its constructor; the
    /// current version keeps serving and nothing of the file stays mapped.
    pub fn swap(&self, path: impl AsRef<Path>) -> Result<SwapReport, Error> {
        let path = path.as_ref();
        let mut control = self.lock_control();
        self.swap_locked(&mut control, path, path, None)
    }

    /// Returns to the version that was current before the last swap or
    /// rollback, loaded again from a private copy of its file made at that
    /// swap (so it works even if the original was deleted or rebuilt). It
    /// becomes a new generation; rolling back twice returns to where you
    /// started.
    ///
    /// # Errors
    ///
    /// [`Error::NoRollback`] before any swap; otherwise as [`swap`](Self::swap).
    pub fn rollback(&self) -> Result<SwapReport, Error> {
        let mut control = self.lock_control();
        let Some((copy, source, signer)) = control.rollback.clone() else {
            return Err(Error::NoRollback);
        };
        self.swap_locked(&mut control, &copy, &source, Some(signer))
    }

    fn swap_locked(
        &self,
        control: &mut Control,
        file: &Path,
        source: &Path,
        // For a rollback copy: who signed it when it was first loaded.
        verified: Option<Option<Signer>>,
    ) -> Result<SwapReport, Error> {
        let generation = control.next_generation;
        let policy = match verified {
            Some(_) => &self.policy.verified_before(),
            None => &self.policy,
        };
        let (plugin, mut info) = loader::load::<I>(file, &self.dir, generation, policy)
            .inspect_err(|e| {
                tracing::warn!(path = %source.display(), error = %e, "plugin swap rejected");
            })?;
        if let Some(signer) = verified {
            info.signer = signer;
        }
        let started = Instant::now();
        let version = Arc::new(Version::new(
            plugin,
            source.to_path_buf(),
            control.reaper.clone(),
            Arc::clone(&self.alive),
        ));
        let old = self.current.swap(Arc::clone(&version));
        let publish = started.elapsed();
        control.next_generation += 1;
        self.registry.published(
            generation,
            source.to_path_buf(),
            Version::loaded_at(&version),
            info.signer.clone(),
        );
        drop(version);
        self.keep_for_rollback(control, &old);
        let report = SwapReport {
            generation,
            previous: Version::generation(&old),
            source: source.to_path_buf(),
            copy: info.copy,
            check: info.check,
            load: info.load,
            publish,
            warnings: info.warnings,
            signer: info.signer,
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

    /// Keeps a never-mapped copy of `old`'s file for `rollback`: a hard
    /// link to its private copy (the loader copies it again before mapping,
    /// so glibc's inode cache never sees it), or a plain copy.
    fn keep_for_rollback(&self, control: &mut Control, old: &Version<I>) {
        let Some(plugin_copy) = old.plugin_copy() else {
            return;
        };
        let dest = self
            .dir
            .path()
            .join(format!("rollback-g{}", Version::generation(old)));
        let kept =
            fs::hard_link(plugin_copy, &dest).or_else(|_| fs::copy(plugin_copy, &dest).map(drop));
        if let Some((previous, ..)) = control.rollback.take() {
            let _ = fs::remove_file(previous);
        }
        let signer = self.registry.signer(Version::generation(old));
        match kept {
            Ok(()) => control.rollback = Some((dest, Version::source(old).to_path_buf(), signer)),
            Err(e) => tracing::warn!(error = %e, "cannot keep a rollback copy; rollback disabled"),
        }
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
    fn drop(&mut self) {
        let control = self.control.get_mut().unwrap_or_else(|p| p.into_inner());
        if let Some((rollback, ..)) = control.rollback.take() {
            let _ = fs::remove_file(rollback);
        }
        // Our sender goes; versions hold the others.
        drop(std::mem::replace(
            &mut control.reaper,
            std::sync::mpsc::channel().0,
        ));
        // SAFETY: `current` is not used again: this is `drop`.
        let slot = unsafe { ManuallyDrop::take(&mut self.current) };
        drop(slot);
        if let Some(thread) = self.reaper.take()
            && self.alive.load(Ordering::Acquire) == 0
        {
            // No version is alive, so every sender is gone or going and the
            // reaper's loop ends once it has unloaded what it was sent.
            let _ = thread.join();
        }
    }
}
