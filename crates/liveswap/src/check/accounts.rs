//! Users and groups as the system's name service (NSS) sees them: local
//! files, and LDAP, SSSD or systemd's dynamic users where `nsswitch.conf`
//! names them. Only group privacy needs them: is a group its owner's own?

use std::ffi::CStr;
use std::sync::Mutex;

/// Serializes user enumeration within the process: `setpwent`,
/// `getpwent_r` and `endpwent` share one position per process.
static ENUMERATION: Mutex<()> = Mutex::new(());

/// What group privacy needs to know about one group.
#[derive(Debug, Clone)]
pub(crate) struct Accounts {
    /// (name, uid, primary gid) of every user the name service lists;
    /// `None` when the listing failed part way.
    pub users: Option<Vec<(Vec<u8>, u32, u32)>>,
    /// (gid, name, supplementary members) of the groups looked up.
    pub groups: Vec<(u32, Vec<u8>, Vec<Vec<u8>>)>,
}

impl Accounts {
    /// Every user the name service enumerates, and group `gid`.
    pub fn for_group(gid: u32) -> Self {
        Accounts {
            users: users(),
            groups: group(gid).into_iter().collect(),
        }
    }

    /// Whether group `gid` is `owner`'s private group, as `useradd` makes
    /// them: named like its owner, the owner's primary group, nobody
    /// else's primary group, and no other listed member. The name rule
    /// covers directories (LDAP without enumeration) whose users cannot
    /// all be listed: their user private groups are named for them too.
    pub fn private_group(&self, gid: u32, owner: u32) -> bool {
        let Some(users) = &self.users else {
            return false;
        };
        let Some((owner_name, _, owner_gid)) = users.iter().find(|(_, uid, _)| *uid == owner)
        else {
            return false;
        };
        let Some((_, name, members)) = self.groups.iter().find(|(g, ..)| *g == gid) else {
            return false;
        };
        *owner_gid == gid
            && name == owner_name
            && users
                .iter()
                .all(|(_, uid, primary)| *primary != gid || *uid == owner)
            && members.iter().all(|m| m == owner_name)
    }
}

/// Calls `lookup` with a buffer that grows while it reports `ERANGE`.
fn with_buffer(mut lookup: impl FnMut(&mut [libc::c_char]) -> libc::c_int) -> libc::c_int {
    let mut buf = vec![0 as libc::c_char; 1024];
    loop {
        let status = lookup(&mut buf);
        if status != libc::ERANGE || buf.len() >= 1 << 20 {
            return status;
        }
        buf.resize(buf.len() * 2, 0);
    }
}

/// Every user the name service lists, or `None` when the list ended on
/// an error (then no group counts as private: a partial list could hide
/// another user whose primary group it is).
fn users() -> Option<Vec<(Vec<u8>, u32, u32)>> {
    let _one = ENUMERATION.lock().unwrap_or_else(|p| p.into_inner());
    let mut out = Vec::new();
    // SAFETY: `setpwent` and `endpwent` take no arguments and have no
    // memory preconditions; the C library guards the enumeration position
    // with its own lock. (Host code enumerating at the same time can move
    // that position; a list cut short by it ends on an error or early,
    // which is why `private_group` also requires the group's name to be
    // its owner's.)
    unsafe { libc::setpwent() };
    let complete;
    loop {
        // SAFETY: a zeroed `passwd` is a valid value (null pointers and
        // zero ids), only written by `getpwent_r`.
        let mut entry: libc::passwd = unsafe { std::mem::zeroed() };
        let mut found: *mut libc::passwd = std::ptr::null_mut();
        let mut user = None;
        let status = with_buffer(|buf| {
            // SAFETY: every pointer is to a live local or to `buf`, whose
            // length is passed; on success `found` points at `entry`,
            // whose strings point into `buf`, read before `buf` is dropped.
            let status =
                unsafe { libc::getpwent_r(&mut entry, buf.as_mut_ptr(), buf.len(), &mut found) };
            if status == 0 && !found.is_null() {
                // SAFETY: on success `pw_name` is a NUL-terminated string
                // in `buf`.
                let name = unsafe { CStr::from_ptr(entry.pw_name) }.to_bytes().to_vec();
                user = Some((name, entry.pw_uid, entry.pw_gid));
            }
            status
        });
        match user {
            Some(user) if status == 0 => out.push(user),
            _ => {
                // The end of the list, as opposed to a failed read.
                complete = status == libc::ENOENT || status == 0;
                break;
            }
        }
    }
    // SAFETY: as for `setpwent`.
    unsafe { libc::endpwent() };
    complete.then_some(out)
}

