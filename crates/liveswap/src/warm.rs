//! Warm start: a plugin's state carried from the version serving to the
//! one replacing it, as bytes.
//!
//! A plugin opts in by implementing [`WarmStart`] and exporting with
//! `export!(Trait => warm Type)`. At a swap or rollback, once the new file
//! has passed every check and just before its constructor runs, the host
//! asks the serving instance for a snapshot ([`WarmStart::snapshot`]), and
//! hands the bytes and their schema to the new instance's
//! [`WarmStart::restore`], which migrates them in its own code. Only bytes
//! cross: the new build never sees the old build's types.
//!
//! The host side lives here too: taking `S1`, keeping it on the replaced
//! version, and the final merge.

use std::any::Any;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::abi::host::MessageSink;
use crate::abi::{CALL_OK, CALL_PANICKED, MergeFn, Message, RawObject};
use crate::error::Error;
use crate::remote_error::RemoteError;

/// A state snapshot as it crosses: the schema it was written with and its
/// bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Snapshot<'a> {
    /// The schema of the version that wrote it ([`WarmStart::SCHEMA`]).
    pub schema: u32,
    /// What its [`WarmStart::snapshot`] returned.
    pub bytes: &'a [u8],
}

/// A plugin type whose state survives a swap. Export it with
/// `liveswap::export!(Trait => warm Type)`.
///
/// ```
/// # #[liveswap::interface(version = 1)]
/// # pub trait Counter: Send + Sync { fn hit(&self) -> u64; }
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use liveswap::{RemoteError, Snapshot, WarmStart};
///
/// struct Hits(AtomicU64);
/// impl Counter for Hits {
///     fn hit(&self) -> u64 { self.0.fetch_add(1, Ordering::Relaxed) + 1 }
/// }
/// impl WarmStart for Hits {
///     const SCHEMA: u32 = 1;
///     fn snapshot(&self) -> Result<Vec<u8>, RemoteError> {
///         Ok(self.0.load(Ordering::Relaxed).to_le_bytes().to_vec())
///     }
///     fn restore(prior: Option<Snapshot<'_>>) -> Result<Self, RemoteError> {
///         let count = match prior {
///             None => 0,
///             Some(Snapshot { schema: 1, bytes }) => {
///                 u64::from_le_bytes(bytes.try_into().map_err(|_| RemoteError::new("not 8 bytes"))?)
///             }
///             Some(other) => return Err(RemoteError::new(format!("unknown schema {}", other.schema))),
///         };
///         Ok(Hits(AtomicU64::new(count)))
///     }
/// }
/// liveswap::export!(Counter => warm Hits);
/// ```
///
/// With the `state` feature, `liveswap::state::encode` and
/// `liveswap::state::decode` do the serde part.
///
/// What reaches the new version:
///
/// - everything the old version did before its snapshot (`S1`);
/// - calls that go on on the old version after `S1` (in flight, or started
///   before the new version was published): when the new version's type
///   sets [`MERGES`](Self::MERGES), once the old version has drained (in the
///   reaper, before its instance is dropped) the host takes a final
///   snapshot `S2` and hands `S1` and `S2` to the *serving* version's
///   [`merge`](Self::merge), which folds in the difference; without `MERGES`
///   these changes are not carried;
/// - a failure anywhere (a snapshot that fails or panics, one over
///   [`Options::max_state_size`](crate::Options::max_state_size), a restore
///   that fails or panics) refuses the swap, and the old version keeps
///   serving with its state untouched (a snapshot only reads it); with
///   [`Options::cold_on_state_failure`](crate::Options::cold_on_state_failure)
///   the new version starts cold instead and the report says why. A merge
///   that fails at drain is logged and its difference is lost.
///
///
/// Rollback carries state the same way. A swap whose snapshot was taken
/// from a version another swap replaced meanwhile is refused
/// ([`Error::StateStale`](crate::Error::StateStale)), so that nothing is
/// carried twice or skipped. Each of these lines is a test in
/// `tests/warm_start.rs`.
pub trait WarmStart: Sized + Send + Sync + 'static {
    /// The version of the snapshot's format. Bump it when the format
    /// changes, and teach [`restore`](Self::restore) to read the old one.
    const SCHEMA: u32;
    /// Whether [`merge`](Self::merge) is implemented: the host then takes
    /// a final snapshot of each replaced version once it has drained, and
    /// hands it to the serving version.
    const MERGES: bool = false;

    /// The instance's state, as bytes. Runs on the swapping thread (and,
    /// for the final snapshot, on the reaper) while calls go on: it must
    /// read a consistent state under the instance's own synchronization.
    ///
    /// # Errors
    ///
    /// Any error refuses the swap (or starts the new version cold).
    fn snapshot(&self) -> Result<Vec<u8>, RemoteError>;

    /// Builds the instance: from the serving version's snapshot, or, with
    /// `None`, from nothing (the first load, a predecessor without state,
    /// or a cold start).
    ///
    /// # Errors
    ///
    /// An error (for example a schema it cannot read) refuses the swap.
    fn restore(prior: Option<Snapshot<'_>>) -> Result<Self, RemoteError>;

    /// The state in an older schema `schema`, for a rollback to a build
    /// that reads only that one (Erlang's `code_change` with `{down,
    /// Vsn}`): `Ok(None)`, the default, when this build cannot write it;
    /// then the rollback is refused and only a cold one
    /// ([`Slot::rollback_cold`](crate::Slot::rollback_cold)) goes back.
    ///
    /// # Errors
    ///
    /// An error refuses the rollback, as a failed snapshot refuses a swap.
    fn snapshot_for(&self, schema: u32) -> Result<Option<Vec<u8>>, RemoteError> {
        let _ = schema;
        Ok(None)
    }

    /// Folds in what a replaced version changed after its state was
    /// carried: `base` is the snapshot that was carried, `last` its final
    /// one, both of the replaced version's schema. Called on the serving
    /// instance, while calls go on. Only called when
    /// [`MERGES`](Self::MERGES) is true.
    ///
    /// # Errors
    ///
    /// An error is logged; the difference is lost.
    fn merge(&self, base: Snapshot<'_>, last: Snapshot<'_>) -> Result<(), RemoteError> {
        let _ = (base, last);
        Err(RemoteError::new(
            "this plugin does not merge (WarmStart::MERGES is false)",
        ))
    }
}

