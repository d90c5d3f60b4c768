//! The interface descriptor: what a plugin says about itself, in bytes that
//! can be read from the file before any of its code runs.
//!
//! The export macro places one [`Descriptor`], followed by the interface's
//! type table (`layout`), in the ELF section [`SECTION`]. It holds no
//! pointers (a pointer in a shared object needs a
//! relocation, and the file's bytes would not show its value), only integers
//! and zero-padded strings, so the loader can parse it straight from the file
//! (`handshake`). The first twelve bytes (magic and descriptor version) keep
//! their place in every future layout, so an old host can still say "this
//! plugin speaks descriptor version N".

use std::sync::{Arc, Mutex};

use crate::interface::Interface;

/// Name of the ELF section that carries the descriptor.
pub const SECTION: &str = ".liveswap";
/// Name of the entry point every plugin exports.
pub const ENTRY_SYMBOL: &str = "liveswap_entry";
/// First eight bytes of every descriptor.
pub const MAGIC: [u8; 8] = *b"LIVESWAP";
/// Layout version of [`Descriptor`]; bumped on any change to it, to the
/// encoding of the layout table that follows it, or to the entry point's
/// calling convention.
pub const DESCRIPTOR_VERSION: u32 = 8;
/// Flag bit: the plugin was built with `panic = "unwind"`.
pub const FLAG_PANIC_UNWIND: u32 = 1;

/// The compiler that built this copy of the crate (`rustc -V`).
pub const RUSTC_VERSION: &str = env!("LIVESWAP_RUSTC_VERSION");
/// The target triple this copy of the crate was built for.
pub const TARGET: &str = env!("LIVESWAP_TARGET");
/// This crate's version.
pub const LIVESWAP_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The handshake record a plugin embeds (see the module docs).
///
/// Every field is plain bytes, so any bit pattern is a valid value: that is
/// what lets the loader read one from an untrusted file.
#[repr(C)]
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Descriptor {
    /// [`MAGIC`].
    pub magic: [u8; 8],
    /// [`DESCRIPTOR_VERSION`] of the crate that built the plugin.
    pub descriptor_version: u32,
    /// Bit set of `FLAG_*`.
    pub flags: u32,
    /// [`Interface::VERSION`].
    pub interface_version: u32,
    /// `size_of` the interface's vtable.
    pub vtable_size: u32,
    /// `align_of` the interface's vtable.
    pub vtable_align: u32,
    /// Length in bytes of the type table that follows the descriptor.
    pub table_len: u32,
    /// FNV-1a hash of the type table, to tell tables apart at a glance.
    pub fingerprint: u64,
    /// [`RUSTC_VERSION`], zero-padded.
    pub rustc: [u8; 64],
    /// [`TARGET`], zero-padded.
    pub target: [u8; 64],
    /// [`LIVESWAP_VERSION`], zero-padded.
    pub liveswap_version: [u8; 32],
    /// [`Interface::NAME`], zero-padded.
    pub interface_name: [u8; 128],
}

impl std::fmt::Debug for Descriptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Descriptor")
            .field("descriptor_version", &self.descriptor_version)
            .field("interface_name", &field_text(&self.interface_name))
            .field("interface_version", &self.interface_version)
            .field("rustc", &field_text(&self.rustc))
            .field("target", &field_text(&self.target))
            .field("liveswap_version", &field_text(&self.liveswap_version))
            .field("flags", &self.flags)
            .field("table_len", &self.table_len)
            .field("fingerprint", &format_args!("{:016x}", self.fingerprint))
            .finish()
    }
}

/// Size of a descriptor in bytes.
pub const DESCRIPTOR_SIZE: usize = std::mem::size_of::<Descriptor>();

impl Descriptor {
    /// The descriptor of a plugin that exports interface `I` with type
    /// table `table`, built by this compiler for this target. Evaluated at
    /// compile time by the export macro; a name too long for its field is a
    /// compile error.
    pub const fn of<I: Interface + ?Sized>(panic_unwind: bool, table: &[u8]) -> Self {
        Descriptor {
            magic: MAGIC,
            descriptor_version: DESCRIPTOR_VERSION,
            flags: if panic_unwind { FLAG_PANIC_UNWIND } else { 0 },
            interface_version: I::VERSION,
            vtable_size: size_u32(std::mem::size_of::<I::VTable>()),
            vtable_align: size_u32(std::mem::align_of::<I::VTable>()),
            table_len: size_u32(table.len()),
            fingerprint: fnv1a(table),
            rustc: fixed(RUSTC_VERSION),
            target: fixed(TARGET),
            liveswap_version: fixed(LIVESWAP_VERSION),
            interface_name: fixed(I::NAME),
        }
    }

