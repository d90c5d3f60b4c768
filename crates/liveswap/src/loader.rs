//! The loader: turns a path into a running plugin instance, and back.
//!
//! Loading is, in order: check who could have written the path (the
//! safe-path policy, `check`); read the source file once into memory;
//! verify its signature on those bytes, when keys are trusted; check the
//! handshake on those bytes (`handshake`); write them to a private copy
//! under a unique name; `dlopen` the copy with `RTLD_NOW | RTLD_LOCAL`;
//! resolve the entry point; call it. The bytes checked are the bytes mapped,
//! whatever happens to the source meanwhile, and glibc never sees a path or
//! inode it has cached (it caches by both, see DESIGN.md).
//!
//! Unloading is the reverse: drop the instance (its destructor runs while
//! its code is mapped), `dlclose`, then verify that the library is really
//! gone (`verify`), and delete the copy.

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use libloading::os::unix::Library;

use crate::abi::alloc::HOST_ALLOCATOR;
use crate::abi::host::MessageSink;
use crate::abi::{ENTRY_OK, ENTRY_PANICKED, EntryCall, EntryFn, Message, RawObject};
use crate::check::{LoadPolicy, Signer};
use crate::descriptor::ENTRY_SYMBOL;
use crate::error::Error;
use crate::handshake;
use crate::interface::Interface;
use crate::verify::{self, Residue};

/// Generations loaded by this process, all handles together. Each loaded
/// copy may use per-library resources that are never returned (DESIGN.md:
/// pthread keys), so this is watched (`stats`).
pub(crate) static LOADED_IN_PROCESS: AtomicU64 = AtomicU64::new(0);
static ATTEMPTS: AtomicU64 = AtomicU64::new(0);

/// The private directory that holds a handle's copies (mode 0700, removed
/// with its last user).
#[derive(Debug)]
pub(crate) struct PrivateDir(tempfile::TempDir);

impl PrivateDir {
    pub(crate) fn create(parent: Option<&Path>) -> Result<Arc<Self>, Error> {
        let parent = parent.map_or_else(std::env::temp_dir, Path::to_path_buf);
        tempfile::Builder::new()
            .prefix("liveswap-")
            .permissions(fs::Permissions::from_mode(0o700))
            .tempdir_in(&parent)
            .map(|d| Arc::new(PrivateDir(d)))
            .map_err(|source| Error::CopyDir {
                dir: parent,
                source,
            })
    }

    pub(crate) fn path(&self) -> &Path {
        self.0.path()
    }
}

/// Time spent in each step of a load, and what the handshake warned of.
#[derive(Debug, Default, Clone)]
pub(crate) struct LoadInfo {
    pub copy: Duration,
    pub check: Duration,
    pub load: Duration,
    pub warnings: Vec<String>,
    pub signer: Option<Signer>,
}

/// A loaded plugin: its instance, its library and its private copy.
pub(crate) struct Plugin {
    pub generation: u64,
    pub object: RawObject,
    library: Library,
    pub copy: PathBuf,
    _dir: Arc<PrivateDir>,
}

// SAFETY: the instance is of a type the interface requires to be
// `Send + Sync` (the plugin-side `Export` impl exists only for such types),
// and a `Library` handle may be closed from any thread.
unsafe impl Send for Plugin {}
// SAFETY: shared references to a `Plugin` give access to nothing but its
// plain fields; the instance is reached only through the interface view,
// whose `Sync` the interface guarantees.
unsafe impl Sync for Plugin {}

/// What became of a plugin after unload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    Unloaded,
    Pinned(String),
}

/// The error for an I/O failure on the source file.
fn source_error(path: &Path, source: io::Error) -> Error {
    match source.kind() {
        io::ErrorKind::NotFound => Error::NotFound {
            path: path.to_path_buf(),
        },
        _ => Error::Unreadable {
            path: path.to_path_buf(),
            source,
        },
    }
}

fn classify(path: &Path) -> Result<(), Error> {
    let meta = fs::metadata(path).map_err(|e| source_error(path, e))?;
    let ft = meta.file_type();
    let what = if ft.is_file() {
        return Ok(());
    } else if ft.is_dir() {
        "a directory"
    } else if ft.is_fifo() {
        "a fifo"
    } else if ft.is_socket() {
        "a socket"
    } else if ft.is_block_device() || ft.is_char_device() {
        "a device"
    } else {
        "not a regular file"
    };
    Err(Error::NotAFile {
        path: path.to_path_buf(),
        what,
    })
}

fn read_source(path: &Path) -> Result<Vec<u8>, Error> {
    classify(path)?;
    fs::read(path).map_err(|e| source_error(path, e))
}

fn write_copy(
    dir: &PrivateDir,
    source: &Path,
    generation: u64,
    bytes: &[u8],
) -> Result<PathBuf, Error> {
    let attempt = ATTEMPTS.fetch_add(1, Ordering::Relaxed);
    let stem = source
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "plugin.so".into());
    let dest = dir.path().join(format!("g{generation}-a{attempt}-{stem}"));
    let write = || {
        fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o700)
            .open(&dest)
            .and_then(|mut f| f.write_all(bytes))
    };
    let result = write().or_else(|e| {
        // A temp-directory cleaner may have removed the private directory
        // under a long-running process: make it again, once.
        if e.kind() != io::ErrorKind::NotFound {
            return Err(e);
        }
        fs::DirBuilder::new().mode(0o700).create(dir.path())?;
        tracing::warn!(dir = %dir.path().display(), "private copy directory was missing; recreated it");
        write()
    });
    match result {
        Ok(()) => Ok(dest),
        Err(source_err) => {
            let _ = fs::remove_file(&dest);
            Err(Error::Copy {
                path: source.to_path_buf(),
                dest,
                source: source_err,
            })
        }
    }
}

