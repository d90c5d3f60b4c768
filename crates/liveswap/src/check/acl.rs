//! POSIX access ACLs, as far as the safe-path policy needs them: who
//! besides the owner may write a file or directory.
//!
//! `setfacl -m u:deploy:rw plugin.so` leaves the mode at `0664`-looking
//! bits (the group bits become the ACL's mask) and adds a named entry the
//! mode does not show. The kernel keeps the ACL in the extended attribute
//! `system.posix_acl_access`: a little-endian `u32` version (2), then
//! entries of `u16` tag, `u16` permissions, `u32` id. A named user or group
//! entry grants what it says *and* the mask says.

use std::io;
use std::os::fd::AsFd;
use std::path::Path;

/// The attribute that holds a file's access ACL.
const ATTRIBUTE: &str = "system.posix_acl_access";
/// The only version of the format Linux writes.
const VERSION: u32 = 2;
/// Larger than any ACL a file system stores (ext4 allows about 500
/// entries in a block: 4 KiB).
const MAX_BYTES: usize = 64 * 1024;

const TAG_USER: u16 = 0x02;
const TAG_GROUP_OBJ: u16 = 0x04;
const TAG_GROUP: u16 = 0x08;
const TAG_MASK: u16 = 0x10;
const PERM_WRITE: u16 = 0x02;

/// Who an ACL lets write, beyond the owner and others (which the mode
/// shows truthfully).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Writers {
    /// Named users that may write (after the mask).
    pub users: Vec<u32>,
    /// Named groups that may write (after the mask).
    pub groups: Vec<u32>,
    /// Whether the owning group may write (after the mask); with an ACL
    /// present, the mode's group bits are the mask, not this.
    pub owning_group: bool,
}

/// The access ACL of the entry at `path` (not followed if a link), or
/// `None` when it has none beyond its mode (or the file system keeps none).
pub(crate) fn of_path(path: &Path) -> io::Result<Option<Writers>> {
    let mut buf = vec![0u8; MAX_BYTES];
    read(rustix::fs::lgetxattr(path, ATTRIBUTE, &mut buf[..]), &buf)
}

/// The access ACL of an open file.
pub(crate) fn of_fd(fd: impl AsFd) -> io::Result<Option<Writers>> {
    let mut buf = vec![0u8; MAX_BYTES];
    read(rustix::fs::fgetxattr(fd, ATTRIBUTE, &mut buf[..]), &buf)
}

fn read(len: rustix::io::Result<usize>, buf: &[u8]) -> io::Result<Option<Writers>> {
    match len {
        Ok(len) => parse(&buf[..len.min(buf.len())]).map(Some),
        // No ACL, or a file system without them: the mode is the truth.
        Err(rustix::io::Errno::NODATA | rustix::io::Errno::OPNOTSUPP) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Parses the attribute's bytes.
///
/// # Errors
///
/// `InvalidData` for another version or a length that is not whole
/// entries: a file whose ACL cannot be read is not trusted.
pub(crate) fn parse(bytes: &[u8]) -> io::Result<Writers> {
    let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidData, format!("its ACL {what}"));
    let (head, body) = bytes
        .split_first_chunk::<4>()
        .ok_or_else(|| bad("is shorter than its header"))?;
    if u32::from_le_bytes(*head) != VERSION {
        return Err(bad("is of an unknown version"));
    }
    if body.len() % 8 != 0 {
        return Err(bad("is not made of whole entries"));
    }
    let entries: Vec<(u16, u16, u32)> = body
        .chunks_exact(8)
        .map(|e| {
            (
                u16::from_le_bytes([e[0], e[1]]),
                u16::from_le_bytes([e[2], e[3]]),
                u32::from_le_bytes([e[4], e[5], e[6], e[7]]),
            )
        })
        .collect();
    // Without a mask entry (an ACL of the three base entries only), named
    // entries cannot exist and the group entry is not masked.
    let mask = entries
        .iter()
        .find(|(tag, ..)| *tag == TAG_MASK)
        .map_or(u16::MAX, |&(_, perm, _)| perm);
    let writes = |perm: u16| perm & mask & PERM_WRITE != 0;
    let mut writers = Writers::default();
    for &(tag, perm, id) in &entries {
        match tag {
            TAG_USER if writes(perm) => writers.users.push(id),
            TAG_GROUP if writes(perm) => writers.groups.push(id),
            TAG_GROUP_OBJ => writers.owning_group = writes(perm),
            _ => {}
        }
    }
    Ok(writers)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acl(entries: &[(u16, u16, u32)]) -> Vec<u8> {
        let mut out = VERSION.to_le_bytes().to_vec();
        for &(tag, perm, id) in entries {
            out.extend(tag.to_le_bytes());
            out.extend(perm.to_le_bytes());
            out.extend(id.to_le_bytes());
        }
        out
    }

    const ANY: u32 = u32::MAX;

    #[test]
    fn a_named_user_that_may_write_is_found() {
        let w = parse(&acl(&[
            (0x01, 6, ANY),
            (TAG_USER, 6, 65534),
            (TAG_GROUP_OBJ, 4, ANY),
            (TAG_MASK, 6, ANY),
            (0x20, 4, ANY),
        ]))
        .unwrap();
        assert_eq!(w.users, [65534]);
        assert!(!w.owning_group, "the group entry reads only");
    }

    #[test]
    fn the_mask_takes_write_away_from_named_entries() {
        let w = parse(&acl(&[
            (0x01, 6, ANY),
            (TAG_USER, 6, 65534),
            (TAG_GROUP, 7, 100),
            (TAG_GROUP_OBJ, 6, ANY),
            (TAG_MASK, 4, ANY),
            (0x20, 4, ANY),
        ]))
        .unwrap();
        assert_eq!(w, Writers::default());
    }

    #[test]
    fn a_cut_or_foreign_acl_is_an_error() {
        let good = acl(&[(0x01, 6, ANY), (TAG_GROUP_OBJ, 4, ANY), (0x20, 4, ANY)]);
        assert!(parse(&good).is_ok());
        assert!(parse(&good[..good.len() - 1]).is_err());
        assert!(parse(&good[..2]).is_err());
        let mut other = good.clone();
        other[0] = 1;
        assert!(parse(&other).is_err());
    }
}
