//! [`SwapOptions`]: what a swap may be asked to check between loading a
//! candidate and publishing it.
//!
//! The order of a swap with every option on: copy, signature, handshake,
//! content hash; `skip_unchanged` (stop if the hash is the serving one's);
//! the `before_load` gate (the isolated preflight, in a child process,
//! before this process maps a byte of the candidate); `dlopen` and the
//! constructor; the in-process `preflight` against the loaded candidate;
//! publish. Any refusal leaves the serving generation in place.

use std::sync::Arc;

use super::gate::{BeforeLoad, Candidate};
use crate::history::Trigger;
use crate::interface::Interface;
use crate::preflight::Preflight;

/// How [`Slot::swap_with`](crate::Slot::swap_with) goes about a swap.
pub struct SwapOptions<I: Interface + ?Sized> {
    pub(crate) trigger: Trigger,
    pub(crate) skip_unchanged: bool,
    pub(crate) before_load: Option<Arc<BeforeLoad>>,
    pub(crate) preflight: Option<Preflight<I>>,
}

impl<I: Interface + ?Sized> Default for SwapOptions<I> {
    fn default() -> Self {
        SwapOptions {
            trigger: Trigger::Api,
            skip_unchanged: false,
            before_load: None,
            preflight: None,
        }
    }
}

impl<I: Interface + ?Sized> Clone for SwapOptions<I> {
    fn clone(&self) -> Self {
        SwapOptions {
            trigger: self.trigger,
            skip_unchanged: self.skip_unchanged,
            before_load: self.before_load.clone(),
            preflight: self.preflight.clone(),
        }
    }
}

impl<I: Interface + ?Sized> SwapOptions<I> {
    /// What [`Slot::swap`](crate::Slot::swap) does: no preflight, trigger
    /// [`Trigger::Api`].
    pub fn new() -> Self {
        Self::default()
    }

    /// What the history records as having asked (default
    /// [`Trigger::Api`]).
    pub fn trigger(mut self, trigger: Trigger) -> Self {
        self.trigger = trigger;
        self
    }

    /// Refuses, with [`Error::Unchanged`](crate::Error::Unchanged) and before `dlopen`, a file
    /// whose bytes hash to the serving generation's.
    pub fn skip_unchanged(mut self) -> Self {
        self.skip_unchanged = true;
        self
    }

    /// Runs `gate` after the handshake and before the candidate is
    /// mapped in this process: no code of it has run here. `Err(message)`
    /// refuses it ([`Error::Preflight`](crate::Error::Preflight) with `isolated` set). This is where
    /// an isolated preflight runs (feature `deploy`).
    pub fn before_load(
        mut self,
        gate: impl Fn(&Candidate<'_>) -> Result<(), String> + Send + Sync + 'static,
    ) -> Self {
        self.before_load = Some(Arc::new(gate));
        self
    }

    /// Runs `preflight` against the loaded candidate before publishing it.
    pub fn preflight(mut self, preflight: Preflight<I>) -> Self {
        self.preflight = Some(preflight);
        self
    }
}
