//! Every kind of bad input a test can produce is refused with a typed error
//! that names the path, while the current version keeps serving and nothing
//! of the rejected file stays mapped or on disk.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use hotswap::{Error, HotSwap};
use hotswap_tests::{
    Greeter, files_in, fixture, install_bytes, mapped_under, marker_path, patched, with_descriptor,
};

struct Serving {
    hs: HotSwap<Greeter>,
    dir: tempfile::TempDir,
}

fn serving() -> Serving {
    Serving {
        hs: HotSwap::<Greeter>::load(fixture("greeter-v1")).unwrap(),
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
        let mapped = mapped_under(self.hs.copy_dir());
        let copies = files_in(self.hs.copy_dir());
        let err = self.hs.swap(path).expect_err("the swap must be refused");
        assert!(
            err.to_string().contains(&path.display().to_string()),
            "the message names the path: {err}"
        );
        assert_eq!(self.hs.current().answer(1), 2, "generation 1 keeps serving");
        assert_eq!(self.hs.generation(), 1);
        assert_eq!(
            mapped_under(self.hs.copy_dir()),
            mapped,
            "nothing new mapped"
        );
        assert_eq!(files_in(self.hs.copy_dir()), copies, "no copy left behind");
        err
    }
}

fn mismatch_field(err: &Error) -> &'static str {
    match err {
        Error::DescriptorMismatch { field, .. } => field,
        other => panic!("expected a descriptor mismatch, got {other:?}"),
    }
}

#[test]
fn a_missing_path_is_not_found() {
    let s = serving();
    let err = s.refuse(&s.dir.path().join("nope.so"));
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
}

#[test]
fn a_directory_is_not_a_file() {
    let s = serving();
    let err = s.refuse(s.dir.path());
    assert!(
        matches!(
            err,
            Error::NotAFile {
                what: "a directory",
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn a_symlink_loop_is_unreadable() {
    let s = serving();
    let a = s.dir.path().join("a.so");
    let b = s.dir.path().join("b.so");
    symlink(&b, &a).unwrap();
    symlink(&a, &b).unwrap();
    let err = s.refuse(&a);
    assert!(matches!(err, Error::Unreadable { .. }), "{err:?}");
}

#[test]
fn a_text_file_is_not_a_shared_object() {
    let s = serving();
    let err = s.refuse(&s.file("notes.so", b"this is not a plugin\n"));
    assert!(matches!(err, Error::NotSharedObject { .. }), "{err:?}");
}

#[test]
fn a_truncated_plugin_is_refused() {
    let s = serving();
    let bytes = fs::read(fixture("greeter-v2")).unwrap();
    for cut in [0, 64, 4096, bytes.len() / 2, bytes.len() - 1] {
        let err = s.refuse(&s.file(&format!("cut-{cut}.so"), &bytes[..cut]));
        assert!(
            matches!(
                err,
                Error::NotSharedObject { .. } | Error::NoDescriptor { .. }
            ),
            "cut at {cut}: {err:?}"
        );
    }
}

#[test]
fn an_elf_file_for_another_architecture_is_refused() {
    use object::write::Object;
    use object::{Architecture, BinaryFormat, Endianness};
    let s = serving();
    let elf = Object::new(BinaryFormat::Elf, Architecture::Aarch64, Endianness::Little)
        .write()
        .unwrap();
    let err = s.refuse(&s.file("arm64.so", &elf));
    match err {
        Error::WrongArchitecture {
            expected, found, ..
        } => {
            assert_eq!((expected.as_str(), found.as_str()), ("X86_64", "Aarch64"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_shared_library_that_is_not_a_plugin_has_no_descriptor() {
    let s = serving();
    let err = s.refuse(&fixture("not-a-plugin"));
    assert!(matches!(err, Error::NoDescriptor { .. }), "{err:?}");
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
fn each_descriptor_field_is_checked_and_named() {
    let s = serving();
    type Edit = fn(&mut [u8]);
    let cases: [(&str, Edit); 7] = [
        ("magic", |d| d[0] = b'X'),
        ("descriptor version", |d| {
            d[8..12].copy_from_slice(&99u32.to_ne_bytes())
        }),
        ("interface version", |d| {
            d[16..20].copy_from_slice(&7u32.to_ne_bytes())
        }),
        ("interface fingerprint", |d| d[32] ^= 0xff),
        ("rustc version", |d| d[40 + 6] = b'0'),
        ("target", |d| d[104] = b'a'),
        ("hotswap version", |d| d[168] = b'9'),
    ];
    for (field, edit) in cases {
        let bytes = with_descriptor("greeter-v2", edit);
        let err = s.refuse(&s.file(&format!("{}.so", field.replace(' ', "-")), &bytes));
        assert_eq!(mismatch_field(&err), field, "{err}");
    }
}

#[test]
fn a_plugin_the_loader_cannot_link_reports_the_loader_message() {
    let s = serving();
    let bytes = patched("greeter-v2", b"libc.so.6\0", b"libc.so.9\0");
    let err = s.refuse(&s.file("badlink.so", &bytes));
    match err {
        Error::Dlopen { message, .. } => assert!(message.contains("libc.so.9"), "{message}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_plugin_without_its_entry_symbol_is_refused() {
    let s = serving();
    let bytes = patched("greeter-v2", b"hotswap_entry\0", b"hotswap_entrx\0");
    let err = s.refuse(&s.file("noentry.so", &bytes));
    assert!(
        matches!(
            err,
            Error::EntryMissing {
                symbol: "hotswap_entry",
                ..
            }
        ),
        "{err:?}"
    );
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

#[test]
fn an_unwritable_copy_directory_is_a_copy_error_and_is_repaired_later() {
    let s = serving();
    let dir = s.hs.copy_dir().to_path_buf();
    let saved = tempfile::tempdir().unwrap();
    // Move the private directory away and put a file in its place.
    let moved = saved.path().join("moved");
    fs::rename(&dir, &moved).unwrap();
    fs::write(&dir, b"in the way").unwrap();

    let err = s.hs.swap(fixture("greeter-v2")).unwrap_err();
    assert!(matches!(err, Error::Copy { .. }), "{err:?}");
    assert!(err.to_string().contains("greeter_v2"), "{err}");
    assert_eq!(s.hs.current().answer(1), 2);

    // Once the obstacle is gone, the next swap makes the directory again.
    fs::remove_file(&dir).unwrap();
    s.hs.swap(fixture("greeter-v2")).unwrap();
    assert_eq!(s.hs.current().answer(1), 3);
}
