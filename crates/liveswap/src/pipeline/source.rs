//! The store stage: where a candidate's bytes come from. A swap reads a
//! path (after the safe-path rule, the descriptor and key reserves, a
//! probe of what the file is, and its signature, verified in the same
//! pass that copies it); a rollback copies the private copy kept of the
//! build it returns to, and reads no name. Either way the result is a
//! new private copy that nobody else can write.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::record::Record;
use crate::check::{Expected, Signer};
use crate::error::Error;
use crate::footprint;
use crate::load::store::{self, Stored};
use crate::load::{open, probe};
use crate::loader::LoadPolicy;

/// File descriptors a load leaves free for the host.
pub(crate) const DESCRIPTOR_RESERVE: u64 = 32;

/// The build a rollback returns to: the private copy it was loaded from,
/// its source, its signer, and the state schema it reads (which the
/// serving version is asked to write its state in).
#[derive(Clone)]
pub(crate) struct Kept {
    pub image: Arc<Stored>,
    pub source: PathBuf,
    pub signer: Option<Signer>,
    pub schema: Option<u32>,
}

/// Copies the file at `path` after every check made before its bytes
/// are trusted; records the copy's duration, the path rule's warning and
/// the signer.
pub(crate) fn from_file(
    path: &Path,
    policy: &LoadPolicy,
    record: &mut Record,
) -> Result<Arc<Stored>, Error> {
    record.timed(
        |steps| &mut steps.copy,
        |record| {
            check_keys(path)?;
            check_descriptors(path)?;
            record.warnings.extend(policy.trust.check_path(path)?);
            let src = open::open(path, policy.max_file_size)?;
            if let Err(refused) = probe::probe(path, &src.file, src.len) {
                // A file written while it was probed is refused as changed
                // (and retried by a watcher), not as what its half-written
                // bytes say.
                src.unchanged(path)?;
                return Err(refused);
            }
            // The signature is read now, so that the one pass that copies
            // and hashes the bytes also digests them for it.
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
            record.signer = signer;
            Ok(Arc::new(stored))
        },
    )
}

/// Copies the kept copy of the build a rollback returns to. It was
/// checked and verified when it was first loaded, and no name reaches it
/// since: its signer is carried.
pub(crate) fn from_kept(
    kept: &Kept,
    policy: &LoadPolicy,
    record: &mut Record,
) -> Result<Arc<Stored>, Error> {
    record.signer.clone_from(&kept.signer);
    record.timed(
        |steps| &mut steps.copy,
        |_| {
            let source = &kept.source;
            check_keys(source)?;
            let file = kept
                .image
                .file()
                .map_err(|e| copy_error(source, (kept.image.path.clone(), e)))?;
            let (stored, _) = store::store(
                &file,
                kept.image.len,
                source.parent(),
                &policy.store,
                &label(source),
                None::<&()>,
            )
            .map_err(|e| copy_error(source, e))?;
            Ok(Arc::new(stored))
        },
    )
}

/// The name a copy shows in `/proc/self/maps` after its handle's tag.
fn label(source: &Path) -> String {
    source
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "plugin.so".into())
}

/// A failure to read `source` or to write or map its copy `dest`.
pub(crate) fn copy_error(source: &Path, (dest, err): (PathBuf, std::io::Error)) -> Error {
    Error::Copy {
        path: source.to_path_buf(),
        dest,
        source: err,
    }
}

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
