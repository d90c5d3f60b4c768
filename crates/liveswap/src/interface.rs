//! The contract between a host and its plugins: [`Interface`] on the host
//! side, [`Export`] on the plugin side.
//!
//! An interface is a `#[repr(C)]` table of `extern "C"` function pointers
//! (the *vtable*), plus a host-side *view* type that wraps a pointer to the
//! plugin's instance and a pointer to its vtable, and whose methods call
//! through the table. The view is what a [`Version`](crate::Version) (and so
//! a [`Guard`](crate::Guard)) derefs to.
//!
//! [`#[liveswap::interface]`](crate::interface) generates all of it from a
//! trait, and implements `Interface` for `dyn Trait`, so a host holds a
//! `Slot<dyn Trait>`. Writing one by hand is possible (the tests do) but
//! error-prone.

use std::ffi::c_void;

/// A plugin interface, seen from the host.
///
/// # Safety
///
/// Implementors promise that:
///
/// - `VTable` is `#[repr(C)]` and holds only `extern "C"` function pointers
///   whose every argument and result may cross between two copies of std
///   compiled by the same compiler (see the crate docs on the allocator and
///   layout contracts);
/// - no function in the table lets a panic unwind out of it (plugin-side
///   shims catch panics and return them as values);
/// - `METHODS` lists the vtable's functions in order, with the layout of
///   every argument and result type (each `CrossSafe`, or a reference to
///   one, which the host lends for the call);
/// - the view type (`View`) holds only the two pointers it is given (the
///   generated one wraps a `RawView`), has no `Drop` that calls through
///   the vtable, cannot be built by safe code, and is neither `Clone` nor
///   `Copy`: the library hands a plugin's out only by reference, tied to a
///   guard that keeps the plugin's code mapped, and a copy would escape
///   that guard (a host service's view, whose object outlives the plugin
///   using it, the library may build again from the same pointers:
///   `Import::clone`); it is `Send + Sync` only because every instance
///   type exported or provided for the interface is.
/// - if `__ADOPTS` is `true` (the generated code's; a hand-written impl
///   leaves it `false`, and its plugins' heap is then never reclaimed):
///   every owned value the view receives from the other side (a result,
///   what the callee put into a `&mut` argument, an async output) is walked
///   with the hidden `CrossSafe::__adopt` before the view hands it on, and
///   every owned or `&mut` argument a provided object's table receives
///   likewise, so that a plugin's heap reclaimed at its unload holds nothing
///   the host owns (see [`HeapReport`](crate::stats::HeapReport));
pub unsafe trait Interface {
    /// The `#[repr(C)]` table of function pointers the plugin exports.
    type VTable: 'static;
    /// The host's view of an instance: what guards deref to.
    type View: Send + Sync + 'static;
    /// A name that identifies the interface, such as `"my_app::Handles"`.
    const NAME: &'static str;
    /// Bumped by hand on any deliberate change of meaning.
    const VERSION: u32;
    /// The methods, in vtable order, with their argument and result types:
    /// what the handshake compares, type by type, before a plugin is
    /// mapped.
    const METHODS: &'static [crate::layout::MethodLayout];

    /// Whether the view and the tables adopt what crosses (see the trait's
    /// safety contract): what lets a plugin's heap be reclaimed at unload.
    #[doc(hidden)]
    const __ADOPTS: bool = false;

    /// Builds the host view of a plugin instance.
    ///
    /// # Safety
    ///
    /// `instance` and `vtable` come from the entry point of a plugin whose
    /// handshake for this interface succeeded (or are a host service's
    /// object and vtable, whose section equals this interface's), and stay
    /// valid for as long as the returned value lives.
    unsafe fn view(instance: *const c_void, vtable: *const Self::VTable) -> Self::View;

    /// The section a plugin of this interface must show (descriptor and
    /// type table), as a static in the `.liveswap_host` section of the
    /// binary, where `liveswap check` finds it. `#[liveswap::interface]`
    /// emits it; the loader reads it (which keeps the linker from
    /// discarding it). Empty for a hand-written interface.
    #[doc(hidden)]
    fn __host_section() -> &'static [u8] {
        &[]
    }
}

/// An interface a host may lend its plugins as a host service
/// ([`Options::provide`](crate::Options::provide)): `#[liveswap::interface]`
/// implements it for every interface. Its `async fn` methods return the
/// host's futures to plugin code, which polls them with wakers of its own;
/// the host's side hands its future a waker of host code in their place,
/// which keeps the plugin's generation loaded while the host keeps it.
///
/// # Safety
///
/// Implemented by the interface macro only.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be provided as a host service",
    note = "a host service is a trait object of an interface made with #[liveswap::interface]"
)]
pub unsafe trait HostService: Interface {}

/// The plugin side of an interface: the vtable that serves a `T`.
///
/// # Safety
///
/// Every function in the returned table must accept, as its instance
/// argument, a pointer to a live `T` (the library boxes the value the export
/// macro constructs), and must catch every panic.
pub unsafe trait Export<T>: Interface {
    /// The table of shims that call `T`'s methods.
    fn vtable() -> &'static Self::VTable;
}
