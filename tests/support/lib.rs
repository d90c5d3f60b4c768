//! Test support: builds the fixture plugins with `cargo` (once per test
//! process), places them at paths the tests control, and reads
//! `/proc/self/maps` independently of the library under test.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

pub use fixture_api::{Greeter, Other, marker_path};

/// How long tests wait for the reaper; generous, since machines are noisy.
pub const REAP_TIMEOUT: Duration = Duration::from_secs(30);

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// The target directory this test binary was built into
/// (`<target>/<profile>/deps/<test>`), wherever it is: `target/` or
/// `CARGO_TARGET_DIR`.
pub fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    exe.ancestors()
        .find(|dir| dir.file_name().is_some_and(|n| n == "deps"))
        .and_then(|deps| deps.parent()?.parent())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| workspace_root().join("target"))
}

/// Where every plugin the tests build goes, fixtures and the demo's test
/// copies alike, so that they share one build of `liveswap` and its
/// dependencies.
pub fn plugin_target_dir() -> PathBuf {
    target_dir().join("fixtures")
}

/// The cargo profile of this test binary: `dev`, or `release` for the soak
/// runs.
fn test_profile() -> &'static str {
    if cfg!(debug_assertions) {
        "dev"
    } else {
        "release"
    }
}

/// Builds the plugin crate(s) of `manifest` (plus `args`) with cargo into
/// [`plugin_target_dir`], in the profile of this test binary, and returns
/// the directory that holds the `.so` files.
pub fn build_plugins(manifest: &Path, args: &[&str]) -> PathBuf {
    build_plugins_with_profile(manifest, args, test_profile())
}

