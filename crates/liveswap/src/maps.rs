//! Reading `/proc/self/maps` for people: the files this process maps.
//!
//! The library's own unload check does not use this (it looks only at the
//! unloaded library's address ranges, see `load::image`); this is for
//! hosts, tests and benchmarks that want the whole picture.

/// The distinct file paths in `/proc/self/maps`, with any ` (deleted)`
/// suffix removed. Copies held in memfds show as `/memfd:<name>`. Costs a
/// read of the whole table: use it for diagnostics, not per request.
pub fn mapped_files() -> Vec<String> {
    let Ok(maps) = std::fs::read_to_string("/proc/self/maps") else {
        return Vec::new();
    };
    let mut files: Vec<String> = maps
        .lines()
        .filter_map(|line| {
            // address perms offset dev inode path: only the path has a '/'.
            let path = &line[line.find('/')?..];
            Some(path.trim_end_matches(" (deleted)").to_string())
        })
        .collect();
    files.sort();
    files.dedup();
    files
}
