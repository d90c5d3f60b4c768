//! A plugin method named like a version's metadata (`storage`,
//! `generation`) is reached through a version: the metadata are associated
//! functions (`Version::storage(&v)`), so they do not shadow it.

#[liveswap::interface(version = 1)]
pub trait Named: Send + Sync {
    fn storage(&self) -> u32;
    fn generation(&self) -> u64;
}

fn call(version: &liveswap::Version<dyn Named>) -> (u32, u64, liveswap::stats::Storage) {
    let storage: Result<u32, liveswap::CallError> = version.storage();
    let generation: Result<u64, liveswap::CallError> = version.generation();
    (
        storage.unwrap_or(0),
        generation.unwrap_or(0),
        liveswap::Version::storage(version),
    )
}

pub fn main() {
    let _ = call;
}
