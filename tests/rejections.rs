//! Bad input, table-driven: every case is refused with a typed error that
//! names the path, while the current version keeps serving and nothing of
//! the rejected file stays mapped or on disk. Special cases (proof that no
//! code ran, permissions, files that change under the swap, a broken copy
//! directory) have tests of their own below.

use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};

use liveswap::{Error, Slot};
use liveswap_tests::{
    Greeter, files_in, fixture, install_bytes, mapped_under, marker_path, patched, with_descriptor,
};
struct Serving {
    hs: Slot<Greeter>,
    dir: tempfile::TempDir,
}

fn serving() -> Serving {
    Serving {
        hs: Slot::<Greeter>::load(fixture("greeter-v1")).unwrap(),
        dir: tempfile::tempdir().unwrap(),
    }
}

impl Serving {
    fn file(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.dir.path().join(name);
        install_bytes(bytes, &path);
        path
    }

    /// Swaps to `path`, expects a refusal, and checks that generation 1
    /// still serves with nothing extra mapped or copied.
    fn refuse(&self, path: &Path) -> Error {
        let mapped = mapped_under(self.hs.copy_prefix());
        let copies = files_in(self.hs.copy_prefix());
        let err = self.hs.swap(path).expect_err("the swap must be refused");
        assert!(
            err.to_string().contains(&path.display().to_string()),
            "the message names the path: {err}"
        );
        assert_eq!(self.hs.current().answer(1), 2, "generation 1 keeps serving");
        assert_eq!(self.hs.generation(), 1);
        assert_eq!(
            mapped_under(self.hs.copy_prefix()),
            mapped,
            "nothing new mapped"
        );
        assert_eq!(
            files_in(self.hs.copy_prefix()),
            copies,
            "no copy left behind"
        );
        err
    }
}

fn mismatch_field(err: &Error) -> &'static str {
    match err {
        Error::DescriptorMismatch { field, .. } => field,
        other => panic!("expected a descriptor mismatch, got {other:?}"),
    }
}

/// The system's C library, as this process has it mapped: a real shared
/// object that is not a plugin.
fn system_libc() -> PathBuf {
    liveswap::stats::mapped_files()
        .into_iter()
        .find(|p| p.contains("/libc.so"))
        .map(PathBuf::from)
        .expect("libc is mapped")
}

type Make = fn(&Serving) -> PathBuf;
type Expect = fn(&Error) -> bool;

/// The offset of a descriptor field, for the edits below.
macro_rules! at {
    ($field:ident) => {
        std::mem::offset_of!(liveswap::wire::Descriptor, $field)
    };
}

fn descriptor_edit(s: &Serving, name: &str, edit: fn(&mut [u8])) -> PathBuf {
    s.file(name, &with_descriptor("greeter-v2", edit))
}

fn cut(s: &Serving, num: usize, den: usize) -> PathBuf {
    let bytes = fs::read(fixture("greeter-v2")).unwrap();
    let at = bytes.len() * num / den;
    s.file(&format!("cut-{num}-{den}.so"), &bytes[..at])
}

/// A refusal as not a shared object whose reason contains `text`.
fn says(err: &Error, text: &str) -> bool {
    matches!(err, Error::NotSharedObject { reason, .. } if reason.contains(text))
}

/// A real `.rlib` (an ar archive), as cargo left it beside the fixtures.
fn fixture_rlib() -> PathBuf {
    let deps = liveswap_tests::fixtures_dir().join("deps");
    fs::read_dir(&deps)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.starts_with("libfixture_api-") && name.ends_with(".rlib")
        })
        .expect("cargo built fixture-api as an .rlib")
}

/// Offsets in the ELF header (the same in 32- and 64-bit files).
const E_TYPE: usize = 16;
const E_MACHINE: usize = 18;
const ET_REL: u16 = 1;
const ET_EXEC: u16 = 2;

