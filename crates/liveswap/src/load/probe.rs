//! A look at the source file before it is copied: is it an ELF shared
//! object with a `.liveswap` section? Only the ELF header, the section
//! headers and the section names are read, so that a file that cannot be
//! a plugin (a 1 GiB sparse file with an ELF header, an object file, a
//! text file) is refused without copying it. The handshake proper still
//! runs on the private copy, which is what gets mapped: this only saves
//! the copy of a file that would be refused anyway.
//!
//! Cost, bounded whatever the file claims: a file with more than
//! [`MAX_SECTIONS`] sections is refused unread; otherwise the reads are the
//! 64-byte header, the section table (64 bytes a section; about 40
//! sections, 2.5 KB, in a real plugin) and each name up to its end (at most
//! 4 KiB each); nothing is mapped.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::Path;

use object::elf::{ET_DYN, FileHeader32, FileHeader64};
use object::read::elf::{FileHeader, SectionTable};
use object::{Endianness, FileKind, ReadCache, ReadRef};

use crate::descriptor::SECTION;
use crate::error::Error;
use crate::{filekind, handshake};

/// The most of the file's start read to name a file that is no plugin.
const HEAD: usize = 4096;

/// Sections a plugin may have before the probe refuses to read their
/// headers and names: real plugins have about 40.
pub(crate) const MAX_SECTIONS: u64 = 4096;

/// Refuses `file` (of `len` bytes) if it is not an ELF shared object
/// with a liveswap section, with the handshake's errors.
pub(crate) fn probe(path: &Path, file: &File, len: u64) -> Result<(), Error> {
    let mut head = vec![0; HEAD.min(usize::try_from(len).unwrap_or(HEAD))];
    let got = file
        .read_at(&mut head, 0)
        .map_err(|e| crate::load::open::source_error(path, e))?;
    head.truncate(got);
    let not_so = |reason: String| Error::NotSharedObject {
        path: path.to_path_buf(),
        reason: filekind::explain(&head).unwrap_or(reason),
    };
    let cache = ReadCache::new(At { file, pos: 0, len });
    let found = match FileKind::parse(&cache) {
        Ok(FileKind::Elf64) => sections::<FileHeader64<Endianness>, _>(&cache),
        Ok(FileKind::Elf32) => sections::<FileHeader32<Endianness>, _>(&cache),
        Ok(other) => return Err(not_so(format!("it is a {other:?} file"))),
        Err(e) => return Err(not_so(e.to_string())),
    };
    match found.map_err(not_so)? {
        Names::Has { liveswap: true, .. } => Ok(()),
        Names::Has { hotswap, .. } => Err(handshake::no_descriptor(path, hotswap)),
    }
}

/// What the section names hold.
enum Names {
    Has { liveswap: bool, hotswap: bool },
}

/// Reads the section table of a shared object, refusing any other kind
/// and a table of more than [`MAX_SECTIONS`] entries before reading it.
fn sections<'d, Elf, R>(data: R) -> Result<Names, String>
where
    Elf: FileHeader<Endian = Endianness>,
    R: ReadRef<'d>,
{
    let header = Elf::parse(data).map_err(|e| e.to_string())?;
    let endian = header.endian().map_err(|e| e.to_string())?;
    if header.e_type(endian) != ET_DYN {
        return Err(format!(
            "it is an ELF file of type {}, not a shared object",
            header.e_type(endian)
        ));
    }
    let count: u64 = header
        .shnum(endian, data)
        .map_err(|e| e.to_string())?
        .into();
    if count > MAX_SECTIONS {
        return Err(format!(
            "it claims {count} sections (a plugin has tens, at most {MAX_SECTIONS} are read)"
        ));
    }
    let table: SectionTable<'d, Elf, R> =
        header.sections(endian, data).map_err(|e| e.to_string())?;
    let named = |name: &str| table.section_by_name(endian, name.as_bytes()).is_some();
    Ok(Names::Has {
        liveswap: named(SECTION),
        hotswap: named(".hotswap"),
    })
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
