//! Where a load's private copy lives: storage no other user can reach, that
//! is never written after it is checked, and that leaves nothing behind
//! when the process dies.
//!
//! Two kinds, chosen per load by the file's size ([`StorePolicy`]):
//!
//! - **A sealed memfd** (files up to `memfd_max`, 64 MiB by default):
//!   `memfd_create(MFD_CLOEXEC | MFD_ALLOW_SEALING)`, the bytes copied in the
//!   kernel, then sealed `F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW |
//!   F_SEAL_SEAL`: nobody, this process included, can change it again. It has
//!   no name in any filesystem, so a `noexec` temporary directory, a temp
//!   cleaner or another user cannot touch it. Its cost: the whole file sits
//!   in shared memory (RAM or swap) for as long as the copy is kept.
//! - **An unnamed file on disk** (bigger files): `open(dir, O_TMPFILE)` in
//!   [`Options::store_dir`](crate::Options::store_dir) or else in the
//!   source file's own directory (same filesystem: `copy_file_range` may
//!   share extents instead of copying), mode 0500, reopened read-only
//!   through `/proc/self/fd` and the writable descriptor closed. It has no
//!   name either: no other user can open it, nothing is left after a crash,
//!   and its pages are ordinary page cache the kernel can drop. A directory
//!   on a `noexec` mount is skipped (its files could not be mapped
//!   executable).
//!
//! Each falls back to the other when it is unavailable (memfds forbidden
//! executable by `vm.memfd_noexec`, no writable or `O_TMPFILE`-capable
//! directory). Either way the loader `dlopen`s `/proc/self/fd/N`, a unique
//! inode per load, and keeps the descriptor open until the library is
//! verified unmapped.

use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use rustix::fs::{FileType, MemfdFlags, Mode, OFlags, SealFlags, StatVfsMountFlags};
use rustix::mm::{MapFlags, ProtFlags};

use crate::error::Error;

/// The default size up to which a copy is held in a sealed memfd: 64 MiB,
/// so that debug builds (17 MB for a small plugin: the library's own code
/// is most of it) take the memfd too; release builds are under 1 MB.
pub const DEFAULT_MEMFD_MAX: u64 = 64 << 20;

/// Longest memfd name the kernel accepts (`NAME_MAX` minus `memfd:`).
const MEMFD_NAME_MAX: usize = 249;

/// How copies are stored, owned by a handle.
#[derive(Debug, Clone)]
pub(crate) struct StorePolicy {
    /// Files up to this size go to a memfd.
    pub memfd_max: u64,
    /// A directory held by descriptor for bigger files; without one, the
    /// source file's directory.
    pub dir: Option<Arc<StoreDir>>,
    /// `liveswap-<16 hex digits>`: names this handle's memfds.
    pub tag: String,
    /// `/memfd:<tag>`, how `/proc/self/maps` shows them.
    prefix: String,
}

static COPIES: AtomicU64 = AtomicU64::new(0);

impl StorePolicy {
    pub(crate) fn new(memfd_max: u64, dir: Option<Arc<StoreDir>>) -> Self {
        // Fixed width, so that no handle's tag is a prefix of another's.
        let unique = (u64::from(std::process::id()) << 32)
            ^ COPIES.fetch_add(1, Ordering::Relaxed)
            ^ (std::ptr::from_ref(&COPIES) as u64).rotate_left(17);
        let tag = format!("liveswap-{unique:016x}");
        StorePolicy {
            memfd_max,
            dir,
            prefix: format!("/memfd:{tag}"),
            tag,
        }
    }

    /// How `/proc/self/maps` names this handle's memfds: this prefix,
    /// then `/`, a load number, `-` and the source file's name.
    pub(crate) fn maps_prefix(&self) -> &str {
        &self.prefix
    }
}

/// A directory given by the user for on-disk copies, opened once and held
/// by descriptor: it is never looked up by path again, and its owner and
/// mode are checked on every use.
#[derive(Debug)]
pub(crate) struct StoreDir {
    fd: OwnedFd,
    path: PathBuf,
}

