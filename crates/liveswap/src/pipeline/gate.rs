//! The gate stage: between the handshake and `dlopen`, with no code of
//! the candidate run in this process. A build whose bytes are serving
//! already is skipped; the host's gate (an isolated preflight) sees the
//! checked candidate as a [`Candidate`].

use std::path::Path;

use super::checked::Checked;
use super::record::Record;
use crate::error::Error;
use crate::hash::ContentHash;
use crate::load::store::Stored;
use crate::warm::Carry;

/// A candidate plugin between its handshake and `dlopen`: checked, not yet
/// mapped, no code of it run. What a gate given to
/// [`SwapOptions::before_load`](crate::SwapOptions::before_load) sees.
pub struct Candidate<'a> {
    source: &'a Path,
    hash: ContentHash,
    stored: &'a Stored,
    state: Option<(u32, &'a [u8])>,
    cold_on_state_failure: bool,
}

impl Candidate<'_> {
    /// The path it was read from.
    pub fn source(&self) -> &Path {
        self.source
    }
    /// The hash of its bytes.
    pub fn content_hash(&self) -> ContentHash {
        self.hash
    }
    /// The serving version's state snapshot that the candidate will be
    /// restored from, as (schema, bytes), when there is one: taken before
    /// the gate runs, so that a check in a child process can restore from
    /// the very same state.
    pub fn state(&self) -> Option<(u32, &[u8])> {
        self.state
    }
    /// Whether a restore that fails starts the candidate cold rather than
    /// refusing it (`Options::cold_on_state_failure`), for a check that
    /// restores it elsewhere to do the same.
    pub fn cold_on_state_failure(&self) -> bool {
        self.cold_on_state_failure
    }
    /// A read-only descriptor of its private copy (the bytes checked,
    /// immutable), for example to hand to a child process, which can load
    /// it as `/proc/self/fd/N`.
    pub fn fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.stored.fd()
    }
}

/// A host's check of a candidate before it is mapped.
pub(crate) type BeforeLoad = dyn Fn(&Candidate<'_>) -> Result<(), String> + Send + Sync;

/// Refuses, as [`Error::Unchanged`], a candidate whose bytes are those
/// of `serving` (when a swap skips unchanged builds): before anything
/// else, the state snapshot included.
pub(crate) fn unchanged<I: ?Sized>(
    checked: &Checked<I>,
    serving: Option<ContentHash>,
    source: &Path,
) -> Result<(), Error> {
    if serving == Some(checked.hash) {
        return Err(Error::Unchanged {
            path: source.to_path_buf(),
            hash: checked.hash,
        });
    }
    Ok(())
}

/// Runs the host's gate on the checked candidate, with the state it will
/// be restored from (`carry`); records how long it took.
pub(crate) fn before_load<I: ?Sized>(
    gate: &BeforeLoad,
    checked: &Checked<I>,
    carry: &Carry,
    source: &Path,
    record: &mut Record,
) -> Result<(), Error> {
    let candidate = Candidate {
        source,
        hash: checked.hash,
        stored: &checked.image,
        state: carry
            .prior
            .as_ref()
            .map(|prior| (prior.schema, prior.bytes.as_slice())),
        cold_on_state_failure: carry.cold_on_failure,
    };
    record
        .timed(|steps| &mut steps.isolated_preflight, |_| gate(&candidate))
        .map_err(|message| Error::Preflight {
            path: source.to_path_buf(),
            isolated: true,
            message,
        })
}
