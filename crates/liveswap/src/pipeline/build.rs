//! The build stage: `dlopen` of the checked copy, the hooks, and the
//! plugin's constructor (restoring the state carried), giving a
//! [`Built`] candidate: a version not yet published, whose `Drop` unloads
//! it.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;

use super::checked::Checked;
use super::record::Record;
use crate::error::Error;
use crate::generation::Version;
use crate::interface::Interface;
use crate::loader::{self, LoadPolicy};
use crate::reaper::ReaperSender;
use crate::warm::{Carry, Prior};

/// A loaded candidate, of generation 0 until it is published. Dropped
/// unpublished, it is unloaded on the dropping thread, so that a refused
/// swap returns with nothing of the file mapped; if something still holds
/// it (a preflight that timed out), the last holder's drop hands it to
/// the reaper instead.
pub(crate) struct Built<I: Interface + ?Sized> {
    version: Option<Arc<Version<I>>>,
    /// The snapshot it was restored from, for the publish stage's
    /// freshness check and the replaced version's final merge.
    pub prior: Option<Prior>,
}

/// Opens and constructs the candidate; records the load's duration and
/// what became of the state.
pub(crate) fn build<I: Interface + ?Sized>(
    checked: Checked<I>,
    mut carry: Carry,
    source: &Path,
    policy: &LoadPolicy,
    reaper: ReaperSender,
    alive: Arc<AtomicUsize>,
    record: &mut Record,
) -> Result<Built<I>, Error> {
    let heap_off = if policy.reclaim_heap {
        crate::heap::unadopted::<I>().or_else(|| policy.imports.unwalked())
    } else {
        Some("turned off for this slot (`Options::reclaim_heap(false)`)".into())
    };
    let plugin = record.timed(
        |steps| &mut steps.load,
        |_| {
            loader::open(
                source,
                checked.image,
                &checked.section,
                &checked.sites,
                checked.hash,
                policy,
                heap_off,
                &mut carry,
            )
        },
    );
    record.state = std::mem::take(&mut carry.report);
    let plugin = plugin?;
    Ok(Built {
        version: Some(Arc::new(Version::new(
            plugin,
            source.to_path_buf(),
            reaper,
            alive,
        ))),
        prior: carry.prior,
    })
}

impl<I: Interface + ?Sized> Built<I> {
    /// The candidate, for a preflight to call.
    pub(crate) fn version(&self) -> &Arc<Version<I>> {
        self.version.as_ref().expect("taken only by `publish`")
    }

    /// Whether nothing else holds the candidate (a preflight that timed
    /// out may): checked before the publish lock is taken, so that
    /// [`publish_as`](Self::publish_as) cannot fail under it.
    pub(crate) fn sole(&mut self) -> bool {
        self.version
            .as_mut()
            .is_some_and(|v| Arc::get_mut(v).is_some())
    }

    /// The candidate as `generation`, to publish; `None` (and the
    /// candidate left to its last holder) when something else still holds
    /// it.
    pub(crate) fn publish_as(mut self, generation: u64) -> Option<Arc<Version<I>>> {
        let mut version = self.version.take()?;
        Arc::get_mut(&mut version)?.set_generation(generation);
        Some(version)
    }
}

impl<I: Interface + ?Sized> Drop for Built<I> {
    fn drop(&mut self) {
        if let Some(version) = self.version.take()
            && let Ok(version) = Arc::try_unwrap(version)
        {
            version.discard();
        }
    }
}

/// The refusal of a candidate something else still holds.
pub(crate) fn held_elsewhere(source: &Path) -> Error {
    Error::Preflight {
        path: source.to_path_buf(),
        isolated: false,
        message: "the check kept a reference to the candidate".into(),
    }
}
