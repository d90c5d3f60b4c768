//! Tests that need root (to act as other users, mount a file system) are
//! ignored, with the reason, when the tests are built by anyone else:
//! `cfg(tests_as_root)` is set when this build runs as root.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(tests_as_root)");
    println!("cargo::rerun-if-changed=build.rs");
    let euid = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|ids| ids.split_whitespace().nth(1)?.parse::<u32>().ok())
        });
    if euid == Some(0) {
        println!("cargo::rustc-cfg=tests_as_root");
    }
}
