//! The loader: turns a path into a running plugin instance, and back.
//!
//! Loading is, in order: check who could have written the path (the
//! safe-path policy, `check`); open the source once and decide what it is from
//! that descriptor (`load::open`: a regular ELF file under the size cap);
//! copy it, in the kernel, into private storage nobody else can reach
//! (`load::store`: a sealed memfd, or an unnamed file on disk); map that
//! copy read-only, verify its signature when keys are trusted, and check
//! the handshake on those very bytes (`handshake`); `dlopen("/proc/self/fd/N")` with `RTLD_NOW | RTLD_LOCAL`;
//! record the library's own address ranges (`load::image`); point its
//! references to the C library's thread-local destructor, pthread key and
//! thread functions at the hooks of `footprint`; resolve the entry point;
//! call it. The bytes checked are the bytes mapped, whatever
//! happens to the source meanwhile, and glibc never sees a path or inode it
//! has cached: every load is a new inode.
//!
//! Unloading is the reverse: drop the instance (its destructor runs while
//! its code is mapped, and is the plugin's retire hook); take back what it
//! registered (`footprint::release`: wait a little for the threads it
//! started, check signal handlers, stop its thread-exit destructors, delete
//! its pthread keys); `dlclose`; verify, on the library's own ranges, that
//! it is gone. What still holds it is reported, and the release is tried
//! again later. The copy's descriptor is kept until then.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use libloading::os::unix::Library;

use crate::abi::host::MessageSink;
use crate::abi::{
    ENTRY_OK, ENTRY_PANICKED, EntryCall, EntryFn, Message, RawObject, STATE_COLD, STATE_FAILED,
    STATE_NONE, STATE_RESTORED,
};
use crate::check::TrustPolicy;
use crate::descriptor::ENTRY_SYMBOL;
use crate::error::Error;
use crate::footprint::{self, Footprint, patch};
use crate::hash::ContentHash;
use crate::imports::host::Imports;
use crate::load::image;
use crate::load::store::{StorePolicy, Stored};
use crate::warm::{Carry, HandoverSlot, StatePolicy};

/// Generations loaded by this process, all handles together. A plugin that
/// creates a pthread key keeps one per loaded copy (and is never closed),
/// so this is watched (`stats`).
pub(crate) static LOADED_IN_PROCESS: AtomicU64 = AtomicU64::new(0);

/// Plugin libraries this process holds mapped now, all handles together:
/// one more at each `dlopen`, one less when an unload is verified.
pub(crate) static MAPPED_IN_PROCESS: AtomicU64 = AtomicU64::new(0);

/// What a handle asks of every load.
#[derive(Debug, Clone)]
pub(crate) struct LoadPolicy {
    /// Files bigger than this are refused before they are read.
    pub max_file_size: u64,
    /// Where copies go.
    pub store: StorePolicy,
    /// Who may have written a plugin, and who must have signed it.
    pub trust: TrustPolicy,
    /// The cap on state snapshots, and what a state failure does.
    pub state: StatePolicy,
    /// The host services provided to plugins.
    pub imports: Imports,
    /// What runs the tasks its plugins spawn.
    pub executor: crate::tasks::host::Executor,
    /// The state the first load restores from, instead of nothing: the
    /// isolated preflight's child gets the serving version's snapshot so.
    pub first_state: Option<Arc<(u32, Vec<u8>)>>,
    /// Whether a generation's leftover heap is freed at its unload.
    pub reclaim_heap: bool,
}

/// A loaded plugin: its instance, its library and its private copy.
pub(crate) struct Plugin {
    pub generation: u64,
    pub object: RawObject,
    library: Library,
    pub image: Arc<Stored>,
    footprint: Arc<Footprint>,
    /// The host services it was given: kept until its library is closed.
    imports: Imports,
    /// Once replaced: the snapshot carried from it, for its final merge.
    pub handover: HandoverSlot,
    pub hash: ContentHash,
}

// SAFETY: the instance is of a type the interface requires to be
// `Send + Sync` (the plugin-side `Export` impl exists only for such types),
// and a `Library` handle may be closed from any thread.
unsafe impl Send for Plugin {}
// SAFETY: shared references to a `Plugin` give access to nothing but its
// plain fields; the instance is reached through the interface view, whose
// `Sync` the interface guarantees, and by the warm-start shims (snapshot,
// merge) from the swapping and reaper threads, which `WarmStart: Send +
// Sync` allows.
unsafe impl Sync for Plugin {}

