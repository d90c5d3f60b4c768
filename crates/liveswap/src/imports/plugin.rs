//! The plugin's half: the imports the host handed to the entry point, and
//! [`import`], which finds one by its section.

use std::ops::Deref;
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

use super::wire::RawImport;
use crate::interface::Interface;

/// The host's list (in host memory, alive while this library is loaded).
static LIST: AtomicPtr<RawImport> = AtomicPtr::new(std::ptr::null_mut());
static LEN: AtomicUsize = AtomicUsize::new(0);

/// Keeps the host's list for [`import`]; called by the entry point.
pub(crate) fn install(list: *const RawImport, len: usize) {
    LEN.store(if list.is_null() { 0 } else { len }, Ordering::Relaxed);
    LIST.store(list.cast_mut(), Ordering::Release);
}

/// A host service this plugin imports: derefs to the interface's view,
/// whose methods call the host's object and return `Result<_, CallError>`
/// (`Err` if the host's code panicked). Clone it into a spawned future or
/// a thread: the host's object lives as long as this library is loaded.
pub struct Import<I: Interface + ?Sized> {
    view: I::View,
    instance: *const std::ffi::c_void,
    vtable: *const I::VTable,
}

// SAFETY: the view is `Send + Sync` (`Interface::View` requires it), and the two pointers only
// rebuild it (`clone`): they are the host's object, `Send + Sync`
// (`Options::provide` requires it), and its immutable vtable.
unsafe impl<I: Interface + ?Sized> Send for Import<I> {}
// SAFETY: as above.
unsafe impl<I: Interface + ?Sized> Sync for Import<I> {}

impl<I: Interface + ?Sized> Clone for Import<I> {
    fn clone(&self) -> Self {
        Import {
            // SAFETY: the pointers `import` was given for this object,
            // which the host keeps alive while this library is loaded.
            view: unsafe { I::view(self.instance, self.vtable) },
            instance: self.instance,
            vtable: self.vtable,
        }
    }
}

impl<I: Interface + ?Sized> Deref for Import<I> {
    type Target = I::View;
    fn deref(&self) -> &I::View {
        &self.view
    }
}

impl<I: Interface + ?Sized> std::fmt::Debug for Import<I> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Import")
            .field("interface", &I::NAME)
            .finish()
    }
}

/// The host does not provide interface `interface` with these types.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the host provides no `{interface}` with the types this plugin was built with (declare it \
     in `export!(..., imports(dyn ...))` to have the host refuse the plugin before it loads)"
)]
pub struct ImportError {
    /// The interface's name.
    pub interface: &'static str,
}

/// The host's object for interface `I`, when this code runs in a plugin
/// whose host provides one with exactly the types `I` has here (the
/// sections are compared, byte for byte).
///
/// # Errors
///
/// [`ImportError`] when the host provides no such object (or this is not
/// a plugin).
pub fn import<I: Interface + ?Sized>() -> Result<Import<I>, ImportError> {
    let list = LIST.load(Ordering::Acquire);
    let len = LEN.load(Ordering::Relaxed);
    let missing = ImportError { interface: I::NAME };
    if list.is_null() {
        return Err(missing);
    }
    // SAFETY: the entry point stored the host's list and its length; the
    // host keeps it alive while this library is loaded.
    let raws = unsafe { std::slice::from_raw_parts(list, len) };
    let expected = crate::descriptor::expected_section::<I>();
    for raw in raws {
        // SAFETY: the host's section bytes, alive like the list.
        let section = unsafe { std::slice::from_raw_parts(raw.section, raw.section_len) };
        if section == &expected[..] {
            // SAFETY: the host's object for an interface whose descriptor
            // and type table (compiler, target, library version, name,
            // every method and type) equal `I`'s here, so its vtable is an
            // `I::VTable`; the host keeps the object alive while this
            // library is loaded.
            let view = unsafe { I::view(raw.instance, raw.vtable.cast()) };
            return Ok(Import {
                view,
                instance: raw.instance,
                vtable: raw.vtable.cast(),
            });
        }
    }
    Err(missing)
}
