//! What the trust checks cost a swap: the safe-path walk, the signature
//! check (minisign: BLAKE2b-512 of the file, then one Ed25519
//! verification), beside hashing the same bytes with BLAKE3 as every load
//! does. On the debug demo plugin (the largest file a quick start swaps),
//! in a directory of its own, signed by a key made for the run (nothing
//! secret is written but the signature).

use std::path::Path;
use std::time::Instant;

/// Medians over `rounds`: ms per MB for the signature check and the hash,
/// and µs for the path walk.
pub struct Trust {
    pub file_mb: f64,
    pub signature_verify_ms_per_mb: f64,
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

/// Measures the checks on a signed copy of `plugin`.
pub fn measure(plugin: &Path, rounds: usize) -> Result<Trust, String> {
    let dir = tempfile_dir()?;
    let copy = dir.join("libsigned.so");
    std::fs::copy(plugin, &copy).map_err(|e| format!("copy {}: {e}", plugin.display()))?;
    let bytes = std::fs::read(&copy).map_err(|e| e.to_string())?;
    let pair = minisign::KeyPair::generate_unencrypted_keypair().map_err(|e| e.to_string())?;
    let signature = minisign::sign(Some(&pair.pk), &pair.sk, &bytes[..], Some("bench"), None)
        .map_err(|e| e.to_string())?;
    std::fs::write(
        liveswap::check::signature_path(&copy),
        signature.into_string(),
    )
    .map_err(|e| e.to_string())?;
    let key = liveswap::TrustedKey::from_text(&pair.pk.to_base64()).map_err(|e| e.to_string())?;
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
    let verify = time(&|| {
        liveswap::check::verify(&copy, &bytes, std::slice::from_ref(&key))
            .map(drop)
            .map_err(|e| e.to_string())
    })?;
    let hash = time(&|| {
        std::hint::black_box(liveswap::ContentHash::of(&bytes));
        Ok(())
    })?;
    let blake2b = time(&|| {
        use blake2::Digest;
        std::hint::black_box(blake2::Blake2b512::digest(&bytes));
        Ok(())
    })?;
    let walk = time(&|| liveswap::check::check_path(&copy).map_err(|e| e.to_string()))?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(Trust {
        file_mb: mb,
        signature_verify_ms_per_mb: verify * 1e3 / mb,
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
