//! A loaded library's own address ranges, and the questions asked about
//! them at unload: is the loader still holding it, is any of its file still
//! mapped there.
//!
//! Every question costs in proportion to the library's own segments (and
//! the number of loaded libraries), never to the number of mappings in the
//! process: the ranges are recorded once after `dlopen` from the loader's
//! program headers (`dl_iterate_phdr`), and the kernel is asked about those
//! ranges only, with the `PROCMAP_QUERY` ioctl on `/proc/self/maps` (Linux
//! 6.11+). Older kernels fall back to one streaming pass over
//! `/proc/self/maps` that stops past the library's last address.

use std::ffi::{CStr, CString, c_int, c_void};
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::ops::Range;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// The loaded segments (`PT_LOAD`) of one library, page-aligned.
#[derive(Debug, Clone, Default)]
pub(crate) struct Ranges(pub Vec<Range<usize>>);

impl Ranges {
    /// Whether `addr` lies in one of the segments.
    pub(crate) fn contains(&self, addr: usize) -> bool {
        self.0.iter().any(|r| r.contains(&addr))
    }
}

/// Where the loader placed one library: its segments, its load bias (what
/// the file's virtual addresses are offset by) and the pages the loader
/// made read-only after relocation (`PT_GNU_RELRO`, rounded as the loader
/// rounds it: start down, end down).
#[derive(Debug, Clone, Default)]
pub(crate) struct Placement {
    pub ranges: Ranges,
    pub bias: usize,
    pub relro: Option<Range<usize>>,
    /// The segments mapped writable (`PF_W`).
    pub writable: Vec<Range<usize>>,
}

struct Search<'a> {
    name: &'a CStr,
    found: Option<Placement>,
}

