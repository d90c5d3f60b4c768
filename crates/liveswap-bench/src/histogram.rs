//! A small log-linear latency histogram: exact below 256 ns, then 32
//! sub-buckets per power of two (about 3% resolution). Recording is a few
//! instructions and no allocation, so it can sit in a measured loop.

const EXACT: u64 = 256;
const SUB_BITS: u32 = 5;
const SUB: usize = 1 << SUB_BITS;
const BUCKETS: usize = EXACT as usize + 56 * SUB;

/// Counts of latencies in nanoseconds.
#[derive(Clone)]
pub struct Histogram {
    counts: Vec<u64>,
    max: u64,
    total: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: vec![0; BUCKETS],
            max: 0,
            total: 0,
        }
    }
}

fn index(ns: u64) -> usize {
    if ns < EXACT {
        return ns as usize;
    }
    let log = 63 - ns.leading_zeros(); // >= 8
    let sub = ((ns >> (log - SUB_BITS)) as usize) & (SUB - 1);
    (EXACT as usize + (log as usize - 8) * SUB + sub).min(BUCKETS - 1)
}

fn lower_bound(i: usize) -> u64 {
    if i < EXACT as usize {
        return i as u64;
    }
    let j = i - EXACT as usize;
    let log = (j / SUB) as u32 + 8;
    let sub = (j % SUB) as u64;
    (1u64 << log) + (sub << (log - SUB_BITS))
}

impl Histogram {
    /// Records one latency.
    #[inline]
    pub fn record(&mut self, ns: u64) {
        self.counts[index(ns)] += 1;
        self.max = self.max.max(ns);
        self.total += 1;
    }

    /// Adds another histogram's counts.
    pub fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.max = self.max.max(other.max);
        self.total += other.total;
    }

    /// The latency at quantile `q` (0..=1), as its bucket's lower bound.
    pub fn quantile(&self, q: f64) -> u64 {
        let rank = ((self.total as f64) * q).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return lower_bound(i);
            }
        }
        self.max
    }

    /// The largest latency recorded.
    pub fn max(&self) -> u64 {
        self.max
    }

    /// How many latencies were recorded.
    pub fn count(&self) -> u64 {
        self.total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_land_within_the_bucket_resolution() {
        let mut h = Histogram::default();
        for ns in 1..=10_000u64 {
            h.record(ns);
        }
        let p50 = h.quantile(0.5) as f64;
        let p99 = h.quantile(0.99) as f64;
        assert!((p50 - 5_000.0).abs() / 5_000.0 < 0.04, "{p50}");
        assert!((p99 - 9_900.0).abs() / 9_900.0 < 0.04, "{p99}");
        assert_eq!(h.max(), 10_000);
        assert_eq!(h.count(), 10_000);
    }

    #[test]
    fn every_value_lands_in_a_bucket_whose_bound_is_not_above_it() {
        for ns in [0, 1, 255, 256, 257, 1000, 1 << 20, u64::MAX / 2] {
            assert!(lower_bound(index(ns)) <= ns, "{ns}");
        }
    }
}