/// A real plugin's bytes with one 16-bit field of its ELF header changed,
/// in the file's own byte order.
fn elf_header_edit(offset: usize, value: u16) -> Vec<u8> {
    let mut bytes = fs::read(fixture("greeter-v2")).unwrap();
    let value = if bytes[5] == 2 {
        value.to_be_bytes()
    } else {
        value.to_le_bytes()
    };
    bytes[offset..offset + 2].copy_from_slice(&value);
    bytes
}

/// The architecture the fixtures (and this process) are built for.
fn fixture_architecture() -> object::Architecture {
    use object::Object;
    object::File::parse(&*fs::read(fixture("greeter-v2")).unwrap())
        .unwrap()
        .architecture()
}

/// An ELF machine other than this one's: AArch64 on any other host,
/// x86-64 on AArch64.
fn other_machine() -> u16 {
    const EM_X86_64: u16 = 62;
    const EM_AARCH64: u16 = 183;
    if fixture_architecture() == object::Architecture::Aarch64 {
        EM_X86_64
    } else {
        EM_AARCH64
    }
}

fn other_architecture() -> object::Architecture {
    if other_machine() == 62 {
        object::Architecture::X86_64
    } else {
        object::Architecture::Aarch64
    }
}

fn is_field(err: &Error, want: &str) -> bool {
    matches!(err, Error::DescriptorMismatch { field, .. } if *field == want)
}

