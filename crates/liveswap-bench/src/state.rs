//! Warm start: the time to snapshot a plugin's state and to restore it in
//! the next version, for a state of counters of a given size, over swaps
//! of the same build (`liveswap-bench-state-plugin`, postcard encoding).

use std::path::Path;
use std::time::Duration;

use liveswap::{Options, Slot};
use liveswap_bench_api::Store;

use crate::swaps::{Percentiles, percentiles};

/// Snapshot and restore times for one state size.
#[derive(Debug, Clone, Copy, Default)]
pub struct StateCost {
    /// The state's size in memory (counters times 8 bytes).
    pub state_bytes: u64,
    /// The snapshot's size.
    pub snapshot_bytes: usize,
    /// `WarmStart::snapshot` on the serving version (encode).
    pub snapshot: Percentiles,
    /// The new version's entry point given the snapshot (decode).
    pub restore: Percentiles,
    /// The whole swap.
    pub total: Percentiles,
    /// How many swaps.
    pub swaps: usize,
}

/// Fills the plugin's state with `bytes` of counters and swaps `n` times,
/// checking that the state arrived whole each time.
pub fn measure(path: &Path, bytes: u64, n: usize) -> Result<StateCost, String> {
    let slot = Slot::<dyn Store>::load_with(path, Options::new().max_state_size(usize::MAX))
        .map_err(|e| e.to_string())?;
    slot.current().fill(bytes).map_err(|e| e.to_string())?;
    let expected = slot.current().summary().map_err(|e| e.to_string())?;
    let mut steps: [Vec<Duration>; 3] = Default::default();
    let mut snapshot_bytes = 0;
    for _ in 0..n {
        let report = slot.swap(path).map_err(|e| e.to_string())?;
        if !report.state.restored {
            return Err(format!("state not restored: {:?}", report.state));
        }
        snapshot_bytes = report.state.bytes;
        for (v, d) in
            steps
                .iter_mut()
                .zip([report.state.snapshot, report.state.restore, report.total()])
        {
            v.push(d);
        }
        let got = slot.current().summary().map_err(|e| e.to_string())?;
        if got != expected {
            return Err(format!(
                "state changed across a swap: {expected:?} -> {got:?}"
            ));
        }
    }
    let [snapshot, restore, total] = &mut steps;
    Ok(StateCost {
        state_bytes: bytes,
        snapshot_bytes,
        snapshot: percentiles(snapshot),
        restore: percentiles(restore),
        total: percentiles(total),
        swaps: n,
    })
}
