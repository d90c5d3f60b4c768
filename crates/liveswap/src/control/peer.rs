//! Who is on the other end of a control connection, and what they may
//! do: root and this process's user own the host; allow-listed operators
//! may swap, roll back and inspect, but only files they could read
//! themselves; allow-listed readers may only look (status, history).

use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixStream;
use std::path::{Component, Path, PathBuf};

/// What a peer may ask.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rights {
    /// Root or this process's user: anything.
    Owner,
    /// An allow-listed operator: anything, on files it can read itself.
    Operator,
    /// An allow-listed reader: status, history and the slot list.
    Reader,
}

/// The peer's credentials, as the kernel gives them (`SO_PEERCRED`,
/// `SO_PEERGROUPS`), and its rights.
#[derive(Debug, Clone)]
pub(crate) struct Peer {
    pub uid: u32,
    gid: u32,
    /// Its supplementary groups; `None` when the kernel would not say
    /// (then an operator may use no path: a group it is in could deny
    /// what the other bits allow).
    groups: Option<Vec<u32>>,
    pub rights: Rights,
}

/// `SO_PEERGROUPS` on the architectures whose socket options follow the
/// generic numbering (x86_64, aarch64 and most others).
#[cfg(not(any(
    target_arch = "mips",
    target_arch = "mips64",
    target_arch = "sparc",
    target_arch = "sparc64"
)))]
const SO_PEERGROUPS: libc::c_int = 59;

impl Peer {
    /// The peer of `stream` with `rights`, or `None` when the kernel does
    /// not say who it is.
    pub(crate) fn of(stream: &UnixStream, rights: impl Fn(u32) -> Option<Rights>) -> Option<Self> {
        let cred = rustix::net::sockopt::socket_peercred(stream).ok()?;
        let uid = cred.uid.as_raw();
        Some(Peer {
            uid,
            gid: cred.gid.as_raw(),
            groups: peer_groups(stream),
            rights: rights(uid)?,
        })
    }

    /// Whether this command is within the peer's rights.
    pub(crate) fn may(&self, cmd: &str) -> bool {
        self.rights != Rights::Reader || matches!(cmd, "status" | "history" | "slots")
    }

    /// The path to use for `path` if the peer could itself reach and read
    /// the file (an absolute path, its links resolved by this process), by
    /// the mode bits of every directory on the way and of the file: the
    /// resolved path, so that what was checked is what is loaded. An owner
    /// may use any path, as given. Any failure (no such file, a relative
    /// path, a component it may not search, groups unknown) is the same
    /// `None`, so that an operator cannot learn what lies where it may not
    /// look.
    pub(crate) fn readable(&self, path: &Path) -> Option<PathBuf> {
        if self.rights == Rights::Owner || self.uid == 0 {
            return Some(path.to_path_buf());
        }
        let groups = self.groups.as_deref()?;
        if !path.is_absolute() {
            return None;
        }
        let resolved = std::fs::canonicalize(path).ok()?;
        let mut at = PathBuf::from("/");
        for component in resolved.components() {
            let meta = std::fs::metadata(&at).ok()?;
            if !self.allowed(&meta, groups, 0o1) {
                return None;
            }
            if let Component::Normal(name) = component {
                at.push(name);
            }
        }
        std::fs::metadata(&at)
            .is_ok_and(|meta| meta.is_file() && self.allowed(&meta, groups, 0o4))
            .then_some(at)
    }

    /// Whether `meta`'s mode grants the peer `bit` (4 read, 1 search), as
    /// the kernel decides for its owner, group or others.
    fn allowed(&self, meta: &std::fs::Metadata, groups: &[u32], bit: u32) -> bool {
        let mode = meta.mode();
        let shift = if meta.uid() == self.uid {
            6
        } else if meta.gid() == self.gid || groups.contains(&meta.gid()) {
            3
        } else {
            0
        };
        mode >> shift & bit != 0
    }
}

/// The peer's supplementary groups (`SO_PEERGROUPS`, Linux 4.13), or
/// `None` where the kernel does not say.
fn peer_groups(stream: &UnixStream) -> Option<Vec<u32>> {
    #[cfg(not(any(
        target_arch = "mips",
        target_arch = "mips64",
        target_arch = "sparc",
        target_arch = "sparc64"
    )))]
    {
        use std::os::fd::AsRawFd;
        // Enough for most; the kernel's limit (65,536) when not.
        for count in [256, 65_536] {
            let mut groups = vec![0 as libc::gid_t; count];
            let mut len =
                libc::socklen_t::try_from(std::mem::size_of_val(groups.as_slice())).unwrap_or(0);
            // SAFETY: `groups` is a writable buffer of `len` bytes and `len`
            // a valid `socklen_t`; the kernel writes at most `len` bytes and
            // sets `len` to what it wrote (or needs, with ERANGE).
            let status = unsafe {
                libc::getsockopt(
                    stream.as_raw_fd(),
                    libc::SOL_SOCKET,
                    SO_PEERGROUPS,
                    groups.as_mut_ptr().cast(),
                    &mut len,
                )
            };
            if status == 0 {
                groups.truncate(len as usize / std::mem::size_of::<libc::gid_t>());
                return Some(groups);
            }
        }
        None
    }
    #[cfg(any(
        target_arch = "mips",
        target_arch = "mips64",
        target_arch = "sparc",
        target_arch = "sparc64"
    ))]
    {
        let _ = stream;
        None
    }
}