impl StoreDir {
    /// Opens `path` (not following a final symlink) and checks it.
    pub(crate) fn open(path: &Path) -> Result<Self, Error> {
        let fd = rustix::fs::open(
            path,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| Error::StoreDir {
            dir: path.to_path_buf(),
            reason: format!("cannot open it as a directory (symlinks are not followed): {e}"),
        })?;
        let dir = StoreDir {
            fd,
            path: path.to_path_buf(),
        };
        dir.check()?;
        Ok(dir)
    }

    /// Owned by this user (or root), not writable by group or others unless
    /// sticky, and mounted so that its files can be mapped executable.
    fn check(&self) -> Result<(), Error> {
        let refuse = |reason: String| Error::StoreDir {
            dir: self.path.clone(),
            reason,
        };
        let stat = rustix::fs::fstat(&self.fd).map_err(|e| refuse(format!("fstat: {e}")))?;
        let euid = rustix::process::geteuid().as_raw();
        if stat.st_uid != euid && stat.st_uid != 0 {
            return Err(refuse(format!(
                "it is owned by uid {}, not by this process's uid {euid} or root",
                stat.st_uid
            )));
        }
        let mode = stat.st_mode;
        if mode & 0o022 != 0 && mode & 0o1000 == 0 {
            return Err(refuse(format!(
                "it is writable by others (mode {:o}) and not sticky",
                mode & 0o7777
            )));
        }
        if is_noexec(&self.fd) {
            return Err(refuse("it is on a noexec mount".into()));
        }
        Ok(())
    }
}

fn is_noexec(dir: impl AsFd) -> bool {
    rustix::fs::fstatvfs(dir).is_ok_and(|s| s.f_flag.contains(StatVfsMountFlags::NOEXEC))
}

/// Where a version's private copy is held (see [`Options::memfd_max`](crate::Options::memfd_max)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Storage {
    /// A sealed memfd: shared memory, nothing on disk.
    Memfd,
    /// An unnamed (`O_TMPFILE`) file on disk, in page cache.
    Disk,
}

/// A private, immutable copy of a plugin file, held by descriptor.
#[derive(Debug)]
pub(crate) struct Stored {
    fd: OwnedFd,
    pub len: u64,
    pub kind: Storage,
    /// `/proc/self/fd/N`, the name `dlopen` is given.
    pub path: PathBuf,
    /// Device and inode, as `/proc/self/maps` shows them.
    pub dev: u64,
    pub ino: u64,
    /// The BLAKE3 hash of the copy, taken in the pass that wrote it.
    hash: crate::hash::ContentHash,
}

impl Stored {
    fn new(
        fd: OwnedFd,
        len: u64,
        kind: Storage,
        hash: crate::hash::ContentHash,
    ) -> io::Result<Self> {
        let stat = rustix::fs::fstat(&fd)?;
        if u64::try_from(stat.st_size).ok() != Some(len) {
            return Err(io::Error::other(
                "the copy's size differs from the source's",
            ));
        }
        let path = PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()));
        Ok(Stored {
            fd,
            len,
            kind,
            path,
            dev: stat.st_dev,
            ino: stat.st_ino,
            hash,
        })
    }

    /// The BLAKE3 hash of the copy, taken when it was written (see
    /// [`store`]).
    pub(crate) fn content_hash(&self) -> crate::hash::ContentHash {
        self.hash
    }

    /// Maps the copy read-only, for the handshake to read.
    pub(crate) fn map(&self) -> io::Result<Mapping> {
        let len = usize::try_from(self.len).map_err(io::Error::other)?;
        // SAFETY: a fresh read-only shared mapping of a file no other
        // process of another user can write (sealed, or an unnamed file
        // whose only writable descriptor is closed) and whose size cannot
        // shrink under it (a memfd's seals forbid it; an unnamed file could
        // be reopened for writing through /proc only by root or a process
        // allowed to ptrace this one, which can write this process's memory
        // anyway); `Mapping` unmaps it once, on drop.
        let ptr = unsafe {
            rustix::mm::mmap(
                std::ptr::null_mut(),
                len,
                ProtFlags::READ,
                MapFlags::SHARED,
                &self.fd,
                0,
            )
        }?;
        Ok(Mapping { ptr, len })
    }

    /// The descriptor, borrowed.
    pub(crate) fn fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// The descriptor, to copy from (rollback).
    pub(crate) fn file(&self) -> io::Result<File> {
        Ok(File::from(self.fd.try_clone()?))
    }
}