/// What became of a plugin after unload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Closed and verified gone.
    Unloaded,
    /// Not closed, or closed but still loaded or mapped: what holds it.
    /// Looked at again later.
    Pinned(String),
}

/// What the reaper keeps of a library that did not go: its copy (so that
/// its name and inode stay reserved), its footprint, and its handle while
/// it is not closed yet, to try again.
pub(crate) struct Remains {
    pub image: Arc<Stored>,
    footprint: Arc<Footprint>,
    library: Option<Library>,
    /// Dropped only once the library is gone (see `Drop`).
    imports: std::mem::ManuallyDrop<Imports>,
    /// Set when `gone` found the library gone.
    gone: bool,
}

impl Drop for Remains {
    /// A library not known to be gone may still run (its threads, a
    /// signal handler): its handle is leaked, not closed, and the host
    /// services it was given stay alive, whoever drops this (the reaper
    /// ending, or unwinding).
    fn drop(&mut self) {
        if self.gone {
            // SAFETY: taken once, here; the library is gone, so no code of
            // it can reach these objects any more.
            drop(unsafe { std::mem::ManuallyDrop::take(&mut self.imports) });
        } else if let Some(library) = self.library.take() {
            std::mem::forget(library);
        }
    }
}

impl Remains {
    /// Whether the library has gone since: closes it first if what held
    /// it has let go.
    pub(crate) fn gone(&mut self) -> bool {
        if let Some(library) = self.library.take() {
            match close(library, &self.image, &self.footprint, false) {
                (Outcome::Unloaded, _) => {
                    self.gone = true;
                    return true;
                }
                (Outcome::Pinned(_), library) => self.library = library,
            }
        }
        let gone = self.library.is_none()
            && !image::loader_has(&self.image.path)
            && !image::still_mapped(self.footprint.ranges(), self.image.dev, self.image.ino);
        if gone && !self.gone {
            MAPPED_IN_PROCESS.fetch_sub(1, Ordering::Relaxed);
            // SAFETY: closed earlier, and now gone from the loader's list
            // and from the address space: none of its code can run again.
            // Once: `self.gone` is set below and never cleared.
            unsafe { self.footprint.heap.settle() };
        }
        self.gone = gone;
        self.gone
    }
}

/// Maps the checked copy `image` of `source` (`section` being the
/// descriptor its handshake read, `sites` where its hooks go), installs
/// the hooks and runs the plugin's entry point, restoring the state
/// `carry` holds. A plugin whose constructor fails is unloaded before
/// this returns (or, if it cannot be, left mapped for good).
#[allow(clippy::too_many_arguments)]
pub(crate) fn open(
    source: &Path,
    image: Arc<Stored>,
    section: &[u8],
    sites: &patch::Sites,
    hash: ContentHash,
    policy: &LoadPolicy,
    heap_off: Option<String>,
    carry: &mut Carry,
) -> Result<Plugin, Error> {
    let (library, footprint, object) =
        open_and_construct(source, &image, section, sites, policy, heap_off, carry)?;
    LOADED_IN_PROCESS.fetch_add(1, Ordering::Relaxed);
    Ok(Plugin {
        generation: 0,
        object,
        library,
        image,
        footprint,
        imports: policy.imports.clone(),
        handover: HandoverSlot::default(),
        hash,
    })
}

