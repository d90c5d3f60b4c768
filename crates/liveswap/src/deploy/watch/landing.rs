//! The landing decision: whether the file at the watched path is tried
//! now, waited for (changed too lately), held back (a swap's cooldown),
//! or skipped (already tried). Pure: both clocks are arguments, so the
//! tests drive it with a fake clock.

use std::os::unix::fs::MetadataExt;
use std::time::{Duration, Instant, SystemTime};

use super::{RETRY_FIRST, RETRY_MAX};

/// Device, inode, size, modification and change time of a file.
pub(super) type Stamp = (u64, u64, u64, (i64, i64), (i64, i64));

/// A candidate's identity: the file's stamp and its signature's, if any.
pub(super) type Identity = (Stamp, Option<Stamp>);

pub(super) fn stamp(meta: &std::fs::Metadata) -> Stamp {
    (
        meta.dev(),
        meta.ino(),
        meta.len(),
        (meta.mtime(), meta.mtime_nsec()),
        (meta.ctime(), meta.ctime_nsec()),
    )
}

/// How long before `now` the later of the file's and its signature's last
/// change was (`ZERO` for a change time in the future).
fn quiet_for(id: &Identity, now: SystemTime) -> Duration {
    let changed = |s: &Stamp| s.4;
    let last =
        id.1.as_ref()
            .map_or(changed(&id.0), |sig| changed(&id.0).max(changed(sig)));
    let at = u64::try_from(last.0).ok().map(|secs| {
        SystemTime::UNIX_EPOCH
            + Duration::from_secs(secs)
            + Duration::from_nanos(u64::try_from(last.1).unwrap_or(0))
    });
    at.and_then(|at| now.duration_since(at).ok())
        .unwrap_or(Duration::ZERO)
}

/// What the watcher remembers between looks.
#[derive(Debug, Default)]
pub(super) struct Landing {
    /// The last identity attempted: not attempted again, unless `retry`.
    attempted: Option<Identity>,
    /// A transient refusal of `attempted`: when to try again, and the
    /// wait after that.
    retry: Option<(Instant, Duration)>,
    /// An incomplete file waiting to be quiet: its identity and when to
    /// look again.
    waiting: Option<(Identity, Instant)>,
    /// When the last swap was published.
    last_swap: Option<Instant>,
    /// A look put off by the cooldown, until then.
    hold: Option<Instant>,
}

/// What to do with the file looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Decision {
    /// Already attempted, and no retry due.
    Skip,
    /// Changed too lately: look again at `until`. `first` when this
    /// identity was not waited for already (worth an event).
    Wait { until: Instant, first: bool },
    /// A swap was published less than the cooldown ago: look again then.
    Hold { until: Instant },
    /// Try it now; `backoff` is the wait if it is refused for now.
    Attempt { backoff: Duration },
}

impl Landing {
    /// Decides for the file of identity `id`, looked at at `now` (and
    /// `wall` on the clock its change times are read against).
    pub(super) fn decide(
        &mut self,
        id: Identity,
        now: Instant,
        wall: SystemTime,
        settle: Duration,
        cooldown: Duration,
    ) -> Decision {
        self.hold = None;
        let due = self.retry.is_some_and(|(at, _)| at <= now);
        if self.attempted == Some(id) && !due {
            return Decision::Skip;
        }
        if self.attempted != Some(id) {
            self.retry = None;
        }
        let quiet = quiet_for(&id, wall);
        if quiet < settle {
            let until = now + (settle - quiet);
            let first = self.waiting.map(|(w, _)| w) != Some(id);
            self.waiting = Some((id, until));
            return Decision::Wait { until, first };
        }
        self.waiting = None;
        if let Some(until) = self.last_swap.map(|at| at + cooldown)
            && until > now
        {
            self.hold = Some(until);
            return Decision::Hold { until };
        }
        self.attempted = Some(id);
        let backoff = self.retry.take().map_or(RETRY_FIRST, |(_, wait)| wait);
        Decision::Attempt { backoff }
    }

    /// A look starts: what the cooldown held back is being looked at.
    pub(super) fn unhold(&mut self) {
        self.hold = None;
    }

    /// The file is gone: nothing waits for it to settle.
    pub(super) fn unwait(&mut self) {
        self.waiting = None;
    }

    /// A swap was published at `now`.
    pub(super) fn swapped(&mut self, now: Instant) {
        self.last_swap = Some(now);
    }

    /// The attempt was refused for now: try again `backoff` after `now`,
    /// and wait twice as long (up to the cap) after that.
    pub(super) fn retry_after(&mut self, now: Instant, backoff: Duration) {
        self.retry = Some((now + backoff, (backoff * 2).min(RETRY_MAX)));
    }