/// A read-only mapping of a [`Stored`] copy.
pub(crate) struct Mapping {
    ptr: *mut std::ffi::c_void,
    len: usize,
}

impl Mapping {
    pub(crate) fn bytes(&self) -> &[u8] {
        // SAFETY: `ptr..ptr+len` is a live read-only mapping of an immutable
        // file (see `Stored::map`), valid until `self` drops.
        unsafe { std::slice::from_raw_parts(self.ptr.cast::<u8>(), self.len) }
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: unmapping exactly the mapping `Stored::map` made, once;
        // no borrow of `bytes()` outlives `self`.
        let _ = unsafe { rustix::mm::munmap(self.ptr, self.len) };
    }
}

/// A second digest of the copy's bytes, taken in the same pass as its
/// content hash: a signature's prehash (minisign's BLAKE2b-512). Each try
/// at storing starts from a fresh clone of the one given, so a copy that
/// fails half-way and is made again elsewhere is digested once, whole.
pub(crate) trait Digest: Clone + Send {
    fn update(&mut self, bytes: &[u8]);
}

/// No second digest.
impl Digest for () {
    fn update(&mut self, _: &[u8]) {}
}

/// Copies `len` bytes of `src` into private storage chosen by `policy`.
/// `source_dir` is the directory of the file the bytes come from. `label`
/// names the memfd (cut to fit the kernel's limit).
///
/// The copy is read back once, with `pread` a chunk at a time (1 MiB), to
/// take its BLAKE3 content hash and `digest` (when given) together: no
/// page of it is mapped, so a big plugin costs about 1 MiB of memory to
/// check, not its size. A copy of [`PIPELINE_MIN`] bytes or more is read
/// back while it is written, on a second thread. Returns the copy and the
/// digest, fed every byte of it.
pub(crate) fn store<D: Digest>(
    src: &File,
    len: u64,
    source_dir: Option<&Path>,
    policy: &StorePolicy,
    label: &str,
    digest: Option<&D>,
) -> Result<(Stored, Option<D>), (PathBuf, io::Error)> {
    let n = COPIES.fetch_add(1, Ordering::Relaxed);
    let name = memfd_name(&policy.tag, &format!("{n}-{label}"));
    let memfd =
        || memfd(src, len, &name, digest).map_err(|e| (PathBuf::from(format!("/memfd:{name}")), e));
    let disk = || -> Result<(Stored, Option<D>), (PathBuf, io::Error)> {
        if let Some(dir) = &policy.dir {
            dir.check()
                .map_err(|e| (dir.path.clone(), io::Error::other(e.to_string())))?;
            return on_disk(src, len, &dir.fd, digest).map_err(|e| (dir.path.clone(), e));
        }
        let dir = source_dir.unwrap_or(Path::new("."));
        let fd = rustix::fs::open(
            dir,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| (dir.to_path_buf(), e.into()))?;
        if is_noexec(&fd) {
            return Err((dir.to_path_buf(), io::Error::other("noexec mount")));
        }
        on_disk(src, len, &fd, digest).map_err(|e| (dir.to_path_buf(), e))
    };
    if len <= policy.memfd_max {
        memfd().or_else(|first| {
            if is_copy_failure(&first.1) {
                return Err(first);
            }
            disk().map_err(|_| first)
        })
    } else {
        disk().or_else(|first| {
            if is_copy_failure(&first.1) {
                return Err(first);
            }
            tracing::debug!(dir = %first.0.display(), error = %first.1, "no on-disk store; the copy goes to a memfd");
            memfd().map_err(|_| first)
        })
    }
}