fn group(gid: u32) -> Option<(u32, Vec<u8>, Vec<Vec<u8>>)> {
    // SAFETY: a zeroed `group` is a valid value, only written by
    // `getgrgid_r`.
    let mut entry: libc::group = unsafe { std::mem::zeroed() };
    let mut found: *mut libc::group = std::ptr::null_mut();
    let mut out = None;
    with_buffer(|buf| {
        // SAFETY: as in `users`: local pointers and `buf` with its length.
        let status =
            unsafe { libc::getgrgid_r(gid, &mut entry, buf.as_mut_ptr(), buf.len(), &mut found) };
        if status == 0 && !found.is_null() {
            // SAFETY: on success `gr_name` is a NUL-terminated string and
            // `gr_mem` a null-terminated array of them, all in `buf`.
            let name = unsafe { CStr::from_ptr(entry.gr_name) }.to_bytes().to_vec();
            let mut members = Vec::new();
            let mut at = entry.gr_mem;
            // SAFETY: see above; the array ends with a null pointer.
            while !at.is_null() && unsafe { !(*at).is_null() } {
                // SAFETY: a non-null entry of the array is a string in `buf`.
                members.push(unsafe { CStr::from_ptr(*at) }.to_bytes().to_vec());
                // SAFETY: the null terminator has not been reached, so the
                // next element is inside the array.
                at = unsafe { at.add(1) };
            }
            out = Some((gid, name, members));
        }
        status
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accounts() -> Accounts {
        Accounts {
            users: Some(vec![
                (b"alice".to_vec(), 1000, 1000),
                (b"bob".to_vec(), 1001, 100),
                (b"carol".to_vec(), 1002, 100),
                (b"dave".to_vec(), 1003, 1005),
            ]),
            groups: vec![
                (1000, b"alice".to_vec(), vec![]),
                (100, b"users".to_vec(), vec![]),
                (1003, b"alice".to_vec(), vec![b"alice".to_vec()]),
                (
                    1004,
                    b"team".to_vec(),
                    vec![b"alice".to_vec(), b"bob".to_vec()],
                ),
                (1005, b"ops".to_vec(), vec![]),
            ],
        }
    }

    #[test]
    fn a_user_private_group_is_private() {
        assert!(accounts().private_group(1000, 1000), "alice's own group");
    }

    #[test]
    fn shared_listed_unnamed_or_unknown_groups_are_not_private() {
        let a = accounts();
        assert!(!a.private_group(100, 1001), "bob shares users");
        assert!(!a.private_group(1003, 1000), "nobody's primary group");
        assert!(!a.private_group(1004, 1000), "two members");
        assert!(!a.private_group(1000, 1001), "not bob's group");
        assert!(!a.private_group(4242, 1000), "unknown group");
        assert!(
            !a.private_group(1005, 1003),
            "dave's only primary group, but not named for him"
        );
    }

    #[test]
    fn the_name_service_lists_root_and_its_group() {
        let a = Accounts::for_group(0);
        assert!(
            a.users
                .as_ref()
                .expect("the user list is read whole")
                .iter()
                .any(|(name, uid, _)| name == b"root" && *uid == 0)
        );
        assert_eq!(a.groups.len(), 1, "group 0 exists");
    }

    #[test]
    fn no_group_is_private_when_the_user_list_is_incomplete() {
        let mut partial = accounts();
        partial.users = None;
        assert!(!partial.private_group(1000, 1000));
        assert!(accounts().private_group(1000, 1000));
    }
}
