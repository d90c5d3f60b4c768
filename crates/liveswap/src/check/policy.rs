//! What a handle requires of a file before loading it: the safe-path
//! policy (on unless relaxed) and signatures (when keys are trusted).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::signature::{self, Expected, Signer, TrustedKey};
use super::trust;
use crate::error::{Error, SignatureProblem};

/// The checks a handle makes before a file is read and mapped.
#[derive(Debug, Clone, Default)]
pub(crate) struct TrustPolicy {
    /// Turn a safe-path violation into a warning.
    pub allow_unsafe_path: bool,
    /// Keys whose signatures are accepted; none: signatures not required.
    pub keys: Vec<TrustedKey>,
    /// The file is an inherited descriptor of a copy the parent process
    /// already checked (the isolated preflight's child): no path to walk.
    pub inherited: bool,
    /// The oldest release a signature may name (`release:N`); a signature
    /// naming none is then refused.
    pub minimum_release: Option<u64>,
    /// The release of the build serving now, plus one (0: none named):
    /// a swap to an older release is refused. One per handle, set when it
    /// publishes.
    pub serving_release: Arc<AtomicU64>,
}

impl TrustPolicy {
    /// The safe-path check, before the file is read. A violation is an
    /// error, or with `allow_unsafe_path`, a warning returned.
    pub fn check_path(&self, path: &Path) -> Result<Option<String>, Error> {
        if self.inherited {
            return Ok(None);
        }
        match trust::check_path(path) {
            Err(e @ Error::UnsafePath { .. }) if self.allow_unsafe_path => {
                let warning = format!("loaded despite the safe-path policy (relaxed): {e}");
                tracing::warn!(path = %path.display(), %warning, "unsafe plugin path allowed");
                Ok(Some(warning))
            }
            Err(e) => Err(e),
            Ok(()) => Ok(None),
        }
    }

    /// The signature beside `path`, read and matched to a trusted key
    /// before the file is copied (the copy's one pass then digests the
    /// bytes it signs); `None` when no key is trusted (signatures not
    /// required).
    pub fn expect_signature(&self, path: &Path) -> Result<Option<Expected>, Error> {
        if self.keys.is_empty() {
            return Ok(None);
        }
        Expected::read(path, &self.keys).map(Some)
    }

    /// Refuses a verified signature whose release is older than the
    /// minimum or than the build serving now, or that names none when one
    /// of those is known: an old signed build (one since found faulty)
    /// cannot be swapped back in under a current name.
    pub fn check_release(&self, path: &Path, signer: &Signer) -> Result<(), Error> {
        let serving = self.serving_release.load(Ordering::Acquire).checked_sub(1);
        let floors = [
            self.minimum_release
                .map(|m| (m, "the minimum this host accepts")),
            serving.map(|s| {
                (
                    s,
                    "the release serving now; roll back instead, or sign it anew",
                )
            }),
        ];
        let Some((floor, why)) = floors.into_iter().flatten().max_by_key(|(f, _)| *f) else {
            return Ok(());
        };
        let problem = match signer.release() {
            None => SignatureProblem::NoRelease { floor },
            Some(release) if release < floor => SignatureProblem::OldRelease {
                release,
                floor,
                why: why.into(),
            },
            Some(_) => return Ok(()),
        };
        Err(Error::Signature {
            path: path.to_path_buf(),
            signature: signature::signature_path(path),
            problem,
        })
    }

    /// Records the release of the build just published (`None`: it names
    /// none, or is unsigned).
    pub fn published(&self, signer: Option<&Signer>) {
        let release = signer
            .and_then(Signer::release)
            .map_or(0, |r| r.saturating_add(1));
        self.serving_release.store(release, Ordering::Release);
    }
}
