//! A look at the source file before it is copied: is it an ELF shared
//! object with a `.liveswap` section? Read with a few bounded reads (the
//! ELF header, the section headers, the section names), so that a file
//! that cannot be a plugin (a 1 GiB sparse file with an ELF header, an
//! object file, a text file) is refused without copying it. The handshake
//! proper still runs on the private copy, which is what gets mapped: this
//! only saves the copy of a file that would be refused anyway.
//!
//! Cost: a handful of `pread`s, tens of kilobytes for a real plugin's
//! section headers; nothing is mapped.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::Path;

use object::Architecture;

use crate::error::Error;
use crate::handshake;

/// The most of the file's start read to name a file that is no plugin.
const HEAD: usize = 4096;

/// Refuses `file` (of `len` bytes) if it is not an ELF shared object
/// with a liveswap section, with the error the handshake would give.
pub(crate) fn probe(path: &Path, file: &File, len: u64) -> Result<(), Error> {
    let mut head = vec![0; HEAD.min(usize::try_from(len).unwrap_or(HEAD))];
    let got = file
        .read_at(&mut head, 0)
        .map_err(|e| crate::load::open::source_error(path, e))?;
    head.truncate(got);
    let cache = object::ReadCache::new(At { file, pos: 0, len });
    let parsed = handshake::shared_object(path, &cache, &head, Architecture::Unknown)?;
    handshake::descriptor_section(path, &parsed)?;
    Ok(())
}

/// Reads `file` at its own position with `pread`, leaving the file's
/// offset (which the copy may use) alone.
struct At<'a> {
    file: &'a File,
    pos: u64,
    len: u64,
}

impl Read for At<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.file.read_at(buf, self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for At<'_> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        self.pos = target.ok_or_else(|| io::Error::other("seek out of range"))?;
        Ok(self.pos)
    }
}
