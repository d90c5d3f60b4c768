//! [`ManagedSlot`]: a slot seen without its interface type, for tools that
//! operate a process from outside (the control server) and for hosts that
//! keep slots of several interfaces in one list.

use std::path::Path;

use crate::error::Error;
use crate::history::{Attempt, Trigger};
use crate::interface::Interface;
use crate::pipeline::SwapReport;
use crate::registry::Stats;
use crate::slot::Slot;

/// What a handshake says of a file, without loading it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inspection {
    /// Whether this slot would accept the file: `Ok`, or the refusal's
    /// message (the same a swap would return).
    pub verdict: Result<(), String>,
    /// Hazards read from the file's imports (see [`SwapReport::warnings`]).
    pub warnings: Vec<String>,
}

/// A slot of any interface: status, swap, rollback and check by path,
/// with [`Slot`]'s verbs. Every [`Slot`] is one; share it as
/// `Arc<dyn ManagedSlot>`.
pub trait ManagedSlot: Send + Sync {
    /// The interface's name, as the handshake checks it.
    fn interface(&self) -> &'static str;
    /// The slot's generations ([`Slot::stats`]).
    fn stats(&self) -> Stats;
    /// Loads the plugin at `path` as the next generation ([`Slot::swap`]).
    ///
    /// # Errors
    ///
    /// As [`Slot::swap`]; the serving version goes on.
    fn swap(&self, path: &Path) -> Result<SwapReport, Error>;
    /// Returns to the previous build ([`Slot::rollback`]), counted as a
    /// rollback by an operator (cause `control` in the metrics).
    ///
    /// # Errors
    ///
    /// As [`Slot::rollback`].
    fn rollback(&self) -> Result<SwapReport, Error>;
    /// Runs the handshake on the file at `path` without loading it: no
    /// code of the file runs ([`Slot::check`], its verdict as text).
    fn check(&self, path: &Path) -> Inspection;
    /// The last attempts to change the slot's code ([`Slot::history`]).
    fn history(&self) -> Vec<Attempt>;
    /// [`swap`](Self::swap), recorded in the history as asked by
    /// `trigger` (the control socket says [`Trigger::Control`]).
    ///
    /// # Errors
    ///
    /// As [`Slot::swap`].
    fn swap_by(&self, path: &Path, trigger: Trigger) -> Result<SwapReport, Error>;
    /// [`rollback`](Self::rollback), recorded in the history as asked by
    /// `trigger`; with `cold`, without carrying the serving version's state
    /// ([`Slot::rollback_cold`]).
    ///
    /// # Errors
    ///
    /// As [`Slot::rollback`].
    fn rollback_by(&self, trigger: Trigger, cold: bool) -> Result<SwapReport, Error>;
}

impl<I: Interface + ?Sized + 'static> ManagedSlot for Slot<I>
where
    Slot<I>: Send + Sync,
{
    fn interface(&self) -> &'static str {
        I::NAME
    }
    fn stats(&self) -> Stats {
        Slot::stats(self)
    }
    fn swap(&self, path: &Path) -> Result<SwapReport, Error> {
        Slot::swap(self, path)
    }
    fn rollback(&self) -> Result<SwapReport, Error> {
        Slot::rollback(self)
    }
    fn history(&self) -> Vec<Attempt> {
        Slot::history(self)
    }
    fn swap_by(&self, path: &Path, trigger: Trigger) -> Result<SwapReport, Error> {
        Slot::swap_with(
            self,
            path,
            &crate::pipeline::SwapOptions::new().trigger(trigger),
        )
    }
    fn rollback_by(&self, trigger: Trigger, cold: bool) -> Result<SwapReport, Error> {
        Slot::rollback_by(self, trigger, None, None, cold)
    }
    fn check(&self, path: &Path) -> Inspection {
        match Slot::check(self, path) {
            Ok(warnings) => Inspection {
                verdict: Ok(()),
                warnings,
            },
            Err(e) => Inspection {
                verdict: Err(e.to_string()),
                warnings: Vec::new(),
            },
        }
    }
}
