//! The safe-path policy: who could have written the plugin file.
//!
//! Modelled on OpenSSH's `StrictModes` (`safe_path`) and sudo's plugin
//! checks. The path is walked from `/`, one component at a time, following
//! every symbolic link by hand, so that each directory, each link and the
//! file itself are checked where they really are:
//!
//! - every entry (directory, link, the file) must be owned by root or by
//!   the process's effective uid: any other owner can change it;
//! - a directory or the file must not be writable by others, nor by its
//!   group, unless the group is the owner's own private group (named for
//!   the owner, whose primary group it is, with no other member; asked of
//!   the name service, so LDAP and SSSD groups count), as Debian's OpenSSH
//!   allows;
//! - nor through its POSIX ACL (`setfacl -m u:deploy:rw`): a named user
//!   other than root or the euid, or a named group that is not root's or
//!   the euid's private group, that may write after the ACL's mask makes
//!   it unsafe; an ACL that cannot be read does too;
//! - a directory writable by others (or its group) with the sticky bit set,
//!   like `/tmp`, is allowed: others cannot rename or delete what they do
//!   not own there, and what lies below it must be owned by root or the
//!   euid (the first rule).
//!
//! Once a path passes, only root and the process's own user can change
//! what it names; checking it before reading is therefore enough, with no
//! window an untrusted user could use between the check and the read.

use std::collections::HashMap;
use std::ffi::OsString;
use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};

use super::accounts::Accounts;
use super::acl::{self, Writers};
use crate::error::Error;

/// Symbolic links followed before giving up (the kernel's limit).
const MAX_LINKS: usize = 40;

const WRITE_GROUP: u32 = 0o020;
const WRITE_OTHER: u32 = 0o002;
const STICKY: u32 = 0o1000;

/// Checks that `path` and everything it goes through (directories above
/// it, symbolic links and their targets) can be changed only by root or
/// this process's effective user.
///
/// # Errors
///
/// [`Error::UnsafePath`] naming the first component that fails, its owner
/// and mode; [`Error::NotFound`] or [`Error::Unreadable`] when the path
/// cannot be walked.
pub fn check_path(path: &Path) -> Result<(), Error> {
    // SAFETY: `geteuid` has no preconditions and cannot fail.
    let euid = unsafe { libc::geteuid() };
    Walk {
        path,
        euid,
        accounts: HashMap::new(),
    }
    .run()
}

/// Checks an opened file that must obey the same rule as the plugin (its
/// `.minisig`): owned by root or the euid, written by nobody else through
/// its mode or its ACL. `path` is the plugin, `at` the file.
pub(crate) fn check_opened(path: &Path, at: &Path, file: &fs::File) -> Result<(), Error> {
    // SAFETY: as in `check_path`.
    let euid = unsafe { libc::geteuid() };
    let mut walk = Walk {
        path,
        euid,
        accounts: HashMap::new(),
    };
    let meta = file.metadata().map_err(|e| walk.io_error(e))?;
    let writers = acl::of_fd(file);
    walk.judge(at, &meta, writers, false)
}

struct Walk<'a> {
    /// The path as asked for, for errors.
    path: &'a Path,
    euid: u32,
    /// The name service's users and each group asked about, read when
    /// first needed.
    accounts: HashMap<u32, Accounts>,
}

