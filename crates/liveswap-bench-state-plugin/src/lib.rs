//! A `Store` whose state is a vector of `u64` counters (as a rules
//! engine's per-rule hit counts would be), encoded with postcard at each
//! swap: what the `state` measurement times.

use std::sync::Mutex;

use liveswap::{RemoteError, Snapshot, WarmStart, state};
use liveswap_bench_api::Store;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Default)]
struct Counters {
    hits: Vec<u64>,
}

struct Big(Mutex<Counters>);

impl Big {
    fn lock(&self) -> std::sync::MutexGuard<'_, Counters> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Store for Big {
    fn fill(&self, bytes: u64) {
        // Values of every size, so that the varints are not all one byte.
        let n = bytes / 8;
        self.lock().hits = (0..n)
            .map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (i % 64))
            .collect();
    }
    fn summary(&self) -> (u64, u64) {
        let c = self.lock();
        (
            c.hits.len() as u64,
            c.hits.iter().fold(0u64, |a, &b| a.wrapping_add(b)),
        )
    }
}

impl WarmStart for Big {
    const SCHEMA: u32 = 1;
    fn snapshot(&self) -> Result<Vec<u8>, RemoteError> {
        state::encode(&*self.lock())
    }
    fn restore(prior: Option<Snapshot<'_>>) -> Result<Self, RemoteError> {
        let counters = match prior {
            Some(p) => state::decode(p.bytes)?,
            None => Counters::default(),
        };
        Ok(Big(Mutex::new(counters)))
    }
}

liveswap::export!(Store => warm Big);
