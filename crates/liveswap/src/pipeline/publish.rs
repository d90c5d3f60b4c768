//! The publish stage, under the publish lock: is this attempt still the
//! one to publish (not overtaken, its state snapshot taken from the
//! version serving, its release not older than one published since)?
//! Then the candidate becomes the next generation, readers see it, and
//! warm start's publish-time half runs: the replaced version keeps what
//! its final merge needs.

use std::sync::{Arc, Weak};

use super::build::Built;
use super::record::{Record, SwapReport};
use super::room::Room;
use super::source::Kept;
use super::{Control, Swapper};
use crate::error::Error;
use crate::generation::Version;
use crate::interface::Interface;
use crate::read::cell::Current;
use crate::registry::Registry;
use crate::warm::{FindTarget, Handover, MergeTarget, Prior};

/// What a publish is bound by, besides the ticket order.
pub(crate) struct Terms {
    /// The order the attempt was asked in: one overtaken by a later call
    /// that published first is refused.
    pub ticket: u64,
    /// Publish only while this generation serves (a probation rollback).
    pub expect: Option<u64>,
    /// Check the signer's release against the newest one published (a
    /// swap to a file; a rollback is not bound by it).
    pub recheck_release: bool,
}

/// Publishes `built` as the next generation, once it has a place among
/// the versions waiting to unload (taken here, after all reading and
/// loading, for the version it replaces).
pub(crate) fn publish<I: Interface + ?Sized + 'static>(
    swapper: &Swapper<I>,
    current: &Arc<Current<I>>,
    mut built: Built<I>,
    terms: &Terms,
    record: &mut Record,
) -> Result<SwapReport, Error> {
    let prior = built.prior.take();
    if !built.sole() {
        return Err(super::build::held_elsewhere(&record.source));
    }
    // A call already overtaken is told so below, not made to wait for
    // room first (tickets only grow: it is still overtaken there).
    let room = if swapper.lock_control().last_ticket < terms.ticket {
        Room::take(
            &swapper.registry,
            swapper.max_unloading,
            swapper.unload_wait,
        )?
    } else {
        Room::none(&swapper.registry)
    };
    let mut control = swapper.lock_control();
    // On a refusal the lock is let go before the candidate and the room
    // are (the candidate's unload can take a while).
    if let Err(e) = still_first(swapper, &control, current, prior.as_ref(), terms, record) {
        drop(control);
        return Err(e);
    }
    let published = record.timed(
        |steps| &mut steps.publish,
        |_| {
            let generation = control.next_generation;
            let version = built.publish_as(generation)?;
            control.next_generation += 1;
            control.last_ticket = terms.ticket;
            Some((generation, Arc::clone(&version), current.swap(version)))
        },
    );
    let Some((generation, version, old)) = published else {
        // Not reached: `sole` held before the lock, and nothing can clone
        // a candidate only this call holds.
        drop(control);
        return Err(super::build::held_elsewhere(&record.source));
    };
    swapper.policy.trust.published(record.signer.as_ref());
    let short_of_keys = swapper.registry.published(
        generation,
        record.source.clone(),
        Version::loaded_at(&version),
        record.signer.clone(),
        record.hash,
        version.heap(),
    );
    hand_over(&swapper.registry, &old, &version, prior, current);
    control.rollback = old.image().map(|image| Kept {
        image,
        source: Version::source(&old).to_path_buf(),
        signer: swapper.registry.signer(Version::generation(&old)),
        schema: Version::state_schema(&old),
    });
    drop(control);
    room.hand_over();
    if let Some(free) = short_of_keys {
        Registry::warn_short_of_keys(free);
    }
    drop(version);
    let report = record.report(generation, Version::generation(&old));
    drop(old);
    Ok(report)
}

/// Whether this attempt may still publish: checked under the lock.
fn still_first<I: Interface + ?Sized + 'static>(
    swapper: &Swapper<I>,
    control: &Control,
    current: &Current<I>,
    prior: Option<&Prior>,
    terms: &Terms,
    record: &Record,
) -> Result<(), Error> {
    let serving = Version::generation(&current.load());
    let source = &record.source;
    if terms.expect.is_some_and(|expected| expected != serving) {
        return Err(Error::Superseded {
            path: source.clone(),
            by: serving,
        });
    }
    if control.last_ticket > terms.ticket {
        return Err(Error::Superseded {
            path: source.clone(),
            by: control.next_generation - 1,
        });
    }
    // A swap's snapshot must come from the version it replaces (another
    // swap may have published in between): so no state is carried twice
    // or skipped.
    if let Some(prior) = prior
        && prior.generation != serving
    {
        return Err(Error::StateStale {
            path: source.clone(),
            taken_from: prior.generation,
            serving,
        });
    }
    // Checked again under the lock: a newer release published since this
    // one's signature was checked wins.
    if terms.recheck_release
        && let Some(signer) = &record.signer
    {
        swapper.policy.trust.check_release(source, signer)?;
    }
    Ok(())
}

/// Records the new generation's schemas, and, when the new version
/// merges, leaves with the replaced one the snapshot carried from it,
/// for its final merge at drain.
fn hand_over<I: Interface + ?Sized + 'static>(
    registry: &Registry,
    replaced: &Version<I>,
    new: &Version<I>,
    prior: Option<Prior>,
    slot: &Arc<Current<I>>,
) {
    registry.record_state(
        Version::generation(new),
        Version::state_schema(new),
        prior.as_ref().map(|p| p.schema),
    );
    let merges = new.object().is_some_and(|o| o.merge.is_some());
    if let (true, Some(base), Some(handover)) = (merges, prior, replaced.handover()) {
        *handover.lock().unwrap_or_else(|p| p.into_inner()) = Some(Handover {
            base,
            target: finder(Arc::downgrade(slot)),
        });
    }
}

/// The serving version of a handle's slot, as a merge target, found
/// through a weak reference (none once the handle is gone).
fn finder<I: Interface + ?Sized + 'static>(slot: Weak<Current<I>>) -> FindTarget {
    Arc::new(move || {
        let version = slot.upgrade()?.load_full();
        let object = version.object()?;
        Some(MergeTarget {
            instance: object.instance,
            merge: object.merge?,
            generation: Version::generation(&version),
            keep: Box::new(version),
        })
    })
}
