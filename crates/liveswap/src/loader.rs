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
use std::time::{Duration, Instant};

use libloading::os::unix::Library;

use crate::abi::host::MessageSink;
use crate::abi::{
    ENTRY_OK, ENTRY_PANICKED, EntryCall, EntryFn, Message, RawObject, STATE_COLD, STATE_FAILED,
    STATE_NONE, STATE_RESTORED,
};
use crate::check::{Expected, Signer, TrustPolicy};
use crate::descriptor::ENTRY_SYMBOL;
use crate::error::Error;
use crate::footprint::{self, Footprint, patch};
use crate::handshake;
use crate::history::ContentHash;
use crate::imports::host::Imports;
use crate::interface::Interface;
use crate::load::image;
use crate::load::open;
use crate::load::probe;
use crate::load::store::{self, StorePolicy, Stored};
use crate::warm::{self, Carry, HandoverSlot, Prior, StatePolicy, StateReport};

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

/// The version serving when a load starts: its instance, whose state the
/// new one may restore, and its generation.
#[derive(Clone, Copy)]
pub(crate) struct Serving<'a> {
    pub object: &'a RawObject,
    pub generation: u64,
    /// The schema the new version reads, when it is known to be another
    /// (a rollback): the state is then asked for in it.
    pub schema: Option<u32>,
}

/// Time spent in each step of a load, and what the handshake warned of.
#[derive(Debug, Default)]
pub(crate) struct LoadInfo {
    pub copy: Duration,
    pub check: Duration,
    pub load: Duration,
    pub warnings: Vec<String>,
    pub signer: Option<Signer>,
    /// What became of the serving version's state.
    pub state: StateReport,
    /// The snapshot the new instance was restored from.
    pub prior: Option<Prior>,
    /// The hash of the bytes checked and mapped, once read.
    pub hash: Option<ContentHash>,
    /// The check the caller ran between handshake and `dlopen`.
    pub gate: Duration,
    /// For a rollback asked for because of one generation (probation):
    /// publish only while that generation still serves.
    pub expect_current: Option<u64>,
}

/// A candidate plugin between its handshake and `dlopen`: checked, not yet
/// mapped, no code of it run. What a gate given to
/// [`SwapOptions::before_load`](crate::SwapOptions::before_load) sees.
pub struct Candidate<'a> {
    source: &'a Path,
    hash: ContentHash,
    stored: &'a Stored,
    state: Option<(u32, &'a [u8])>,
    cold_on_state_failure: bool,
}

impl Candidate<'_> {
    /// The path it was read from.
    pub fn source(&self) -> &Path {
        self.source
    }
    /// The hash of its bytes.
    pub fn content_hash(&self) -> ContentHash {
        self.hash
    }
    /// The serving version's state snapshot that the candidate will be
    /// restored from, as (schema, bytes), when there is one: taken before
    /// the gate runs, so that a check in a child process can restore from
    /// the very same state.
    pub fn state(&self) -> Option<(u32, &[u8])> {
        self.state
    }
    /// Whether a restore that fails starts the candidate cold rather than
    /// refusing it (`Options::cold_on_state_failure`), for a check that
    /// restores it elsewhere to do the same.
    pub fn cold_on_state_failure(&self) -> bool {
        self.cold_on_state_failure
    }
    /// A read-only descriptor of its private copy (the bytes checked,
    /// immutable), for example to hand to a child process, which can load
    /// it as `/proc/self/fd/N`.
    pub fn fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.stored.fd()
    }
}

/// A check run on a candidate before it is mapped; `Err` refuses it.
pub(crate) struct Gate<'g> {
    /// The serving version's hash, when a build with the same bytes is to
    /// be skipped ([`Error::Unchanged`]): checked before anything else,
    /// the state snapshot included.
    pub skip_if: Option<ContentHash>,
    pub check: &'g dyn Fn(&Candidate<'_>) -> Result<(), Error>,
    /// The check wants the serving version's state snapshot (an isolated
    /// preflight restores from it): it is then taken before the check,
    /// not after (where a refused candidate costs none).
    pub wants_state: bool,
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

/// The name a copy shows in `/proc/self/maps` after its handle's tag.
fn label(source: &Path) -> String {
    source
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "plugin.so".into())
}

fn copy_error(source: &Path, (dest, err): (std::path::PathBuf, std::io::Error)) -> Error {
    Error::Copy {
        path: source.to_path_buf(),
        dest,
        source: err,
    }
}

