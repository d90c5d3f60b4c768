//! The handle: [`Slot`], the slot that holds the current [`Version`],
//! and the ways to read it.

use std::mem::ManuallyDrop;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub use crate::read::cell::{Guard, Reader};

use crate::error::Error;
use crate::generation::Version;
use crate::history::{Attempt, Trigger};
use crate::interface::Interface;
use crate::options::Options;
use crate::pipeline::{SwapOptions, SwapReport, Swapper};
use crate::read::cell::Current;
use crate::registry::Stats;

/// A hot-swappable plugin: load it, read it from any number of threads,
/// swap it for a newer build while they read.
///
/// See the [crate docs](crate) for the guarantees and their costs.
pub struct Slot<I: Interface + ?Sized> {
    current: ManuallyDrop<Arc<Current<I>>>,
    /// Everything that changes the slot's code (see `pipeline`).
    swapper: Swapper<I>,
    reaper: Option<JoinHandle<()>>,
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
        let (policy, limits) = options.into_parts()?;
        let started = Swapper::first(path.as_ref(), policy, &limits)?;
        Ok(Slot {
            current: ManuallyDrop::new(Arc::new(Current::new(started.first))),
            swapper: started.swapper,
            reaper: Some(started.reaper),
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
    #[inline]
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
    #[inline]
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
        Path::new(self.swapper.policy.store.maps_prefix())
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
        self.swap_with(path, &SwapOptions::new().trigger(Trigger::Api))
    }

    /// Sets the slot's swap policy: what every swap does unless its own
    /// options name otherwise. That is [`swap`], a swap asked through the
    /// control socket (recorded under its trigger), a
    /// [`Watcher`](crate::deploy::Watcher)'s (which names its trigger and
    /// skip-unchanged, and its own checks when it was given some), and
    /// [`swap_with`](Self::swap_with), whose options override, for one
    /// call, only the settings they name ([`SwapOptions`]). So a preflight
    /// set here guards every way in that names none of its own
    /// ([`SwapOptions::without_checks`] turns it off for one call).
    /// Rollbacks do not run it: they return to a build that already
    /// served, and must work when checks written for the new build fail on
    /// the old one. Signatures, the safe-path rule and the release floor
    /// are in [`Options`] and hold on every path.
    ///
    /// [`swap`]: Self::swap
    pub fn set_swap_policy(&self, policy: SwapOptions<I>) {
        self.swapper.set_swap_policy(policy);
    }

    /// The slot's swap policy (see
    /// [`set_swap_policy`](Self::set_swap_policy)).
    pub fn swap_policy(&self) -> SwapOptions<I> {
        self.swapper.swap_policy()
    }

    /// [`swap`](Self::swap), with `options` over the slot's policy (each
    /// setting they name overrides the policy's, for this call; see
    /// [`SwapOptions`]): skip a file whose bytes are already serving, run a
    /// gate before the candidate is mapped (an isolated preflight), run a
    /// [`Preflight`](crate::Preflight) against the loaded candidate. A
    /// refusal by any of them leaves the serving generation in place and
    /// unloads the candidate before returning. Every call is recorded in
    /// [`history`](Self::history) under its trigger.
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
        self.swapper.swap(&self.current, path.as_ref(), options)
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
        self.swapper
            .rollback(&self.current, trigger, reason, expect, cold)
    }

    /// The last attempts to change this slot's code (the first load
    /// included), oldest first: when, what asked, from where, the content
    /// hash and signer, the outcome, each step's duration and the error.
    /// At most [`Options::history_len`] are kept.
    pub fn history(&self) -> Vec<Attempt> {
        self.swapper.history()
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
        self.swapper.check(path.as_ref())
    }

    /// What this handle knows of its generations.
    pub fn stats(&self) -> Stats {
        self.swapper.registry.snapshot()
    }

    /// Waits until every replaced generation has been unloaded (or found
    /// pinned), up to `timeout`. Returns whether none is still draining.
    pub fn wait_drained(&self, timeout: Duration) -> bool {
        self.swapper.registry.wait_drained(timeout)
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
        let forked = std::process::id() != self.swapper.owner;
        // Our reaper sender goes; versions hold the others.
        self.swapper.close();
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
            && self.swapper.alive.load(Ordering::Acquire) == 0
        {
            // No version is alive, so every sender is gone or going and the
            // reaper's loop ends once it has unloaded what it was sent,
            // unless a plugin's `Drop` blocks: then it is left behind.
            let deadline = Instant::now() + self.swapper.unload_wait;
            while !thread.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(1));
            }
            if thread.is_finished() {
                let _ = thread.join();
            } else {
                tracing::warn!(
                    waited = ?self.swapper.unload_wait,
                    "the handle is dropped while its last version is still being unloaded \
                     (the plugin's Drop has not returned): that version stays loaded, on its \
                     reaper thread"
                );
            }
        }
    }
}
