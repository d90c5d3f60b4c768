//! The host's half: the objects a slot provides, and the check of a
//! plugin's declared imports against them, on the file's bytes, before
//! `dlopen`.

use std::any::Any;
use std::ffi::c_void;
use std::path::Path;
use std::sync::Arc;

use object::read::{Object, ObjectSection};

use super::wire::RawImport;
use crate::descriptor::{Descriptor, field_text};
use crate::error::Error;
use crate::interface::{Export, Interface};

/// The ELF section where `export!` places each imported interface's
/// descriptor and type table.
pub const IMPORTS_SECTION: &str = ".liveswap_imports";

/// One object a host provides.
struct Provided {
    name: &'static str,
    section: Arc<[u8]>,
    /// Why what a plugin passes it cannot be walked, if it cannot.
    unwalked: Option<String>,
    /// Keeps the object (and so `RawImport::instance`) alive.
    _object: Arc<dyn Any + Send + Sync>,
}

struct List {
    provided: Vec<Provided>,
    /// What the entry point is handed: one entry per `provided`, pointing
    /// into it.
    raws: Vec<RawImport>,
}

// SAFETY: the raw pointers point into the objects and sections `provided`
// owns (each object `Send + Sync`, as every interface requires of its
// implementors; the sections immutable bytes), and into vtables of host
// code, which is never unloaded.
unsafe impl Send for List {}
// SAFETY: as above; nothing is mutated after construction.
unsafe impl Sync for List {}

/// The host services a slot provides; cheap to clone (one `Arc`), and
/// each loaded generation keeps a clone until its library is closed.
#[derive(Clone)]
pub(crate) struct Imports(Arc<List>);

impl Default for Imports {
    fn default() -> Self {
        Imports(Arc::new(List {
            provided: Vec::new(),
            raws: Vec::new(),
        }))
    }
}

impl std::fmt::Debug for Imports {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.0.provided.iter().map(|p| p.name))
            .finish()
    }
}

impl Imports {
    /// These imports and `object` as interface `I` (replacing an earlier
    /// object of the same interface: same name and same types; another
    /// interface of the same name is kept beside it, and a plugin gets
    /// the one whose types match its own).
    pub(crate) fn with<I, T>(&self, object: Arc<T>) -> Imports
    where
        I: Interface + Export<T> + ?Sized,
        T: Send + Sync + 'static,
    {
        let instance = Arc::as_ptr(&object).cast::<c_void>();
        let vtable = (<I as Export<T>>::vtable() as *const I::VTable).cast::<c_void>();
        let section = crate::descriptor::expected_section::<I>();
        let other = |p: &Provided| p.section != section;
        let mut provided: Vec<Provided> = self
            .0
            .provided
            .iter()
            .filter(|p| other(p))
            .map(|p| Provided {
                name: p.name,
                section: Arc::clone(&p.section),
                unwalked: p.unwalked.clone(),
                _object: Arc::clone(&p._object),
            })
            .collect();
        let mut raws: Vec<RawImport> = self
            .0
            .provided
            .iter()
            .zip(&self.0.raws)
            .filter(|(p, _)| other(p))
            .map(|(_, raw)| *raw)
            .collect();
        raws.push(RawImport {
            section: section.as_ptr(),
            section_len: section.len(),
            instance,
            vtable,
        });
        provided.push(Provided {
            name: I::NAME,
            section,
            unwalked: crate::heap::unadopted::<I>(),
            _object: object,
        });
        Imports(Arc::new(List { provided, raws }))
    }

    /// The list handed to the entry point, valid while `self` lives.
    pub(crate) fn raw(&self) -> (*const RawImport, usize) {
        (self.0.raws.as_ptr(), self.0.raws.len())
    }

    /// Why a plugin's heap cannot be reclaimed because of what it may
    /// pass a host service, if it cannot.
    pub(crate) fn unwalked(&self) -> Option<String> {
        self.0.provided.iter().find_map(|p| {
            p.unwalked
                .as_ref()
                .map(|why| format!("host service `{}`: {why}", p.name))
        })
    }

    /// The names of the interfaces provided.
    pub(crate) fn names(&self) -> Vec<&'static str> {
        self.0.provided.iter().map(|p| p.name).collect()
    }

    /// Checks the imports the file at `path` (its bytes: `bytes`) declares
    /// against the objects provided: each must be provided, with the same
    /// descriptor and type table.
    pub(crate) fn check_file(&self, path: &Path, bytes: &[u8]) -> Result<(), Error> {
        for (name, section) in declared(path, bytes)? {
            let sections: Vec<&[u8]> = self
                .0
                .provided
                .iter()
                .filter(|p| p.name == name)
                .map(|p| &p.section[..])
                .collect();
            check_one(path, &name, section, &sections, || {
                self.names().iter().map(|n| n.to_string()).collect()
            })?;
        }
        Ok(())
    }
}

/// The imports the file at `path` (its bytes: `bytes`) declares: each
/// interface's name and section (descriptor and type table), in the order
/// of the file's `.liveswap_imports` section.
pub(crate) fn declared<'a>(path: &Path, bytes: &'a [u8]) -> Result<Vec<(String, &'a [u8])>, Error> {
    let Ok(file) = object::File::parse(bytes) else {
        return Ok(Vec::new()); // the handshake refuses it
    };
    let Some(section) = file.section_by_name(IMPORTS_SECTION) else {
        return Ok(Vec::new());
    };
    let unreadable = |reason: String| Error::NoDescriptor {
        path: path.to_path_buf(),
        reason: format!("section {IMPORTS_SECTION} is unreadable: {reason}"),
    };
    let data = section.data().map_err(|e| unreadable(e.to_string()))?;
    crate::check::host_section::host_sections(data)
        .map_err(unreadable)?
        .into_iter()
        .map(|s| {
            let name = Descriptor::from_bytes(s)
                .map(|d| field_text(&d.interface_name))
                .ok_or_else(|| unreadable("an entry is cut short".into()))?;
            Ok((name, s))
        })
        .collect()
}

/// Checks one declared import (`section`, of interface `name`) against the
/// host's sections of that name (`candidates`): one with the same types
/// must be among them; the difference is named against the first.
pub(crate) fn check_one(
    path: &Path,
    name: &str,
    section: &[u8],
    candidates: &[&[u8]],
    provided: impl FnOnce() -> Vec<String>,
) -> Result<(), Error> {
    let Some(first) = candidates.first() else {
        return Err(Error::ImportMissing {
            path: path.to_path_buf(),
            interface: name.to_string(),
            provided: provided(),
        });
    };
    if candidates
        .iter()
        .any(|c| crate::handshake::compare(path, section, c).is_ok())
    {
        return Ok(());
    }
    let Err(e) = crate::handshake::compare(path, section, first) else {
        return Ok(());
    };
    Err(Error::ImportMismatch {
        path: path.to_path_buf(),
        interface: name.to_string(),
        detail: match e {
            Error::LayoutMismatch { detail, .. } => detail,
            Error::DescriptorMismatch {
                field,
                expected,
                found,
                ..
            } => format!("{field}: the host has {expected}, the plugin {found}"),
            other => other.to_string(),
        },
    })
}
