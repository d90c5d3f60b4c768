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

/// How a swap goes about it: the slot's policy
/// ([`Slot::set_swap_policy`](crate::Slot::set_swap_policy)) and, for one
/// call, overrides ([`Slot::swap_with`](crate::Slot::swap_with)). One
/// type for both: each setting a `SwapOptions` names is used, and each it
/// leaves unnamed comes from the slot's policy (then from the defaults:
/// trigger [`Trigger::Api`](crate::history::Trigger::Api), no skip, no checks).
///
/// Each setting on its own: a call that names a
/// [`preflight`](Self::preflight) replaces the policy's preflight and
/// leaves its [`before_load`](Self::before_load) gate in place (and the
/// other way round; a watcher's isolated check is its `before_load`);
/// [`without_checks`](Self::without_checks) turns both off;
/// [`allow_unchanged`](Self::allow_unchanged) turns a policy's
/// [`skip_unchanged`](Self::skip_unchanged) off.
///
/// ```no_run
/// # #[liveswap::interface(version = 1)]
/// # pub trait Handles: Send + Sync { fn some_fn(&self, i: i64) -> String; }
/// use liveswap::{Preflight, SwapOptions};
/// # let slot = liveswap::Slot::<dyn Handles>::load("libmy_plugin.so")?;
/// // Every swap, whoever asks, runs this check first.
/// slot.set_swap_policy(SwapOptions::new().preflight(Preflight::new(
///     |api: &liveswap::Version<dyn Handles>| match api.some_fn(7) {
///         Ok(answer) if answer == "Adding to 10: 17" => Ok(()),
///         other => Err(format!("some_fn(7) returned {other:?}")),
///     },
/// )));
/// // This one also skips a build already serving; the preflight still runs.
/// slot.swap_with("libmy_plugin.so", &SwapOptions::new().skip_unchanged())?;
/// // A deliberate swap without the policy's checks.
/// slot.swap_with("libmy_plugin.so", &SwapOptions::new().without_checks())?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct SwapOptions<I: Interface + ?Sized> {
    trigger: Option<Trigger>,
    skip_unchanged: Option<bool>,
    /// `Some(None)`: named, and off.
    before_load: Option<Option<Arc<BeforeLoad>>>,
    preflight: Option<Option<Preflight<I>>>,
}

impl<I: Interface + ?Sized> Default for SwapOptions<I> {
    fn default() -> Self {
        SwapOptions {
            trigger: None,
            skip_unchanged: None,
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
    /// Names nothing: as a call's options, the slot's policy as it is; as
    /// the policy, the defaults (no checks, trigger
    /// [`Trigger::Api`](crate::history::Trigger::Api)).
    pub fn new() -> Self {
        Self::default()
    }

    /// What the history records as having asked.
    pub fn trigger(mut self, trigger: Trigger) -> Self {
        self.trigger = Some(trigger);
        self
    }

    /// Refuses, with [`Error::Unchanged`](crate::Error::Unchanged) and before `dlopen`, a file
    /// whose bytes hash to the serving generation's.
    pub fn skip_unchanged(mut self) -> Self {
        self.skip_unchanged = Some(true);
        self
    }

    /// Publishes a file even when its bytes are the serving generation's
    /// (the default), whatever the slot's policy says: a deliberate
    /// re-swap of the same build (to start it afresh, or to carry its state
    /// through a restore).
    pub fn allow_unchanged(mut self) -> Self {
        self.skip_unchanged = Some(false);
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
        self.before_load = Some(Some(Arc::new(gate)));
        self
    }

    /// Runs `preflight` against the loaded candidate before publishing it.
    pub fn preflight(mut self, preflight: Preflight<I>) -> Self {
        self.preflight = Some(Some(preflight));
        self
    }

    /// Runs neither a gate nor a preflight, whatever the slot's policy
    /// names: for a deliberate swap past checks that cannot pass (the
    /// signature, the safe-path rule and the handshake still hold, and so
    /// does a policy's [`skip_unchanged`](Self::skip_unchanged) unless
    /// [`allow_unchanged`](Self::allow_unchanged) is named too).
    pub fn without_checks(mut self) -> Self {
        self.before_load = Some(None);
        self.preflight = Some(None);
        self
    }

    /// These options over `policy`: what each leaves unnamed, the other
    /// gives.
    pub(crate) fn over(&self, policy: &SwapOptions<I>) -> Effective<I> {
        Effective {
            trigger: self.trigger.or(policy.trigger).unwrap_or(Trigger::Api),
            skip_unchanged: self
                .skip_unchanged
                .or(policy.skip_unchanged)
                .unwrap_or(false),
            before_load: self
                .before_load
                .clone()
                .or_else(|| policy.before_load.clone())
                .flatten(),
            preflight: self
                .preflight
                .clone()
                .or_else(|| policy.preflight.clone())
                .flatten(),
        }
    }
}

/// What one swap does, its options over the slot's policy.
pub(crate) struct Effective<I: Interface + ?Sized> {
    pub trigger: Trigger,
    pub skip_unchanged: bool,
    pub before_load: Option<Arc<BeforeLoad>>,
    pub preflight: Option<Preflight<I>>,
}