/// The corpus: a name, how to make the bad file, what error it must give.
const CORPUS: &[(&str, Make, Expect)] = &[
    (
        "missing path",
        |s| s.dir.path().join("nope.so"),
        |e| matches!(e, Error::NotFound { .. }),
    ),
    (
        "directory",
        |s| s.dir.path().to_path_buf(),
        |e| {
            matches!(
                e,
                Error::NotAFile {
                    what: "a directory",
                    ..
                }
            )
        },
    ),
    (
        "symlink loop",
        |s| {
            let (a, b) = (
                s.dir.path().join("loop-a.so"),
                s.dir.path().join("loop-b.so"),
            );
            symlink(&b, &a).unwrap();
            symlink(&a, &b).unwrap();
            a
        },
        |e| matches!(e, Error::Unreadable { .. }),
    ),
    (
        "empty file",
        |s| s.file("empty.so", b""),
        |e| says(e, "the file is empty"),
    ),
    (
        "text file",
        |s| s.file("notes.so", b"this is not a plugin\n"),
        |e| {
            says(
                e,
                "it is a text file; build the plugin crate with crate-type = [\"cdylib\"]",
            )
        },
    ),
    (
        "an .rlib (ar archive)",
        |s| s.file("libfixture_api.rlib", &fs::read(fixture_rlib()).unwrap()),
        |e| says(e, "it is an ar archive (an .rlib"),
    ),
    (
        "truncated to 64 bytes",
        |s| cut(s, 64, fs::read(fixture("greeter-v2")).unwrap().len()),
        |e| matches!(e, Error::NotSharedObject { .. }),
    ),
    (
        "truncated to a quarter",
        |s| cut(s, 1, 4),
        |e| {
            matches!(
                e,
                Error::NotSharedObject { .. } | Error::NoDescriptor { .. }
            )
        },
    ),
    (
        "truncated to half",
        |s| cut(s, 1, 2),
        |e| {
            matches!(
                e,
                Error::NotSharedObject { .. } | Error::NoDescriptor { .. }
            )
        },
    ),
    (
        "truncated by one byte",
        |s| cut(s, 999_999, 1_000_000),
        |e| {
            matches!(
                e,
                Error::NotSharedObject { .. } | Error::NoDescriptor { .. }
            )
        },
    ),
    (
        "ELF for another architecture",
        |s| {
            s.file(
                "other-arch.so",
                &elf_header_edit(E_MACHINE, other_machine()),
            )
        },
        |e| {
            matches!(e, Error::WrongArchitecture { expected, found, .. }
                if *expected == format!("{:?}", fixture_architecture())
                    && *found == format!("{:?}", other_architecture()))
        },
    ),
    (
        "ELF relocatable object (a static object), not a shared object",
        |s| s.file("object.o", &elf_header_edit(E_TYPE, ET_REL)),
        |e| says(e, "it is an ELF relocatable object"),
    ),
    (
        "ELF executable, not a shared object",
        |s| s.file("program", &elf_header_edit(E_TYPE, ET_EXEC)),
        |e| says(e, "it is an ELF executable"),
    ),
    (
        "system library (libc)",
        |_| system_libc(),
        |e| matches!(e, Error::NoDescriptor { .. }),
    ),
    (
        "cdylib without liveswap",
        |_| fixture("not-a-plugin"),
        |e| matches!(e, Error::NoDescriptor { .. }),
    ),
    (
        "no entry symbol",
        |s| {
            s.file(
                "noentry.so",
                &patched("greeter-v2", b"liveswap_entry\0", b"liveswap_entrx\0"),
            )
        },
        |e| {
            matches!(
                e,
                Error::EntryMissing {
                    symbol: "liveswap_entry",
                    ..
                }
            )
        },
    ),
    (
        "missing dependency",
        |s| {
            s.file(
                "badlink.so",
                &patched("greeter-v2", b"libc.so.6\0", b"libc.so.9\0"),
            )
        },
        |e| matches!(e, Error::Dlopen { message, .. } if message.contains("libc.so.9")),
    ),
    (
        "wrong magic",
        |s| descriptor_edit(s, "magic.so", |d| d[at!(magic)] = b'X'),
        |e| is_field(e, "magic"),
    ),
    (
        "future descriptor version",
        |s| {
            descriptor_edit(s, "future.so", |d| {
                d[at!(descriptor_version)..][..4]
                    .copy_from_slice(&(liveswap::wire::DESCRIPTOR_VERSION + 1).to_ne_bytes())
            })
        },
        |e| is_field(e, "descriptor version"),
    ),
    (
        "another rustc",
        |s| descriptor_edit(s, "rustc.so", |d| d[at!(rustc) + 6] = b'0'),
        |e| is_field(e, "rustc version"),
    ),
    (
        "another target",
        |s| descriptor_edit(s, "target.so", |d| d[at!(target)] = b'a'),
        |e| is_field(e, "target"),
    ),
    (
        "another liveswap version",
        |s| descriptor_edit(s, "hsver.so", |d| d[at!(liveswap_version)] = b'9'),
        |e| is_field(e, "liveswap version"),
    ),
    (
        "another interface name",
        |_| fixture("other-interface"),
        |e| is_field(e, "interface name"),
    ),
    (
        "another interface version",
        |s| {
            descriptor_edit(s, "ifver.so", |d| {
                d[at!(interface_version)..][..4].copy_from_slice(&7u32.to_ne_bytes())
            })
        },
        |e| is_field(e, "interface version"),
    ),
    (
        "a type renamed in the type table",
        // The table starts with the type count, then the first type's
        // name (length, then bytes).
        |s| {
            descriptor_edit(s, "typename.so", |d| {
                d[liveswap::wire::DESCRIPTOR_SIZE + 8] ^= 0x20
            })
        },
        |e| matches!(e, Error::LayoutMismatch { detail, .. } if detail.contains("the host has")),
    ),
    (
        "a type table longer than its section",
        |s| {
            descriptor_edit(s, "tablelen.so", |d| {
                d[at!(table_len)..][..4].copy_from_slice(&u32::MAX.to_ne_bytes())
            })
        },
        |e| matches!(e, Error::NoDescriptor { reason, .. } if reason.contains("announces")),
    ),
    (
        "a truncated type table",
        |s| {
            descriptor_edit(s, "tabletrunc.so", |d| {
                let len = u32::from_ne_bytes(d[at!(table_len)..][..4].try_into().unwrap());
                d[at!(table_len)..][..4].copy_from_slice(&(len - 3).to_ne_bytes())
            })
        },
        |e| matches!(e, Error::NoDescriptor { reason, .. } if reason.contains("unreadable")),
    ),
    (
        "another vtable size",
        |s| descriptor_edit(s, "vtsize.so", |d| d[at!(vtable_size)] ^= 0x08),
        |e| is_field(e, "vtable layout"),
    ),
    (
        "built with panic = abort",
        |s| descriptor_edit(s, "abort.so", |d| d[at!(flags)] = 0),
        |e| is_field(e, "panic strategy"),
    ),
    (
        "panicking constructor",
        |_| fixture("ctor-panics"),
        |e| matches!(e, Error::ConstructorFailed { panicked: true, message, .. } if message == "constructor refuses to start"),
    ),
];