/// What a swap did with the plugin's state ([`SwapReport::state`](crate::SwapReport::state)).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StateReport {
    /// The schema of the snapshot taken from the version replaced, or
    /// `None` if it declares no state.
    pub from_schema: Option<u32>,
    /// The new version's schema, or `None` if it declares no state.
    pub to_schema: Option<u32>,
    /// The snapshot's size in bytes.
    pub bytes: usize,
    /// How long the snapshot took.
    pub snapshot: Duration,
    /// How long the new version's entry point took when it was given the
    /// snapshot: its restore (decode and migration), part of
    /// [`SwapReport::load`](crate::SwapReport::load).
    pub restore: Duration,
    /// Whether the new version was restored from it.
    pub restored: bool,
    /// Why the new version started cold instead, under
    /// [`Options::cold_on_state_failure`](crate::Options::cold_on_state_failure).
    pub cold: Option<String>,
}

/// The warm-start settings of a handle.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StatePolicy {
    pub max_size: usize,
    pub cold_on_failure: bool,
}

/// The version serving when a load starts: its instance, whose state the
/// new one may restore, and its generation.
#[derive(Clone, Copy)]
pub(crate) struct Serving<'a> {
    pub object: &'a RawObject,
    pub generation: u64,
    /// The schema the new version reads, when it is known to be another
    /// (a rollback): the state is then asked for in it.
    pub schema: Option<u32>,
}

