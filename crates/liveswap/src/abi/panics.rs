//! A plugin's count of the panics its code caught, and the drop of a
//! caught panic's payload: used by the shims, the tasks and the logger,
//! on both sides.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, Ordering};

/// Panics caught by this plugin's shims (this library copy's own static).
pub(crate) static PANICS: AtomicU64 = AtomicU64::new(0);

/// Counts a panic caught elsewhere in this plugin's code (a task's).
pub(crate) fn count_panic() {
    PANICS.fetch_add(1, Ordering::Relaxed);
}

/// Drops a panic payload without letting a panic in its destructor out.
pub(crate) fn drop_payload(payload: Box<dyn Any + Send>) {
    if let Err(again) = catch_unwind(AssertUnwindSafe(move || drop(payload))) {
        std::mem::forget(again);
    }
}