/// Failures of the copy itself (the source, or room to write), as opposed to
/// a kind of storage being unavailable: trying the other kind would not help.
fn is_copy_failure(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EFBIG | libc::ENOSPC | libc::EIO | libc::EDQUOT)
    ) || e.kind() == io::ErrorKind::UnexpectedEof
}

/// `tag/label`, cut at a character boundary to the kernel's limit.
fn memfd_name(tag: &str, label: &str) -> String {
    let mut name = format!("{tag}/{label}");
    if name.len() > MEMFD_NAME_MAX {
        let mut cut = MEMFD_NAME_MAX;
        while !name.is_char_boundary(cut) {
            cut -= 1;
        }
        name.truncate(cut);
    }
    name
}

fn memfd<D: Digest>(
    src: &File,
    len: u64,
    name: &str,
    digest: Option<&D>,
) -> io::Result<(Stored, Option<D>)> {
    let base = MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING;
    // Ask for an executable memfd explicitly where the kernel knows the
    // flag (6.3+, where `vm.memfd_noexec` may otherwise make it
    // non-executable); older kernels refuse the flag with EINVAL.
    let fd = rustix::fs::memfd_create(name, base | MemfdFlags::EXEC).or_else(|e| {
        if e == rustix::io::Errno::INVAL {
            rustix::fs::memfd_create(name, base)
        } else {
            Err(e)
        }
    })?;
    let (hash, digest) = copy(src, &fd, len, digest)?;
    rustix::fs::fcntl_add_seals(
        &fd,
        SealFlags::WRITE | SealFlags::SHRINK | SealFlags::GROW | SealFlags::SEAL,
    )?;
    Ok((Stored::new(fd, len, Storage::Memfd, hash)?, digest))
}