unsafe extern "C" fn visit(
    info: *mut libc::dl_phdr_info,
    _size: usize,
    data: *mut c_void,
) -> c_int {
    // SAFETY: `data` is the `Search` passed to `dl_iterate_phdr` below, and
    // `info` a valid record for the duration of this call.
    let (search, info) = unsafe { (&mut *data.cast::<Search<'_>>(), &*info) };
    if info.dlpi_name.is_null() {
        return 0;
    }
    // SAFETY: the loader's names are NUL-terminated strings.
    let name = unsafe { CStr::from_ptr(info.dlpi_name) };
    if name != search.name {
        return 0;
    }
    let page = page_size();
    let bias = info.dlpi_addr as usize;
    let mut found = Placement {
        bias,
        ..Placement::default()
    };
    for i in 0..usize::from(info.dlpi_phnum) {
        // SAFETY: `dlpi_phdr` points to `dlpi_phnum` program headers.
        let ph = unsafe { &*info.dlpi_phdr.add(i) };
        let start = bias.wrapping_add(ph.p_vaddr as usize);
        let end = start.wrapping_add(ph.p_memsz as usize);
        if ph.p_type == libc::PT_GNU_RELRO {
            found.relro = Some(start & !(page - 1)..end & !(page - 1));
        }
        if ph.p_type != libc::PT_LOAD || ph.p_memsz == 0 {
            continue;
        }
        let range = start & !(page - 1)..end.next_multiple_of(page);
        if ph.p_flags & libc::PF_W != 0 {
            found.writable.push(range.clone());
        }
        found.ranges.0.push(range);
    }
    search.found = Some(found);
    1
}

/// The page size, from the C library (`sysconf`): rustix's own reading of
/// the auxiliary vector walks the vDSO's ELF header, which a process run
/// under valgrind does not map where the vector says.
pub(crate) fn page_size() -> usize {
    // SAFETY: `sysconf` has no preconditions.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(size)
        .ok()
        .filter(|s| s.is_power_of_two())
        .unwrap_or(4096)
}

/// Where the loaded object named `name` (the exact string given to
/// `dlopen`) is, or `None` if the loader has no object of that name.
pub(crate) fn find(name: &Path) -> Option<Placement> {
    let name = CString::new(name.as_os_str().as_bytes()).ok()?;
    let mut search = Search {
        name: &name,
        found: None,
    };
    // SAFETY: `visit` matches the callback type and only reads what the
    // loader hands it; `search` outlives the call.
    unsafe { libc::dl_iterate_phdr(Some(visit), (&raw mut search).cast()) };
    search.found
}

/// Whether the loader still lists an object named `name`.
pub(crate) fn loader_has(name: &Path) -> bool {
    find(name).is_some()
}

/// Whether any page of `ranges` is still mapped from the file `dev:ino`.
pub(crate) fn still_mapped(ranges: &Ranges, dev: u64, ino: u64) -> bool {
    let (major, minor) = (libc::major(dev), libc::minor(dev));
    match query_kernel(ranges, major, minor, ino) {
        Some(answer) => answer,
        None => scan_maps(ranges, major, minor, ino),
    }
}

/// `struct procmap_query` of `<linux/fs.h>`.
#[repr(C)]
#[derive(Default)]
struct ProcmapQuery {
    size: u64,
    query_flags: u64,
    query_addr: u64,
    vma_start: u64,
    vma_end: u64,
    vma_flags: u64,
    vma_page_size: u64,
    vma_offset: u64,
    inode: u64,
    dev_major: u32,
    dev_minor: u32,
    vma_name_size: u32,
    build_id_size: u32,
    vma_name_addr: u64,
    build_id_addr: u64,
}

const PROCMAP_QUERY: libc::c_ulong = (3 << 30)
    | ((size_of::<ProcmapQuery>() as libc::c_ulong) << 16)
    | ((b'f' as libc::c_ulong) << 8)
    | 17;
const PROCMAP_QUERY_COVERING_OR_NEXT_VMA: u64 = 0x10;

/// Asks the kernel about the mappings within `ranges` only. `None` if the
/// kernel does not know the ioctl.
fn query_kernel(ranges: &Ranges, major: u32, minor: u32, ino: u64) -> Option<bool> {
    let maps = File::open("/proc/self/maps").ok()?;
    for range in &ranges.0 {
        let mut addr = range.start as u64;
        while addr < range.end as u64 {
            let mut q = ProcmapQuery {
                size: size_of::<ProcmapQuery>() as u64,
                query_flags: PROCMAP_QUERY_COVERING_OR_NEXT_VMA,
                query_addr: addr,
                ..ProcmapQuery::default()
            };
            // SAFETY: PROCMAP_QUERY reads and writes one `procmap_query`,
            // whose size it is told; no name or build-id buffers are given.
            let rc = unsafe { libc::ioctl(maps.as_raw_fd(), PROCMAP_QUERY as _, &raw mut q) };
            if rc != 0 {
                return match std::io::Error::last_os_error().raw_os_error() {
                    Some(libc::ENOENT) => break, // nothing mapped at or after addr
                    _ => None,
                };
            }
            if q.vma_start >= range.end as u64 {
                break;
            }
            if q.inode == ino && q.dev_major == major && q.dev_minor == minor {
                return Some(true);
            }
            addr = q.vma_end.max(addr + 1);
        }
    }
    Some(false)
}

/// The fallback: one pass over `/proc/self/maps`, looking only at lines
/// that overlap `ranges`, stopping past the last of them.
fn scan_maps(ranges: &Ranges, major: u32, minor: u32, ino: u64) -> bool {
    let Ok(maps) = File::open("/proc/self/maps") else {
        return false;
    };
    let last = ranges.0.iter().map(|r| r.end).max().unwrap_or(0);
    let want_dev = format!("{major:02x}:{minor:02x}");
    let mut line = String::new();
    let mut reader = BufReader::new(maps);
    loop {
        line.clear();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return false;
        }
        let mut fields = line.split_ascii_whitespace();
        let Some((start, end)) = fields.next().and_then(|f| f.split_once('-')) else {
            continue;
        };
        let (Ok(start), Ok(end)) = (
            usize::from_str_radix(start, 16),
            usize::from_str_radix(end, 16),
        ) else {
            continue;
        };
        if start >= last {
            return false;
        }
        if !ranges.0.iter().any(|r| r.start < end && start < r.end) {
            continue;
        }
        let (_perms, _offset, dev, inode) =
            (fields.next(), fields.next(), fields.next(), fields.next());
        if dev == Some(want_dev.as_str()) && inode.and_then(|i| i.parse::<u64>().ok()) == Some(ino)
        {
            return true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    /// The C library's name as the loader knows it, its ranges and its file.
    fn libc_image() -> (std::path::PathBuf, Ranges, u64, u64) {
        // SAFETY: `Dl_info` is plain pointers and integers; all-zero is valid.
        let mut info: libc::Dl_info = unsafe { std::mem::zeroed() };
        // SAFETY: `dladdr` fills `info` for an address inside a loaded
        // object (here `malloc`'s); the name it returns is the loader's.
        assert_ne!(
            unsafe { libc::dladdr(libc::malloc as *const c_void, &mut info) },
            0
        );
        // SAFETY: a NUL-terminated name owned by the loader.
        let name = unsafe { CStr::from_ptr(info.dli_fname) };
        let path = std::path::PathBuf::from(std::ffi::OsStr::from_bytes(name.to_bytes()));
        let ranges = find(&path).expect("the loader lists the C library").ranges;
        let meta = std::fs::metadata(&path).unwrap();
        (path, ranges, meta.dev(), meta.ino())
    }

    #[test]
    fn a_loaded_library_has_ranges_and_is_seen_mapped_by_both_checks() {
        let (path, ranges, dev, ino) = libc_image();
        assert!(!ranges.0.is_empty());
        assert!(loader_has(&path));
        let (major, minor) = (libc::major(dev), libc::minor(dev));
        assert!(still_mapped(&ranges, dev, ino));
        assert!(scan_maps(&ranges, major, minor, ino));
        if let Some(answer) = query_kernel(&ranges, major, minor, ino) {
            assert!(answer);
        }
    }

    #[test]
    fn another_inode_at_those_ranges_is_not_this_library() {
        let (_, ranges, dev, ino) = libc_image();
        let (major, minor) = (libc::major(dev), libc::minor(dev));
        assert!(!still_mapped(&ranges, dev, ino + 1));
        assert!(!scan_maps(&ranges, major, minor, ino + 1));
    }

    #[test]
    fn an_unknown_name_is_not_loaded() {
        assert!(!loader_has(Path::new("/proc/self/fd/999999")));
    }
}
