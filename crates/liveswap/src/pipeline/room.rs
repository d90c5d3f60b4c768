//! The reserve stage: a place among the replaced versions waiting to
//! unload ([`Options::max_unloading`](crate::Options::max_unloading)),
//! held as a guard. Dropped unpublished, it is given back; published, it
//! passes to the generation replaced, and is given back when that one
//! leaves `Draining` (the registry's `finished`).

use std::time::Duration;

use crate::error::Error;
use crate::registry::Registry;

/// A place taken, or none (a call already overtaken takes none).
pub(crate) struct Room<'r> {
    registry: &'r Registry,
    taken: bool,
}

impl<'r> Room<'r> {
    /// Waits up to `wait` for a place without taking it, so that a swap
    /// refused for the backlog is refused before it reads anything.
    pub(crate) fn wait(registry: &Registry, max: usize, wait: Duration) -> Result<(), Error> {
        // Replaced versions whose guards are gone go now, not at the
        // grace thread's next look.
        crate::read::grace::sweep();
        registry
            .wait_for_room(max, wait)
            .map_err(|waiting| backlog(waiting, max, wait))
    }

    /// Takes a place, waiting up to `wait` for one: only once the
    /// candidate is loaded, so that no place is held across reading a
    /// file or running a constructor.
    pub(crate) fn take(registry: &'r Registry, max: usize, wait: Duration) -> Result<Self, Error> {
        crate::read::grace::sweep();
        registry
            .reserve(max, wait)
            .map_err(|waiting| backlog(waiting, max, wait))?;
        Ok(Room {
            registry,
            taken: true,
        })
    }

    /// No place, for a call that will not publish.
    pub(crate) fn none(registry: &'r Registry) -> Self {
        Room {
            registry,
            taken: false,
        }
    }

    /// Hands the place to the generation just replaced.
    pub(crate) fn hand_over(mut self) {
        self.taken = false;
    }
}

impl Drop for Room<'_> {
    fn drop(&mut self) {
        if self.taken {
            self.registry.release();
        }
    }
}

fn backlog(waiting: usize, max: usize, waited: Duration) -> Error {
    Error::Backlog {
        waiting,
        max,
        waited,
    }
}
