//! Every live block a plugin allocated, by address: which generation's
//! account made it, and its layout.
//!
//! A map from address to [`Entry`], split into [`SHARDS`] mutex-guarded
//! hash maps so that threads allocating at once rarely meet. A block enters
//! when plugin code allocates it and leaves when anyone's plugin code frees
//! it, when the host adopts it (it crossed the boundary into host-owned
//! values) or when its generation's leftovers are reclaimed.
//!
//! Invariant: an entry names only an account that is alive. Accounts are
//! freed only after [`drain`] has taken all their entries, and an entry
//! removed by anyone else is used only under its shard's lock
//! ([`remove`]'s `then`), so no one holds an account `drain` has passed.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Mutex, PoisonError};

/// The number of shards: a power of two.
const SHARDS: usize = 64;

/// One live block.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Entry {
    /// The account (a `*const Account` as an address) that allocated it.
    pub account: usize,
    /// Its size.
    pub size: usize,
    /// Its alignment.
    pub align: usize,
}

/// Hashes an address: blocks are at least 8-aligned, so the low bits say
/// little; a multiplication spreads the rest.
#[derive(Default)]
struct AddrHasher(u64);

impl Hasher for AddrHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    fn write_usize(&mut self, n: usize) {
        self.0 = (n as u64 >> 4).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

type Shard = Mutex<HashMap<usize, Entry, BuildHasherDefault<AddrHasher>>>;

static LEDGER: [Shard; SHARDS] =
    [const { Mutex::new(HashMap::with_hasher(BuildHasherDefault::new())) }; SHARDS];

fn shard(addr: usize) -> &'static Shard {
    // The address bits above the smallest block size, folded.
    let h = (addr >> 4) ^ (addr >> 10) ^ (addr >> 16);
    &LEDGER[h & (SHARDS - 1)]
}

/// Records a block. `false` if the ledger could not grow (out of memory):
/// the block is then not tracked.
pub(crate) fn insert(addr: usize, entry: Entry) -> bool {
    let mut map = shard(addr).lock().unwrap_or_else(PoisonError::into_inner);
    if map.try_reserve(1).is_err() {
        return false;
    }
    map.insert(addr, entry);
    true
}

/// Takes a block's entry out, if it has one, and runs `then` on it while
/// the shard is still locked: an account named by an entry is alive until
/// [`drain`] has taken its entries, and `drain` must lock this shard first,
/// so `then` may use the account.
pub(crate) fn remove<R>(addr: usize, then: impl FnOnce(&Entry) -> R) -> Option<R> {
    let mut map = shard(addr).lock().unwrap_or_else(PoisonError::into_inner);
    map.remove(&addr).map(|entry| then(&entry))
}

/// Takes out every entry of `account`: `(address, entry)` pairs.
pub(crate) fn drain(account: usize) -> Vec<(usize, Entry)> {
    let mut out = Vec::new();
    for shard in &LEDGER {
        let mut map = shard.lock().unwrap_or_else(PoisonError::into_inner);
        map.retain(|addr, entry| {
            if entry.account == account {
                out.push((*addr, *entry));
                false
            } else {
                true
            }
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_is_found_by_its_address_once() {
        let e = Entry {
            account: 1,
            size: 16,
            align: 8,
        };
        assert!(insert(0x1000_0000, e));
        assert_eq!(remove(0x1000_0000, |e| e.size), Some(16));
        assert!(remove(0x1000_0000, |_| ()).is_none());
    }

    #[test]
    fn drain_takes_one_accounts_entries_and_leaves_the_rest() {
        for i in 0..100usize {
            let account = 7 + i % 2;
            assert!(insert(
                0x2000_0000 + i * 32,
                Entry {
                    account,
                    size: 32,
                    align: 16,
                }
            ));
        }
        let taken = drain(7);
        assert_eq!(taken.len(), 50);
        assert!(taken.iter().all(|(_, e)| e.account == 7));
        assert_eq!(drain(8).len(), 50);
        assert!(drain(7).is_empty());
    }
}
