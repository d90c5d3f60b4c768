//! Opening the source file: once, without blocking, and deciding what it is
//! from that one descriptor.
//!
//! The path is opened exactly once (`O_RDONLY | O_NONBLOCK | O_CLOEXEC |
//! O_NOCTTY`); everything after reads through that descriptor. A path
//! flipped to a FIFO cannot block the open (`O_NONBLOCK`), and `fstat` on the
//! descriptor refuses anything that is not a regular file before a byte is
//! read. A file over the size cap is refused from its `fstat` size, and a
//! file whose first bytes are not ELF magic from four bytes (and at most a
//! kilobyte, to say what it is instead): neither is read further.
//!
//! A file is taken only once it has settled: its last change (ctime) is
//! older than the kernel's clock tick, so that any later write moves it.
//! After the private copy is made, the loader checks the size, mtime and
//! ctime again ([`Source::unchanged`]): a file rewritten in place while it
//! was copied is refused ([`Error::Changed`]), never loaded half old, half
//! new. What no check can see is a writer that pauses mid-file for longer
//! than a tick and is copied in the pause: install by write-then-rename.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::{Duration, Instant};

use rustix::fs::{Mode, OFlags};

use crate::error::Error;

/// The default cap on a plugin file's size: 1 GiB. Debug builds of large
/// plugins run to a few hundred MB; anything bigger is more likely a mistake
/// (or a sparse file) than a plugin.
pub const DEFAULT_MAX_FILE_SIZE: u64 = 1 << 30;

/// The smallest file that can hold an ELF header.
const ELF_HEADER_MIN: u64 = 64;

/// An opened source file, known to be a regular file of `len` bytes that
/// starts with ELF magic, and settled (see [`Source::unchanged`]).
pub(crate) struct Source {
    pub file: File,
    pub len: u64,
    stamp: Stamp,
}

/// What changes when a file is written: its size, mtime and ctime. The
/// ctime cannot be set by any user call, so a writer that puts the mtime
/// back is still seen.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Stamp {
    size: i64,
    /// Nanoseconds since the epoch.
    mtime: i128,
    /// Nanoseconds since the epoch.
    ctime: i128,
    /// Hard links: unlinking or linking the file moves its ctime without
    /// touching its contents.
    nlink: u64,
}

impl Stamp {
    fn of(stat: &rustix::fs::Stat) -> Self {
        Stamp {
            size: stat.st_size,
            mtime: i128::from(stat.st_mtime) * 1_000_000_000 + i128::from(stat.st_mtime_nsec),
            ctime: i128::from(stat.st_ctime) * 1_000_000_000 + i128::from(stat.st_ctime_nsec),
            // `u32` on some targets.
            #[allow(clippy::useless_conversion)]
            nlink: u64::from(stat.st_nlink),
        }
    }

    /// The file system's timestamp step, as far as the stamp shows it: a
    /// file system that keeps whole seconds (FAT keeps two) shows no
    /// nanoseconds.
    fn granularity_ns(&self) -> i128 {
        if self.ctime % 1_000_000_000 == 0 && self.mtime % 1_000_000_000 == 0 {
            2_000_000_000
        } else {
            0
        }
    }

    /// What differs from `before`, in words.
    fn difference(&self, before: &Stamp) -> Option<String> {
        if self.size != before.size {
            Some(format!("size {} -> {} bytes", before.size, self.size))
        } else if self.mtime != before.mtime {
            Some("written in place (its mtime moved)".into())
        } else if self.ctime != before.ctime && self.nlink == before.nlink {
            // Same size and mtime, and no link was added or removed: a
            // write whose writer put the mtime back (`rsync --inplace`
            // does), or a change of mode, owner or name. A deploy that
            // deletes or hard-links the file while it is read changes
            // only its link count, and the bytes read are still whole.
            Some("its ctime moved with no link added or removed (written in place with the mtime put back, or its mode, owner or name changed)".into())
        } else {
            None
        }
    }
}

/// Longest a load waits for a file that is being written to settle.
const SETTLE_MAX: Duration = Duration::from_millis(500);

/// The current time by the kernel's coarse clock, the one it stamps
/// files with, in nanoseconds since the epoch.
fn coarse_now_ns() -> i128 {
    // Through the C library, not rustix's own vDSO reader, which memory
    // checkers such as valgrind do not support.
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `t` is a valid, writable `timespec`, the only pointer the
    // call takes.
    let status = unsafe { libc::clock_gettime(libc::CLOCK_REALTIME_COARSE, &mut t) };
    if status != 0 {
        // A kernel without the coarse clock (before 2.6.32): the precise
        // one, minus the longest tick, is no later than the coarse clock
        // would have been.
        let precise = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i128::try_from(d.as_nanos()).unwrap_or(0));
        return precise - 10_000_000;
    }
    i128::from(t.tv_sec) * 1_000_000_000 + i128::from(t.tv_nsec)
}

impl Source {
    /// Whether the file is as it was when it was opened and settled: the
    /// loader calls it after the private copy is made, and refuses the copy
    /// if anything moved (a file rewritten in place while it was copied
    /// would be part old, part new).
    pub(crate) fn unchanged(&self, path: &Path) -> Result<(), Error> {
        let stat = rustix::fs::fstat(&self.file).map_err(|e| source_error(path, e.into()))?;
        match Stamp::of(&stat).difference(&self.stamp) {
            None => Ok(()),
            Some(detail) => Err(Error::Changed {
                path: path.to_path_buf(),
                detail,
            }),
        }
    }
}

