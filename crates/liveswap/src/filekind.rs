//! What a file that is not a plugin is: sniffed from its first bytes, so
//! that a refusal says what the file is and what was expected ("it is an
//! ar archive (an .rlib?); build the plugin crate with crate-type =
//! [\"cdylib\"]") rather than a parser's "unknown file magic".

/// What every refusal of a wrong kind of file asks for instead.
const BUILD_A_CDYLIB: &str = "build the plugin crate with crate-type = [\"cdylib\"]";

/// The ELF magic.
const ELF_MAGIC: &[u8] = b"\x7fELF";

/// Says what `bytes` are when they are not an ELF shared object, and what
/// was expected; `None` for an ELF shared object, which the parser judges.
pub(crate) fn explain(bytes: &[u8]) -> Option<String> {
    let what = if bytes.is_empty() {
        return Some("the file is empty (a build still being written?)".into());
    } else if bytes.starts_with(ELF_MAGIC) {
        return explain_elf(bytes);
    } else if bytes.starts_with(b"!<arch>\n") {
        "an ar archive (an .rlib or a static library?)"
    } else if bytes.starts_with(b"rust\0\0\0") {
        "Rust crate metadata (an .rmeta?)"
    } else if bytes.starts_with(b"#!") {
        "a script"
    } else if bytes.starts_with(b"\0asm") {
        "a WebAssembly module"
    } else if bytes.starts_with(b"MZ") {
        "a Windows executable or DLL"
    } else if is_mach_o(bytes) {
        "a Mach-O file (built for macOS?)"
    } else if bytes.starts_with(&[0x1f, 0x8b]) {
        "a gzip archive"
    } else if bytes.starts_with(b"PK\x03\x04") {
        "a zip archive"
    } else if is_text(bytes) {
        "a text file"
    } else {
        let head: Vec<String> = bytes.iter().take(4).map(|b| format!("{b:02x}")).collect();
        return Some(format!(
            "unrecognised content (it starts with bytes {}); {BUILD_A_CDYLIB}",
            head.join(" ")
        ));
    };
    Some(format!("it is {what}; {BUILD_A_CDYLIB}"))
}

/// An ELF file that is not a shared object, by its header's `e_type`.
fn explain_elf(bytes: &[u8]) -> Option<String> {
    // e_ident[EI_DATA] (byte 5) gives the byte order of e_type (bytes 16-17).
    let (Some(&data), Some(kind)) = (bytes.get(5), bytes.get(16..18)) else {
        return Some(format!(
            "a truncated ELF file ({} bytes, shorter than its header; a build still being \
             written?)",
            bytes.len()
        ));
    };
    let e_type = match data {
        2 => u16::from_be_bytes([kind[0], kind[1]]),
        _ => u16::from_le_bytes([kind[0], kind[1]]),
    };
    let what = match e_type {
        1 => "an ELF relocatable object (a .o or part of a static library?)",
        2 => "an ELF executable (a binary crate?)",
        3 => return None,
        4 => "an ELF core dump",
        _ => "an ELF file of unknown type",
    };
    Some(format!("it is {what}; {BUILD_A_CDYLIB}"))
}

fn is_mach_o(bytes: &[u8]) -> bool {
    let magics: [[u8; 4]; 6] = [
        [0xfe, 0xed, 0xfa, 0xce],
        [0xce, 0xfa, 0xed, 0xfe],
        [0xfe, 0xed, 0xfa, 0xcf],
        [0xcf, 0xfa, 0xed, 0xfe],
        [0xca, 0xfe, 0xba, 0xbe],
        [0xbe, 0xba, 0xfe, 0xca],
    ];
    magics.iter().any(|m| bytes.starts_with(m))
}

/// Whether the first kilobyte reads as UTF-8 text (a truncated character at
/// the cut is allowed) without control characters other than whitespace.
fn is_text(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(1024)];
    let text = match std::str::from_utf8(head) {
        Ok(text) => text,
        Err(e) if e.error_len().is_none() => {
            std::str::from_utf8(&head[..e.valid_up_to()]).unwrap_or_default()
        }
        Err(_) => return false,
    };
    !text.is_empty()
        && text
            .chars()
            .all(|c| !c.is_control() || matches!(c, '\n' | '\r' | '\t' | '\x0c'))
}

/// What a file is when it is not a regular file, from its `st_mode` (as
/// `fstat` gives it): "a directory", "a fifo", and so on; `None` for a
/// regular file.
pub fn not_regular(mode: u32) -> Option<&'static str> {
    use rustix::fs::FileType;
    match FileType::from_raw_mode(mode) {
        FileType::RegularFile => None,
        FileType::Directory => Some("a directory"),
        FileType::Fifo => Some("a fifo"),
        FileType::Socket => Some("a socket"),
        FileType::BlockDevice | FileType::CharacterDevice => Some("a device"),
        FileType::Symlink => Some("a symbolic link"),
        FileType::Unknown => Some("of an unknown kind"),
    }
}

#[cfg(test)]
mod tests {
    use super::explain;

    fn says(bytes: &[u8]) -> String {
        explain(bytes).expect("not a shared object")
    }

    #[test]
    fn an_empty_file_is_called_empty() {
        assert_eq!(
            says(b""),
            "the file is empty (a build still being written?)"
        );
    }

    #[test]
    fn an_ar_archive_is_named_with_the_fix() {
        let text = says(b"!<arch>\n/               0           0     0     0       8       `\n");
        assert!(text.starts_with("it is an ar archive (an .rlib"), "{text}");
        assert!(text.ends_with("crate-type = [\"cdylib\"]"), "{text}");
    }

    #[test]
    fn a_text_file_is_called_text() {
        assert!(says(b"this is not a plugin\n").starts_with("it is a text file;"));
    }

    #[test]
    fn an_elf_relocatable_object_is_told_from_a_shared_object() {
        let mut header = [0u8; 64];
        header[..4].copy_from_slice(b"\x7fELF");
        header[5] = 1; // little-endian
        header[16] = 1; // ET_REL
        assert!(says(&header).starts_with("it is an ELF relocatable object"));
        header[16] = 2; // ET_EXEC
        assert!(says(&header).starts_with("it is an ELF executable"));
        header[16] = 3; // ET_DYN
        assert_eq!(
            explain(&header),
            None,
            "a shared object is the parser's to judge"
        );
    }

    #[test]
    fn a_truncated_elf_header_is_called_truncated() {
        assert!(says(b"\x7fELF\x02\x01").starts_with("a truncated ELF file (6 bytes"));
    }

    #[test]
    fn binary_garbage_shows_its_first_bytes() {
        assert!(says(&[0x00, 0x01, 0x02, 0x03, 0xff]).contains("starts with bytes 00 01 02 03"));
    }
}
