//! The host's half: the objects a slot provides, and the check of a
//! plugin's declared imports against them, on the file's bytes, before
//! `dlopen`.

use std::any::Any;
use std::ffi::c_void;
use std::path::Path;
use std::sync::Arc;

use object::read::{Object, ObjectSection};

use super::wire::RawImport;
use crate::descriptor::{DESCRIPTOR_SIZE, Descriptor, field_text};
use crate::error::Error;
use crate::interface::{Export, Interface};

/// The ELF section where `export!` places each imported interface's
/// descriptor and type table.
pub const IMPORTS_SECTION: &str = ".liveswap_imports";

/// One object a host provides.
struct Provided {
    name: &'static str,
    section: Arc<[u8]>,
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
            _object: object,
        });
        Imports(Arc::new(List { provided, raws }))
    }

    /// The list handed to the entry point, valid while `self` lives.
    pub(crate) fn raw(&self) -> (*const RawImport, usize) {
        (self.0.raws.as_ptr(), self.0.raws.len())
    }

    /// The names of the interfaces provided.
    pub(crate) fn names(&self) -> Vec<&'static str> {
        self.0.provided.iter().map(|p| p.name).collect()
    }

    /// Checks the imports the file at `path` (its bytes: `bytes`) declares
    /// against the objects provided: each must be provided, with the same
    /// descriptor and type table.
    pub(crate) fn check_file(&self, path: &Path, bytes: &[u8]) -> Result<(), Error> {
        let Ok(file) = object::File::parse(bytes) else {
            return Ok(()); // the handshake has already refused it
        };
        let Some(section) = file.section_by_name(IMPORTS_SECTION) else {
            return Ok(());
        };
        let data = section.data().map_err(|e| Error::NoDescriptor {
            path: path.to_path_buf(),
            reason: format!("section {IMPORTS_SECTION} is unreadable: {e}"),
        })?;
        let mut offset = 0;
        while offset < data.len() {
            let rest = &data[offset..];
            let Some(declared) = Descriptor::from_bytes(rest) else {
                return Err(Error::NoDescriptor {
                    path: path.to_path_buf(),
                    reason: format!("section {IMPORTS_SECTION} ends inside a descriptor"),
                });
            };
            let name = field_text(&declared.interface_name);
            let mut candidates = self.0.provided.iter().filter(|p| p.name == name);
            let Some(first) = candidates.next() else {
                return Err(Error::ImportMissing {
                    path: path.to_path_buf(),
                    interface: name,
                    provided: self.names().iter().map(|n| n.to_string()).collect(),
                });
            };
            // Of several objects of that name, one with the same types
            // serves; the difference is named against the first.
            let matched =
                candidates.any(|p| crate::handshake::compare(path, rest, &p.section).is_ok());
            let checked = if matched {
                Ok(())
            } else {
                crate::handshake::compare(path, rest, &first.section).map(|_| ())
            };
            checked.map_err(|e| Error::ImportMismatch {
                path: path.to_path_buf(),
                interface: name.clone(),
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
            })?;
            let len = DESCRIPTOR_SIZE.saturating_add(declared.table_len as usize);
            offset = offset.saturating_add(len.next_multiple_of(8));
        }
        Ok(())
    }
}
