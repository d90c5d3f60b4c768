//! The sections a host binary carries for the interfaces it hosts.

use crate::descriptor::{DESCRIPTOR_SIZE, Descriptor, MAGIC};

/// The ELF section in which a host binary carries, for each interface it
/// hosts, the section a plugin of that interface must show.
pub const HOST_SECTION: &str = ".liveswap_host";

/// Splits the bytes of a host's [`HOST_SECTION`] into one expected
/// section per interface (descriptor and type table). The linker places
/// them one after another, each aligned to 8 bytes.
///
/// # Errors
///
/// A description of the first entry that is cut short.
pub fn host_sections(bytes: &[u8]) -> Result<Vec<&[u8]>, String> {
    let mut out = Vec::new();
    let mut at = 0;
    while at + MAGIC.len() <= bytes.len() {
        if bytes[at..at + MAGIC.len()] != MAGIC {
            at += 8;
            continue;
        }
        let descriptor = Descriptor::from_bytes(&bytes[at..])
            .ok_or_else(|| format!("entry at byte {at} is cut short"))?;
        let end = at
            .checked_add(DESCRIPTOR_SIZE)
            .and_then(|e| e.checked_add(descriptor.table_len as usize))
            .filter(|&e| e <= bytes.len())
            .ok_or_else(|| format!("entry at byte {at} announces more bytes than there are"))?;
        out.push(&bytes[at..end]);
        at = end.next_multiple_of(8);
    }
    Ok(out)
}
