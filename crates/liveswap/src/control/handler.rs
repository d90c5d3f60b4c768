//! What the control server answers: one request, with the asker's rights,
//! becomes one reply line. No I/O here: the transport is `server.rs`.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use super::admission::{Inspections, MAX_INSPECTIONS};
use super::peer::Peer;
use super::protocol::{
    self, AttemptRecord, ErrorKind, GenerationStatus, HistoryReply, InspectReply, Request,
    SlotEntry, SlotsReply, StatusReply, StepsMs, SwapReply,
};
use crate::history::{Outcome, Trigger};
use crate::manage::ManagedSlot;
use crate::registry::State;

/// The slots a server serves, by name.
pub(super) type Slots = Arc<Vec<(String, Arc<dyn ManagedSlot>)>>;

pub(super) fn handle(
    request: &Request,
    slots: &Slots,
    peer: &Peer,
    inspections: &Inspections,
) -> String {
    if !peer.may(&request.cmd) {
        return protocol::error(
            ErrorKind::Refused,
            format!(
                "uid {} may only read (status, history, slots), not `{}`",
                peer.uid, request.cmd
            ),
        );
    }
    if request.cmd == "slots" {
        let slots = slots
            .iter()
            .map(|(name, slot)| SlotEntry {
                slot: name.clone(),
                interface: slot.interface().into(),
            })
            .collect();
        return protocol::ok(&SlotsReply { slots });
    }
    let slot = match (&request.slot, slots.as_slice()) {
        (Some(name), all) => all.iter().find(|(n, _)| n == name),
        (None, [only]) => Some(only),
        (None, _) => {
            return protocol::error(
                ErrorKind::BadRequest,
                "this process has several slots: name one with \"slot\"",
            );
        }
    };
    let Some((name, slot)) = slot else {
        return protocol::error(
            ErrorKind::NoSuchSlot,
            format!("no slot named {:?}", request.slot.as_deref().unwrap_or("")),
        );
    };
    let path = || {
        let path = request.path.as_deref().map(Path::new).ok_or_else(|| {
            protocol::error(
                ErrorKind::BadRequest,
                format!("`{}` needs a \"path\"", request.cmd),
            )
        })?;
        let Some(path) = peer.readable(path) else {
            return Err(protocol::error(
                ErrorKind::Refused,
                format!(
                    "uid {} cannot read {} itself (an absolute path, every directory on \
                     the way searchable by it and the file readable), or it does not exist",
                    peer.uid,
                    path.display()
                ),
            ));
        };
        Ok(path)
    };
    match request.cmd.as_str() {
        "status" => protocol::ok(&status(name, slot.as_ref())),
        "history" => protocol::ok(&history(name, slot.as_ref())),
        "swap" => match path() {
            Ok(path) => swapped(slot.swap_by(&path, Trigger::Control)),
            Err(reply) => reply,
        },
        "rollback" => match slot.rollback_by(Trigger::Control, request.cold) {
            Err(e @ crate::Error::Restore { .. }) => protocol::error(
                ErrorKind::Refused,
                format!(
                    "{e}; the previous build cannot read the serving build's state: roll back \
                     without it with `liveswapctl rollback --cold` (\"cold\": true), losing it"
                ),
            ),
            result => swapped(result),
        },
        "inspect" => match path() {
            Ok(path) => {
                let Some(_running) = inspections.enter() else {
                    return protocol::error(
                        ErrorKind::Refused,
                        format!("busy: {MAX_INSPECTIONS} inspections are running; try again"),
                    );
                };
                let inspection = slot.check(&path);
                match inspection.verdict {
                    Ok(()) => protocol::ok(&InspectReply {
                        path: path.display().to_string(),
                        accepted: true,
                        warnings: inspection.warnings,
                    }),
                    Err(message) => protocol::error(ErrorKind::Refused, message),
                }
            }
            Err(reply) => reply,
        },
        other => protocol::error(
            ErrorKind::BadRequest,
            format!(
                "unknown command {other:?}: expected status, history, swap, rollback, inspect or slots"
            ),
        ),
    }
}

fn swapped(result: Result<crate::SwapReport, crate::Error>) -> String {
    match result {
        Ok(report) => protocol::ok(&SwapReply {
            generation: report.generation,
            previous: report.previous,
            source: report.source.display().to_string(),
            total_ms: report.total().as_secs_f64() * 1e3,
            warnings: report.warnings,
        }),
        Err(e) => protocol::error(ErrorKind::Refused, e.to_string()),
    }
}

fn status(name: &str, slot: &dyn ManagedSlot) -> StatusReply {
    let stats = slot.stats();
    let generations = stats
        .generations
        .iter()
        .map(|g| {
            let (state, reason) = match &g.state {
                State::Current => ("current", None),
                State::Draining => ("draining", None),
                State::Unloaded => ("unloaded", None),
                State::Pinned { reason } => ("pinned", Some(reason.clone())),
            };
            GenerationStatus {
                generation: g.generation,
                source: g.source.display().to_string(),
                loaded_at_unix: unix_seconds(g.loaded_at),
                state: state.into(),
                reason,
                state_schema: g.state_schema,
                restored_from: g.restored_from,
                heap: g.heap.clone(),
            }
        })
        .collect();
    StatusReply {
        slot: name.into(),
        interface: slot.interface().into(),
        current: stats.current,
        live: stats.live(),
        draining: stats.draining(),
        pinned: stats.pinned(),
        unloaded: stats.unloaded(),
        loaded_in_process: stats.loaded_in_process,
        mapped_in_process: stats.mapped_in_process,
        near_generation_limit: stats.near_generation_limit,
        free_pthread_keys: stats.free_pthread_keys,
        generations,
    }
}

fn unix_seconds(at: std::time::SystemTime) -> f64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// The `history` reply: the slot's last attempts, oldest first.
fn history(name: &str, slot: &dyn ManagedSlot) -> HistoryReply {
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let attempts = slot
        .history()
        .iter()
        .map(|a| {
            let (generation, previous) = match a.outcome {
                Outcome::Published {
                    generation,
                    previous,
                } => (Some(generation), Some(previous)),
                _ => (None, None),
            };
            AttemptRecord {
                at_unix: unix_seconds(a.at),
                trigger: a.trigger.as_str().into(),
                kind: a.kind.as_str().into(),
                source: a.source.display().to_string(),
                content_hash: a.content_hash.map(|h| h.to_string()),
                signer: a.signer.as_ref().map(|s| s.key_id.clone()),
                outcome: a.outcome.as_str().into(),
                generation,
                previous,
                state_schema: a.state_schema,
                restored_from: a.restored_from,
                error: a.error.clone(),
                steps_ms: StepsMs {
                    copy: ms(a.steps.copy),
                    check: ms(a.steps.check),
                    isolated_preflight: ms(a.steps.isolated_preflight),
                    load: ms(a.steps.load),
                    preflight: ms(a.steps.preflight),
                    publish: ms(a.steps.publish),
                    total: ms(a.steps.total),
                },
            }
        })
        .collect();
    HistoryReply {
        slot: name.into(),
        interface: slot.interface().into(),
        attempts,
    }
}
