//! [`ManagedSlot`]: a slot seen without its interface type, for tools that
//! operate a process from outside (the control server) and for hosts that
//! keep slots of several interfaces in one list.

use std::path::Path;

use crate::error::Error;
use crate::interface::Interface;
use crate::slot::{Slot, SwapReport};
use crate::stats::Stats;

/// What a handshake says of a file, without loading it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inspection {
    /// Whether this slot would accept the file: `Ok`, or the refusal's
    /// message (the same a swap would return).
    pub verdict: Result<(), String>,
    /// Hazards read from the file's imports (see [`SwapReport::warnings`]).
    pub warnings: Vec<String>,
}

/// A slot of any interface: status, swap, rollback and inspection by path.
/// Every [`Slot`] is one; share it as `Arc<dyn ManagedSlot>`.
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
    fn swap_to(&self, path: &Path) -> Result<SwapReport, Error>;
    /// Returns to the previous build ([`Slot::rollback`]), counted as a
    /// rollback by an operator (cause `control` in the metrics).
    ///
    /// # Errors
    ///
    /// As [`Slot::rollback`].
    fn roll_back(&self) -> Result<SwapReport, Error>;
    /// Runs the handshake on the file at `path` without loading it: no
    /// code of the file runs.
    fn inspect(&self, path: &Path) -> Inspection;
}

impl<I: Interface + ?Sized> ManagedSlot for Slot<I>
where
    Slot<I>: Send + Sync,
{
    fn interface(&self) -> &'static str {
        I::NAME
    }
    fn stats(&self) -> Stats {
        Slot::stats(self)
    }
    fn swap_to(&self, path: &Path) -> Result<SwapReport, Error> {
        Slot::swap(self, path)
    }
    fn roll_back(&self) -> Result<SwapReport, Error> {
        Slot::rollback_because(self, "control")
    }
    fn inspect(&self, path: &Path) -> Inspection {
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