impl Walk<'_> {
    fn io_error(&self, e: io::Error) -> Error {
        if e.kind() == io::ErrorKind::NotFound {
            Error::not_found(self.path)
        } else {
            Error::Unreadable {
                path: self.path.to_path_buf(),
                source: e,
            }
        }
    }

    fn run(mut self) -> Result<(), Error> {
        let absolute = if self.path.is_absolute() {
            self.path.to_path_buf()
        } else {
            std::env::current_dir()
                .map_err(|e| self.io_error(e))?
                .join(self.path)
        };
        // Components still to walk, the next one last.
        let mut pending: Vec<OsString> = Vec::new();
        push_components(&mut pending, &absolute);
        let mut resolved = PathBuf::from("/");
        self.check_entry(&resolved, false)?;
        let mut links = 0;
        while let Some(name) = pending.pop() {
            if name == ".." {
                resolved.pop();
                continue;
            }
            let next = resolved.join(&name);
            let meta = fs::symlink_metadata(&next).map_err(|e| self.io_error(e))?;
            if meta.file_type().is_symlink() {
                self.check_owner(&next, &meta)?;
                links += 1;
                if links > MAX_LINKS {
                    return Err(self.io_error(io::Error::other(format!(
                        "more than {MAX_LINKS} symbolic links (a loop?) at {}",
                        next.display()
                    ))));
                }
                let target = fs::read_link(&next).map_err(|e| self.io_error(e))?;
                if target.is_absolute() {
                    resolved = PathBuf::from("/");
                }
                push_components(&mut pending, &target);
                continue;
            }
            let last = pending.is_empty();
            if !last && !meta.is_dir() {
                return Err(self.io_error(io::Error::other(format!(
                    "{} is not a directory",
                    next.display()
                ))));
            }
            self.check_entry(&next, last)?;
            resolved = next;
        }
        Ok(())
    }

    fn violation(&self, component: &Path, meta: &fs::Metadata, reason: String) -> Error {
        Error::UnsafePath {
            path: self.path.to_path_buf(),
            component: component.to_path_buf(),
            owner: meta.uid(),
            mode: meta.mode() & 0o7777,
            reason,
        }
    }

    fn check_owner(&self, at: &Path, meta: &fs::Metadata) -> Result<(), Error> {
        let owner = meta.uid();
        if owner == 0 || owner == self.euid {
            return Ok(());
        }
        Err(self.violation(
            at,
            meta,
            format!(
                "owned by uid {owner}, who could replace what it holds: only root and this \
                 process's user (uid {}) are trusted",
                self.euid
            ),
        ))
    }

    /// A directory on the way (`last == false`) or the file itself.
    fn check_entry(&mut self, at: &Path, last: bool) -> Result<(), Error> {
        let meta = fs::metadata(at).map_err(|e| self.io_error(e))?;
        // `at` is resolved: no component of it is a link.
        let writers = acl::of_path(at);
        self.judge(at, &meta, writers, !last)
    }

    /// The rule, on one entry's owner, mode and ACL. `on_the_way`: a
    /// directory above the file, where the sticky bit protects.
    fn judge(
        &mut self,
        at: &Path,
        meta: &fs::Metadata,
        writers: io::Result<Option<Writers>>,
        on_the_way: bool,
    ) -> Result<(), Error> {
        self.check_owner(at, meta)?;
        let mode = meta.mode();
        let sticky_dir = on_the_way && meta.is_dir() && mode & STICKY != 0;
        if sticky_dir {
            // Others may write here, but not rename or delete what they
            // do not own; what lies below is checked for its owner.
            return Ok(());
        }
        if mode & WRITE_OTHER != 0 {
            return Err(self.violation(at, meta, "writable by every user".into()));
        }
        let writers = writers.map_err(|e| {
            if e.kind() == io::ErrorKind::NotFound {
                // Gone since it was looked at: a deploy that renamed or
                // deleted it meanwhile, not an unsafe path.
                Error::not_found(self.path)
            } else {
                self.violation(at, meta, format!("its access ACL cannot be read ({e})"))
            }
        })?;
        // With an ACL, the mode's group bits are its mask; the owning
        // group's own entry says what the group may do.
        let group_writes = writers
            .as_ref()
            .map_or(mode & WRITE_GROUP != 0, |w| w.owning_group);
        if group_writes && !self.private_group(meta.gid(), meta.uid()) {
            return Err(self.violation(
                at,
                meta,
                format!(
                    "writable by its group (gid {}), which is not its owner's private group",
                    meta.gid()
                ),
            ));
        }
        let Some(writers) = writers else {
            return Ok(());
        };
        if let Some(uid) = writers
            .users
            .iter()
            .find(|&&uid| uid != 0 && uid != self.euid)
        {
            return Err(self.violation(
                at,
                meta,
                format!("writable by uid {uid} through its ACL (user:{uid}:w)"),
            ));
        }
        for &gid in &writers.groups {
            if !self.private_group(gid, 0) && !self.private_group(gid, self.euid) {
                return Err(self.violation(
                    at,
                    meta,
                    format!(
                        "writable by group gid {gid} through its ACL (group:{gid}:w), which is \
                         not root's or this process's user's private group"
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Whether group `gid` is `owner`'s private group (see [`Accounts`]).
    fn private_group(&mut self, gid: u32, owner: u32) -> bool {
        self.accounts
            .entry(gid)
            .or_insert_with(|| Accounts::for_group(gid))
            .private_group(gid, owner)
    }
}

/// Pushes the normal components of `path` onto `pending` so that the first
/// is popped first.
fn push_components(pending: &mut Vec<OsString>, path: &Path) {
    let names: Vec<OsString> = path
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some("..".into()),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => None,
        })
        .collect();
    pending.extend(names.into_iter().rev());
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{PermissionsExt, symlink};

    fn chmod(path: &Path, mode: u32) {
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
    }

    /// A private directory (0700, ours) under the system temporary
    /// directory, which is sticky and owned by root.
    fn private_dir() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        chmod(dir.path(), 0o700);
        dir
    }

    fn file_in(dir: &Path, name: &str) -> PathBuf {
        let path = dir.join(name);
        fs::write(&path, b"x").unwrap();
        chmod(&path, 0o644);
        path
    }

    #[test]
    fn a_file_in_a_private_directory_under_tmp_passes() {
        let dir = private_dir();
        check_path(&file_in(dir.path(), "plugin.so")).unwrap();
    }

    #[test]
    fn a_world_writable_directory_without_sticky_bit_is_named() {
        let dir = private_dir();
        let open = dir.path().join("open");
        fs::create_dir(&open).unwrap();
        chmod(&open, 0o777);
        let file = file_in(&open, "plugin.so");
        match check_path(&file).unwrap_err() {
            Error::UnsafePath {
                component, mode, ..
            } => {
                assert_eq!(component, open);
                assert_eq!(mode, 0o777);
            }
            other => panic!("expected UnsafePath, got {other:?}"),
        }
    }

    #[test]
    fn a_world_writable_file_is_refused() {
        let dir = private_dir();
        let file = file_in(dir.path(), "plugin.so");
        chmod(&file, 0o666);
        let err = check_path(&file).unwrap_err();
        assert!(
            matches!(&err, Error::UnsafePath { component, .. } if *component == file),
            "{err}"
        );
    }

    #[test]
    fn a_sticky_world_writable_directory_is_allowed_above_our_own_file() {
        let dir = private_dir();
        let sticky = dir.path().join("sticky");
        fs::create_dir(&sticky).unwrap();
        chmod(&sticky, 0o1777);
        check_path(&file_in(&sticky, "plugin.so")).unwrap();
    }

    #[test]
    fn a_relative_path_is_walked_from_the_working_directory() {
        // The working directory of a test is its package, inside the
        // repository: the same place the tests load fixture plugins from.
        let err = check_path(Path::new("no-such-file.so")).unwrap_err();
        assert!(matches!(err, Error::NotFound { .. }), "{err}");
    }

    #[test]
    fn a_link_is_followed_and_its_target_directory_checked() {
        let dir = private_dir();
        let open = dir.path().join("open");
        fs::create_dir(&open).unwrap();
        let target = file_in(&open, "plugin.so");
        chmod(&open, 0o777);
        let link = dir.path().join("link.so");
        symlink(&target, &link).unwrap();
        let err = check_path(&link).unwrap_err();
        assert!(
            matches!(&err, Error::UnsafePath { component, .. } if *component == open),
            "{err}"
        );
        // A relative link, through `..`, is resolved the same way.
        let rel = dir.path().join("rel.so");
        symlink("open/../open/plugin.so", &rel).unwrap();
        assert!(matches!(
            check_path(&rel).unwrap_err(),
            Error::UnsafePath { .. }
        ));
        chmod(&open, 0o755);
        check_path(&link).unwrap();
        check_path(&rel).unwrap();
    }

    #[test]
    fn a_link_loop_is_an_error_not_a_hang() {
        let dir = private_dir();
        let a = dir.path().join("a");
        symlink(dir.path().join("b"), &a).unwrap();
        symlink(&a, dir.path().join("b")).unwrap();
        assert!(matches!(
            check_path(&a).unwrap_err(),
            Error::Unreadable { .. }
        ));
    }

    /// Gives `path` the access ACL with the `named` entries (tag,
    /// permissions, id) and a mask of `mask`, as `setfacl` would. `false`
    /// when the file system keeps no ACLs (then nothing can be tested, and
    /// nothing can be granted through one either).
    #[must_use]
    fn set_acl(path: &Path, named: &[(u16, u16, u32)], mask: u16) -> bool {
        let any = u32::MAX;
        // The owner keeps search on a directory, so that the test (not
        // root, which needs none) can empty and remove it at the end.
        let owner = if path.is_dir() { 7 } else { 6 };
        let mut entries = vec![(0x01, owner, any), (0x04, 4, any)];
        entries.extend_from_slice(named);
        entries.extend([(0x10, mask, any), (0x20, 4, any)]);
        // The kernel takes entries sorted by tag, then id, each once.
        entries.sort_by_key(|&(tag, _, id)| (tag, id));
        entries.dedup_by_key(|&mut (tag, _, id)| (tag, id));
        let mut bytes = 2u32.to_le_bytes().to_vec();
        for (tag, perm, id) in entries {
            bytes.extend(u16::to_le_bytes(tag));
            bytes.extend(u16::to_le_bytes(perm));
            bytes.extend(u32::to_le_bytes(id));
        }
        match rustix::fs::setxattr(
            path,
            "system.posix_acl_access",
            &bytes,
            rustix::fs::XattrFlags::empty(),
        ) {
            Ok(()) => true,
            Err(rustix::io::Errno::OPNOTSUPP) => {
                eprintln!("skipped: the temporary directory's file system keeps no ACLs");
                false
            }
            Err(e) => panic!("setting an ACL on {}: {e}", path.display()),
        }
    }

    fn reason(err: Error) -> (PathBuf, String) {
        match err {
            Error::UnsafePath {
                component, reason, ..
            } => (component, reason),
            other => panic!("expected UnsafePath, got {other:?}"),
        }
    }

    #[test]
    fn a_file_another_user_may_write_through_its_acl_is_refused() {
        let dir = private_dir();
        let file = file_in(dir.path(), "plugin.so");
        if !set_acl(&file, &[(0x02, 6, 65534)], 6) {
            return;
        }
        let (component, reason) = reason(check_path(&file).unwrap_err());
        assert_eq!(component, file);
        assert!(reason.contains("uid 65534 through its ACL"), "{reason}");
    }

    #[test]
    fn a_directory_a_group_may_write_through_its_acl_is_refused() {
        let dir = private_dir();
        let sub = dir.path().join("plugins");
        fs::create_dir(&sub).unwrap();
        let file = file_in(&sub, "plugin.so");
        // gid 65534 (nogroup) is nobody's private group.
        if !set_acl(&sub, &[(0x08, 7, 65534)], 7) {
            return;
        }
        let (component, reason) = reason(check_path(&file).unwrap_err());
        assert_eq!(component, sub);
        assert!(
            reason.contains("group gid 65534 through its ACL"),
            "{reason}"
        );
    }

    #[test]
    fn an_acl_whose_mask_takes_write_away_or_that_names_only_us_passes() {
        let dir = private_dir();
        let file = file_in(dir.path(), "plugin.so");
        if !set_acl(&file, &[(0x02, 6, 65534)], 4) {
            return;
        }
        check_path(&file).unwrap();
        // SAFETY: `geteuid` cannot fail.
        let euid = unsafe { libc::geteuid() };
        assert!(set_acl(&file, &[(0x02, 6, euid), (0x02, 6, 0)], 6));
        check_path(&file).unwrap();
    }

    #[test]
    fn the_mode_s_group_bits_under_an_acl_are_its_mask_not_the_group() {
        let dir = private_dir();
        let file = file_in(dir.path(), "plugin.so");
        // The mask grants write (so the mode shows 0664) to a named entry
        // that is ours; the owning group itself may only read.
        // SAFETY: `geteuid` cannot fail.
        let euid = unsafe { libc::geteuid() };
        if !set_acl(&file, &[(0x02, 6, euid)], 6) {
            return;
        }
        assert_eq!(fs::metadata(&file).unwrap().mode() & 0o777, 0o664);
        check_path(&file).unwrap();
    }
}