/// Waits until the file's last change is older than the kernel's clock
/// tick (and its file system's timestamp step), so that any later write
/// gives it another ctime; returns its stamp then. A file that keeps
/// changing for [`SETTLE_MAX`] is refused.
fn settle(fd: &rustix::fd::OwnedFd, path: &Path, first: Stamp) -> Result<Stamp, Error> {
    let started = Instant::now();
    let mut stamp = first;
    loop {
        let now = coarse_now_ns();
        let quiet_from = stamp.ctime + stamp.granularity_ns();
        if quiet_from < now {
            return Ok(stamp);
        }
        if started.elapsed() >= SETTLE_MAX {
            return Err(Error::Changed {
                path: path.to_path_buf(),
                detail: format!("it kept changing for {} ms", SETTLE_MAX.as_millis()),
            });
        }
        // One tick of the coarse clock (at most 10 ms), or up to the
        // end of the file system's timestamp step.
        let wait =
            u64::try_from((quiet_from - now).clamp(1_000_000, 10_000_000)).unwrap_or(10_000_000);
        std::thread::sleep(Duration::from_nanos(wait));
        let stat = rustix::fs::fstat(fd).map_err(|e| source_error(path, e.into()))?;
        stamp = Stamp::of(&stat);
    }
}

/// The error for an I/O failure on the source file.
pub(crate) fn source_error(path: &Path, source: io::Error) -> Error {
    match source.kind() {
        io::ErrorKind::NotFound => Error::not_found(path),
        _ => Error::Unreadable {
            path: path.to_path_buf(),
            source,
        },
    }
}

/// Opens `path` once and checks what it is; see the module docs.
pub(crate) fn open(path: &Path, max_size: u64) -> Result<Source, Error> {
    let fd = rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::NONBLOCK | OFlags::CLOEXEC | OFlags::NOCTTY,
        Mode::empty(),
    )
    .map_err(|e| source_error(path, e.into()))?;
    let stat = rustix::fs::fstat(&fd).map_err(|e| source_error(path, e.into()))?;
    if let Some(what) = crate::filekind::not_regular(stat.st_mode) {
        return Err(Error::NotAFile {
            path: path.to_path_buf(),
            what,
        });
    }
    let stamp = settle(&fd, path, Stamp::of(&stat))?;
    let len = u64::try_from(stamp.size).unwrap_or(0);
    if len > max_size {
        return Err(Error::TooLarge {
            path: path.to_path_buf(),
            size: len,
            max: max_size,
        });
    }
    let not_so = |reason: &str| Error::NotSharedObject {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    };
    let file = File::from(fd);
    if len < ELF_HEADER_MIN {
        // Say what the file is (empty, text, a cut ELF header...).
        return Err(not_so(&explain_head(&file, len).unwrap_or_else(|| {
            format!("the file is {len} bytes, too short for an ELF header")
        })));
    }
    let mut magic = [0u8; 4];
    file.read_exact_at(&mut magic, 0)
        .map_err(|e| source_error(path, e))?;
    if magic != *b"\x7fELF" {
        // Say what the file is instead (an .rlib, text, ...) and the fix.
        return Err(not_so(&explain_head(&file, len).unwrap_or_else(|| {
            format!("its first bytes are {magic:02x?}, not ELF magic")
        })));
    }
    Ok(Source { file, len, stamp })
}

/// What the first kilobyte of a file that is not a shared object says it
/// is (`filekind`); `None` if it cannot be read.
fn explain_head(file: &File, len: u64) -> Option<String> {
    let mut head = vec![0u8; len.min(1024) as usize];
    file.read_exact_at(&mut head, 0).ok()?;
    crate::filekind::explain(&head)
}

#[cfg(test)]
mod tests {
    use super::Stamp;

    const BEFORE: Stamp = Stamp {
        size: 100,
        mtime: 5_000,
        ctime: 6_000,
        nlink: 1,
    };

    #[test]
    fn a_file_unlinked_while_read_is_unchanged() {
        let after = Stamp {
            ctime: 9_000,
            nlink: 0,
            ..BEFORE
        };
        assert_eq!(after.difference(&BEFORE), None);
    }

    #[test]
    fn a_write_that_puts_the_mtime_back_is_a_change() {
        let after = Stamp {
            ctime: 9_000,
            ..BEFORE
        };
        assert!(after.difference(&BEFORE).unwrap().contains("ctime moved"));
    }

    #[test]
    fn a_new_mtime_is_a_change_even_when_a_link_went() {
        let after = Stamp {
            mtime: 8_000,
            ctime: 9_000,
            nlink: 0,
            ..BEFORE
        };
        assert!(after.difference(&BEFORE).unwrap().contains("mtime moved"));
    }

    #[test]
    fn a_new_size_is_named_with_both_sizes() {
        let after = Stamp {
            size: 120,
            ..BEFORE
        };
        assert_eq!(after.difference(&BEFORE).unwrap(), "size 100 -> 120 bytes");
    }
}