fn on_disk<D: Digest>(
    src: &File,
    len: u64,
    dir: &OwnedFd,
    digest: Option<&D>,
) -> io::Result<(Stored, Option<D>)> {
    let rw = rustix::fs::openat(
        dir,
        ".",
        OFlags::TMPFILE | OFlags::RDWR | OFlags::CLOEXEC,
        // Read-only to its owner from the start: once the writable
        // descriptor is closed, not even this user can open it for writing
        // (root can; so could anyone able to ptrace this process).
        Mode::from_raw_mode(0o500),
    )?;
    let (hash, digest) = copy(src, &rw, len, digest)?;
    // Keep only a read-only descriptor: nothing writes the copy again.
    let ro = rustix::fs::open(
        format!("/proc/self/fd/{}", rw.as_raw_fd()),
        OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    drop(rw);
    if FileType::from_raw_mode(rustix::fs::fstat(&ro)?.st_mode) != FileType::RegularFile {
        return Err(io::Error::other("the store's file is not a regular file"));
    }
    Ok((Stored::new(ro, len, Storage::Disk, hash)?, digest))
}

/// Copies at or above this size are hashed while they are written, on a
/// second thread, so that a big swap costs about the longer of copying and
/// hashing rather than their sum; smaller ones are hashed afterwards (a
/// thread would cost more than it saves).
pub(crate) const PIPELINE_MIN: u64 = 16 << 20;

/// How much is copied between two looks by the hashing thread.
const STEP: u64 = 4 << 20;

/// BLAKE3 and a second digest over a file read with `pread`, a chunk at a
/// time (1 MiB), from where it stopped.
struct Hashing<D> {
    hasher: blake3::Hasher,
    digest: Option<D>,
    buf: Vec<u8>,
    at: u64,
}

impl<D: Digest> Hashing<D> {
    fn new(digest: Option<&D>) -> Self {
        Hashing {
            hasher: blake3::Hasher::new(),
            digest: digest.cloned(),
            buf: vec![0; 1 << 20],
            at: 0,
        }
    }

    /// Hashes `fd` from where it stopped up to `end`.
    fn up_to(&mut self, fd: &OwnedFd, end: u64) -> io::Result<()> {
        while self.at < end {
            let chunk = self.buf.len();
            let want = usize::try_from(end - self.at).map_or(chunk, |left| left.min(chunk));
            let n = rustix::io::pread(fd, &mut self.buf[..want], self.at)?;
            if n == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            self.hasher.update(&self.buf[..n]);
            if let Some(digest) = &mut self.digest {
                digest.update(&self.buf[..n]);
            }
            self.at += n as u64;
        }
        Ok(())
    }

    fn finish(self) -> (crate::hash::ContentHash, Option<D>) {
        let hash = crate::hash::ContentHash(*self.hasher.finalize().as_bytes());
        (hash, self.digest)
    }
}

/// Copies the first `len` bytes of `src` to the start of `dst` (see
/// [`copy_steps`]) and hashes them (and feeds `digest`) by reading the
/// copy back; a copy of [`PIPELINE_MIN`] bytes or more is read back as it
/// is written, by a second thread that reads behind the copy.
fn copy<D: Digest>(
    src: &File,
    dst: &OwnedFd,
    len: u64,
    digest: Option<&D>,
) -> io::Result<(crate::hash::ContentHash, Option<D>)> {
    let after = || -> io::Result<_> {
        copy_steps(src, dst, len, |_| {})?;
        let mut hashing = Hashing::new(digest);
        hashing.up_to(dst, len)?;
        Ok(hashing.finish())
    };
    if len < PIPELINE_MIN {
        return after();
    }
    let copied = std::sync::atomic::AtomicU64::new(0);
    let ended = std::sync::atomic::AtomicBool::new(false);
    let fresh = Hashing::new(digest);
    std::thread::scope(|scope| {
        let spawned = std::thread::Builder::new()
            .name("liveswap-hash".into())
            .spawn_scoped(scope, || -> io::Result<_> {
                let mut hashing = fresh;
                loop {
                    // Read before the copy's progress: a copy that ended has
                    // published all it wrote.
                    let over = ended.load(Ordering::Acquire);
                    let ready = copied.load(Ordering::Acquire);
                    hashing.up_to(dst, ready)?;
                    if over {
                        return Ok(hashing.finish());
                    }
                    if hashing.at == ready {
                        std::thread::park_timeout(std::time::Duration::from_millis(1));
                    }
                }
            });
        // No thread to be had (a thread limit): copy, then hash after.
        let Ok(hashing) = spawned else {
            return after();
        };
        let result = copy_steps(src, dst, len, |done| {
            copied.store(done, Ordering::Release);
            hashing.thread().unpark();
        });
        ended.store(true, Ordering::Release);
        hashing.thread().unpark();
        let hash = hashing
            .join()
            .map_err(|_| io::Error::other("the hashing thread panicked"))?;
        result?;
        // Every byte of the copy was hashed: the copy ended only once all
        // `len` were written, and the hasher read up to the last progress.
        hash
    })
}

/// Copies the first `len` bytes of `src` to the start of `dst`: in the
/// kernel with `copy_file_range`, else `sendfile`, else through a 256 KiB
/// buffer, [`STEP`] bytes at a time, telling `progress` how much is
/// written after each. A source that ends early is an `UnexpectedEof`
/// error.
fn copy_steps(src: &File, dst: &OwnedFd, len: u64, progress: impl Fn(u64)) -> io::Result<()> {
    let mut done = 0u64;
    let step = |done: u64| usize::try_from((len - done).min(STEP)).unwrap_or(1 << 20);
    // copy_file_range
    while done < len {
        let mut off_in = done;
        let mut off_out = done;
        match rustix::fs::copy_file_range(
            src,
            Some(&mut off_in),
            dst,
            Some(&mut off_out),
            step(done),
        ) {
            Ok(0) => return Err(shrank()),
            Ok(n) => {
                done += n as u64;
                progress(done);
            }
            Err(e) if done == 0 && fallback_errno(e) => break,
            Err(e) => return Err(e.into()),
        }
    }
    if done == len {
        return Ok(());
    }
    // sendfile: writes at the destination's file offset, which is 0.
    while done < len {
        let mut off_in = done;
        match rustix::fs::sendfile(dst, src, Some(&mut off_in), step(done)) {
            Ok(0) => return Err(shrank()),
            Ok(n) => {
                done += n as u64;
                progress(done);
            }
            Err(e) if done == 0 && fallback_errno(e) => break,
            Err(e) => return Err(e.into()),
        }
    }
    if done == len {
        return Ok(());
    }
    let mut out = File::from(dst.try_clone()?);
    let mut buf = vec![0u8; 256 << 10];
    while done < len {
        let want = usize::try_from((len - done).min(buf.len() as u64)).unwrap_or(buf.len());
        let n = src.read_at(&mut buf[..want], done)?;
        if n == 0 {
            return Err(shrank());
        }
        out.write_all(&buf[..n])?;
        done += n as u64;
        progress(done);
    }
    Ok(())
}

fn shrank() -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        "the file got shorter while it was being copied",
    )
}

