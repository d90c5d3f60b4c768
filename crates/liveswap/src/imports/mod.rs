//! Host services: interfaces the host implements and lends to its
//! plugins, so that plugin code can call the host (a data source, a
//! clock, a cache) while it serves.
//!
//! An import is an ordinary `#[liveswap::interface]` trait. The host
//! implements it and hands the object to a slot
//! ([`Options::provide`](crate::Options::provide)); the plugin names the
//! interfaces it imports in `export!` (`imports(dyn HostData)`) and takes
//! them with [`import`] in its constructor. The direction is the only
//! difference from an export: the host's object is called through the
//! vtable the interface macro generates, from plugin code, and its shims
//! (host code) catch the host's panics and return them to the plugin as
//! `Err(CallError)`.
//!
//! Checked like an export, before any plugin code runs: `export!` places
//! each imported interface's descriptor and type table in the ELF section
//! `.liveswap_imports`, and the loader compares each with the section of
//! the object the host provides under that name (`host.rs`). A host that
//! does not provide an import, or provides one whose types differ, is
//! refused with the interface, method, type and field. A host may provide
//! more interfaces than a plugin imports.
//!
//! Lifetimes: the host's objects are kept alive (an `Arc` held with each
//! loaded generation) until that generation's library is closed, so plugin
//! code can keep an [`Import`] anywhere, a `static` included.
//!
//! Costs: a call to an import costs what a call to an export costs (an
//! indirect call through the vtable, arguments and result moved).

pub(crate) mod host;
pub(crate) mod plugin;
pub(crate) mod wire;

pub use plugin::{Import, ImportError, import};
