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
//!   group, unless the group is the owner's own private group (its only
//!   member is the owner; read from `/etc/passwd` and `/etc/group`), as
//!   Debian's OpenSSH allows;
//! - a directory writable by others (or its group) with the sticky bit set,
//!   like `/tmp`, is allowed: others cannot rename or delete what they do
//!   not own there, and what lies below it must be owned by root or the
//!   euid (the first rule).
//!
//! Once a path passes, only root and the process's own user can change
//! what it names; checking it before reading is therefore enough, with no
//! window an untrusted user could use between the check and the read.

use std::ffi::OsString;
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};

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
        groups: None,
    }
    .run()
}

struct Walk<'a> {
    /// The path as asked for, for errors.
    path: &'a Path,
    euid: u32,
    /// `/etc/passwd` and `/etc/group`, read when first needed.
    groups: Option<Accounts>,
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
        self.check_owner(at, &meta)?;
        let mode = meta.mode();
        let sticky_dir = !last && meta.is_dir() && mode & STICKY != 0;
        if mode & WRITE_OTHER != 0 && !sticky_dir {
            return Err(self.violation(at, &meta, "writable by every user".into()));
        }
        if mode & WRITE_GROUP != 0 && !sticky_dir && !self.private_group(meta.gid(), meta.uid()) {
            return Err(self.violation(
                at,
                &meta,
                format!(
                    "writable by its group (gid {}), whose members are not only its owner",
                    meta.gid()
                ),
            ));
        }
        Ok(())
    }

    /// Whether group `gid` has exactly one member, `owner` (a user's
    /// private group, as `useradd` makes them).
    fn private_group(&mut self, gid: u32, owner: u32) -> bool {
        self.groups
            .get_or_insert_with(Accounts::read)
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

/// The local user and group databases, as far as group privacy needs them.
struct Accounts {
    /// (name, uid, primary gid) of each user.
    users: Vec<(Vec<u8>, u32, u32)>,
    /// (gid, supplementary members) of each group.
    groups: Vec<(u32, Vec<Vec<u8>>)>,
}

impl Accounts {
    fn read() -> Self {
        let lines = |file: &str| fs::read(file).unwrap_or_default();
        let passwd = lines("/etc/passwd");
        let group = lines("/etc/group");
        let users = passwd
            .split(|&b| b == b'\n')
            .filter_map(|line| {
                let f: Vec<&[u8]> = line.split(|&b| b == b':').collect();
                Some((f.first()?.to_vec(), number(f.get(2)?)?, number(f.get(3)?)?))
            })
            .collect();
        let groups = group
            .split(|&b| b == b'\n')
            .filter_map(|line| {
                let f: Vec<&[u8]> = line.split(|&b| b == b':').collect();
                let members = f
                    .get(3)?
                    .split(|&b| b == b',')
                    .filter(|m| !m.is_empty())
                    .map(<[u8]>::to_vec)
                    .collect();
                Some((number(f.get(2)?)?, members))
            })
            .collect();
        Accounts { users, groups }
    }

    fn private_group(&self, gid: u32, owner: u32) -> bool {
        let Some(owner_name) = self
            .users
            .iter()
            .find(|(_, uid, _)| *uid == owner)
            .map(|(name, ..)| name)
        else {
            return false;
        };
        let Some((_, members)) = self.groups.iter().find(|(g, _)| *g == gid) else {
            return false;
        };
        let primary: Vec<u32> = self
            .users
            .iter()
            .filter(|(_, _, g)| *g == gid)
            .map(|(_, uid, _)| *uid)
            .collect();
        let only_owner_primary = !primary.is_empty() && primary.iter().all(|&u| u == owner);
        let only_owner_listed = members.iter().all(|m| m == owner_name);
        only_owner_primary && only_owner_listed
    }
}

fn number(field: &[u8]) -> Option<u32> {
    std::ffi::OsStr::from_bytes(field).to_str()?.parse().ok()
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

    #[test]
    fn group_privacy_reads_members_from_both_databases() {
        let accounts = Accounts {
            users: vec![
                (b"alice".to_vec(), 1000, 1000),
                (b"bob".to_vec(), 1001, 100),
                (b"carol".to_vec(), 1002, 100),
            ],
            groups: vec![
                (1000, vec![]),
                (100, vec![]),
                (1003, vec![b"alice".to_vec()]),
                (1004, vec![b"alice".to_vec(), b"bob".to_vec()]),
            ],
        };
        assert!(accounts.private_group(1000, 1000), "alice's own group");
        assert!(!accounts.private_group(100, 1001), "bob shares users");
        assert!(
            !accounts.private_group(1003, 1000),
            "nobody's primary group"
        );
        assert!(!accounts.private_group(1004, 1000), "two members");
        assert!(!accounts.private_group(1000, 1001), "not bob's group");
        assert!(!accounts.private_group(4242, 1000), "unknown group");
    }
}