fn fallback_errno(e: rustix::io::Errno) -> bool {
    use rustix::io::Errno;
    [
        Errno::XDEV,
        Errno::INVAL,
        Errno::NOSYS,
        Errno::OPNOTSUPP,
        Errno::PERM,
        Errno::BADF,
    ]
    .contains(&e)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::{PIPELINE_MIN, StorePolicy, store};

    /// `len` bytes that differ from chunk to chunk.
    fn bytes(len: usize) -> Vec<u8> {
        let mut x = 0x2545_f491_4f6c_dd1d_u64;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    }

    /// `len` bytes stored under `memfd_max`, `digest` fed: the bytes, the
    /// copy's hash and the digest.
    fn stored<D: super::Digest>(
        len: usize,
        memfd_max: u64,
        digest: Option<&D>,
    ) -> (Vec<u8>, crate::hash::ContentHash, Option<D>) {
        let content = bytes(len);
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(&content).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let (stored, fed) = store(
            &file,
            len as u64,
            Some(dir.path()),
            &StorePolicy::new(memfd_max, None),
            "test",
            digest,
        )
        .unwrap();
        (content, stored.content_hash(), fed)
    }

    fn stored_hash(len: usize, memfd_max: u64) -> (Vec<u8>, crate::hash::ContentHash) {
        let (content, hash, _) = stored(len, memfd_max, None::<&()>);
        (content, hash)
    }

    #[test]
    fn a_big_copy_hashed_while_written_has_the_hash_of_its_bytes() {
        let len = usize::try_from(PIPELINE_MIN).unwrap() + 3 * 1024 * 1024 + 17;
        for memfd_max in [u64::MAX, 0] {
            let (content, hash) = stored_hash(len, memfd_max);
            assert_eq!(
                hash.0,
                *blake3::hash(&content).as_bytes(),
                "memfd_max {memfd_max}"
            );
        }
    }

    /// Collects what it is fed.
    #[derive(Clone, Default)]
    struct Collect(Vec<u8>);

    impl super::Digest for Collect {
        fn update(&mut self, bytes: &[u8]) {
            self.0.extend_from_slice(bytes);
        }
    }

    #[test]
    fn the_second_digest_is_fed_every_byte_of_the_copy_once_in_order() {
        let big = usize::try_from(PIPELINE_MIN).unwrap() + (1 << 20) + 5;
        for (len, memfd_max) in [(100_003, u64::MAX), (big, u64::MAX), (big, 0)] {
            let (content, _, fed) = stored(len, memfd_max, Some(&Collect::default()));
            assert!(
                fed.unwrap().0 == content,
                "{len} bytes, memfd_max {memfd_max}"
            );
        }
    }

    #[test]
    fn a_small_copy_hashed_afterwards_has_the_hash_of_its_bytes() {
        let (content, hash) = stored_hash(100_003, u64::MAX);
        assert_eq!(hash.0, *blake3::hash(&content).as_bytes());
    }
}
