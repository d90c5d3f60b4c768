//! The handshake: decides from a file's bytes alone whether it is a plugin
//! this host can load, before `dlopen` runs any of its code.
//!
//! `dlopen` runs a library's constructors, so a check made after it would be
//! too late: a plugin built against another interface could already have
//! run. Instead the loader reads the file, parses it with the `object`
//! crate, and compares the [`Descriptor`] in its `.liveswap` section with the
//! one this host would have built for the same interface, then the type
//! tables that follow them (`layout`): every method, and every type that
//! crosses, field by field.

use std::path::Path;

use object::{Architecture, BinaryFormat, Object, ObjectKind, ObjectSection, ObjectSymbol};

use crate::descriptor::{
    DESCRIPTOR_SIZE, DESCRIPTOR_VERSION, Descriptor, FLAG_PANIC_UNWIND, MAGIC, SECTION,
    expected_section, field_text,
};
use crate::error::Error;
use crate::filekind;
use crate::interface::Interface;
use crate::layout::{Table, compare_tables};

/// The architecture a target triple names, as `object` names it;
/// `Unknown` for one not listed (the descriptor's target string is
/// compared anyway).
fn architecture_of(target: &str) -> Architecture {
    let arch = target.split('-').next().unwrap_or("");
    match arch {
        "x86_64" if target.ends_with("x32") => Architecture::X86_64_X32,
        "x86_64" => Architecture::X86_64,
        "aarch64" => Architecture::Aarch64,
        "i386" | "i586" | "i686" => Architecture::I386,
        "riscv64" | "riscv64gc" => Architecture::Riscv64,
        "powerpc64" | "powerpc64le" => Architecture::PowerPc64,
        "s390x" => Architecture::S390x,
        "loongarch64" => Architecture::LoongArch64,
        a if a.starts_with("arm") || a.starts_with("thumb") => Architecture::Arm,
        _ => Architecture::Unknown,
    }
}

/// Imports that tell what a plugin may do that keeps it from unloading.
const RISKY_IMPORTS: &[(&str, &str)] = &[
    (
        "sigaction",
        "the plugin can install signal handlers (it imports sigaction): while a handler points \
         into it, its library is not closed (reported as pinned); restore the previous handler \
         when its instance is dropped",
    ),
    (
        "signal",
        "the plugin can install signal handlers (it imports signal): while a handler points \
         into it, its library is not closed (reported as pinned); restore the previous handler \
         when its instance is dropped",
    ),
];

/// What the handshake learnt of an accepted plugin.
#[derive(Debug, Clone)]
pub struct Checked {
    /// The plugin's descriptor.
    pub descriptor: Descriptor,
    /// The section's bytes (descriptor and table), which the running entry
    /// point must show too.
    pub section: Vec<u8>,
    /// Hazards read from its imports; the plugin is loaded all the same.
    pub warnings: Vec<String>,
}

/// Checks `bytes` (the content of `path`) against interface `I` and returns
/// the plugin's descriptor.
pub(crate) fn check<I: Interface + ?Sized>(path: &Path, bytes: &[u8]) -> Result<Checked, Error> {
    check_section(path, bytes, &expected_section::<I>())
}

/// The hazards an ELF file's imports show (see [`Checked::warnings`]).
pub fn hazards(file: &object::File<'_>) -> Vec<String> {
    file.dynamic_symbols()
        .filter(|sym| sym.is_undefined())
        .filter_map(|sym| {
            let name = sym.name().ok()?;
            RISKY_IMPORTS
                .iter()
                .find(|(import, _)| *import == name)
                .map(|(_, why)| (*why).to_string())
        })
        .collect()
}