/// [`build_plugins`] with a cargo profile of the manifest's workspace
/// (`dev`, `release`, `lto-strip`).
pub fn build_plugins_with_profile(manifest: &Path, args: &[&str], profile: &str) -> PathBuf {
    let target = plugin_target_dir();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .arg("build")
        .args(["--profile", profile])
        .arg("--quiet")
        .arg("--manifest-path")
        .arg(manifest)
        .arg("--target-dir")
        .arg(&target)
        .args(args)
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        // Plugins are built once per change, by the tests: no incremental
        // state (it was a third of the plugins' target directory).
        .env("CARGO_INCREMENTAL", "0")
        .output()
        .expect("run cargo to build plugins");
    assert!(
        out.status.success(),
        "building {} {args:?} failed:\n{}",
        manifest.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    target.join(if profile == "dev" { "debug" } else { profile })
}

/// The fixture plugins' `[profile.dev]` sections, for a plugin crate a
/// test writes (the demo test's editable copies) to build as they do, so
/// that it shares their build of `liveswap` and its dependencies.
pub fn fixtures_dev_profile() -> String {
    let manifest = fs::read_to_string(workspace_root().join("tests/fixtures/Cargo.toml"))
        .expect("the fixtures' manifest");
    let mut out = String::new();
    let mut inside = false;
    for line in manifest.lines() {
        if line.starts_with('[') {
            inside = line.starts_with("[profile.dev]") || line.starts_with("[profile.dev.");
        }
        if inside && !line.starts_with('#') {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// This test binary, to run again for one of its ignored tests, `name`
/// (its whole path, module included), alone: for a test that must change
/// something process-wide, or crash, in a process of its own. The caller
/// adds what the child needs (variables, a user) and runs it.
pub fn child_test(name: &str) -> Command {
    let mut command = Command::new(std::env::current_exe().expect("the test binary's path"));
    command.args(["--exact", name, "--ignored", "--nocapture"]);
    command
}

/// Builds every fixture plugin (once per process) and returns the directory
/// holding the `.so` files. Tests built in release (the soak runs) get
/// release plugins.
pub fn fixtures_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| build_plugins(&workspace_root().join("tests/fixtures/Cargo.toml"), &[]))
}

/// Builds the fixture package `package` on its own (`cargo build -p`) in
/// a profile of the fixtures workspace (`dev`, `release`, `lto-strip`),
/// and returns its `.so`.
pub fn build_with_profile(package: &str, profile: &str) -> PathBuf {
    build_plugins_with_profile(
        &workspace_root().join("tests/fixtures/Cargo.toml"),
        &["-p", package],
        profile,
    )
    .join(format!("lib{}.so", package.replace('-', "_")))
}

/// The built `.so` of fixture `name` (e.g. `"greeter-v1"`).
pub fn fixture(name: &str) -> PathBuf {
    fixtures_dir().join(format!("lib{}.so", name.replace('-', "_")))
}

/// Installs fixture `name` at `dest` the safe way a build tool should:
/// write a temporary file beside it, then rename over.
pub fn install(name: &str, dest: &Path) {
    install_bytes(&fs::read(fixture(name)).expect("read fixture"), dest);
}

/// Writes `bytes` at `dest` by write-then-rename.
pub fn install_bytes(bytes: &[u8], dest: &Path) {
    let tmp = dest.with_extension("tmp");
    fs::write(&tmp, bytes).expect("write plugin");
    fs::rename(&tmp, dest).expect("rename plugin into place");
}

/// Paths mapped in this process under `dir`, read from `/proc/self/maps`
/// by the test itself (not by the library under test).
pub fn mapped_under(dir: &Path) -> Vec<String> {
    let maps = fs::read_to_string("/proc/self/maps").expect("read /proc/self/maps");
    let dir = dir.to_string_lossy();
    let mut paths: Vec<String> = maps
        .lines()
        .filter_map(|l| l.find('/').map(|i| l[i..].to_string()))
        .filter(|p| p.starts_with(&*dir))
        .collect();
    paths.sort();
    paths.dedup();
    paths
}

/// The files in `dir`.
pub fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// A fixture's bytes with every occurrence of `from` replaced by `to`
/// (same length), for tests that need a subtly broken plugin.
pub fn patched(name: &str, from: &[u8], to: &[u8]) -> Vec<u8> {
    assert_eq!(from.len(), to.len(), "a patch keeps the length");
    let mut bytes = fs::read(fixture(name)).expect("read fixture");
    let mut found = 0;
    let mut i = 0;
    while i + from.len() <= bytes.len() {
        if &bytes[i..i + from.len()] == from {
            bytes[i..i + from.len()].copy_from_slice(to);
            found += 1;
            i += from.len();
        } else {
            i += 1;
        }
    }
    assert!(found > 0, "patch target not found in {name}");
    bytes
}

/// A fixture's bytes with its descriptor section rewritten by `edit`.
pub fn with_descriptor(name: &str, edit: impl FnOnce(&mut [u8])) -> Vec<u8> {
    use object::{Object, ObjectSection};
    let mut bytes = fs::read(fixture(name)).expect("read fixture");
    let (offset, size) = {
        let file = object::File::parse(&*bytes).expect("parse fixture");
        let section = file
            .section_by_name(liveswap::wire::SECTION)
            .expect("fixture has a descriptor");
        section.file_range().expect("descriptor has file bytes")
    };
    edit(&mut bytes[offset as usize..(offset + size) as usize]);
    bytes
}

/// This process's resident set size, in KiB.
pub fn rss_kib() -> u64 {
    let status = fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/self/status")
}

/// RSS in KiB, thread count and open descriptors of this process: what a
/// soak holds flat.
pub fn figures() -> (u64, usize, usize) {
    let status = fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    let threads = status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("Threads in /proc/self/status");
    (rss_kib(), threads, open_fds())
}

/// How many file descriptors this process has open.
pub fn open_fds() -> usize {
    fs::read_dir("/proc/self/fd")
        .expect("read /proc/self/fd")
        .count()
}

/// A minisign key pair made for one test: nothing secret is ever written
/// to disk or committed.
pub struct TestKey {
    public: minisign::PublicKey,
    secret: minisign::SecretKey,
}

impl TestKey {
    /// A fresh key pair.
    pub fn generate() -> Self {
        let pair = minisign::KeyPair::generate_unencrypted_keypair().expect("generate a key");
        TestKey {
            public: pair.pk,
            secret: pair.sk,
        }
    }

    /// The public key, as the library takes it.
    pub fn trusted(&self) -> liveswap::check::TrustedKey {
        liveswap::check::TrustedKey::from_text(&self.public.to_base64()).expect("a valid key")
    }

    /// The key's id, as minisign shows it.
    pub fn id(&self) -> String {
        self.trusted().id().to_string()
    }

    /// Writes the public key as a `minisign.pub` file at `path`.
    pub fn write_public(&self, path: &Path) {
        let text = self
            .public
            .to_box()
            .expect("box the public key")
            .into_string();
        fs::write(path, text).expect("write the public key");
    }

    /// Signs the file at `plugin` (its bytes as they are now) into
    /// `<plugin>.minisig`, with `comment` as the trusted comment.
    pub fn sign(&self, plugin: &Path, comment: &str) {
        let bytes = fs::read(plugin).expect("read the file to sign");
        let signature = minisign::sign(
            Some(&self.public),
            &self.secret,
            &bytes[..],
            Some(comment),
            None,
        )
        .expect("sign");
        fs::write(
            liveswap::check::signature_path(plugin),
            signature.into_string(),
        )
        .expect("write the signature");
    }
}

/// The state of `generation` in `slot`'s stats.
pub fn state_of<I: liveswap::Interface + ?Sized + 'static>(
    slot: &liveswap::Slot<I>,
    generation: u64,
) -> liveswap::stats::State {
    slot.stats()
        .generations
        .into_iter()
        .find(|g| g.generation == generation)
        .map(|g| g.state)
        .expect("generation known")
}

/// Waits, up to [`REAP_TIMEOUT`], until `generation`'s state is one `want`
/// accepts; returns the last state seen.
pub fn wait_for_state<I: liveswap::Interface + ?Sized + 'static>(
    slot: &liveswap::Slot<I>,
    generation: u64,
    want: fn(&liveswap::stats::State) -> bool,
) -> liveswap::stats::State {
    let deadline = std::time::Instant::now() + REAP_TIMEOUT;
    loop {
        let state = state_of(slot, generation);
        if want(&state) || std::time::Instant::now() > deadline {
            return state;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Whether users other than the owner can reach `dir` (every directory
/// from `/` down to it searchable by others); says so when they cannot,
/// for tests that act as another user and skip then (a private `TMPDIR`).
pub fn others_can_reach(dir: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let reachable = dir
        .ancestors()
        .all(|d| std::fs::metadata(d).is_ok_and(|m| m.permissions().mode() & 0o001 != 0));
    if !reachable {
        eprintln!(
            "{}: not reachable by other users; the other-uid checks are skipped",
            dir.display()
        );
    }
    reachable
}

/// A log writer that keeps what it is given, for tests that read the
/// lines a subscriber wrote.
#[derive(Clone, Default)]
pub struct Captured(pub std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A host's tokio runtime: two workers, timers on.
pub fn tokio_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .expect("a tokio runtime")
}

/// Whether this process runs as root (for [`root_test!`]).
#[doc(hidden)]
pub fn running_as_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// A test that needs root (to act as other users, to mount a file system):
/// ignored, with the reason `$why`, when the tests were built by anyone
/// else, so that a run as another user reports it as not run rather than
/// passed. `cfg(tests_as_root)` comes from this crate's build script.
#[cfg(tests_as_root)]
#[macro_export]
macro_rules! root_test {
    ($why:literal, $(#[$attr:meta])* fn $name:ident() $body:block) => {
        #[test]
        $(#[$attr])*
        fn $name() {
            // Built as root and run as someone else: failing says so, where
            // returning early would report a pass.
            assert!(
                $crate::running_as_root(),
                "built as root but run as another user: rebuild the tests as this user \
                 to have this test reported as ignored ({})",
                $why
            );
            $body
        }
    };
}

/// See the root build's definition.
#[cfg(not(tests_as_root))]
#[macro_export]
macro_rules! root_test {
    ($why:literal, $(#[$attr:meta])* fn $name:ident() $body:block) => {
        #[test]
        #[ignore = $why]
        $(#[$attr])*
        fn $name() $body
    };
}
