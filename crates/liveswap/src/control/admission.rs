//! Who may hold a control connection: a cap on all clients, a cap per
//! allow-listed user, and places only root and this process's user may
//! take, so that an allow-listed user holding connections open cannot
//! lock the owner out.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

/// Connections only root and this process's user may take (half of
/// `max_clients` when that is 16 or fewer).
pub(crate) const RESERVED_FOR_OWNER: usize = 8;

/// The clients being served, in all and by uid.
#[derive(Debug, Default)]
pub(crate) struct Admission {
    counts: Mutex<Counts>,
}

#[derive(Debug, Default)]
struct Counts {
    total: usize,
    by_uid: HashMap<u32, usize>,
}

/// One admitted client; gives its place back when dropped.
#[derive(Debug)]
pub(crate) struct Place {
    admission: Arc<Admission>,
    uid: u32,
}

impl Admission {
    /// Admits a client of `uid` (`owner`: root or this process's user), or
    /// says why not.
    pub(crate) fn admit(
        self: &Arc<Self>,
        uid: u32,
        owner: bool,
        max_clients: usize,
        max_per_uid: usize,
    ) -> Result<Place, String> {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        let (limit, mine) = if owner {
            (max_clients, 0)
        } else {
            (
                max_clients.saturating_sub(RESERVED_FOR_OWNER.min(max_clients / 2)),
                counts.by_uid.get(&uid).copied().unwrap_or(0),
            )
        };
        if counts.total >= limit {
            return Err(format!(
                "busy: {} control clients connected, the most {} may hold",
                counts.total,
                if owner {
                    "all clients"
                } else {
                    "allow-listed users"
                }
            ));
        }
        if !owner && mine >= max_per_uid {
            return Err(format!(
                "busy: uid {uid} already holds {mine} control connections (at most {max_per_uid})"
            ));
        }
        counts.total += 1;
        *counts.by_uid.entry(uid).or_insert(0) += 1;
        Ok(Place {
            admission: Arc::clone(self),
            uid,
        })
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        let mut counts = self
            .admission
            .counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        counts.total = counts.total.saturating_sub(1);
        if let Some(n) = counts.by_uid.get_mut(&self.uid) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                counts.by_uid.remove(&self.uid);
            }
        }
    }
}

/// Inspections run at once by one server: each copies and parses a file
/// of up to `Options::max_file_size`, so many at once could hold that
/// much memory or disk each.
pub(crate) const MAX_INSPECTIONS: usize = 2;

/// Inspections running now.
#[derive(Debug, Default)]
pub(crate) struct Inspections {
    running: std::sync::atomic::AtomicUsize,
}

/// One running inspection; its place is given back when dropped.
pub(crate) struct Inspecting<'a>(&'a Inspections);

impl Inspections {
    /// A place for one more inspection, or `None` when
    /// [`MAX_INSPECTIONS`] run already.
    pub(crate) fn enter(&self) -> Option<Inspecting<'_>> {
        use std::sync::atomic::Ordering;
        self.running
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < MAX_INSPECTIONS).then_some(n + 1)
            })
            .ok()
            .map(|_| Inspecting(self))
    }
}

impl Drop for Inspecting<'_> {
    fn drop(&mut self) {
        self.0
            .running
            .fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::{Admission, Inspections, MAX_INSPECTIONS, RESERVED_FOR_OWNER};

    #[test]
    fn no_more_than_two_inspections_run_at_once() {
        let inspections = Inspections::default();
        let running: Vec<_> = (0..MAX_INSPECTIONS)
            .map(|_| inspections.enter().unwrap())
            .collect();
        assert!(inspections.enter().is_none());
        drop(running);
        assert!(inspections.enter().is_some());
    }

    #[test]
    fn an_allowed_user_cannot_hold_more_than_its_share() {
        let admission = Arc::new(Admission::default());
        let held: Vec<_> = (0..4)
            .map(|_| admission.admit(1000, false, 128, 4).unwrap())
            .collect();
        let refused = admission.admit(1000, false, 128, 4).unwrap_err();
        assert!(refused.contains("uid 1000 already holds 4"), "{refused}");
        // Another allowed user still gets in.
        assert!(admission.admit(1001, false, 128, 4).is_ok());
        drop(held);
        assert!(admission.admit(1000, false, 128, 4).is_ok());
    }

    #[test]
    fn the_owner_gets_in_when_allowed_users_have_filled_their_places() {
        let admission = Arc::new(Admission::default());
        let max = 16;
        // Allowed users, each within its own cap, fill all they may.
        let held: Vec<_> = (0..max - RESERVED_FOR_OWNER)
            .map(|i| admission.admit(2000 + i as u32, false, max, 4).unwrap())
            .collect();
        assert!(admission.admit(3000, false, max, 4).is_err());
        // Root and the process's user still get the reserved places.
        let owners: Vec<_> = (0..RESERVED_FOR_OWNER)
            .map(|_| admission.admit(0, true, max, 4).unwrap())
            .collect();
        assert!(
            admission.admit(0, true, max, 4).is_err(),
            "the total cap holds"
        );
        drop((held, owners));
    }
}
