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

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;

use rustix::fs::{FileType, Mode, OFlags};

use crate::error::Error;

/// The default cap on a plugin file's size: 1 GiB. Debug builds of large
/// plugins run to a few hundred MB; anything bigger is more likely a mistake
/// (or a sparse file) than a plugin.
pub const DEFAULT_MAX_FILE_SIZE: u64 = 1 << 30;

/// The smallest file that can hold an ELF header.
const ELF_HEADER_MIN: u64 = 64;

/// An opened source file, known to be a regular file of `len` bytes that
/// starts with ELF magic.
pub(crate) struct Source {
    pub file: File,
    pub len: u64,
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
    let what = match FileType::from_raw_mode(stat.st_mode) {
        FileType::RegularFile => None,
        FileType::Directory => Some("a directory"),
        FileType::Fifo => Some("a fifo"),
        FileType::Socket => Some("a socket"),
        FileType::BlockDevice | FileType::CharacterDevice => Some("a device"),
        _ => Some("not a regular file"),
    };
    if let Some(what) = what {
        return Err(Error::NotAFile {
            path: path.to_path_buf(),
            what,
        });
    }
    let len = u64::try_from(stat.st_size).unwrap_or(0);
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
    Ok(Source { file, len })
}

/// What the first kilobyte of a file that is not a shared object says it
/// is (`filekind`); `None` if it cannot be read.
fn explain_head(file: &File, len: u64) -> Option<String> {
    let mut head = vec![0u8; len.min(1024) as usize];
    file.read_exact_at(&mut head, 0).ok()?;
    crate::filekind::explain(&head)
}