/// The safe-path check, then one open of `path` and its private copy:
/// what every load and inspection starts with. Returns the copy and the
/// path check's warning, if the policy let a violation through.
fn store_source(
    path: &Path,
    policy: &LoadPolicy,
) -> Result<(Stored, Vec<String>, Option<Signer>), Error> {
    check_keys(path)?;
    check_descriptors(path)?;
    let warnings: Vec<String> = policy.trust.check_path(path)?.into_iter().collect();
    let src = open::open(path, policy.max_file_size)?;
    if let Err(refused) = probe::probe(path, &src.file, src.len) {
        // A file written while it was probed is refused as changed (and
        // retried by a watcher), not as what its half-written bytes say.
        src.unchanged(path)?;
        return Err(refused);
    }
    // The signature is read now, so that the one pass that copies and
    // hashes the bytes also digests them for it.
    let expected = policy.trust.expect_signature(path)?;
    let prehash = expected.as_ref().and_then(Expected::prehash);
    let (stored, fed) = store::store(
        &src.file,
        src.len,
        path.parent(),
        &policy.store,
        &label(path),
        prehash.as_ref(),
    )
    .map_err(|e| copy_error(path, e))?;
    src.unchanged(path)?;
    let signer = match (&expected, fed) {
        (None, _) => None,
        (Some(expected), Some(fed)) => Some(expected.finish(fed)?),
        // A legacy signature: verified over the whole copy, mapped.
        (Some(expected), None) => {
            let mapping = stored
                .map()
                .map_err(|e| copy_error(path, (stored.path.clone(), e)))?;
            Some(expected.finish_over(mapping.bytes())?)
        }
    };
    if let Some(signer) = &signer {
        policy.trust.check_release(path, signer)?;
    }
    Ok((stored, warnings, signer))
}

/// File descriptors a load leaves free for the host.
pub(crate) const DESCRIPTOR_RESERVE: u64 = 32;

/// Refuses a load when the process is near its descriptor limit: a load
/// opens a few (source, copy, signature, directory walks), and taking the
/// last ones would make the host's own `accept` or `open` fail. Counts
/// `/proc/self/fd` (a few microseconds for a few hundred descriptors);
/// where it cannot be read, nothing is refused.
fn check_descriptors(path: &Path) -> Result<(), Error> {
    let Ok(limit) = rustix::process::getrlimit(rustix::process::Resource::Nofile)
        .current
        .ok_or(())
    else {
        return Ok(());
    };
    let Ok(entries) = std::fs::read_dir("/proc/self/fd") else {
        return Ok(());
    };
    // The directory's own descriptor is one of them.
    let open = (entries.count() as u64).saturating_sub(1);
    if open.saturating_add(DESCRIPTOR_RESERVE) > limit {
        return Err(Error::DescriptorsExhausted {
            path: path.to_path_buf(),
            open,
            limit,
            reserve: DESCRIPTOR_RESERVE,
        });
    }
    Ok(())
}

/// Refuses a load when the process is about to run out of pthread keys.
fn check_keys(path: &Path) -> Result<(), Error> {
    match footprint::keys::free() {
        Some(free) if free < crate::registry::KEY_RESERVE => Err(Error::KeysExhausted {
            path: path.to_path_buf(),
            free,
            reserve: crate::registry::KEY_RESERVE,
        }),
        _ => Ok(()),
    }
}

/// Runs the handshake of interface `I` on the file at `path`, without
/// loading it (a private copy is checked, as a load would); returns the
/// hazards it read from the file's imports.
pub(crate) fn check_file<I: Interface + ?Sized>(
    path: &Path,
    policy: &LoadPolicy,
) -> Result<Vec<String>, Error> {
    let (stored, mut warnings, _) = store_source(path, policy)?;
    let mapping = stored
        .map()
        .map_err(|e| copy_error(path, (stored.path.clone(), e)))?;
    warnings.extend(handshake::check::<I>(path, mapping.bytes())?.warnings);
    policy.imports.check_file(path, mapping.bytes())?;
    Ok(warnings)
}

/// Loads the plugin at `source`.
pub(crate) fn load<I: Interface + ?Sized>(
    source: &Path,
    policy: &LoadPolicy,
    serving: Option<Serving<'_>>,
    gate: Option<Gate<'_>>,
) -> Result<(Plugin, LoadInfo), Error> {
    let started = Instant::now();
    let (stored, mut warnings, signer) = store_source(source, policy)?;
    let (plugin, mut info) = load_stored::<I>(
        source,
        Arc::new(stored),
        started.elapsed(),
        policy,
        signer,
        serving,
        gate,
    )?;
    warnings.append(&mut info.warnings);
    info.warnings = warnings;
    Ok((plugin, info))
}