fn open_and_construct(
    source: &Path,
    image: &Arc<Stored>,
    section: &[u8],
    sites: &patch::Sites,
    policy: &LoadPolicy,
    heap_off: Option<String>,
    carry: &mut Carry,
) -> Result<(Library, Arc<Footprint>, RawObject), Error> {
    let imports = &policy.imports;
    // SAFETY: the handshake accepted the file: it was built by this compiler
    // for this target against this interface with `liveswap::export!`, whose
    // code runs no unsound initialisers. Constructors of the library run
    // here; that is what the handshake was for. The file is the copy the
    // handshake read, and nothing can write it.
    let library = unsafe {
        Library::open(
            Some(image.path.as_os_str()),
            libloading::os::unix::RTLD_NOW | libloading::os::unix::RTLD_LOCAL,
        )
    }
    .map_err(|e| Error::Dlopen {
        path: source.to_path_buf(),
        message: with_causes(&e),
    })?;
    MAPPED_IN_PROCESS.fetch_add(1, Ordering::Relaxed);
    let placement = image::find(&image.path).unwrap_or_default();
    let footprint = Footprint::register(&placement);
    if let Some(reason) = heap_off {
        footprint.heap.keep_heap(reason);
    }
    footprint.set_executors(policy.executor.lent());
    if let Err(reason) = patch::apply(sites, &placement) {
        tracing::warn!(path = %source.display(), %reason, "plugin hooks not installed: it will never be unloaded");
        footprint.set_unhooked(reason);
    }
    match construct(source, &library, section, imports, &footprint, carry) {
        Ok(object) => Ok((library, footprint, object)),
        Err(e) => {
            let (outcome, unclosed) = close(library, image, &footprint, true);
            if outcome != Outcome::Unloaded {
                std::mem::forget(unclosed);
                std::mem::forget(imports.clone());
                tracing::warn!(path = %source.display(), ?outcome, "rejected plugin stays mapped");
                // The loader still knows it as `/proc/self/fd/N`: keep N
                // open for good, so that no later copy gets that name and
                // `dlopen` cannot hand back this library for it.
                std::mem::forget(Arc::clone(image));
            }
            Err(e)
        }
    }
}

fn construct(
    source: &Path,
    library: &Library,
    section: &[u8],
    imports: &Imports,
    footprint: &Arc<Footprint>,
    carry: &mut Carry,
) -> Result<RawObject, Error> {
    // SAFETY: `EntryFn` is the type `liveswap::export!` gives the symbol; the
    // handshake established that the plugin was built with that macro by a
    // crate speaking this descriptor version.
    let entry = unsafe { library.get::<EntryFn>(ENTRY_SYMBOL.as_bytes()) }.map_err(|e| {
        Error::EntryMissing {
            path: source.to_path_buf(),
            symbol: ENTRY_SYMBOL,
            message: with_causes(&e),
        }
    })?;
    let mut message: Option<Message> = None;
    let mut call = EntryCall {
        allocator: footprint.heap.lend(),
        section: std::ptr::null(),
        object: RawObject {
            instance: std::ptr::null_mut(),
            vtable: std::ptr::null(),
            drop: noop_drop,
            panics: std::ptr::null(),
            schema: 0,
            snapshot: None,
            merge: None,
            downgrade: None,
        },
        error: MessageSink::new(&mut message),
        prior: carry
            .prior
            .as_ref()
            .map_or(std::ptr::null(), |p| p.bytes.as_ptr()),
        prior_len: carry.prior.as_ref().map_or(0, |p| p.bytes.len()),
        prior_schema: carry.prior.as_ref().map_or(0, |p| p.schema),
        has_prior: u32::from(carry.prior.is_some()),
        cold_on_failure: u32::from(carry.cold_on_failure),
        state: STATE_NONE,
        logger: &crate::logs::host::HOST_LOGGER,
        imports: imports.raw().0,
        imports_len: imports.raw().1,
        spawner: &crate::tasks::host::HOST_SPAWNER,
    };
    let started = Instant::now();
    // SAFETY: `call` is a valid `EntryCall` that lives across the call (its
    // `prior` points into `carry`, which outlives it); the entry point
    // catches every panic of the plugin's constructor.
    let status = unsafe { entry(&mut call) };
    if carry.prior.is_some() {
        carry.report.restore = started.elapsed();
    }
    let object = call.object;
    let returned_section = call.section;
    let state = call.state;
    // The section the running code returns must be the one the file
    // showed: otherwise the section and the code disagree.
    let returned = (!returned_section.is_null()).then(|| {
        // SAFETY: a non-null pointer returned by the entry point points to
        // the plugin's static section, at least as long as the file's
        // (the handshake read its length from it), mapped while `library`
        // is open.
        unsafe { std::slice::from_raw_parts(returned_section, section.len()) }
    });
    if returned != Some(section) {
        if status == ENTRY_OK {
            // SAFETY: the entry point reported success, so `object` holds a
            // live instance and its destructor.
            unsafe { (object.drop)(object.instance) };
        }
        return Err(Error::DescriptorMismatch {
            path: source.to_path_buf(),
            field: "entry point descriptor",
            expected: "the descriptor and type table in the .liveswap section".into(),
            found: "a different descriptor".into(),
        });
    }
    if status != ENTRY_OK && state == STATE_FAILED {
        let message = message.unwrap_or_default();
        return Err(Error::Restore {
            path: source.to_path_buf(),
            schema: carry.prior.as_ref().map_or(0, |p| p.schema),
            panicked: status == ENTRY_PANICKED,
            message: message.message,
            location: message.location,
        });
    }
    if status != ENTRY_OK {
        let message = message.unwrap_or_default();
        return Err(Error::ConstructorFailed {
            path: source.to_path_buf(),
            panicked: status == ENTRY_PANICKED,
            message: message.message,
            location: message.location,
        });
    }
    carry.report.to_schema = object.snapshot.is_some().then_some(object.schema);
    carry.report.restored = state == STATE_RESTORED;
    if state == STATE_COLD {
        let message = message.unwrap_or_default();
        tracing::warn!(path = %source.display(), reason = %message.message, "plugin state not restored: started cold");
        carry.report.cold = Some(message.message);
    }
    if state != STATE_RESTORED {
        // Not carried: nothing for the replaced version to merge later.
        carry.prior = None;
    }
    Ok(object)
}

