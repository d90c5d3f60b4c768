//! What the demo host lends its plugin: the `Host` service (its uptime),
//! which the plugin calls on every `someData`.

use std::time::Instant;

use liveswap_demo_types::Host;

/// The demo's implementation of [`Host`].
pub struct DemoHost {
    started: Instant,
}

impl DemoHost {
    /// Started now.
    pub fn start() -> DemoHost {
        DemoHost {
            started: Instant::now(),
        }
    }
}

impl Host for DemoHost {
    fn uptime_secs(&self) -> u64 {
        self.started.elapsed().as_secs()
    }
}
