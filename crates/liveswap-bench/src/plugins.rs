//! Builds the plugins the measurements load, with cargo, the way a user
//! would.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The built plugins.
#[derive(Debug, Clone)]
pub struct Plugins {
    /// `liveswap-bench-plugin`, release: the read-path and storm subject.
    pub bench: PathBuf,
    /// `liveswap-bench-state-plugin`, release: the warm-start subject.
    pub state: PathBuf,
    /// `liveswap-demo-plugin`, debug.
    pub demo_debug: PathBuf,
    /// `liveswap-demo-plugin`, release.
    pub demo_release: PathBuf,
}

/// The workspace root (two levels above this crate).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn cargo_build(release: bool, packages: &[&str]) -> Result<(), String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.arg("build")
        .arg("--quiet")
        .current_dir(workspace_root());
    if release {
        cmd.arg("--release");
    }
    for p in packages {
        cmd.args(["-p", p]);
    }
    let out = cmd.output().map_err(|e| format!("cannot run cargo: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "cargo build {packages:?} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// Builds the bench plugin (release) and the demo plugin (debug and
/// release).
pub fn build() -> Result<Plugins, String> {
    cargo_build(
        true,
        &[
            "liveswap-bench-plugin",
            "liveswap-bench-state-plugin",
            "liveswap-demo-plugin",
        ],
    )?;
    cargo_build(false, &["liveswap-demo-plugin"])?;
    let target = workspace_root().join("target");
    let plugins = Plugins {
        bench: target.join("release/libliveswap_bench_plugin.so"),
        state: target.join("release/libliveswap_bench_state_plugin.so"),
        demo_debug: target.join("debug/libliveswap_demo_plugin.so"),
        demo_release: target.join("release/libliveswap_demo_plugin.so"),
    };
    for p in [
        &plugins.bench,
        &plugins.state,
        &plugins.demo_debug,
        &plugins.demo_release,
    ] {
        if !p.is_file() {
            return Err(format!("{} was not built", p.display()));
        }
    }
    Ok(plugins)
}

/// The bytes of `path` with one byte of its `.comment` section set to
/// `tag`: the same code, a different file hash (for reloaders that only
/// reload a file whose hash changed).
pub fn tagged(path: &Path, tag: u8) -> Result<Vec<u8>, String> {
    use object::{Object, ObjectSection};
    let mut bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let (offset, size) = {
        let file = object::File::parse(&*bytes).map_err(|e| e.to_string())?;
        let section = file
            .section_by_name(".comment")
            .ok_or("no .comment section")?;
        section.file_range().ok_or(".comment has no bytes")?
    };
    if size == 0 {
        return Err(".comment is empty".into());
    }
    bytes[(offset + size - 1) as usize] = tag;
    Ok(bytes)
}