/// An error's message followed by its causes' (libloading puts the
/// loader's own words in the cause).
fn with_causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

unsafe extern "C" fn noop_drop(_: *mut std::ffi::c_void) {}

/// Takes back what the library's code registered and closes it, unless
/// something still holds it (then the handle comes back, to try again),
/// and checks that it is gone. With `explain`, a report names what started
/// the threads that hold it (from the copy's symbol table).
fn close(
    library: Library,
    image: &Stored,
    footprint: &Footprint,
    explain: bool,
) -> (Outcome, Option<Library>) {
    if let Err(mut holdup) = footprint::release(footprint) {
        if explain && let Ok(mapping) = image.map() {
            holdup.explain(mapping.bytes(), footprint);
        }
        return (Outcome::Pinned(holdup.to_string()), Some(library));
    }
    // Nothing of it runs any more (`release`): forgotten before `dlclose`,
    // so that a library mapped at its addresses next is never taken for it.
    footprint.forget();
    if let Err(e) = library.close() {
        return (Outcome::Pinned(format!("dlclose failed: {e}")), None);
    }
    let ranges = footprint.ranges();
    if image::loader_has(&image.path) {
        return (
            Outcome::Pinned(
                "the loader keeps it loaded after dlclose: a thread-local destructor was \
                 registered with the C library directly (by a library constructor, before the \
                 hooks were in place) on a thread still alive"
                    .into(),
            ),
            None,
        );
    }
    if image::still_mapped(ranges, image.dev, image.ino) {
        return (
            Outcome::Pinned(
                "dlclose succeeded but part of the library is still mapped at its addresses".into(),
            ),
            None,
        );
    }
    MAPPED_IN_PROCESS.fetch_sub(1, Ordering::Relaxed);
    // SAFETY: the library is closed, and verified gone from the loader's
    // list and from the address space: none of its code can run again.
    unsafe { footprint.heap.settle() };
    (Outcome::Unloaded, None)
}

/// Unloads a plugin that was never published, on this thread. What does
/// not go is left as it is: mapped, its copy open.
pub(crate) fn discard(plugin: Plugin) {
    let (outcome, remains) = plugin.unload();
    if outcome != Outcome::Unloaded {
        tracing::warn!(?outcome, "discarded plugin stays mapped");
        std::mem::forget(remains);
    }
}

impl Plugin {
    /// Its heap account.
    pub(crate) fn heap(&self) -> Arc<crate::heap::Account> {
        Arc::clone(&self.footprint.heap)
    }

    /// Destroys the instance, unloads the library (unless that would crash
    /// the process) and verifies the unload.
    pub(crate) fn unload(self) -> (Outcome, Remains) {
        let Plugin {
            object,
            library,
            image,
            footprint,
            imports,
            ..
        } = self;
        // SAFETY: the instance was created by this library's entry point and
        // is dropped exactly once, here, while the library is still mapped.
        unsafe { (object.drop)(object.instance) };
        let (outcome, library) = close(library, &image, &footprint, true);
        let gone = outcome == Outcome::Unloaded;
        (
            outcome,
            Remains {
                gone,
                image,
                footprint,
                library,
                imports: std::mem::ManuallyDrop::new(imports),
            },
        )
    }
}
