//! What the trust checks cost a swap: the safe-path walk, and the
//! signature (minisign: BLAKE2b-512 of the file, then one Ed25519
//! verification), which a load checks in the pass that copies and hashes
//! the file. Measured as a swap of a signed file against the same swap
//! with no key trusted, beside hashing the same bytes alone with BLAKE3
//! (every load's content hash) and BLAKE2b-512. On the debug demo plugin
//! (the largest file a quick start swaps), in a directory of its own,
//! signed by a key made for the run (nothing secret is written but the
//! signature).

use std::path::Path;
use std::time::{Duration, Instant};

use liveswap::Slot;
use liveswap_demo_types::Handles;

/// Medians over `rounds`: ms per MB for the signature and the hashes, and
/// µs for the path walk.
pub struct Trust {
    pub file_mb: f64,
    /// What the signature adds to a swap: signed swap minus unsigned
    /// swap, per MB.
    pub signature_verify_ms_per_mb: f64,
    /// A swap of the file with no key trusted, ms.
    pub unsigned_swap_ms: f64,
    /// The same swap with the signature checked, ms.
    pub signed_swap_ms: f64,
    /// Peak RSS growth over the signed swaps, MB.
    pub signed_swap_peak_rss_mb: f64,
    /// The verification alone (`check::verify`: minisign's BLAKE2b-512
    /// pass over the bytes in memory and the Ed25519 checks), per MB.
    pub signature_alone_ms_per_mb: f64,
    pub hash_ms_per_mb: f64,
    /// BLAKE2b-512 of the same bytes alone: the pass minisign's prehashed
    /// signatures make.
    pub blake2b_ms_per_mb: f64,
    pub path_check_us: f64,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Medians of swapping back and forth between two copies of one file.
fn swaps(a: &Path, b: &Path, options: liveswap::Options, rounds: usize) -> Result<f64, String> {
    let slot = Slot::<dyn Handles>::load_with(a, options).map_err(|e| e.to_string())?;
    let mut samples = Vec::new();
    for round in 0..rounds * 2 {
        let to = if round % 2 == 0 { b } else { a };
        let started = Instant::now();
        slot.swap(to).map_err(|e| e.to_string())?;
        samples.push(started.elapsed().as_secs_f64());
        slot.wait_drained(Duration::from_secs(30));
    }
    Ok(median(samples))
}

/// Measures the checks on a signed copy of `plugin`.
pub fn measure(plugin: &Path, rounds: usize) -> Result<Trust, String> {
    let dir = tempfile_dir()?;
    let result = measure_in(plugin, &dir, rounds);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn measure_in(plugin: &Path, dir: &Path, rounds: usize) -> Result<Trust, String> {
    let bytes = std::fs::read(plugin).map_err(|e| format!("{}: {e}", plugin.display()))?;
    let pair = minisign::KeyPair::generate_unencrypted_keypair().map_err(|e| e.to_string())?;
    let mut copies = Vec::new();
    for name in ["liba.so", "libb.so"] {
        let copy = dir.join(name);
        std::fs::write(&copy, &bytes).map_err(|e| format!("{}: {e}", copy.display()))?;
        let signature = minisign::sign(Some(&pair.pk), &pair.sk, &bytes[..], Some("bench"), None)
            .map_err(|e| e.to_string())?;
        std::fs::write(
            liveswap::check::signature_path(&copy),
            signature.into_string(),
        )
        .map_err(|e| e.to_string())?;
        copies.push(copy);
    }
    let key =
        liveswap::check::TrustedKey::from_text(&pair.pk.to_base64()).map_err(|e| e.to_string())?;
    let mb = bytes.len() as f64 / 1e6;
    let time = |f: &dyn Fn() -> Result<(), String>| -> Result<f64, String> {
        let mut samples = Vec::new();
        for _ in 0..rounds {
            let started = Instant::now();
            f()?;
            samples.push(started.elapsed().as_secs_f64());
        }
        Ok(median(samples))
    };
    let unsigned = swaps(&copies[0], &copies[1], crate::demo_options(), rounds)?;
    let before = crate::big_files::reset_peak();
    let signed = swaps(
        &copies[0],
        &copies[1],
        crate::demo_options().trusted_keys([key.clone()]),
        rounds,
    )?;
    let peak = crate::big_files::status_kib("VmHWM:");
    let hash = time(&|| {
        std::hint::black_box(liveswap::ContentHash::of(&bytes));
        Ok(())
    })?;
    let blake2b = time(&|| {
        use blake2::Digest;
        std::hint::black_box(blake2::Blake2b512::digest(&bytes));
        Ok(())
    })?;
    let walk = time(&|| liveswap::check::check_path(&copies[0]).map_err(|e| e.to_string()))?;
    let keys = [key.clone()];
    let alone = time(&|| {
        liveswap::check::verify(&copies[0], &bytes, &keys)
            .map(drop)
            .map_err(|e| e.to_string())
    })?;
    Ok(Trust {
        file_mb: mb,
        signature_verify_ms_per_mb: (signed - unsigned) * 1e3 / mb,
        unsigned_swap_ms: unsigned * 1e3,
        signed_swap_ms: signed * 1e3,
        signed_swap_peak_rss_mb: (peak as f64 - before as f64) / 1024.0,
        signature_alone_ms_per_mb: alone * 1e3 / mb,
        hash_ms_per_mb: hash * 1e3 / mb,
        blake2b_ms_per_mb: blake2b * 1e3 / mb,
        path_check_us: walk * 1e6,
    })
}

/// A directory of this run's own, only this user can enter (the safe-path
/// walk must accept it), under the system's temporary directory.
fn tempfile_dir() -> Result<std::path::PathBuf, String> {
    use std::os::unix::fs::DirBuilderExt;
    let dir = std::env::temp_dir().join(format!("liveswap-bench-trust-{}", std::process::id()));
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?;
    Ok(dir)
}