/// The handshake on a file's bytes alone: checks `bytes` (the content of
/// `path`) against `expected`, the section a host expects (descriptor and
/// type table, as [`host_sections`](crate::check::host_sections) returns
/// them from a host binary). Pure: reads nothing, runs nothing. The errors
/// are the ones the host would return for the same file.
///
/// # Errors
///
/// [`Error::NotSharedObject`], [`Error::WrongArchitecture`],
/// [`Error::NoDescriptor`], [`Error::DescriptorMismatch`] or
/// [`Error::LayoutMismatch`].
pub fn check_section(path: &Path, bytes: &[u8], expected: &[u8]) -> Result<Checked, Error> {
    let Some(expected_descriptor) = Descriptor::from_bytes(expected) else {
        return Err(Error::NoDescriptor {
            path: path.to_path_buf(),
            reason: "the host's expected descriptor is cut short".into(),
        });
    };
    let host = architecture_of(&field_text(&expected_descriptor.target));
    let file = shared_object(path, bytes, bytes, host)?;
    let section = descriptor_section(path, &file)?;
    let data = section.data().map_err(|e| Error::NotSharedObject {
        path: path.to_path_buf(),
        reason: format!("section {SECTION} is unreadable (truncated file?): {e}"),
    })?;
    let (descriptor, section) = compare(path, data, expected)?;
    Ok(Checked {
        descriptor,
        section,
        warnings: hazards(&file),
    })
}

/// Parses `data` as an ELF shared object for `host` (`Unknown`: any
/// architecture). `head`, the file's first bytes, names a file that is not
/// one for what it is.
pub(crate) fn shared_object<'d, R: object::ReadRef<'d>>(
    path: &Path,
    data: R,
    head: &[u8],
    host: Architecture,
) -> Result<object::File<'d, R>, Error> {
    let not_so = |reason: String| Error::NotSharedObject {
        path: path.to_path_buf(),
        reason,
    };
    let file = object::File::parse(data)
        .map_err(|e| not_so(filekind::explain(head).unwrap_or_else(|| e.to_string())))?;
    if file.format() != BinaryFormat::Elf {
        return Err(not_so(
            filekind::explain(head).unwrap_or_else(|| format!("it is a {:?} file", file.format())),
        ));
    }
    if host != Architecture::Unknown && file.architecture() != host {
        return Err(Error::WrongArchitecture {
            path: path.to_path_buf(),
            expected: format!("{host:?}"),
            found: format!("{:?}", file.architecture()),
        });
    }
    if file.kind() != ObjectKind::Dynamic {
        return Err(not_so(
            filekind::explain(head)
                .unwrap_or_else(|| format!("it is an ELF {:?} file", file.kind())),
        ));
    }
    Ok(file)
}

/// The file's `.liveswap` section, or why it has none.
pub(crate) fn descriptor_section<'d, 'f, R: object::ReadRef<'d>>(
    path: &Path,
    file: &'f object::File<'d, R>,
) -> Result<object::Section<'d, 'f, R>, Error> {
    file.section_by_name(SECTION)
        .ok_or_else(|| no_descriptor(path, file.section_by_name(".hotswap").is_some()))
}

