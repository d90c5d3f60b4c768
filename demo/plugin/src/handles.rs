//! The exported API object: wires the interface to `my_code`, and counts
//! its calls in state that survives swaps (`state`). This part rarely
//! changes.

use std::sync::atomic::{AtomicU64, Ordering};

use liveswap::{Import, RemoteError, Snapshot, WarmStart, state};
use liveswap_demo_types::{Handles, Host};

use crate::my_code;
use crate::state::{SCHEMA, Saved};

struct DemoHandles {
    data: String,
    /// Calls so far, all versions together.
    calls: AtomicU64,
    /// The rest of the state, as restored.
    saved: Saved,
    /// The host's service.
    host: Import<dyn Host>,
}

impl Handles for DemoHandles {
    fn some_data(&self) -> String {
        let calls = self.calls.fetch_add(1, Ordering::Relaxed) + 1;
        let up = self.host.uptime_secs().unwrap_or_default();
        format!(
            "{} ({}, host up {up} s)",
            self.data,
            self.saved.describe(calls)
        )
    }

    fn some_fn(&self, i: i64) -> String {
        self.calls.fetch_add(1, Ordering::Relaxed);
        my_code::some_fn(i)
    }

    async fn some_async(&self, i: i64) -> String {
        self.calls.fetch_add(1, Ordering::Relaxed);
        my_code::some_fn(i)
    }
}

impl WarmStart for DemoHandles {
    const SCHEMA: u32 = SCHEMA;
    const MERGES: bool = true;

    fn snapshot(&self) -> Result<Vec<u8>, RemoteError> {
        let mut saved = self.saved.clone();
        saved.calls = self.calls.load(Ordering::Relaxed);
        state::encode(&saved)
    }

    fn restore(prior: Option<Snapshot<'_>>) -> Result<Self, RemoteError> {
        let saved = prior
            .map(crate::state::restore)
            .transpose()?
            .unwrap_or_default();
        Ok(DemoHandles {
            data: my_code::some_data(),
            calls: AtomicU64::new(saved.calls),
            saved,
            host: liveswap::import::<dyn Host>().map_err(|e| RemoteError::new(e.to_string()))?,
        })
    }

    /// Calls that reached the replaced version after its snapshot.
    fn merge(&self, base: Snapshot<'_>, last: Snapshot<'_>) -> Result<(), RemoteError> {
        let (base, last) = (crate::state::restore(base)?, crate::state::restore(last)?);
        self.calls
            .fetch_add(last.calls.saturating_sub(base.calls), Ordering::Relaxed);
        Ok(())
    }
}

liveswap::export!(Handles => warm DemoHandles, imports(dyn Host));