/// Loads `source` as generation `generation` of interface `I`.
pub(crate) fn load<I: Interface + ?Sized>(
    source: &Path,
    dir: &Arc<PrivateDir>,
    generation: u64,
    policy: &LoadPolicy,
) -> Result<(Plugin, LoadInfo), Error> {
    let mut info = LoadInfo::default();
    let started = Instant::now();
    info.warnings.extend(policy.check_path(source)?);
    let bytes = read_source(source)?;
    let read_time = started.elapsed();

    let started = Instant::now();
    info.signer = policy.check_signature(source, &bytes)?;
    let checked = handshake::check::<I>(source, &bytes)?;
    info.check = started.elapsed();
    for warning in &checked.warnings {
        tracing::warn!(path = %source.display(), %warning, "plugin hazard");
    }
    info.warnings.extend(checked.warnings);
    let section = checked.section;

    let started = Instant::now();
    let copy = write_copy(dir, source, generation, &bytes)?;
    drop(bytes);
    info.copy = read_time + started.elapsed();

    let started = Instant::now();
    let result = open_and_construct(source, &copy, &section);
    info.load = started.elapsed();
    match result {
        Ok((library, object)) => {
            LOADED_IN_PROCESS.fetch_add(1, Ordering::Relaxed);
            Ok((
                Plugin {
                    generation,
                    object,
                    library,
                    copy,
                    _dir: Arc::clone(dir),
                },
                info,
            ))
        }
        Err(e) => {
            let _ = fs::remove_file(&copy);
            Err(e)
        }
    }
}

fn open_and_construct(
    source: &Path,
    copy: &Path,
    section: &[u8],
) -> Result<(Library, RawObject), Error> {
    // SAFETY: the handshake accepted the file: it was built by this compiler
    // for this target against this interface with `liveswap::export!`, whose
    // code runs no unsound initialisers. Constructors of the library run
    // here; that is what the handshake was for.
    let library = unsafe {
        Library::open(
            Some(copy.as_os_str()),
            libloading::os::unix::RTLD_NOW | libloading::os::unix::RTLD_LOCAL,
        )
    }
    .map_err(|e| Error::Dlopen {
        path: source.to_path_buf(),
        message: with_causes(&e),
    })?;
    match construct(source, &library, section) {
        Ok(object) => Ok((library, object)),
        Err(e) => {
            if let Outcome::Pinned(reason) = close_and_verify(library, copy) {
                tracing::warn!(path = %source.display(), %reason, "rejected plugin stays mapped");
            }
            Err(e)
        }
    }
}

fn construct(source: &Path, library: &Library, section: &[u8]) -> Result<RawObject, Error> {
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
        allocator: &HOST_ALLOCATOR,
        section: std::ptr::null(),
        object: RawObject {
            instance: std::ptr::null_mut(),
            vtable: std::ptr::null(),
            drop: noop_drop,
        },
        error: MessageSink::new(&mut message),
    };
    // SAFETY: `call` is a valid `EntryCall` that lives across the call; the
    // entry point catches every panic of the plugin's constructor.
    let status = unsafe { entry(&mut call) };
    let object = call.object;
    let returned_section = call.section;
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
    if status != ENTRY_OK {
        let message = message.unwrap_or_default();
        return Err(Error::ConstructorFailed {
            path: source.to_path_buf(),
            panicked: status == ENTRY_PANICKED,
            message: message.message,
            location: message.location,
        });
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

/// Closes a library and checks that it is gone.
fn close_and_verify(library: Library, copy: &Path) -> Outcome {
    let closed = library.close();
    let residue = verify::residue(copy);
    let outcome = match (closed, residue) {
        (Err(e), _) => Outcome::Pinned(format!("dlclose failed: {e}")),
        (Ok(()), None) => Outcome::Unloaded,
        (Ok(()), Some(Residue::Loaded)) => Outcome::Pinned(
            "the loader keeps it loaded after dlclose: most likely the plugin registered a \
             thread-local destructor (a thread_local! with Drop, std::thread::spawn, an mpsc \
             timeout, or arc-swap/crossbeam-epoch inside the plugin) on a thread still alive"
                .into(),
        ),
        (Ok(()), Some(Residue::Mapped)) => Outcome::Pinned(
            "dlclose succeeded but the file is still mapped in /proc/self/maps".into(),
        ),
    };
    let _ = fs::remove_file(copy);
    outcome
}

impl Plugin {
    /// Destroys the instance, unloads the library and verifies the unload.
    pub(crate) fn unload(self) -> Outcome {
        let Plugin {
            object,
            library,
            copy,
            ..
        } = self;
        // SAFETY: the instance was created by this library's entry point and
        // is dropped exactly once, here, while the library is still mapped.
        unsafe { (object.drop)(object.instance) };
        close_and_verify(library, &copy)
    }
}