#[test]
fn every_bad_input_in_the_corpus_is_refused_and_changes_nothing() {
    assert!(CORPUS.len() >= 15);
    let s = serving();
    for (name, make, expect) in CORPUS {
        let path = make(&s);
        let is_mapped = || {
            liveswap::stats::mapped_files()
                .iter()
                .any(|m| Path::new(m) == path)
        };
        let mapped_before = is_mapped();
        let err = s.refuse(&path);
        assert!(expect(&err), "{name}: unexpected error {err:?}");
        assert_eq!(
            is_mapped(),
            mapped_before,
            "{name}: the file itself is never mapped"
        );
    }
}

#[test]
fn a_plugin_of_another_interface_is_refused_before_any_of_its_code_runs() {
    let s = serving();
    let marker = marker_path("marker-mismatch");
    let _ = fs::remove_file(&marker);
    let err = s.refuse(&fixture("marker-mismatch"));
    assert_eq!(mismatch_field(&err), "interface name");
    assert!(err.to_string().contains("fixture::Other"), "{err}");
    assert!(
        !marker.exists(),
        "the rejected plugin's constructor must not run"
    );
}

#[test]
fn the_marker_does_prove_that_a_loaded_plugins_code_ran() {
    // Control for the test above: the same kind of constructor, in a plugin
    // that passes the handshake, does leave its marker.
    let s = serving();
    let marker = marker_path("marker-ok");
    let _ = fs::remove_file(&marker);
    s.hs.swap(fixture("marker-ok")).unwrap();
    assert_eq!(s.hs.current().build(), 3);
    assert!(marker.exists(), "dlopen ran the constructor");
    let _ = fs::remove_file(&marker);
}

#[test]
fn a_panicking_constructor_is_an_error_with_its_message() {
    let s = serving();
    let err = s.refuse(&fixture("ctor-panics"));
    match &err {
        Error::ConstructorFailed {
            panicked,
            message,
            location,
            ..
        } => {
            assert!(panicked);
            assert_eq!(message, "constructor refuses to start");
            assert!(
                location.as_deref().unwrap_or("").contains("lib.rs"),
                "{location:?}"
            );
        }
        other => panic!("{other:?}"),
    }
}

fn assert_permission_denied(err: &Error) {
    assert!(
        matches!(err, Error::Unreadable { source, .. } if source.kind() == std::io::ErrorKind::PermissionDenied),
        "{err:?}"
    );
}

/// Drops, for the calling thread only, the capabilities that let root read
/// through permission bits (`CAP_DAC_OVERRIDE`, `CAP_DAC_READ_SEARCH`).
/// Linux keeps capabilities per thread, and the raw `capset` system call
/// changes only the caller's; other threads of the process keep theirs.
fn drop_read_override_on_this_thread() {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Default, Clone, Copy)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    const VERSION_3: u32 = 0x2008_0522;
    const DAC: u32 = (1 << 1) | (1 << 2); // CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
    let mut header = Header {
        version: VERSION_3,
        pid: 0,
    };
    let mut data = [Data::default(); 2];
    // SAFETY: capget with a version-3 header and room for its two data
    // structs; pid 0 is the calling thread.
    let got = unsafe { libc::syscall(libc::SYS_capget, &mut header, data.as_mut_ptr()) };
    assert_eq!(got, 0, "capget: {}", std::io::Error::last_os_error());
    data[0].effective &= !DAC;
    data[0].permitted &= !DAC;
    // SAFETY: as above; only lowers this thread's own capabilities.
    let set = unsafe { libc::syscall(libc::SYS_capset, &mut header, data.as_ptr()) };
    assert_eq!(set, 0, "capset: {}", std::io::Error::last_os_error());
}

