//! The check stage: the handshake and the imports, read from the private
//! copy (the bytes that will be mapped), and the content hash. No code of
//! the candidate runs here.

use std::marker::PhantomData;
use std::path::Path;
use std::sync::Arc;

use super::record::Record;
use super::source::{self, copy_error};
use crate::error::Error;
use crate::footprint::patch;
use crate::handshake;
use crate::hash::ContentHash;
use crate::history::{Kind, Trigger};
use crate::interface::Interface;
use crate::load::store::Stored;
use crate::loader::LoadPolicy;

/// A candidate that passed its handshake: its copy, the descriptor
/// section its running code must return, where its references to the C
/// library's thread functions are to be patched, and its hash.
pub(crate) struct Checked<I: ?Sized> {
    pub image: Arc<Stored>,
    pub section: Vec<u8>,
    pub sites: patch::Sites,
    pub hash: ContentHash,
    /// The interface it was checked for: the build stage takes only a
    /// `Checked<I>` for the `I` it views the plugin as.
    interface: PhantomData<fn(&I)>,
}

/// Checks the copy `image` of `source` for interface `I`; records the
/// hash and the hazards the handshake read, and logs those.
pub(crate) fn check<I: Interface + ?Sized>(
    source: &Path,
    image: Arc<Stored>,
    policy: &LoadPolicy,
    record: &mut Record,
) -> Result<Checked<I>, Error> {
    let from = record.warnings.len();
    let checked = check_quietly::<I>(source, image, policy, record)?;
    for warning in &record.warnings[from..] {
        tracing::warn!(path = %source.display(), %warning, "plugin hazard");
    }
    Ok(checked)
}

fn check_quietly<I: Interface + ?Sized>(
    source: &Path,
    image: Arc<Stored>,
    policy: &LoadPolicy,
    record: &mut Record,
) -> Result<Checked<I>, Error> {
    record.timed(
        |steps| &mut steps.check,
        |record| {
            let mapping = image
                .map()
                .map_err(|e| copy_error(source, (image.path.clone(), e)))?;
            let checked = handshake::check::<I>(source, mapping.bytes())?;
            policy.imports.check_file(source, mapping.bytes())?;
            let sites = patch::sites(mapping.bytes());
            drop(mapping);
            let hash = image.content_hash();
            record.hash = Some(hash);
            record.warnings.extend(checked.warnings);
            Ok(Checked {
                image,
                section: checked.section,
                sites,
                hash,
                interface: PhantomData,
            })
        },
    )
}

/// The store and check stages on the file at `path`, and nothing after:
/// what [`Slot::check`](crate::Slot::check) answers. Returns the warnings.
pub(crate) fn check_file<I: Interface + ?Sized>(
    path: &Path,
    policy: &LoadPolicy,
) -> Result<Vec<String>, Error> {
    let mut record = Record::new(Kind::Swap, Trigger::Api, path);
    let image = source::from_file(path, policy, &mut record)?;
    check_quietly::<I>(path, image, policy, &mut record)?;
    Ok(record.warnings)
}
