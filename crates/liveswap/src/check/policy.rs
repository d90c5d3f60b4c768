//! What a handle requires of a file before loading it: the safe-path
//! policy (on unless relaxed) and signatures (when keys are trusted).

use std::path::Path;

use super::signature::{self, Signer, TrustedKey};
use super::trust;
use crate::error::Error;

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

    /// The signature check, on the bytes that will be mapped; `None` when
    /// no key is trusted (signatures not required).
    pub fn check_signature(&self, path: &Path, bytes: &[u8]) -> Result<Option<Signer>, Error> {
        if self.keys.is_empty() {
            return Ok(None);
        }
        signature::verify(path, bytes, &self.keys).map(Some)
    }
}
