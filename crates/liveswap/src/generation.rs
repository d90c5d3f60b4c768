//! One loaded generation of a plugin: its API object and its library.

use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::SystemTime;

use crate::abi::RawObject;
use crate::interface::Interface;
use crate::load::store::{Storage, Stored};
use crate::loader::Plugin;
use crate::reaper::ReaperSender;
use crate::warm::{HandoverSlot, Serving};

/// One generation of a plugin. Derefs to the interface's view (`I::View`).
///
/// A `Version` owns the plugin's instance and its library: while any
/// reference to it lives (a [`Guard`](crate::Guard), an `Arc<Version<I>>`
/// from [`Slot::current_owned`](crate::Slot::current_owned), a
/// [`Reader`](crate::Reader)'s cache), the plugin's code stays mapped. When
/// the last one goes, the version is handed to the handle's reaper, which
/// drops the instance first and unloads the library after.
pub struct Version<I: Interface + ?Sized> {
    api: I::View,
    generation: u64,
    source: PathBuf,
    loaded_at: SystemTime,
    plugin: Option<Plugin>,
    reaper: ReaperSender,
    alive: Arc<AtomicUsize>,
}

impl<I: Interface + ?Sized> Version<I> {
    pub(crate) fn new(
        plugin: Plugin,
        source: PathBuf,
        reaper: ReaperSender,
        alive: Arc<AtomicUsize>,
    ) -> Self {
        // SAFETY: the plugin passed the handshake for `I` (`Checked<I>`,
        // which the build stage requires), and its instance and vtable
        // stay valid until `plugin` is unloaded, which happens only as this
        // `Version` goes (`Drop`, `discard`): `api`, which has no
        // destructor, is not used after that.
        let api = unsafe { I::view(plugin.object.instance, plugin.object.vtable.cast()) };
        alive.fetch_add(1, Ordering::AcqRel);
        Version {
            api,
            generation: plugin.generation,
            source,
            loaded_at: SystemTime::now(),
            plugin: Some(plugin),
            reaper,
            alive,
        }
    }

    /// This version's generation number.
    ///
    /// An associated function, not a method (write
    /// `Version::generation(&guard)`), so that it never hides a plugin
    /// method of the same name: `guard.generation()` calls the plugin.
    pub fn generation(this: &Self) -> u64 {
        this.generation
    }

    /// The path this version was loaded from (an associated function, like
    /// [`generation`](Self::generation)).
    pub fn source(this: &Self) -> &Path {
        &this.source
    }

    /// The private copy its library was loaded from.
    pub(crate) fn image(&self) -> Option<Arc<Stored>> {
        self.plugin.as_ref().map(|p| Arc::clone(&p.image))
    }

    /// Its heap account.
    pub(crate) fn heap(&self) -> Option<Arc<crate::heap::Account>> {
        self.plugin.as_ref().map(Plugin::heap)
    }

    /// Where its private copy is held. An associated function, like the
    /// other metadata (`Version::storage(&v)`), so that a plugin method of
    /// the same name is not shadowed.
    pub fn storage(this: &Self) -> Storage {
        this.plugin
            .as_ref()
            .map_or(Storage::Memfd, |p| p.image.kind)
    }

    /// How many calls into this version have panicked so far (caught in
    /// the plugin and returned as [`CallError::Panicked`](crate::CallError)).
    /// Counted by the plugin only when a call panics, so the calls that do
    /// not panic pay nothing; reading it is one atomic load. An associated
    /// function, like [`generation`](Self::generation).
    pub fn panics(this: &Self) -> u64 {
        let counter = this
            .plugin
            .as_ref()
            .map_or(std::ptr::null(), |p| p.object.panics);
        // SAFETY: a non-null counter is a static of the plugin's library,
        // which stays mapped while `this.plugin` is held.
        unsafe { counter.as_ref() }.map_or(0, |c| c.load(std::sync::atomic::Ordering::Relaxed))
    }

    /// The schema of this version's warm-start state, or `None` if its
    /// plugin declares none (an associated function, like
    /// [`generation`](Self::generation)). See [`WarmStart`](crate::WarmStart).
    pub fn state_schema(this: &Self) -> Option<u32> {
        this.object()
            .and_then(|o| o.snapshot.is_some().then_some(o.schema))
    }

    /// The plugin's instance and its functions.
    pub(crate) fn object(&self) -> Option<&RawObject> {
        self.plugin.as_ref().map(|p| &p.object)
    }

    /// This version as the one serving when a swap starts.
    pub(crate) fn serving(&self) -> Option<Serving<'_>> {
        self.object().map(|object| Serving {
            object,
            generation: self.generation,
            schema: None,
        })
    }

    /// Where, once replaced, it keeps what its final merge needs.
    pub(crate) fn handover(&self) -> Option<&HandoverSlot> {
        self.plugin.as_ref().map(|p| &p.handover)
    }

    /// The BLAKE3 hash of the bytes this version was loaded from (an
    /// associated function, like [`generation`](Self::generation)).
    pub fn content_hash(this: &Self) -> Option<crate::hash::ContentHash> {
        this.plugin.as_ref().map(|p| p.hash)
    }

    /// Numbers a candidate as it is published (when it counts as loaded).
    pub(crate) fn set_generation(&mut self, generation: u64) {
        self.generation = generation;
        self.loaded_at = SystemTime::now();
        if let Some(plugin) = &mut self.plugin {
            plugin.generation = generation;
        }
    }

    /// Unloads a version never published, on this thread.
    pub(crate) fn discard(mut self) {
        if let Some(plugin) = self.plugin.take() {
            crate::loader::discard(plugin);
        }
    }

    /// When this version was loaded (an associated function, like
    /// [`generation`](Self::generation)).
    pub fn loaded_at(this: &Self) -> SystemTime {
        this.loaded_at
    }
}

impl<I: Interface + ?Sized> Deref for Version<I> {
    type Target = I::View;
    fn deref(&self) -> &I::View {
        &self.api
    }
}

impl<I: Interface + ?Sized> std::fmt::Debug for Version<I> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Version")
            .field("interface", &I::NAME)
            .field("generation", &self.generation)
            .field("source", &self.source)
            .finish()
    }
}

impl<I: Interface + ?Sized> Drop for Version<I> {
    fn drop(&mut self) {
        if let Some(plugin) = self.plugin.take() {
            // A send is all the dropping thread pays. If the reaper is gone
            // (it never stops while a sender lives, so only if its thread
            // died), unload here rather than leak.
            if let Err(mpsc_err) = self.reaper.send(plugin) {
                crate::loader::discard(mpsc_err.0);
            }
        }
        self.alive.fetch_sub(1, Ordering::AcqRel);
    }
}
