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

/// The target directory this binary was built into (`target/` or
/// `CARGO_TARGET_DIR`), read from its own path: `<target>/<profile>/<bin>`,
/// or `<target>/<profile>/deps/<bench>` under `cargo bench`. The plugins are
/// built there and looked for there.
pub fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().ok();
    let profile_dir = exe.as_deref().and_then(Path::parent).map(|dir| {
        if dir.file_name().is_some_and(|n| n == "deps") {
            dir.parent().unwrap_or(dir)
        } else {
            dir
        }
    });
    profile_dir
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| workspace_root().join("target"))
}

/// Where release plugins land.
pub fn release_dir() -> PathBuf {
    target_dir().join("release")
}

fn cargo_build(release: bool, packages: &[&str]) -> Result<(), String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.arg("build")
        .arg("--quiet")
        .arg("--target-dir")
        .arg(target_dir())
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
    let target = target_dir();
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

#[cfg(test)]
mod tests {
    use super::target_dir;

    #[test]
    fn the_target_dir_is_the_one_this_binary_was_built_into() {
        // `<target>/debug/deps/<test>`, wherever CARGO_TARGET_DIR put it.
        let exe = std::env::current_exe().unwrap();
        let target = target_dir();
        assert!(
            exe.starts_with(&target),
            "{} in {}",
            exe.display(),
            target.display()
        );
        assert!(target.join("debug").is_dir() || target.join("release").is_dir());
        if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
            let dir = std::path::Path::new(&dir).canonicalize().unwrap();
            assert_eq!(target.canonicalize().unwrap(), dir);
        }
    }
}
