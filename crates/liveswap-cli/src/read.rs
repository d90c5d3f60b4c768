//! Reading plugin and host files: bytes, ELF, sections, keys.

use std::fs;
use std::path::{Path, PathBuf};

use liveswap::check::{HOST_SECTION, TrustedKey};
use liveswap::layout::Table;
use liveswap::{DESCRIPTOR_SIZE, DESCRIPTOR_VERSION, Descriptor, MAGIC, SECTION};
use object::{Object, ObjectSection};

use crate::Failure;

/// The whole file, or a one-line reason.
pub fn bytes(path: &Path, what: &str) -> Result<Vec<u8>, Failure> {
    fs::read(path).map_err(|e| {
        Failure::BadInput(if e.kind() == std::io::ErrorKind::NotFound {
            format!("{what} {}: no such file", path.display())
        } else {
            format!("{what} {}: cannot read it: {e}", path.display())
        })
    })
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