/// The refusal of a shared object without a `.liveswap` section
/// (`hotswap`: it has the section of this library's former name).
pub(crate) fn no_descriptor(path: &Path, hotswap: bool) -> Error {
    let reason = if hotswap {
        "it has a `.hotswap` section: it was built with `hotswap`, this library's name \
         before it became liveswap; rebuild the plugin against liveswap"
    } else {
        "the file has no such section; was the plugin built with `liveswap::export!`?"
    };
    Error::NoDescriptor {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// How one descriptor field is shown (and compared).
type Show = fn(&Descriptor) -> String;

/// Compares a section's bytes with the section `expected_section`;
/// returns the descriptor and the section's meaningful bytes.
pub(crate) fn compare(
    path: &Path,
    data: &[u8],
    expected_section: &[u8],
) -> Result<(Descriptor, Vec<u8>), Error> {
    let mismatch = |field: &'static str, expected: String, found: String| {
        Err(Error::DescriptorMismatch {
            path: path.to_path_buf(),
            field,
            expected,
            found,
        })
    };
    let magic = &data[..data.len().min(MAGIC.len())];
    if magic != MAGIC {
        return mismatch("magic", format!("{MAGIC:02x?}"), format!("{magic:02x?}"));
    }
    let version = data
        .get(8..12)
        .map(|b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]));
    if version != Some(DESCRIPTOR_VERSION) {
        return mismatch(
            "descriptor version",
            DESCRIPTOR_VERSION.to_string(),
            version.map_or("none (section too short)".into(), |v| v.to_string()),
        );
    }
    let Some(found) = Descriptor::from_bytes(data) else {
        return Err(Error::NoDescriptor {
            path: path.to_path_buf(),
            reason: format!(
                "section is {} bytes, a descriptor is {DESCRIPTOR_SIZE}",
                data.len()
            ),
        });
    };
    let Some(expected) = Descriptor::from_bytes(expected_section) else {
        return Err(Error::NoDescriptor {
            path: path.to_path_buf(),
            reason: "the host's expected descriptor is cut short".into(),
        });
    };
    // Each remaining field as both sides show it, in the order checked.
    let fields: [(&'static str, Show); 6] = [
        ("rustc version", |d| field_text(&d.rustc)),
        ("target", |d| field_text(&d.target)),
        ("liveswap version", |d| field_text(&d.liveswap_version)),
        ("interface name", |d| field_text(&d.interface_name)),
        ("interface version", |d| d.interface_version.to_string()),
        ("panic strategy", |d| {
            let unwind = d.flags & FLAG_PANIC_UNWIND != 0;
            (if unwind { "unwind" } else { "abort" }).to_string()
        }),
    ];
    for (field, show) in fields {
        let (want, have) = (show(&expected), show(&found));
        if want != have {
            return mismatch(field, want, have);
        }
    }
    let end = DESCRIPTOR_SIZE.saturating_add(found.table_len as usize);
    let Some(section) = data.get(..end) else {
        return Err(Error::NoDescriptor {
            path: path.to_path_buf(),
            reason: format!(
                "the section is {} bytes, its descriptor announces {end}",
                data.len()
            ),
        });
    };
    let ok_vtable =
        (found.vtable_size, found.vtable_align) == (expected.vtable_size, expected.vtable_align);
    if !ok_vtable {
        return mismatch(
            "vtable layout",
            format!(
                "{} bytes, align {}",
                expected.vtable_size, expected.vtable_align
            ),
            format!("{} bytes, align {}", found.vtable_size, found.vtable_align),
        );
    }
    if section[DESCRIPTOR_SIZE..] != expected_section[DESCRIPTOR_SIZE..] {
        compare_layouts(path, expected_section, section)?;
    }
    Ok((found, section.to_vec()))
}

/// Explains how the plugin's type table differs from the host's: reached
/// only when their bytes differ.
fn compare_layouts(path: &Path, expected: &[u8], found: &[u8]) -> Result<(), Error> {
    let layout_error = |detail: String| Error::LayoutMismatch {
        path: path.to_path_buf(),
        interface: Descriptor::from_bytes(expected)
            .map(|d| field_text(&d.interface_name))
            .unwrap_or_default(),
        detail,
    };
    let host = Table::decode(&expected[DESCRIPTOR_SIZE..])
        .map_err(|e| layout_error(format!("the host's own table is unreadable: {e}")))?;
    let plugin = Table::decode(&found[DESCRIPTOR_SIZE..]).map_err(|e| Error::NoDescriptor {
        path: path.to_path_buf(),
        reason: format!("its type table is unreadable: {e}"),
    })?;
    compare_tables(&host, &plugin).map_err(layout_error)?;
    if crate::layout::equal_but_compatible_releases(&host, &plugin) {
        return Ok(());
    }
    Err(layout_error(
        "the type tables differ in their encoding, though no difference in meaning was found"
            .into(),
    ))
}
