//! The in-process [`Preflight`]: a host's check of a loaded candidate's
//! API before it is published, on a thread of its own, with a timeout.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::{Arc, mpsc};
use std::time::Duration;

use crate::error::Error;
use crate::generation::Version;
use crate::interface::Interface;

/// How long an in-process preflight may run by default.
pub const DEFAULT_PREFLIGHT_TIMEOUT: Duration = Duration::from_secs(10);

type Check<I> = dyn Fn(&Version<I>) -> Result<(), String> + Send + Sync;

/// A host's check of a candidate's API before it is published: golden
/// requests and their expected answers, typically. `Err(message)` or a
/// panic refuses the swap ([`Error::Preflight`]); the serving generation
/// goes on and the candidate is unloaded.
///
/// The check runs on a thread of its own, so that one that hangs is
/// abandoned after [`timeout`](Self::timeout). A plugin method that
/// panics returns `Err(CallError::Panicked)` to the check, as to any
/// caller; a candidate that crashes the process (a segfault, an abort, a
/// stack overflow) is not caught here: run the same check isolated first
/// (feature `deploy`, `deploy::IsolatedPreflight`).
pub struct Preflight<I: Interface + ?Sized> {
    check: Arc<Check<I>>,
    timeout: Duration,
}

impl<I: Interface + ?Sized> Clone for Preflight<I> {
    fn clone(&self) -> Self {
        Preflight {
            check: Arc::clone(&self.check),
            timeout: self.timeout,
        }
    }
}

impl<I: Interface + ?Sized + 'static> Preflight<I> {
    /// A check; the candidate derefs to the interface's view.
    pub fn new(check: impl Fn(&Version<I>) -> Result<(), String> + Send + Sync + 'static) -> Self {
        Preflight {
            check: Arc::new(check),
            timeout: DEFAULT_PREFLIGHT_TIMEOUT,
        }
    }

    /// How long the check may run (default
    /// [`DEFAULT_PREFLIGHT_TIMEOUT`](crate::defaults::DEFAULT_PREFLIGHT_TIMEOUT), 10 s). Past it the swap is refused;
    /// the check's thread cannot be stopped, so it keeps the candidate
    /// mapped until it returns, if ever.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The check itself, for running it elsewhere (a child process).
    pub fn check(&self, candidate: &Version<I>) -> Result<(), String> {
        (self.check)(candidate)
    }

    /// Runs the check on its own thread. The candidate is dropped by the
    /// check's thread before its verdict is sent, so on `Ok` the caller
    /// holds the last reference.
    pub(crate) fn run(&self, candidate: &Arc<Version<I>>, source: &Path) -> Result<(), Error> {
        let candidate = Arc::clone(candidate);
        let refuse = |message: String| Error::Preflight {
            path: source.to_path_buf(),
            isolated: false,
            message,
        };
        let (tx, rx) = mpsc::channel();
        let check = Arc::clone(&self.check);
        let spawned = std::thread::Builder::new()
            .name("liveswap-preflight".into())
            .spawn(move || {
                let verdict = catch_unwind(AssertUnwindSafe(|| check(&candidate)));
                drop(candidate);
                let _ = tx.send(verdict);
            });
        let thread = match spawned {
            Ok(thread) => thread,
            Err(e) => return Err(refuse(format!("cannot start its thread: {e}"))),
        };
        match rx.recv_timeout(self.timeout) {
            Ok(verdict) => {
                let _ = thread.join();
                match verdict {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(message)) => Err(refuse(message)),
                    Err(panic) => Err(refuse(format!(
                        "the check panicked: {}",
                        panic_message(&*panic)
                    ))),
                }
            }
            Err(_) => Err(refuse(format!(
                "the check did not finish within {:?}; its thread keeps the candidate mapped \
                 until it returns",
                self.timeout
            ))),
        }
    }
}

/// A panic payload's message.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(a non-string payload)".to_string()
    }
}