/// A snapshot taken from the serving version for the next one.
#[derive(Debug)]
pub(crate) struct Prior {
    /// The generation it was taken from.
    pub generation: u64,
    pub schema: u32,
    pub bytes: Vec<u8>,
}

/// What the loader is given for one load: the snapshot (if any) and the
/// report so far.
#[derive(Debug, Default)]
pub(crate) struct Carry {
    pub prior: Option<Prior>,
    pub cold_on_failure: bool,
    pub report: StateReport,
}

/// Why a state function failed: whether it panicked, and its message.
struct Failure {
    panicked: bool,
    message: Message,
}

fn failure(status: u32, message: Option<Message>) -> Failure {
    Failure {
        panicked: status == CALL_PANICKED,
        message: message.unwrap_or_default(),
    }
}

/// Calls an instance's downgrade function for `schema`: `None` when it has
/// none, `Ok(None)` when it cannot write that schema.
fn downgrade_of(object: &RawObject, schema: u32) -> Option<Result<Option<Vec<u8>>, Failure>> {
    let downgrade = object.downgrade?;
    let mut out: Vec<u8> = Vec::new();
    let mut written = 0u8;
    let mut message: Option<Message> = None;
    let mut sink = MessageSink::new(&mut message);
    // SAFETY: as for `snapshot_of`; `written` lives across the call too.
    let status = unsafe { downgrade(object.instance, schema, &mut out, &mut written, &mut sink) };
    Some(if status == CALL_OK {
        // The host owns the bytes now, not the plugin's heap account.
        crate::CrossSafe::__adopt(&out);
        Ok((written == 1).then_some(out))
    } else {
        std::mem::forget(out);
        Err(failure(status, message))
    })
}

/// Calls an instance's snapshot function.
fn snapshot_of(object: &RawObject) -> Option<Result<Vec<u8>, Failure>> {
    let snapshot = object.snapshot?;
    let mut out: Vec<u8> = Vec::new();
    let mut message: Option<Message> = None;
    let mut sink = MessageSink::new(&mut message);
    // SAFETY: `object` is a live instance of a loaded plugin (the caller
    // holds its version or owns its plugin); `out` and `sink` live across
    // the call. The plugin fills `out` with memory from this process's
    // global allocator (its own routes there), so dropping it here is sound.
    let status = unsafe { snapshot(object.instance, &mut out, &mut sink) };
    Some(if status == CALL_OK {
        // The host owns the bytes now, not the plugin's heap account.
        crate::CrossSafe::__adopt(&out);
        Ok(out)
    } else {
        // The shim assigns `out` only on success; on failure it is still
        // the empty vector, but nothing is gained by trusting that.
        std::mem::forget(out);
        Err(failure(status, message))
    })
}

/// A carry of a snapshot handed in from elsewhere (the isolated
/// preflight's parent), for a first load.
pub(crate) fn given(schema: u32, bytes: Vec<u8>, cold_on_failure: bool) -> Carry {
    Carry {
        report: StateReport {
            from_schema: Some(schema),
            bytes: bytes.len(),
            ..StateReport::default()
        },
        prior: Some(Prior {
            generation: 0,
            schema,
            bytes,
        }),
        cold_on_failure,
    }
}

