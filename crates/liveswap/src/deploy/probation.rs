//! [`Probation`]: for a while after each publish, watch the new
//! generation's panics and roll it back by itself when there are too many.
//!
//! A background thread reads the serving generation and its panic count
//! ([`Version::panics`], a counter the plugin's shims increment only when
//! a call panics) every poll interval (default 10 ms). Calls pay nothing:
//! the read path is not touched. A generation is on probation for its
//! window (default 30 s) after it is first seen serving; if its panics
//! exceed [`ProbationPolicy::max_panics`] in the window, or
//! [`ProbationPolicy::max_panics_per_second`] over any second of it, the
//! thread calls the slot's rollback (recorded in the history with trigger
//! `probation` and the reason) and emits a [`ProbationEvent`]. The
//! generation restored by a probation rollback is not itself on
//! probation. Detection lags the threshold by up to one poll interval,
//! plus the rollback's own time.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::error::Error;
use crate::generation::Version;
use crate::history::Trigger;
use crate::interface::Interface;
use crate::pipeline::SwapReport;
use crate::slot::Slot;

/// Thresholds and window of a [`Probation`].
#[derive(Debug, Clone, Copy)]
pub struct ProbationPolicy {
    window: Duration,
    max_panics: u64,
    max_per_second: Option<u64>,
    poll: Duration,
}

impl Default for ProbationPolicy {
    fn default() -> Self {
        ProbationPolicy {
            window: Duration::from_secs(30),
            max_panics: 10,
            max_per_second: None,
            poll: Duration::from_millis(10),
        }
    }
}

impl ProbationPolicy {
    /// 30 s window, more than 10 panics rolls back, polled every 10 ms.
    pub fn new() -> Self {
        Self::default()
    }
    /// How long after publish a generation is watched (default 30 s).
    pub fn window(mut self, window: Duration) -> Self {
        self.window = window;
        self
    }
    /// Rolls back when the generation's panics in its window exceed
    /// `panics` (default 10; `0` rolls back at the first).
    pub fn max_panics(mut self, panics: u64) -> Self {
        self.max_panics = panics;
        self
    }
    /// Rolls back when more than `panics` happen within one second of the
    /// window (default: no rate limit).
    pub fn max_panics_per_second(mut self, panics: u64) -> Self {
        self.max_per_second = Some(panics);
        self
    }
    /// How often the counter is read (default 10 ms).
    pub fn poll(mut self, poll: Duration) -> Self {
        self.poll = poll.max(Duration::from_millis(1));
        self
    }
}

/// What probation did.
#[derive(Debug)]
#[non_exhaustive]
pub enum ProbationEvent {
    /// A generation was rolled back.
    RolledBack {
        /// The faulty generation.
        generation: u64,
        /// Why.
        reason: String,
        /// The rollback (boxed: a report is large, an event rare).
        report: Box<SwapReport>,
    },
    /// A generation crossed a threshold but could not be rolled back.
    RollbackFailed {
        /// The faulty generation, still serving.
        generation: u64,
        /// Why it was to go.
        reason: String,
        /// Why it could not.
        error: Error,
    },
    /// A generation served its window within the thresholds.
    Passed {
        /// The generation.
        generation: u64,
    },
}

type Callback = Box<dyn FnMut(&ProbationEvent) + Send>;

/// Watches a slot's new generations; see the [module docs](self).
/// Dropping it stops its thread (joined).
pub struct Probation {
    stop: Sender<()>,
    thread: Option<JoinHandle<()>>,
}

impl Probation {
    /// Starts watching `slot` under `policy`. The generation serving now
    /// is put on probation too.
    ///
    /// # Errors
    ///
    /// The thread could not start.
    pub fn start<I: Interface + ?Sized + 'static>(
        slot: Arc<Slot<I>>,
        policy: ProbationPolicy,
        on_event: impl FnMut(&ProbationEvent) + Send + 'static,
    ) -> std::io::Result<Probation> {
        let (stop, stopped) = mpsc::channel();
        let mut on_event: Callback = Box::new(on_event);
        let thread = std::thread::Builder::new()
            .name("liveswap-probation".into())
            .spawn(move || {
                let mut watch = Watch::default();
                loop {
                    watch.poll(&slot, &policy, &mut on_event);
                    match stopped.recv_timeout(policy.poll) {
                        Err(RecvTimeoutError::Timeout) => {}
                        _ => return,
                    }
                }
            })?;
        Ok(Probation {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for Probation {
    fn drop(&mut self) {
        let _ = self.stop.send(());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The generation under watch.
#[derive(Default)]
struct Watch {
    generation: u64,
    since: Option<Instant>,
    /// (when, panics so far), for the per-second rate.
    samples: VecDeque<(Instant, u64)>,
    /// Generations restored by probation: not watched.
    restored: Vec<u64>,
    done: bool,
}

impl Watch {
    fn poll<I: Interface + ?Sized + 'static>(
        &mut self,
        slot: &Slot<I>,
        policy: &ProbationPolicy,
        on_event: &mut Callback,
    ) {
        let (generation, panics) = {
            let current = slot.current();
            (Version::generation(&current), Version::panics(&current))
        };
        let now = Instant::now();
        if generation != self.generation {
            self.generation = generation;
            self.since = Some(now);
            self.samples.clear();
            // A fresh load's counter starts at zero: panics before this
            // first look count towards this second.
            self.samples.push_back((now, 0));
            self.done = self.restored.contains(&generation);
        }
        if self.done {
            return;
        }
        let since = self.since.unwrap_or(now);
        if now.duration_since(since) > policy.window {
            self.done = true;
            tracing::info!(generation, panics, "plugin generation passed probation");
            on_event(&ProbationEvent::Passed { generation });
            return;
        }
        self.samples.push_back((now, panics));
        while self
            .samples
            .front()
            .is_some_and(|(at, _)| now.duration_since(*at) > Duration::from_secs(1))
            && self.samples.len() > 1
        {
            self.samples.pop_front();
        }
        let reason = if panics > policy.max_panics {
            Some(format!(
                "probation: generation {generation} panicked {panics} times within {:?} of \
                 publish (limit {})",
                now.duration_since(since),
                policy.max_panics
            ))
        } else {
            let oldest = self.samples.front().map_or(0, |(_, p)| *p);
            policy
                .max_per_second
                .filter(|max| panics - oldest > *max)
                .map(|max| {
                    format!(
                        "probation: generation {generation} panicked {} times within one second \
                         (limit {max} per second)",
                        panics - oldest
                    )
                })
        };
        let Some(reason) = reason else {
            return;
        };
        self.done = true;
        match slot.rollback_by(
            Trigger::Probation,
            Some(reason.clone()),
            Some(generation),
            false,
        ) {
            Ok(report) => {
                tracing::warn!(generation, restored = report.generation, %reason, "plugin generation rolled back");
                self.restored.push(report.generation);
                on_event(&ProbationEvent::RolledBack {
                    generation,
                    reason,
                    report: Box::new(report),
                });
            }
            Err(error) => {
                tracing::error!(generation, %reason, %error, "probation rollback failed");
                on_event(&ProbationEvent::RollbackFailed {
                    generation,
                    reason,
                    error,
                });
            }
        }
    }
}
