//! Checks made on a plugin file before any of its code runs, usable
//! offline too (the `liveswap` command-line tool is built on them).
//!
//! In the order a load makes them:
//!
//! 1. [`check_path`], the safe-path policy, before any byte is read;
//! 2. [`verify`], the plugin's minisign signature over the bytes read,
//!    when trusted keys are configured;
//! 3. [`check_section`], the handshake: the file's `.liveswap` section
//!    against the section the host expects.
//!
//! A host binary carries the sections of the interfaces it hosts in
//! [`HOST_SECTION`] (emitted by `#[liveswap::interface]`), so a plugin can
//! be checked against a host without running either: [`host_sections`].

mod accounts;
mod acl;
pub(crate) mod host_section;
mod policy;
mod signature;
mod trust;

pub use crate::error::SignatureProblem;
pub use crate::filekind::not_regular;
pub use host_section::{HOST_SECTION, host_sections};
pub(crate) use policy::TrustPolicy;
pub(crate) use signature::Expected;
pub use signature::{SignatureFile, Signer, TrustedKey, read_signature, signature_path, verify};
pub use trust::check_path;

pub use crate::handshake::{Checked, check_section, hazards};

use crate::descriptor::Descriptor;

/// Checks the host services a plugin imports (its `.liveswap_imports`
/// section, in `bytes`, the content of `path`) against the interfaces a
/// host binary carries (`host`, as [`host_sections`] returns them): each
/// must be among them with the same types. Returns the names checked. A
/// host that carries an interface may still not provide it at run time
/// (`Options::provide`); that only the running host can tell.
///
/// # Errors
///
/// [`Error::ImportMissing`](crate::Error::ImportMissing),
/// [`Error::ImportMismatch`](crate::Error::ImportMismatch), or
/// [`Error::NoDescriptor`](crate::Error::NoDescriptor) for an unreadable
/// section.
pub fn check_imports(
    path: &std::path::Path,
    bytes: &[u8],
    host: &[&[u8]],
) -> Result<Vec<String>, crate::Error> {
    let hosted = || -> Vec<String> {
        host.iter()
            .filter_map(|s| Descriptor::from_bytes(s))
            .map(|d| crate::descriptor::field_text(&d.interface_name))
            .collect()
    };
    let mut names = Vec::new();
    for (name, section) in crate::imports::host::declared(path, bytes)? {
        let candidates: Vec<&[u8]> = host
            .iter()
            .copied()
            .filter(|s| {
                Descriptor::from_bytes(s)
                    .is_some_and(|d| crate::descriptor::field_text(&d.interface_name) == name)
            })
            .collect();
        crate::imports::host::check_one(path, &name, section, &candidates, hosted)?;
        names.push(name);
    }
    Ok(names)
}
