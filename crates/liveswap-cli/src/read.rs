//! Reading plugin and host files: opened without blocking, refused unless
//! they are regular files under the size cap, and read only where they are
//! looked at; then ELF, sections, keys.

use std::fs::File;
use std::io;
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use liveswap::check::{HOST_SECTION, TrustedKey};
use liveswap::layout::Table;
use liveswap::wire::{DESCRIPTOR_SIZE, DESCRIPTOR_VERSION, Descriptor, MAGIC, SECTION};
use object::read::elf::{FileHeader, SectionHeader};
use object::{Endianness, FileKind, Object, ObjectSection, elf};
use rustix::fs::{Mode, OFlags};

use crate::Failure;

/// The largest file read: the cap a host puts on a plugin file by default.
const MAX_FILE_SIZE: u64 = liveswap::defaults::DEFAULT_MAX_FILE_SIZE;

/// How much of every file is read first: its ELF header (and, as linkers
/// lay files out, its program headers), or enough to tell what it is
/// instead.
const HEAD: u64 = 4096;

/// Names of the sections whose contents are read: the descriptor, the
/// imports, and a host's expected sections.
const READ_SECTIONS: &[u8] = b".liveswap";

/// A file's contents as far as they were read: as long as the file, with
/// every byte not read zero. What the checks read of a file (headers,
/// symbol and string tables, the `.liveswap` sections) is read into it, the
/// code and data are not. The zero bytes come from one zeroed allocation,
/// which the C library takes as fresh pages from the kernel when it is
/// large, and does not touch: the parts never read cost address space, not
/// memory.
pub struct Image {
    file: File,
    bytes: Vec<u8>,
    complete: bool,
    path: PathBuf,
    what: &'static str,
}

/// Opens `path` (a `what`, "plugin" or "host") once, without blocking,
/// and reads what the checks look at; a one-line reason otherwise.
///
/// The open cannot block (a FIFO would wait for a writer); what the path
/// is, and its size, are read from the opened descriptor, and anything
/// but a regular file, or a file over [`MAX_FILE_SIZE`], is refused before
/// a byte is read.
pub fn open(path: &Path, what: &'static str) -> Result<Image, Failure> {
    let cannot = |e: io::Error| cannot_read(path, what, &e);
    let fd = rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| cannot(e.into()))?;
    let stat = rustix::fs::fstat(&fd).map_err(|e| cannot(e.into()))?;
    if let Some(kind) = liveswap::check::not_regular(stat.st_mode) {
        return Err(Failure::BadInput(format!(
            "{what} {}: not a regular file (it is {kind})",
            path.display()
        )));
    }
    let len = u64::try_from(stat.st_size).unwrap_or(0);
    if len > MAX_FILE_SIZE {
        return Err(Failure::BadInput(format!(
            "{what} {}: {len} bytes, over the {MAX_FILE_SIZE}-byte cap (a sparse file, or not \
             a {what}?)",
            path.display()
        )));
    }
    let bytes = usize::try_from(len).ok().and_then(zeroed).ok_or_else(|| {
        Failure::BadInput(format!(
            "{what} {}: no memory for its {len} bytes",
            path.display()
        ))
    })?;
    let mut image = Image {
        file: File::from(fd),
        bytes,
        complete: false,
        path: path.to_path_buf(),
        what,
    };
    image.fill(0..HEAD)?;
    match FileKind::parse(&*image.bytes) {
        Ok(FileKind::Elf32) => image.fill_elf::<elf::FileHeader32<Endianness>>()?,
        Ok(FileKind::Elf64) => image.fill_elf::<elf::FileHeader64<Endianness>>()?,
        // Not ELF: parsing the head says so.
        _ => {}
    }
    Ok(image)
}

/// `len` zero bytes, or `None` when there is no memory for them.
fn zeroed(len: usize) -> Option<Vec<u8>> {
    if len == 0 {
        return Some(Vec::new());
    }
    let layout = std::alloc::Layout::array::<u8>(len).ok()?;
    // SAFETY: `layout` has a non-zero size (`len > 0`).
    let ptr = unsafe { std::alloc::alloc_zeroed(layout) };
    if ptr.is_null() {
        return None;
    }
    // SAFETY: `ptr` was allocated by the global allocator with the layout
    // of `[u8; len]` (size `len`, alignment 1), the layout a `Vec<u8>` of
    // capacity `len` frees with; all `len` bytes are initialised (zeroed);
    // the `Vec` is the allocation's only owner.
    Some(unsafe { Vec::from_raw_parts(ptr, len, len) })
}