    /// When to look again without an event: the earliest of a wait, a hold
    /// and a retry.
    pub(super) fn next_look(&self) -> Option<Instant> {
        [
            self.waiting.map(|(_, at)| at),
            self.hold,
            self.retry.map(|(at, _)| at),
        ]
        .into_iter()
        .flatten()
        .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SETTLE: Duration = Duration::from_millis(100);
    const COOLDOWN: Duration = Duration::from_secs(1);

    /// A file (inode `ino`) changed at `changed` seconds past the epoch.
    fn file(ino: u64, changed: f64) -> Identity {
        let secs = changed.trunc() as i64;
        let nanos = ((changed - changed.trunc()) * 1e9) as i64;
        ((1, ino, 4096, (secs, nanos), (secs, nanos)), None)
    }

    fn wall(at: f64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs_f64(at)
    }

    #[test]
    fn a_file_changed_within_the_settle_time_is_waited_for_then_attempted_once() {
        let mut landing = Landing::default();
        let t0 = Instant::now();
        let id = file(7, 1000.0);
        // 40 ms after its change: wait 60 ms more.
        let Decision::Wait { until, first } =
            landing.decide(id, t0, wall(1000.04), SETTLE, COOLDOWN)
        else {
            panic!("not quiet yet");
        };
        assert!(first);
        assert_eq!(until.duration_since(t0), Duration::from_millis(60));
        assert_eq!(landing.next_look(), Some(until));
        // Looked at again before it is quiet: still waiting, not a new wait.
        let again = landing.decide(id, t0, wall(1000.05), SETTLE, COOLDOWN);
        assert!(matches!(again, Decision::Wait { first: false, .. }));
        // Quiet: attempted, then skipped while it stays the same.
        let attempt = landing.decide(id, until, wall(1000.10), SETTLE, COOLDOWN);
        assert_eq!(
            attempt,
            Decision::Attempt {
                backoff: RETRY_FIRST
            }
        );
        assert_eq!(
            landing.decide(id, until, wall(1000.2), SETTLE, COOLDOWN),
            Decision::Skip
        );
        // A new file at the path (another inode) is a new candidate.
        let next = file(8, 1000.0);
        assert!(matches!(
            landing.decide(next, until, wall(1001.0), SETTLE, COOLDOWN),
            Decision::Attempt { .. }
        ));
    }

    #[test]
    fn a_change_time_in_the_future_counts_as_just_changed() {
        let mut landing = Landing::default();
        let now = Instant::now();
        let decision = landing.decide(file(7, 2000.0), now, wall(1000.0), SETTLE, COOLDOWN);
        assert_eq!(
            decision,
            Decision::Wait {
                until: now + SETTLE,
                first: true
            }
        );
    }

    #[test]
    fn a_transient_refusal_is_retried_when_due_with_a_doubling_backoff_up_to_the_cap() {
        let mut landing = Landing::default();
        let mut now = Instant::now();
        let id = file(7, 1000.0);
        let mut backoffs = Vec::new();
        for _ in 0..12 {
            let Decision::Attempt { backoff } =
                landing.decide(id, now, wall(1010.0), SETTLE, COOLDOWN)
            else {
                panic!("a due retry is attempted");
            };
            backoffs.push(backoff);
            landing.retry_after(now, backoff);
            // Not due yet: skipped.
            assert_eq!(
                landing.decide(id, now, wall(1010.0), SETTLE, COOLDOWN),
                Decision::Skip
            );
            now += backoff;
        }
        assert_eq!(backoffs[0], RETRY_FIRST);
        assert_eq!(backoffs[1], RETRY_FIRST * 2);
        assert_eq!(*backoffs.last().unwrap(), RETRY_MAX);
    }

    #[test]
    fn a_build_landing_within_the_cooldown_of_a_swap_is_held_until_it_ends() {
        let mut landing = Landing::default();
        let t0 = Instant::now();
        landing.swapped(t0);
        let id = file(9, 1000.0);
        let held = landing.decide(
            id,
            t0 + Duration::from_millis(300),
            wall(1010.0),
            SETTLE,
            COOLDOWN,
        );
        assert_eq!(
            held,
            Decision::Hold {
                until: t0 + COOLDOWN
            }
        );
        assert_eq!(landing.next_look(), Some(t0 + COOLDOWN));
        assert!(matches!(
            landing.decide(id, t0 + COOLDOWN, wall(1011.0), SETTLE, COOLDOWN),
            Decision::Attempt { .. }
        ));
    }
}