/// Takes `S1` from the serving version (`object`, of `generation`) for a
/// swap to `path`.
pub(crate) fn take(
    object: &RawObject,
    generation: u64,
    want: Option<u32>,
    policy: StatePolicy,
    path: &Path,
) -> Result<Carry, Error> {
    let mut carry = Carry {
        cold_on_failure: policy.cold_on_failure,
        ..Carry::default()
    };
    let started = Instant::now();
    // In the schema the new version reads, when that is another and the
    // serving one can write it (a rollback past a schema change); else as
    // the serving version keeps it.
    let downgraded = want
        .filter(|&schema| schema != object.schema)
        .and_then(|schema| Some((schema, downgrade_of(object, schema)?)));
    let (schema, result) = match downgraded {
        Some((schema, Ok(Some(bytes)))) => (schema, Ok(bytes)),
        Some((schema, Err(failure))) => (schema, Err(failure)),
        Some((_, Ok(None))) | None => match snapshot_of(object) {
            Some(result) => (object.schema, result),
            None => return Ok(carry),
        },
    };
    carry.report.from_schema = Some(schema);
    carry.report.snapshot = started.elapsed();
    let problem = match result {
        Ok(bytes) if bytes.len() <= policy.max_size => {
            carry.report.bytes = bytes.len();
            carry.prior = Some(Prior {
                generation,
                schema,
                bytes,
            });
            return Ok(carry);
        }
        Ok(bytes) => Error::StateTooLarge {
            path: path.to_path_buf(),
            generation,
            size: bytes.len(),
            max: policy.max_size,
        },
        Err(Failure { panicked, message }) => Error::Snapshot {
            path: path.to_path_buf(),
            generation,
            panicked,
            message: message.message,
            location: message.location,
        },
    };
    if policy.cold_on_failure {
        tracing::warn!(path = %path.display(), error = %problem, "plugin state not carried: starting cold");
        carry.report.cold = Some(problem.to_string());
        Ok(carry)
    } else {
        Err(problem)
    }
}

/// Where a drained version's final snapshot goes: the serving version's
/// instance and merge function, and what keeps it loaded meanwhile.
pub(crate) struct MergeTarget {
    pub instance: *const std::ffi::c_void,
    pub merge: MergeFn,
    pub generation: u64,
    pub keep: Box<dyn Any + Send>,
}

/// Finds the serving version of a handle, if it still exists.
pub(crate) type FindTarget = Arc<dyn Fn() -> Option<MergeTarget> + Send + Sync>;

/// What a replaced version keeps for its final merge: the snapshot that
/// was carried from it (`S1`), and how to find the serving version.
pub(crate) struct Handover {
    pub base: Prior,
    pub target: FindTarget,
}

/// A replaced version's hand-over slot (in its `Plugin`).
pub(crate) type HandoverSlot = Mutex<Option<Handover>>;

/// The reaper's last step before dropping a replaced instance: takes its
/// final snapshot `S2` and merges it into the serving version.
pub(crate) fn final_merge(object: &RawObject, generation: u64, handover: &HandoverSlot) {
    let Some(Handover { base, target }) = handover.lock().unwrap_or_else(|p| p.into_inner()).take()
    else {
        return;
    };
    let Some(target) = target() else {
        return;
    };
    // The final snapshot in the schema the carried one was written in (a
    // rollback past a schema change carried a downgraded one).
    let last = if base.schema == object.schema {
        snapshot_of(object)
    } else {
        downgrade_of(object, base.schema).map(|result| {
            result.and_then(|bytes| {
                bytes.ok_or_else(|| Failure {
                    panicked: false,
                    message: Message {
                        message: format!("it does not write schema {}", base.schema),
                        ..Message::default()
                    },
                })
            })
        })
    };
    let last = match last {
        Some(Ok(bytes)) => bytes,
        Some(Err(Failure { message, .. })) => {
            let message = message.message;
            tracing::warn!(generation, %message, "final snapshot failed: changes after the swap's snapshot are lost");
            return;
        }
        None => return,
    };
    let mut message: Option<Message> = None;
    let mut sink = MessageSink::new(&mut message);
    // SAFETY: `target.keep` holds the serving version (instance and
    // library) alive for the call; both slices live across it.
    let status = unsafe {
        (target.merge)(
            target.instance,
            base.schema,
            base.bytes.as_ptr(),
            base.bytes.len(),
            last.as_ptr(),
            last.len(),
            &mut sink,
        )
    };
    if status != CALL_OK {
        let message = failure(status, message).message.message;
        tracing::warn!(
            generation,
            into = target.generation,
            %message,
            "merge of a drained version's changes failed: they are lost"
        );
    }
    drop(target.keep);
}