/// The ELF header at the start of `data`, and its byte order.
fn parsed<Elf: FileHeader<Endian = Endianness>>(data: &[u8]) -> Option<(&Elf, Endianness)> {
    let header = Elf::parse(data).ok()?;
    Some((header, header.endian().ok()?))
}

/// The one-line reason for an I/O error on `path`.
fn cannot_read(path: &Path, what: &str, e: &io::Error) -> Failure {
    Failure::BadInput(if e.kind() == io::ErrorKind::NotFound {
        format!("{what} {}: no such file", path.display())
    } else {
        format!("{what} {}: cannot read it: {e}", path.display())
    })
}

impl Image {
    /// The file's bytes as far as they were read, zero elsewhere.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Reads every byte of the file, for a signature, which covers them
    /// all.
    pub fn complete(&mut self) -> Result<&[u8], Failure> {
        if !self.complete {
            self.fill(0..self.bytes.len() as u64)?;
            self.complete = true;
        }
        Ok(&self.bytes)
    }

    /// Reads the bytes at `range`, as far as the file goes.
    fn fill(&mut self, range: Range<u64>) -> Result<(), Failure> {
        let len = self.bytes.len() as u64;
        let (start, end) = (range.start.min(len), range.end.min(len));
        if start >= end {
            return Ok(());
        }
        // Both are at most `len`, which is a `usize`.
        let (start, end) = (start as usize, end as usize);
        self.file
            .read_exact_at(&mut self.bytes[start..end], start as u64)
            .map_err(|e| cannot_read(&self.path, self.what, &e))
    }

    /// Reads each of `ranges`, overlapping ones once.
    fn fill_all(&mut self, mut ranges: Vec<Range<u64>>) -> Result<(), Failure> {
        ranges.sort_by_key(|r| r.start);
        let mut merged: Option<Range<u64>> = None;
        for range in ranges {
            match &mut merged {
                Some(m) if range.start <= m.end => m.end = m.end.max(range.end),
                _ => {
                    if let Some(m) = merged.replace(range) {
                        self.fill(m)?;
                    }
                }
            }
        }
        match merged {
            Some(m) => self.fill(m),
            None => Ok(()),
        }
    }

    /// Reads what parsing the ELF file and the checks look at: the section
    /// and program headers, the symbol, string, dynamic and version
    /// tables, and the `.liveswap` sections. Where the headers do not
    /// parse it stops: parsing the image then says why.
    fn fill_elf<Elf: FileHeader<Endian = Endianness>>(&mut self) -> Result<(), Failure> {
        let at = |offset: Elf::Word, size: u64| {
            let start: u64 = offset.into();
            start..start.saturating_add(size)
        };
        // The header borrows the bytes being read into, so it is parsed
        // again after each read (and a file changed under the reads may
        // no longer parse: then the reads stop).
        let header = parsed::<Elf>;
        // Section 0 first: it holds the section count of a file with many.
        let Some((h, endian)) = header(&self.bytes) else {
            return Ok(());
        };
        self.fill(at(h.e_shoff(endian), h.e_shentsize(endian).into()))?;

        let Some((h, endian)) = header(&self.bytes) else {
            return Ok(());
        };
        let mut tables = Vec::new();
        if let Ok(shnum) = h.shnum(endian, &*self.bytes) {
            let size = u64::from(shnum) * u64::from(h.e_shentsize(endian));
            tables.push(at(h.e_shoff(endian), size));
        }
        if let Ok(phnum) = h.phnum(endian, &*self.bytes) {
            let size = u64::from(phnum) * u64::from(h.e_phentsize(endian));
            tables.push(at(h.e_phoff(endian), size));
        }
        self.fill_all(tables)?;

        let data = &*self.bytes;
        let Some((h, endian)) = header(data) else {
            return Ok(());
        };
        let Ok(headers) = h.section_headers(endian, data) else {
            return Ok(());
        };
        let names = h.shstrndx(endian, data).ok();
        let tables: Vec<Range<u64>> = headers
            .iter()
            .enumerate()
            .filter(|&(i, s)| {
                names == Some(i as u32)
                    || matches!(
                        s.sh_type(endian),
                        elf::SHT_SYMTAB
                            | elf::SHT_DYNSYM
                            | elf::SHT_STRTAB
                            | elf::SHT_SYMTAB_SHNDX
                            | elf::SHT_DYNAMIC
                            | elf::SHT_GNU_VERSYM
                            | elf::SHT_GNU_VERDEF
                            | elf::SHT_GNU_VERNEED
                    )
            })
            .filter_map(|(_, s)| s.file_range(endian))
            .map(|(offset, size)| offset..offset.saturating_add(size))
            .collect();
        self.fill_all(tables)?;

        let data = &*self.bytes;
        let Some((h, endian)) = header(data) else {
            return Ok(());
        };
        let Ok(sections) = h.sections(endian, data) else {
            return Ok(());
        };
        let wanted: Vec<Range<u64>> = sections
            .iter()
            .filter(|s| {
                sections
                    .section_name(endian, s)
                    .is_ok_and(|name| name.starts_with(READ_SECTIONS))
            })
            .filter_map(|s| s.file_range(endian))
            .map(|(offset, size)| offset..offset.saturating_add(size))
            .collect();
        self.fill_all(wanted)
    }
}