    /// Reads a descriptor from the bytes of a section. `None` when there are
    /// fewer bytes than a descriptor holds.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        if bytes.len() < DESCRIPTOR_SIZE {
            return None;
        }
        // SAFETY: there are at least `DESCRIPTOR_SIZE` readable bytes, the
        // read is unaligned-safe, and every field of `Descriptor` is an
        // integer or a byte array, for which any bit pattern is valid.
        Some(unsafe { std::ptr::read_unaligned(bytes.as_ptr().cast::<Descriptor>()) })
    }

    /// The descriptor's bytes, as they stand in the section.
    pub fn as_bytes(&self) -> &[u8] {
        // SAFETY: `Descriptor` is `repr(C)` and built only of integers and
        // byte arrays whose sizes leave no padding (checked below at compile
        // time), so all of its bytes are initialized.
        unsafe { std::slice::from_raw_parts((self as *const Self).cast::<u8>(), DESCRIPTOR_SIZE) }
    }
}

// The layout has no padding: `as_bytes` relies on it.
const _: () = assert!(DESCRIPTOR_SIZE == 8 + 4 * 6 + 8 + 64 + 64 + 32 + 128);

const fn size_u32(n: usize) -> u32 {
    assert!(
        n <= u32::MAX as usize,
        "liveswap: descriptor field too large"
    );
    n as u32
}

/// 64-bit FNV-1a.
pub(crate) const fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        i += 1;
    }
    hash
}

/// What the export macro places in the section: the descriptor, then the
/// interface's type table, `N` bytes long.
#[repr(C)]
pub struct Section<const N: usize> {
    descriptor: Descriptor,
    table: [u8; N],
}

impl<const N: usize> Section<N> {
    /// The section of a plugin exporting `I`, whose table is `N` bytes.
    pub const fn of<I: Interface + ?Sized>(panic_unwind: bool) -> Self {
        let table = crate::layout::encode_table::<N>(I::METHODS);
        Section {
            descriptor: Descriptor::of::<I>(panic_unwind, &table),
            table,
        }
    }

    /// The descriptor and table bytes, without trailing padding.
    pub const fn as_bytes(&self) -> &[u8] {
        // SAFETY: `Section` is `repr(C)`: the descriptor (no padding, see
        // above; its size is a multiple of its alignment, 8) is followed
        // directly by the byte array, so the first `DESCRIPTOR_SIZE + N`
        // bytes are all initialized and lie inside `self`.
        unsafe {
            std::slice::from_raw_parts((self as *const Self).cast::<u8>(), DESCRIPTOR_SIZE + N)
        }
    }
}

// `Section::as_bytes` relies on the table following the descriptor at once.
const _: () = assert!(DESCRIPTOR_SIZE.is_multiple_of(std::mem::align_of::<Descriptor>()));

/// The section the host itself would carry for `I`: descriptor and table
/// bytes, as a plugin of `I` built with this crate must show them.
/// Computed once per interface and process, then shared.
pub(crate) fn expected_section<I: Interface + ?Sized>() -> Arc<[u8]> {
    /// What the section is made of (the type itself has no `TypeId`: an
    /// interface is implemented for its trait object of every lifetime).
    /// Two interfaces with the same key have the same section.
    type Key = (&'static str, u32, usize, usize, usize, usize);
    static SECTIONS: Mutex<Vec<(Key, Arc<[u8]>)>> = Mutex::new(Vec::new());
    let id: Key = (
        I::NAME,
        I::VERSION,
        I::METHODS.as_ptr() as usize,
        I::METHODS.len(),
        std::mem::size_of::<I::VTable>(),
        std::mem::align_of::<I::VTable>(),
    );
    let mut sections = SECTIONS.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((_, bytes)) = sections.iter().find(|(t, _)| *t == id) {
        return Arc::clone(bytes);
    }
    // The copy the interface's crate placed in the host binary (see
    // `Interface::__host_section`), or, for an interface written by hand,
    // the same bytes computed now.
    let computed = || {
        let table = crate::layout::encode_vec(I::METHODS);
        let mut bytes = Descriptor::of::<I>(true, &table).as_bytes().to_vec();
        bytes.extend_from_slice(&table);
        bytes
    };
    let embedded = I::__host_section();
    let bytes: Arc<[u8]> = if embedded.is_empty() {
        computed().into()
    } else {
        debug_assert_eq!(embedded, &computed()[..], "host section of {}", I::NAME);
        embedded.into()
    };
    sections.push((id, Arc::clone(&bytes)));
    bytes
}

/// Copies `s` into a zero-padded array; at least one zero byte remains.
const fn fixed<const N: usize>(s: &str) -> [u8; N] {
    let bytes = s.as_bytes();
    assert!(
        bytes.len() < N,
        "liveswap: string too long for its descriptor field"
    );
    let mut out = [0u8; N];
    let mut i = 0;
    while i < bytes.len() {
        out[i] = bytes[i];
        i += 1;
    }
    out
}

/// The text of a zero-padded field, lossily decoded for error messages.
pub(crate) fn field_text(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_pads_with_zeros_and_field_text_reads_back() {
        let f: [u8; 8] = fixed("abc");
        assert_eq!(&f, b"abc\0\0\0\0\0");
        assert_eq!(field_text(&f), "abc");
    }

    #[test]
    fn from_bytes_rejects_short_input() {
        assert!(Descriptor::from_bytes(&[0u8; DESCRIPTOR_SIZE - 1]).is_none());
    }
}