#[test]
fn a_path_without_read_permission_is_unreadable() {
    let s = serving();
    let locked = s.dir.path().join("locked.so");
    fs::copy(fixture("greeter-v2"), &locked).unwrap();
    fs::set_permissions(&locked, fs::Permissions::from_mode(0o000)).unwrap();
    // Root reads through permission bits; a thread without the capabilities
    // that allow it reads as any other user would (and a non-root user has
    // none of them to drop). No other user and no other process is needed,
    // so this works wherever the tests run.
    let err = std::thread::scope(|scope| {
        scope
            .spawn(|| {
                drop_read_override_on_this_thread();
                s.refuse(&locked)
            })
            .join()
            .unwrap()
    });
    assert_permission_denied(&err);
    assert!(err.to_string().contains("locked.so"), "{err}");
}

#[test]
fn a_missing_relative_path_names_the_directory_it_was_relative_to() {
    let s = serving();
    let err = s.refuse(Path::new("no-such-dir/libmissing.so"));
    let cwd = std::env::current_dir().unwrap();
    assert!(
        matches!(&err, Error::NotFound { relative_to: Some(dir), .. } if *dir == cwd),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains(&format!("relative to {}", cwd.display())),
        "{err}"
    );
    let absolute = s.refuse(&s.dir.path().join("missing.so"));
    assert!(
        matches!(
            absolute,
            Error::NotFound {
                relative_to: None,
                ..
            }
        ),
        "an absolute path needs no directory: {absolute:?}"
    );
}

#[test]
fn a_plugin_still_being_written_is_refused_then_loads_once_complete() {
    use std::io::Write;
    let s = serving();
    let path = s.dir.path().join("growing.so");
    let bytes = fs::read(fixture("greeter-v2")).unwrap();
    let mut file = fs::File::create(&path).unwrap();
    file.write_all(&bytes[..bytes.len() / 3]).unwrap();
    file.flush().unwrap();
    let err = s.refuse(&path);
    assert!(
        matches!(
            err,
            Error::NotSharedObject { .. } | Error::NoDescriptor { .. }
        ),
        "{err:?}"
    );
    file.write_all(&bytes[bytes.len() / 3..]).unwrap();
    drop(file);
    s.hs.swap(&path).unwrap();
    assert_eq!(s.hs.current().answer(1), 3);
}

#[test]
fn a_source_deleted_while_the_swap_starts_either_loads_or_is_not_found() {
    // The loader reads the file once, and checks and maps those bytes: a
    // file that vanishes mid-swap cannot split the check from the load.
    let s = serving();
    let bytes = fs::read(fixture("greeter-v2")).unwrap();
    let (mut loaded, mut missing) = (0, 0);
    for i in 0..40u64 {
        let path = s.dir.path().join(format!("vanishing-{i}.so"));
        install_bytes(&bytes, &path);
        let remover = {
            let path = path.clone();
            std::thread::spawn(move || {
                std::thread::sleep(std::time::Duration::from_micros(i * 50));
                let _ = fs::remove_file(&path);
            })
        };
        match s.hs.swap(&path) {
            Ok(_) => {
                assert_eq!(s.hs.current().answer(1), 3);
                loaded += 1;
            }
            Err(Error::NotFound { .. }) => missing += 1,
            Err(other) => panic!("swap {i}: {other:?}"),
        }
        remover.join().unwrap();
    }
    // Any other outcome has already failed the test above; which of the two
    // happened depends on timing, so it is reported, not asserted.
    println!("{loaded} swaps loaded, {missing} found the file gone");
}