/// The file parsed as ELF.
pub fn elf<'a>(path: &Path, what: &str, bytes: &'a [u8]) -> Result<object::File<'a>, Failure> {
    let not_elf = |reason: String| {
        Failure::BadInput(format!(
            "{what} {}: not an ELF file: {reason}",
            path.display()
        ))
    };
    let file = object::File::parse(bytes).map_err(|e| not_elf(e.to_string()))?;
    if file.format() != object::BinaryFormat::Elf {
        return Err(not_elf(format!("it is a {:?} file", file.format())));
    }
    Ok(file)
}

/// A section's bytes, `None` when the file has no such section.
pub fn section<'a>(
    path: &Path,
    file: &object::File<'a>,
    name: &str,
) -> Result<Option<&'a [u8]>, Failure> {
    let Some(section) = file.section_by_name(name) else {
        return Ok(None);
    };
    section.data().map(Some).map_err(|e| {
        Failure::BadInput(format!(
            "{}: section {name} is unreadable (truncated file?): {e}",
            path.display()
        ))
    })
}

/// What a plugin's `.liveswap` section declares.
pub struct Declared {
    pub descriptor: Descriptor,
    pub table: Table,
}

/// The plugin's descriptor and type table, read without any host.
pub fn declared(path: &Path, file: &object::File<'_>) -> Result<Declared, Failure> {
    let no_descriptor = |reason: String| {
        Failure::BadInput(format!(
            "plugin {}: no liveswap descriptor (section `{SECTION}`): {reason}",
            path.display()
        ))
    };
    let data = section(path, file, SECTION)?.ok_or_else(|| {
        no_descriptor(
            "the file has no such section; was the plugin built with `liveswap::export!`?".into(),
        )
    })?;
    if data.get(..MAGIC.len()) != Some(&MAGIC[..]) {
        return Err(no_descriptor(
            "the section does not start with the magic bytes".into(),
        ));
    }
    let descriptor = Descriptor::from_bytes(data)
        .ok_or_else(|| no_descriptor(format!("the section is only {} bytes", data.len())))?;
    if descriptor.descriptor_version != DESCRIPTOR_VERSION {
        return Err(no_descriptor(format!(
            "descriptor version {}, this tool reads version {DESCRIPTOR_VERSION}",
            descriptor.descriptor_version
        )));
    }
    let table_bytes = data
        .get(DESCRIPTOR_SIZE..DESCRIPTOR_SIZE + descriptor.table_len as usize)
        .ok_or_else(|| no_descriptor("the type table is cut short".into()))?;
    let table = Table::decode(table_bytes).map_err(|e| no_descriptor(e.to_string()))?;
    Ok(Declared { descriptor, table })
}

/// The expected sections a host binary carries, one per hosted interface.
pub fn host_sections(path: &Path, bytes: &[u8]) -> Result<Vec<Vec<u8>>, Failure> {
    let file = elf(path, "host", bytes)?;
    let none = || {
        Failure::BadInput(format!(
            "host {}: carries no liveswap interface descriptors (section `{HOST_SECTION}`): \
             is it a host built with this liveswap, of an interface declared with \
             #[liveswap::interface]?",
            path.display()
        ))
    };
    let data = section(path, &file, HOST_SECTION)?.ok_or_else(none)?;
    let sections = liveswap::check::host_sections(data)
        .map_err(|e| Failure::BadInput(format!("host {}: {e}", path.display())))?;
    if sections.is_empty() {
        return Err(none());
    }
    Ok(sections.into_iter().map(<[u8]>::to_vec).collect())
}

/// The keys in these files.
pub fn keys(files: &[PathBuf]) -> Result<Vec<TrustedKey>, Failure> {
    files
        .iter()
        .map(|f| TrustedKey::from_file(f).map_err(|e| Failure::BadInput(e.to_string())))
        .collect()
}

/// A zero-padded descriptor field as text.
pub fn text(field: &[u8]) -> String {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    String::from_utf8_lossy(&field[..end]).into_owned()
}