/// Loads a fresh copy of `kept` (a copy made by an earlier load of
/// `source`): what `rollback` does, so that it never depends on the source
/// file or on any name.
pub(crate) fn reload<I: Interface + ?Sized>(
    kept: &Stored,
    source: &Path,
    policy: &LoadPolicy,
    serving: Option<Serving<'_>>,
) -> Result<(Plugin, LoadInfo), Error> {
    let started = Instant::now();
    check_keys(source)?;
    let file = kept
        .file()
        .map_err(|e| copy_error(source, (kept.path.clone(), e)))?;
    let (stored, _) = store::store(
        &file,
        kept.len,
        source.parent(),
        &policy.store,
        &label(source),
        None::<&()>,
    )
    .map_err(|e| copy_error(source, e))?;
    // The kept copy was checked and verified when it was first loaded, and
    // no name reaches it since: its signer is carried by the caller.
    load_stored::<I>(
        source,
        Arc::new(stored),
        started.elapsed(),
        policy,
        None,
        serving,
        None,
    )
}

/// Checks the stored copy (the handshake and the imports; its signature,
/// `signer`, was verified as it was stored), takes the serving
/// version's state snapshot, and loads it.
fn load_stored<I: Interface + ?Sized>(
    source: &Path,
    image: Arc<Stored>,
    copy: Duration,
    policy: &LoadPolicy,
    signer: Option<Signer>,
    serving: Option<Serving<'_>>,
    gate: Option<Gate<'_>>,
) -> Result<(Plugin, LoadInfo), Error> {
    let mut info = LoadInfo {
        copy,
        ..LoadInfo::default()
    };
    let started = Instant::now();
    let mapping = image
        .map()
        .map_err(|e| copy_error(source, (image.path.clone(), e)))?;
    info.signer = signer;
    let imports = &policy.imports;
    let checked = handshake::check::<I>(source, mapping.bytes())?;
    imports.check_file(source, mapping.bytes())?;
    let sites = patch::sites(mapping.bytes());
    let hash = image.content_hash();
    drop(mapping);
    info.hash = Some(hash);
    info.check = started.elapsed();
    for warning in &checked.warnings {
        tracing::warn!(path = %source.display(), %warning, "plugin hazard");
    }
    info.warnings = checked.warnings;
    // The file passed every check: only now is the serving version asked
    // for its state, just before the new constructor runs, or before the
    // gate when it restores a copy of it in a child process.
    let take_state = || match (serving, &policy.first_state) {
        (Some(s), _) => warm::take(s.object, s.generation, s.schema, policy.state, source),
        (None, Some(first)) => Ok(warm::given(
            first.0,
            first.1.clone(),
            policy.state.cold_on_failure,
        )),
        (None, None) => Ok(Carry::default()),
    };
    let mut carry = None;
    if let Some(gate) = gate {
        if gate.skip_if == Some(hash) {
            return Err(Error::Unchanged {
                path: source.to_path_buf(),
                hash,
            });
        }
        if gate.wants_state {
            carry = Some(take_state()?);
        }
        let carried = carry.as_ref();
        let started = Instant::now();
        let verdict = (gate.check)(&Candidate {
            source,
            hash,
            stored: &image,
            state: carried
                .and_then(|carry| carry.prior.as_ref())
                .map(|prior| (prior.schema, prior.bytes.as_slice())),
            cold_on_state_failure: policy.state.cold_on_failure,
        });
        info.gate = started.elapsed();
        verdict?;
    }
    let mut carry = match carry {
        Some(carry) => carry,
        None => take_state()?,
    };
    let started = Instant::now();
    let heap_off = if policy.reclaim_heap {
        crate::heap::unadopted::<I>().or_else(|| policy.imports.unwalked())
    } else {
        Some("turned off for this slot (`Options::reclaim_heap(false)`)".into())
    };
    let result = open_and_construct(
        source,
        &image,
        &checked.section,
        &sites,
        policy,
        heap_off,
        &mut carry,
    );
    info.load = started.elapsed();
    let (library, footprint, object) = result?;
    info.state = carry.report;
    info.prior = carry.prior;
    LOADED_IN_PROCESS.fetch_add(1, Ordering::Relaxed);
    Ok((
        Plugin {
            generation: 0,
            object,
            library,
            image,
            footprint,
            imports: imports.clone(),
            handover: HandoverSlot::default(),
            hash,
        },
        info,
    ))
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
    footprint.set_executor(policy.executor.clone());
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