/// Bytes this thread has read and written through system calls, where
/// the kernel counts them (`/proc/thread-self/io`).
fn thread_io_bytes() -> Option<u64> {
    let io = fs::read_to_string("/proc/thread-self/io").ok()?;
    Some(
        io.lines()
            .filter(|l| l.starts_with("rchar:") || l.starts_with("wchar:"))
            .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
            .sum(),
    )
}

#[test]
fn a_sparse_file_with_an_elf_header_and_no_descriptor_is_refused_without_being_copied() {
    let dir = tempfile::tempdir().unwrap();
    let hs = Slot::<Greeter>::load(fixture("greeter-v1")).unwrap();
    // A real plugin's ELF header, then holes up to just under 1 GiB (the
    // default cap): its section headers point at zeros.
    let fake = dir.path().join("libfake.so");
    let header = fs::read(fixture("greeter-v2")).unwrap()[..64].to_vec();
    fs::write(&fake, &header).unwrap();
    fs::OpenOptions::new()
        .write(true)
        .open(&fake)
        .unwrap()
        .set_len((1 << 30) - 4096)
        .unwrap();

    let before = thread_io_bytes();
    let err = hs.swap(&fake).unwrap_err();
    let moved = thread_io_bytes()
        .zip(before)
        .map(|(after, before)| after - before);
    assert!(
        matches!(
            err,
            Error::NoDescriptor { .. } | Error::NotSharedObject { .. }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("libfake.so"), "{err}");
    match moved {
        Some(moved) => {
            println!("bytes read and written to refuse a 1 GiB file: {moved}");
            assert!(
                moved < 16 << 20,
                "{moved} bytes read or written: it was copied"
            );
        }
        None => println!("(no per-thread I/O counters here: the bytes moved are not checked)"),
    }
    assert_eq!(hs.current().answer(1), 2);
}

/// Set for the child process that runs `descriptor_limit_in_the_child`.
const FD_CHILD: &str = "LIVESWAP_TEST_DESCRIPTOR_CHILD";

#[test]
fn a_swap_near_the_descriptor_limit_is_refused_and_serving_goes_on() {
    // The limit is the process's: lowered in a child of its own.
    let out = liveswap_tests::child_test("descriptor_limit_in_the_child")
        .env(FD_CHILD, "1")
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{said}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(said.contains("near the limit: refused, open "), "{said}");
    assert!(said.contains("after closing some: swapped"), "{said}");
}

#[test]
#[ignore = "run in a child process by a_swap_near_the_descriptor_limit_is_refused_and_serving_goes_on"]
fn descriptor_limit_in_the_child() {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    if std::env::var_os(FD_CHILD).is_none() {
        return;
    }
    let open = || fs::read_dir("/proc/self/fd").unwrap().count() as u64 - 1;
    let slot = Slot::<Greeter>::load(fixture("greeter-v1")).unwrap();
    let limit = open() + 64;
    let maximum = getrlimit(Resource::Nofile).maximum;
    setrlimit(
        Resource::Nofile,
        Rlimit {
            current: Some(limit),
            maximum,
        },
    )
    .unwrap();
    // Fill until 20 are left: fewer than a load keeps free.
    let mut held = Vec::new();
    while open() < limit - 20 {
        held.push(fs::File::open("/dev/null").unwrap());
    }
    match slot.swap(fixture("greeter-v2")) {
        Err(Error::DescriptorsExhausted { open, limit: l, .. }) => {
            println!("near the limit: refused, open {open} of {l}")
        }
        other => println!("near the limit: {other:?}"),
    }
    assert_eq!(slot.current().answer(1), 2, "the serving version answers");
    held.truncate(held.len().saturating_sub(40));
    match slot.swap(fixture("greeter-v2")) {
        Ok(_) => println!("after closing some: swapped"),
        Err(e) => println!("after closing some: {e}"),
    }
    assert_eq!(slot.current().answer(1), 3);
}
