//! The trust model: the safe-path policy (who could have written the
//! plugin and the directories above it) and signatures (who built it).
//! Each refusal happens before the file is mapped: the serving version
//! keeps serving and nothing of the refused file runs.

use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use liveswap::{Error, Options, Slot, check::SignatureProblem};
use liveswap_tests::{Greeter, TestKey, fixture, install, mapped_under, marker_path};
use object::{Object, ObjectSection};

fn chmod(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

fn is_root() -> bool {
    // SAFETY: `geteuid` has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// A private directory for one test, with greeter-v1 installed in it.
fn deploy_dir() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let plugin = dir.path().join("libgreeter.so");
    install("greeter-v1", &plugin);
    (dir, plugin)
}

fn signed_slot(keys: &[&TestKey]) -> Slot<Greeter> {
    let (dir, first) = deploy_dir();
    keys[0].sign(&first, "first");
    let options = Options::new().trusted_keys(keys.iter().map(|k| k.trusted()));
    let slot = Slot::<Greeter>::load_with(&first, options).unwrap();
    drop(dir);
    slot
}

fn signature_problem(err: &Error) -> &SignatureProblem {
    match err {
        Error::Signature { problem, .. } => problem,
        other => panic!("expected a signature refusal, got {other:?}"),
    }
}

// ---- signatures -------------------------------------------------------

#[test]
fn a_plugin_signed_by_a_trusted_key_loads_and_its_signer_is_reported() {
    let key = TestKey::generate();
    let slot = signed_slot(&[&key]);
    let (_dir, next) = deploy_dir();
    install("greeter-v2", &next);
    key.sign(&next, "greeter v2, release 7");
    let report = slot.swap(&next).unwrap();
    let signer = report.signer.expect("the report names the signer");
    assert_eq!(signer.key_id, key.id());
    assert_eq!(signer.trusted_comment, "greeter v2, release 7");
    assert_eq!(slot.current().build(), 2);
    let stats = slot.stats();
    let history: Vec<_> = stats
        .generations
        .iter()
        .map(|g| g.signer.as_ref().map(|s| s.trusted_comment.as_str()))
        .collect();
    assert_eq!(history, [Some("first"), Some("greeter v2, release 7")]);
}

#[test]
fn an_unsigned_plugin_is_refused_when_keys_are_trusted() {
    let key = TestKey::generate();
    let slot = signed_slot(&[&key]);
    let (_dir, next) = deploy_dir();
    let err = slot.swap(&next).unwrap_err();
    assert_eq!(signature_problem(&err), &SignatureProblem::Missing);
    assert!(err.to_string().contains("libgreeter.so.minisig"), "{err}");
    assert_eq!(slot.generation(), 1);
}

#[test]
fn one_byte_flipped_after_signing_is_refused() {
    let key = TestKey::generate();
    let slot = signed_slot(&[&key]);
    let (_dir, next) = deploy_dir();
    install("greeter-v2", &next);
    key.sign(&next, "v2");
    let mut bytes = fs::read(&next).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    fs::write(&next, &bytes).unwrap();
    let err = slot.swap(&next).unwrap_err();
    assert!(
        matches!(signature_problem(&err), SignatureProblem::Invalid { key_id } if *key_id == key.id()),
        "{err}"
    );
    assert_eq!(slot.current().build(), 1, "generation 1 keeps serving");
    assert!(
        mapped_under(slot.copy_prefix()).len() <= 1,
        "nothing new mapped"
    );
}

/// A plugin padded past the size at which the copy is read back while it
/// is written (16 MiB): the signature is checked in that same pass.
fn padded_signed_build(key: &TestKey) -> (tempfile::TempDir, PathBuf) {
    let (dir, next) = deploy_dir();
    install("greeter-v2", &next);
    let mut bytes = fs::read(&next).unwrap();
    bytes.resize(bytes.len() + (20 << 20), 0x5a);
    fs::write(&next, &bytes).unwrap();
    key.sign(&next, "v2, padded");
    (dir, next)
}

#[test]
fn a_signed_plugin_of_20_mib_is_verified_in_the_copy_pass_and_loads() {
    let key = TestKey::generate();
    let slot = signed_slot(&[&key]);
    let (_dir, next) = padded_signed_build(&key);
    let report = slot.swap(&next).unwrap();
    assert_eq!(report.signer.unwrap().trusted_comment, "v2, padded");
    assert_eq!(slot.current().build(), 2);
}

#[test]
fn the_last_byte_of_a_20_mib_signed_plugin_flipped_is_refused() {
    let key = TestKey::generate();
    let slot = signed_slot(&[&key]);
    let (_dir, next) = padded_signed_build(&key);
    let mut bytes = fs::read(&next).unwrap();
    *bytes.last_mut().unwrap() ^= 0x01;
    fs::write(&next, &bytes).unwrap();
    let err = slot.swap(&next).unwrap_err();
    assert!(
        matches!(signature_problem(&err), SignatureProblem::Invalid { .. }),
        "{err}"
    );
    assert_eq!(slot.current().build(), 1, "generation 1 keeps serving");
    assert!(
        mapped_under(slot.copy_prefix()).len() <= 1,
        "nothing new mapped"
    );
}

#[test]
fn a_signature_by_an_unknown_key_is_refused_naming_both_keys() {
    let trusted = TestKey::generate();
    let stranger = TestKey::generate();
    let slot = signed_slot(&[&trusted]);
    let (_dir, next) = deploy_dir();
    stranger.sign(&next, "not ours");
    let err = slot.swap(&next).unwrap_err();
    match signature_problem(&err) {
        SignatureProblem::UnknownKey {
            key_id,
            trusted: ids,
        } => {
            assert_eq!(*key_id, stranger.id());
            assert_eq!(*ids, [trusted.id()]);
        }
        other => panic!("expected an unknown key, got {other:?}"),
    }
}

#[test]
fn a_malformed_signature_is_refused() {
    let key = TestKey::generate();
    let slot = signed_slot(&[&key]);
    let (_dir, next) = deploy_dir();
    fs::write(
        liveswap::check::signature_path(&next),
        "untrusted comment: x\nnot a signature\n",
    )
    .unwrap();
    let err = slot.swap(&next).unwrap_err();
    assert!(
        matches!(signature_problem(&err), SignatureProblem::Malformed(_)),
        "{err}"
    );
}

#[test]
fn two_trusted_keys_allow_a_rotation() {
    let old = TestKey::generate();
    let new = TestKey::generate();
    let slot = signed_slot(&[&old, &new]);
    let (_dir, next) = deploy_dir();
    install("greeter-v2", &next);
    new.sign(&next, "signed with the new key");
    assert_eq!(slot.swap(&next).unwrap().signer.unwrap().key_id, new.id());
    old.sign(&next, "still signed with the old key");
    assert_eq!(slot.swap(&next).unwrap().signer.unwrap().key_id, old.id());
    // Once the old key is retired, its signatures are refused.
    let (_dir2, first) = deploy_dir();
    new.sign(&first, "new");
    let retired =
        Slot::<Greeter>::load_with(&first, Options::new().trusted_keys([new.trusted()])).unwrap();
    let err = retired.swap(&next).unwrap_err();
    assert!(
        matches!(signature_problem(&err), SignatureProblem::UnknownKey { .. }),
        "{err}"
    );
}

#[test]
fn a_rollback_reports_who_signed_the_version_it_returns_to() {
    let key = TestKey::generate();
    let slot = signed_slot(&[&key]);
    let (_dir, next) = deploy_dir();
    install("greeter-v2", &next);
    key.sign(&next, "v2");
    slot.swap(&next).unwrap();
    let report = slot.rollback().unwrap();
    assert_eq!(slot.current().build(), 1);
    assert_eq!(report.signer.unwrap().trusted_comment, "first");
}

/// A build of `fixture` signed by `key` with `comment`, in a directory of
/// its own.
fn signed_build(key: &TestKey, fixture: &str, comment: &str) -> (tempfile::TempDir, PathBuf) {
    let (dir, path) = deploy_dir();
    install(fixture, &path);
    key.sign(&path, comment);
    (dir, path)
}

#[test]
fn an_older_signed_release_cannot_be_swapped_back_in_but_rollback_returns_to_it() {
    let key = TestKey::generate();
    let (_d1, release_1) = signed_build(&key, "greeter-v1", "release:1 greeter");
    let (_d2, release_2) = signed_build(&key, "greeter-v2", "greeter release:2");
    let slot = Slot::<Greeter>::load_with(&release_1, Options::new().trusted_keys([key.trusted()]))
        .unwrap();
    slot.swap(&release_2).unwrap();

    // The old build, validly signed, is refused under any name.
    let err = slot.swap(&release_1).unwrap_err();
    assert_eq!(
        signature_problem(&err),
        &SignatureProblem::OldRelease {
            release: 1,
            floor: 2,
            why: "the release serving now; roll back instead, or sign it anew".into()
        },
        "{err}"
    );
    // As is a signature naming no release, once one serves that does.
    let (_d3, unnamed) = signed_build(&key, "greeter-v1", "greeter, no number");
    let err = slot.swap(&unnamed).unwrap_err();
    assert_eq!(
        signature_problem(&err),
        &SignatureProblem::NoRelease { floor: 2 }
    );
    assert_eq!(slot.current().build(), 2, "release 2 serves on");

    // The operator's rollback is not bound by it; then release 2 again.
    slot.rollback().unwrap();
    assert_eq!(slot.current().build(), 1);
    slot.swap(&release_2).unwrap();
    assert_eq!(slot.current().build(), 2);
}

#[test]
fn a_minimum_release_refuses_older_releases_and_signatures_naming_none() {
    let key = TestKey::generate();
    let (_d1, release_5) = signed_build(&key, "greeter-v1", "release:5");
    let options = Options::new()
        .trusted_keys([key.trusted()])
        .minimum_release(5);
    let slot = Slot::<Greeter>::load_with(&release_5, options.clone()).unwrap();
    let (_d2, release_4) = signed_build(&key, "greeter-v2", "release=4");
    let err = slot.swap(&release_4).unwrap_err();
    assert!(
        matches!(
            signature_problem(&err),
            SignatureProblem::OldRelease {
                release: 4,
                floor: 5,
                ..
            }
        ),
        "{err}"
    );
    let (_d3, unnamed) = signed_build(&key, "greeter-v2", "v2");
    let Err(err) = Slot::<Greeter>::load_with(&unnamed, options) else {
        panic!("a signature naming no release loaded under a minimum");
    };
    assert_eq!(
        signature_problem(&err),
        &SignatureProblem::NoRelease { floor: 5 }
    );
    assert!(err.to_string().contains("release:N"), "{err}");
}

#[test]
fn a_key_file_in_minisign_format_is_read() {
    let key = TestKey::generate();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("minisign.pub");
    key.write_public(&file);
    assert_eq!(
        liveswap::check::TrustedKey::from_file(&file).unwrap().id(),
        key.id()
    );
    let err = liveswap::check::TrustedKey::from_file(dir.path().join("missing.pub")).unwrap_err();
    assert!(err.to_string().contains("missing.pub"), "{err}");
}

// ---- the signature file as an attack surface -----------------------------

/// Swaps `next` on another thread and waits at most `limit` for the
/// answer: a swap that blocks fails the test instead of hanging it.
fn swap_within(
    slot: &std::sync::Arc<Slot<Greeter>>,
    next: &Path,
    limit: Duration,
) -> Result<(), Error> {
    let (tx, rx) = std::sync::mpsc::channel();
    let (slot, next) = (std::sync::Arc::clone(slot), next.to_path_buf());
    std::thread::spawn(move || {
        let _ = tx.send(slot.swap(&next).map(drop));
    });
    rx.recv_timeout(limit)
        .expect("the swap blocked on the signature file")
}

#[test]
fn a_fifo_planted_as_the_signature_is_refused_at_once_and_never_fills_the_backlog() {
    let key = TestKey::generate();
    let slot = std::sync::Arc::new(signed_slot(&[&key]));
    let (_dir, next) = deploy_dir();
    install("greeter-v2", &next);
    let signature = liveswap::check::signature_path(&next);
    rustix::fs::mknodat(
        rustix::fs::CWD,
        &signature,
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
        0,
    )
    .unwrap();
    // More swaps than the backlog has places (16 by default): each is
    // refused at once, naming what the file is.
    for _ in 0..40 {
        let err = swap_within(&slot, &next, Duration::from_secs(20)).unwrap_err();
        assert!(
            matches!(signature_problem(&err), SignatureProblem::NotAFile(what) if what.contains("fifo")),
            "{err}"
        );
    }
    assert_eq!(slot.current().build(), 1, "generation 1 keeps serving");
    // The FIFO replaced by a real signature: the swap and a rollback go
    // through, nothing was left holding a place.
    fs::remove_file(&signature).unwrap();
    key.sign(&next, "v2");
    swap_within(&slot, &next, Duration::from_secs(20)).unwrap();
    assert_eq!(slot.current().build(), 2);
    slot.rollback().unwrap();
    assert_eq!(slot.current().build(), 1);
}

#[test]
fn a_signature_reached_through_a_link_is_not_followed() {
    let key = TestKey::generate();
    let slot = signed_slot(&[&key]);
    let (dir, next) = deploy_dir();
    install("greeter-v2", &next);
    // A valid signature, made elsewhere, linked in under the name.
    let elsewhere = dir.path().join("copy.so");
    fs::copy(&next, &elsewhere).unwrap();
    key.sign(&elsewhere, "v2");
    symlink(
        liveswap::check::signature_path(&elsewhere),
        liveswap::check::signature_path(&next),
    )
    .unwrap();
    let err = slot.swap(&next).unwrap_err();
    assert!(
        matches!(signature_problem(&err), SignatureProblem::NotAFile(what) if what.contains("symbolic link")),
        "{err}"
    );
    assert_eq!(slot.current().build(), 1);
}

#[test]
fn a_signature_others_can_write_is_refused() {
    let key = TestKey::generate();
    let slot = signed_slot(&[&key]);
    let (_dir, next) = deploy_dir();
    install("greeter-v2", &next);
    key.sign(&next, "v2");
    let signature = liveswap::check::signature_path(&next);
    chmod(&signature, 0o666);
    let err = slot.swap(&next).unwrap_err();
    assert!(
        matches!(signature_problem(&err), SignatureProblem::Unsafe(why) if why.contains("writable by every user")),
        "{err}"
    );
    chmod(&signature, 0o644);
    if is_root() {
        std::os::unix::fs::chown(&signature, Some(NOBODY), None).unwrap();
        let err = slot.swap(&next).unwrap_err();
        assert!(
            matches!(signature_problem(&err), SignatureProblem::Unsafe(why) if why.contains("owned by uid 65534")),
            "{err}"
        );
        std::os::unix::fs::chown(&signature, Some(0), None).unwrap();
    }
    slot.swap(&next).unwrap();
    assert_eq!(slot.current().build(), 2);
}

#[test]
fn a_huge_signature_file_is_refused_by_its_size_unread() {
    let key = TestKey::generate();
    let slot = signed_slot(&[&key]);
    let (_dir, next) = deploy_dir();
    install("greeter-v2", &next);
    let signature = liveswap::check::signature_path(&next);
    // Sparse: 4 GiB that take no room.
    fs::File::create(&signature)
        .unwrap()
        .set_len(4 << 30)
        .unwrap();
    let err = slot.swap(&next).unwrap_err();
    assert!(
        matches!(signature_problem(&err), SignatureProblem::NotAFile(what) if what.contains("4294967296 bytes")),
        "{err}"
    );
}

/// Gives `path` an access ACL letting uid `writer` write it, as `setfacl
/// -m u:WRITER:rw` does. `false` when the file system keeps no ACLs.
fn grant_write_by_acl(path: &Path, writer: u32) -> bool {
    let any = u32::MAX;
    let mut bytes = 2u32.to_le_bytes().to_vec();
    for (tag, perm, id) in [
        (0x01u16, 7u16, any),
        (0x02, 7, writer),
        (0x04, 5, any),
        (0x10, 7, any),
        (0x20, 5, any),
    ] {
        bytes.extend(tag.to_le_bytes());
        bytes.extend(perm.to_le_bytes());
        bytes.extend(id.to_le_bytes());
    }
    match rustix::fs::setxattr(
        path,
        "system.posix_acl_access",
        &bytes,
        rustix::fs::XattrFlags::empty(),
    ) {
        Ok(()) => true,
        Err(rustix::io::Errno::OPNOTSUPP) => {
            eprintln!("skipped: this file system keeps no ACLs");
            false
        }
        Err(e) => panic!("setting an ACL on {}: {e}", path.display()),
    }
}

#[test]
fn a_plugin_another_user_may_write_through_an_acl_is_refused_and_so_is_its_directory() {
    let (dir, first) = deploy_dir();
    let slot = Slot::<Greeter>::load(&first).unwrap();
    let sub = dir.path().join("release");
    fs::create_dir(&sub).unwrap();
    let plugin = sub.join("libgreeter.so");
    install("greeter-v2", &plugin);
    if !grant_write_by_acl(&plugin, NOBODY) {
        return;
    }
    let err = slot.swap(&plugin).unwrap_err();
    assert_eq!(unsafe_component(&err), plugin);
    assert!(
        err.to_string().contains("uid 65534 through its ACL"),
        "{err}"
    );
    // The file cleaned, its directory granted instead.
    fs::remove_file(&plugin).unwrap();
    install("greeter-v2", &plugin);
    assert!(grant_write_by_acl(&sub, NOBODY));
    let err = slot.swap(&plugin).unwrap_err();
    assert_eq!(unsafe_component(&err), sub);
    assert_eq!(slot.current().build(), 1);
}

/// A C library, built now with `cc`, whose load-time constructor writes
/// `marker` and which carries a copy of greeter-v1's `.liveswap` section:
/// a forgery the handshake alone cannot tell from a plugin.
fn forged_library(dir: &Path, marker: &Path) -> PathBuf {
    let plugin = fs::read(fixture("greeter-v1")).unwrap();
    let file = object::File::parse(&*plugin).unwrap();
    let section = file
        .section_by_name(liveswap::wire::SECTION)
        .unwrap()
        .data()
        .unwrap();
    let bytes: Vec<String> = section.iter().map(|b| b.to_string()).collect();
    let source = dir.join("forged.c");
    fs::write(
        &source,
        format!(
            "#include <stdio.h>\n\
             __attribute__((used, section(\".liveswap\"), aligned(8)))\n\
             static const unsigned char section[] = {{{}}};\n\
             __attribute__((constructor)) static void forged(void) {{\n\
               FILE *f = fopen({:?}, \"w\");\n\
               if (f) {{ fputs(\"constructor ran\", f); fclose(f); }}\n\
             }}\n",
            bytes.join(","),
            marker.display().to_string()
        ),
    )
    .unwrap();
    let out = dir.join("libforged.so");
    let status = Command::new("cc")
        .args(["-shared", "-fPIC", "-o"])
        .arg(&out)
        .arg(&source)
        .status()
        .expect("run cc");
    assert!(status.success(), "cc failed");
    fs::remove_file(&source).unwrap();
    out
}

#[test]
fn a_forged_section_on_a_c_library_is_refused_before_dlopen_when_signatures_are_required() {
    let dir = tempfile::tempdir().unwrap();
    let marker = marker_path("forged-c-library");
    let _ = fs::remove_file(&marker);
    let forged = forged_library(dir.path(), &marker);

    // Signed by a key the host does not trust, or not signed at all: the
    // library is refused, and its constructor never ran.
    let key = TestKey::generate();
    let attacker = TestKey::generate();
    let signed = signed_slot(&[&key]);
    let err = signed.swap(&forged).unwrap_err();
    assert_eq!(signature_problem(&err), &SignatureProblem::Missing);
    attacker.sign(&forged, "looks legit");
    let err = signed.swap(&forged).unwrap_err();
    assert!(
        matches!(signature_problem(&err), SignatureProblem::UnknownKey { .. }),
        "{err}"
    );
    assert!(!marker.exists(), "the forged library's constructor ran");

    // The control: without signatures the forgery passes the handshake
    // and `dlopen` runs its constructor before the missing entry point
    // refuses it. That is what signatures close.
    let (_d, first) = deploy_dir();
    let unsigned = Slot::<Greeter>::load(&first).unwrap();
    let err = unsigned.swap(&forged).unwrap_err();
    assert!(matches!(err, Error::EntryMissing { .. }), "{err}");
    assert!(
        marker.exists(),
        "the control shows the constructor does run"
    );
    fs::remove_file(&marker).unwrap();
}

// ---- the safe-path policy ---------------------------------------------

fn unsafe_component(err: &Error) -> &Path {
    match err {
        Error::UnsafePath { component, .. } => component,
        other => panic!("expected a safe-path refusal, got {other:?}"),
    }
}

#[test]
fn a_world_writable_parent_is_refused_and_named() {
    let (dir, first) = deploy_dir();
    let slot = Slot::<Greeter>::load(&first).unwrap();
    let open = dir.path().join("open");
    fs::create_dir(&open).unwrap();
    let plugin = open.join("libgreeter.so");
    install("greeter-v2", &plugin);
    chmod(&open, 0o777);
    let err = slot.swap(&plugin).unwrap_err();
    assert_eq!(unsafe_component(&err), open);
    let text = err.to_string();
    assert!(
        text.contains("mode 0777") && text.contains("writable by every user"),
        "{text}"
    );
    assert_eq!(slot.current().build(), 1);
}

/// A group `dir` can be given that has members other than its owner:
/// any gid when root (one no account uses), else one of ours, if we have
/// one that is not our private group.
fn shared_group_for(dir: &Path) -> Option<u32> {
    if is_root() {
        return Some(4_242_424);
    }
    let mut groups = vec![0 as libc::gid_t; 256];
    // SAFETY: the buffer holds 256 gids, as the call is told.
    let n = unsafe { libc::getgroups(256, groups.as_mut_ptr()) };
    // SAFETY: no preconditions.
    let primary = unsafe { libc::getegid() };
    groups.truncate(n.max(0) as usize);
    groups
        .into_iter()
        .find(|&g| g != primary && std::os::unix::fs::chown(dir, None, Some(g)).is_ok())
}

#[test]
fn a_group_writable_parent_is_refused_and_named() {
    let (dir, first) = deploy_dir();
    let slot = Slot::<Greeter>::load(&first).unwrap();
    let shared = dir.path().join("shared");
    fs::create_dir(&shared).unwrap();
    let plugin = shared.join("libgreeter.so");
    install("greeter-v2", &plugin);
    let Some(gid) = shared_group_for(&shared) else {
        eprintln!("skipped: not root, and no group of ours other than our own private group");
        return;
    };
    std::os::unix::fs::chown(&shared, None, Some(gid)).unwrap();
    chmod(&shared, 0o775);
    let err = slot.swap(&plugin).unwrap_err();
    assert_eq!(unsafe_component(&err), shared);
    assert!(err.to_string().contains("writable by its group"), "{err}");
    chmod(&shared, 0o755);
    slot.swap(&plugin).unwrap();
}

#[test]
fn a_symlink_whose_target_lies_in_an_unsafe_directory_is_refused() {
    let (dir, first) = deploy_dir();
    let slot = Slot::<Greeter>::load(&first).unwrap();
    let open = dir.path().join("incoming");
    fs::create_dir(&open).unwrap();
    let target = open.join("libgreeter.so");
    install("greeter-v2", &target);
    chmod(&open, 0o777);
    let link = dir.path().join("current.so");
    symlink(&target, &link).unwrap();
    let err = slot.swap(&link).unwrap_err();
    assert_eq!(unsafe_component(&err), open);
    assert!(
        err.to_string().contains(&link.display().to_string()),
        "names the path asked for"
    );
}

#[test]
fn a_relaxed_policy_loads_the_file_and_reports_the_violation() {
    let (dir, first) = deploy_dir();
    let slot = Slot::<Greeter>::load_with(&first, Options::new().allow_unsafe_path()).unwrap();
    let open = dir.path().join("open");
    fs::create_dir(&open).unwrap();
    let plugin = open.join("libgreeter.so");
    install("greeter-v2", &plugin);
    chmod(&open, 0o777);
    let report = slot.swap(&plugin).unwrap();
    assert_eq!(slot.current().build(), 2);
    assert!(
        report
            .warnings
            .iter()
            .any(|w| w.contains("safe-path policy") && w.contains("open")),
        "{:?}",
        report.warnings
    );
    // Where nothing is wrong, there is nothing to warn of.
    let report = slot.swap(&first).unwrap();
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
}

const CHILD_ENV: &str = "LIVESWAP_TRUST_CHILD_DIR";
const NOBODY: u32 = 65534;
const OTHER_USER: u32 = 1;

liveswap_tests::root_test!(
    "needs root: owns files as other users",
    /// A sticky, world-writable drop directory (like `/tmp`) below a
    /// directory `nobody` can enter, with two plugins in it: one owned by
    /// `nobody`, one by another user.
    fn a_file_owned_by_another_user_in_a_sticky_directory_is_refused() {
        let base = tempfile::tempdir().unwrap();
        chmod(base.path(), 0o755);
        let drop_dir = base.path().join("drop");
        fs::create_dir(&drop_dir).unwrap();
        chmod(&drop_dir, 0o1777);
        let ours = drop_dir.join("ours.so");
        let theirs = drop_dir.join("theirs.so");
        install("greeter-v1", &ours);
        install("greeter-v1", &theirs);
        std::os::unix::fs::chown(&ours, Some(NOBODY), Some(NOBODY)).unwrap();
        std::os::unix::fs::chown(&theirs, Some(OTHER_USER), Some(OTHER_USER)).unwrap();

        // As root: a file owned by anyone but root is refused.
        let Err(err) = Slot::<Greeter>::load(&ours) else {
            panic!("root loaded a file owned by nobody");
        };
        assert_eq!(unsafe_component(&err), ours);
        assert!(err.to_string().contains("owner uid 65534"), "{err}");

        // As nobody: its own file is accepted, another user's refused. Not
        // where nobody cannot reach the directory (a private TMPDIR, mode
        // 0700, as pam_tmpdir or systemd's PrivateTmp give).
        if !liveswap_tests::others_can_reach(base.path()) {
            return;
        }
        let exe = base.path().join("trust-test");
        fs::copy(std::env::current_exe().unwrap(), &exe).unwrap();
        chmod(&exe, 0o755);
        let out = Command::new(&exe)
            .args([
                "--ignored",
                "--exact",
                "--nocapture",
                "trust::loads_as_nobody_in_the_child",
            ])
            .env(CHILD_ENV, &drop_dir)
            .env("TMPDIR", std::env::temp_dir())
            .current_dir(base.path())
            .uid(NOBODY)
            .gid(NOBODY)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "child failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains("ours: accepted"), "{stdout}");
        let theirs_line = stdout
            .lines()
            .find(|l| l.starts_with("theirs: "))
            .expect("theirs line");
        assert!(
            theirs_line.contains("theirs.so") && theirs_line.contains("owner uid 1,"),
            "{theirs_line}"
        );
    }
);

use std::os::unix::process::CommandExt;

/// Run by the test above in a child process as `nobody`.
#[test]
#[ignore = "run as nobody by a_file_owned_by_another_user_in_a_sticky_directory_is_refused"]
fn loads_as_nobody_in_the_child() {
    let Some(dir) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let dir = PathBuf::from(dir);
    match Slot::<Greeter>::load(dir.join("ours.so")) {
        Ok(slot) => {
            assert_eq!(slot.current().build(), 1);
            println!("ours: accepted");
        }
        Err(e) => println!("ours: {e}"),
    }
    match Slot::<Greeter>::load(dir.join("theirs.so")) {
        Ok(_) => println!("theirs: accepted"),
        Err(e) => println!("theirs: {e}"),
    }
}
