//! Detached minisign signatures: `<plugin>.minisig` beside the plugin,
//! verified (with the `minisign-verify` crate) over the exact bytes that
//! are then written to the private copy and mapped.
//!
//! The signature file is opened relative to the plugin's directory,
//! without following a link and without blocking (a FIFO planted under
//! its name cannot hold a swap), and must be a regular file of at most
//! 64 KiB that only root or this process's user can write (owner, mode
//! and ACL, the rule the plugin itself obeys).

use std::fmt;
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use rustix::fs::{Mode, OFlags};

use minisign_verify::{PublicKey, Signature};

use crate::error::{Error, SignatureProblem};

/// Largest `.minisig` file read; a real one is about 300 bytes.
const MAX_SIGNATURE_FILE: u64 = 64 * 1024;

/// A public key whose signatures a handle accepts (minisign format).
#[derive(Clone)]
pub struct TrustedKey {
    key: PublicKey,
    id: String,
}

impl fmt::Debug for TrustedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrustedKey").field("id", &self.id).finish()
    }
}

impl TrustedKey {
    /// A key from its base64 line (`RW...`, as `minisign -G` prints it), or
    /// from the whole text of a `minisign.pub` file.
    ///
    /// # Errors
    ///
    /// [`Error::BadKey`] when the text is not a minisign public key.
    pub fn from_text(text: &str) -> Result<Self, Error> {
        let bad = |reason: String| Error::BadKey {
            origin: "key text".into(),
            reason,
        };
        let line = text
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with("untrusted comment:"))
            .ok_or_else(|| bad("no key in it".into()))?;
        let key = PublicKey::from_base64(line).map_err(|e| bad(e.to_string()))?;
        let raw = base64_decode(line).ok_or_else(|| bad("invalid base64".into()))?;
        Ok(TrustedKey {
            key,
            id: key_id(&raw[2..10]),
        })
    }

    /// A key from a `minisign.pub` file.
    ///
    /// # Errors
    ///
    /// [`Error::BadKey`] naming the file when it cannot be read or holds no
    /// minisign public key.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref();
        let origin = path.display().to_string();
        let text = read_small(path).map_err(|e| Error::BadKey {
            origin: origin.clone(),
            reason: e.to_string(),
        })?;
        Self::from_text(&text).map_err(|e| match e {
            Error::BadKey { reason, .. } => Error::BadKey { origin, reason },
            other => other,
        })
    }

    /// The key's id, as minisign shows it (16 hex digits).
    pub fn id(&self) -> &str {
        &self.id
    }
}

/// Who signed an accepted plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signer {
    /// The id of the trusted key that verified the signature.
    pub key_id: String,
    /// The signature's trusted comment (signed with the file).
    pub trusted_comment: String,
}

impl Signer {
    /// The release number the trusted comment names, as a word
    /// `release:N` (or `release=N`) among its others: `minisign -S -m
    /// libplugin.so -t "release:42 rules"`. Signed with the file, so it
    /// cannot be changed without the key.
    pub fn release(&self) -> Option<u64> {
        release_in(&self.trusted_comment)
    }
}

/// The `release:N` word of a trusted comment.
pub(crate) fn release_in(comment: &str) -> Option<u64> {
    comment.split_whitespace().find_map(|word| {
        let n = word
            .strip_prefix("release:")
            .or_else(|| word.strip_prefix("release="))?;
        n.parse().ok()
    })
}

/// A signature file as read, before (or without) verification.
#[derive(Clone)]
pub struct SignatureFile {
    /// Where it was read from.
    pub path: PathBuf,
    /// The id of the key that made it.
    pub key_id: String,
    /// Its trusted comment (authentic only once verified).
    pub trusted_comment: String,
    signature: Signature,
}

impl fmt::Debug for SignatureFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignatureFile")
            .field("path", &self.path)
            .field("key_id", &self.key_id)
            .field("trusted_comment", &self.trusted_comment)
            .finish()
    }
}

/// Where the signature of `plugin` is looked for: `<plugin>.minisig`.
pub fn signature_path(plugin: &Path) -> PathBuf {
    let mut name = plugin.as_os_str().to_os_string();
    name.push(".minisig");
    PathBuf::from(name)
}

/// Reads and parses the signature beside `plugin`.
///
/// # Errors
///
/// [`Error::Signature`] with [`SignatureProblem::Missing`],
/// [`SignatureProblem::NotAFile`], [`SignatureProblem::Unsafe`] or
/// [`SignatureProblem::Malformed`].
pub fn read_signature(plugin: &Path) -> Result<SignatureFile, Error> {
    let path = signature_path(plugin);
    let error = |problem| Error::Signature {
        path: plugin.to_path_buf(),
        signature: path.clone(),
        problem,
    };
    let file = open_beside(plugin).map_err(|e| {
        error(match e {
            rustix::io::Errno::NOENT => SignatureProblem::Missing,
            rustix::io::Errno::LOOP => {
                SignatureProblem::NotAFile("it is a symbolic link, which is not followed".into())
            }
            e => SignatureProblem::Malformed(io::Error::from(e).to_string()),
        })
    })?;
    let stat =
        rustix::fs::fstat(&file).map_err(|e| error(SignatureProblem::Malformed(e.to_string())))?;
    if let Some(what) = crate::filekind::not_regular(stat.st_mode) {
        return Err(error(SignatureProblem::NotAFile(format!("it is {what}"))));
    }
    let size = u64::try_from(stat.st_size).unwrap_or(0);
    if size > MAX_SIGNATURE_FILE {
        return Err(error(SignatureProblem::NotAFile(format!(
            "it is {size} bytes, more than the {MAX_SIGNATURE_FILE} a signature may be"
        ))));
    }
    super::trust::check_opened(plugin, &path, &file).map_err(|e| match e {
        Error::UnsafePath {
            reason,
            owner,
            mode,
            ..
        } => error(SignatureProblem::Unsafe(format!(
            "owner uid {owner}, mode {mode:04o}: {reason}"
        ))),
        other => other,
    })?;
    let mut text = String::new();
    io::Read::take(&file, MAX_SIGNATURE_FILE)
        .read_to_string(&mut text)
        .map_err(|e| error(SignatureProblem::Malformed(e.to_string())))?;
    let signature =
        Signature::decode(&text).map_err(|e| error(SignatureProblem::Malformed(e.to_string())))?;
    let raw = text
        .lines()
        .nth(1)
        .and_then(|l| base64_decode(l.trim()))
        .filter(|raw| raw.len() >= 10)
        .ok_or_else(|| error(SignatureProblem::Malformed("invalid base64".into())))?;
    Ok(SignatureFile {
        path: path.clone(),
        key_id: key_id(&raw[2..10]),
        trusted_comment: signature.trusted_comment().to_string(),
        signature,
    })
}

/// Verifies the signature beside `plugin` over `bytes` with one of `keys`.
///
/// Costs one BLAKE2b-512 pass over `bytes` (minisign's prehash, about
/// 1 ms per MB) and one Ed25519 verification. A load does not call this:
/// it reads the signature first and digests the bytes in the same pass
/// that copies and hashes them (`Expected`).
///
/// # Errors
///
/// [`Error::Signature`]: missing, malformed, made by a key not in `keys`,
/// or not matching `bytes`.
pub fn verify(plugin: &Path, bytes: &[u8], keys: &[TrustedKey]) -> Result<Signer, Error> {
    let expected = Expected::read(plugin, keys)?;
    let result = expected
        .key
        .key
        .verify(bytes, &expected.file.signature, true);
    expected.outcome(result)
}

/// A signature read beside a plugin and matched to a trusted key, before
/// the bytes it signs are read: a load feeds those bytes to [`prehash`]
/// (a chunk at a time, in the pass that copies and hashes them) and hands
/// the result to [`finish`]. A legacy signature (not prehashed, from
/// minisign before 0.9) has no prehash: it is verified over the whole
/// bytes ([`finish_over`]).
///
/// [`prehash`]: Expected::prehash
/// [`finish`]: Expected::finish
/// [`finish_over`]: Expected::finish_over
pub(crate) struct Expected {
    plugin: PathBuf,
    file: SignatureFile,
    key: TrustedKey,
}

/// A signature's prehash, fed the signed bytes in order.
#[derive(Clone)]
pub(crate) struct Prehash<'a>(minisign_verify::StreamVerifier<'a>);

impl crate::load::store::Digest for Prehash<'_> {
    fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}

impl Expected {
    /// Reads the signature beside `plugin` and finds its key among `keys`.
    pub(crate) fn read(plugin: &Path, keys: &[TrustedKey]) -> Result<Self, Error> {
        let file = read_signature(plugin)?;
        let Some(key) = keys.iter().find(|k| k.id == file.key_id) else {
            return Err(Error::Signature {
                path: plugin.to_path_buf(),
                signature: file.path.clone(),
                problem: SignatureProblem::UnknownKey {
                    key_id: file.key_id.clone(),
                    trusted: keys.iter().map(|k| k.id.clone()).collect(),
                },
            });
        };
        Ok(Expected {
            plugin: plugin.to_path_buf(),
            key: key.clone(),
            file,
        })
    }

    /// A fresh prehash to feed the signed bytes to; `None` for a legacy
    /// signature.
    pub(crate) fn prehash(&self) -> Option<Prehash<'_>> {
        self.key
            .key
            .verify_stream(&self.file.signature)
            .ok()
            .map(Prehash)
    }

    /// The verdict on a prehash fed every signed byte.
    pub(crate) fn finish(&self, mut fed: Prehash<'_>) -> Result<Signer, Error> {
        let result = fed.0.finalize();
        self.outcome(result)
    }

    /// The verdict over the whole signed bytes (any signature, legacy
    /// ones included).
    pub(crate) fn finish_over(&self, bytes: &[u8]) -> Result<Signer, Error> {
        let result = self.key.key.verify(bytes, &self.file.signature, true);
        self.outcome(result)
    }

    fn outcome(&self, result: Result<(), minisign_verify::Error>) -> Result<Signer, Error> {
        result.map_err(|e| Error::Signature {
            path: self.plugin.clone(),
            signature: self.file.path.clone(),
            problem: match e {
                minisign_verify::Error::InvalidSignature => SignatureProblem::Invalid {
                    key_id: self.key.id.clone(),
                },
                other => SignatureProblem::Malformed(other.to_string()),
            },
        })?;
        Ok(Signer {
            key_id: self.key.id.clone(),
            trusted_comment: self.file.trusted_comment.clone(),
        })
    }
}

/// Opens `<plugin>.minisig` in the plugin's directory: the last
/// component is not followed if a link (`ELOOP`), and a FIFO or device
/// does not block the open.
fn open_beside(plugin: &Path) -> rustix::io::Result<fs::File> {
    let dir = match plugin.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let mut name = plugin
        .file_name()
        .ok_or(rustix::io::Errno::NOENT)?
        .to_os_string();
    name.push(".minisig");
    let dir = rustix::fs::open(
        dir,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let fd = rustix::fs::openat(
        &dir,
        name.as_os_str(),
        OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOFOLLOW | OFlags::NOCTTY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    Ok(fs::File::from(fd))
}

/// Reads a small text file (a public key) without blocking on a FIFO.
fn read_small(path: &Path) -> io::Result<String> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)?;
    if !file.metadata()?.is_file() {
        return Err(io::Error::other("not a regular file"));
    }
    let mut text = String::new();
    file.take(MAX_SIGNATURE_FILE).read_to_string(&mut text)?;
    Ok(text)
}

/// minisign shows a key id as the little-endian number its 8 bytes make.
fn key_id(bytes: &[u8]) -> String {
    let mut id = [0u8; 8];
    id.copy_from_slice(bytes);
    format!("{:016X}", u64::from_le_bytes(id))
}

/// Standard base64 with padding (the only form minisign writes).
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let text = text.trim_end_matches('=').as_bytes();
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0);
    for &c in text {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_release_is_a_word_of_the_trusted_comment() {
        assert_eq!(release_in("release:42 rules engine"), Some(42));
        assert_eq!(release_in("rules release=7"), Some(7));
        assert_eq!(release_in("prerelease:3"), None);
        assert_eq!(release_in("release:"), None);
        assert_eq!(release_in("release:-1 release:x"), None);
        assert_eq!(release_in("timestamp:1700000000 file:libplugin.so"), None);
    }

    /// minisign's own example: a legacy (not prehashed) signature of the
    /// four bytes `test`.
    const LEGACY_KEY: &str = "RWQf6LRCGA9i53mlYecO4IzT51TGPpvWucNSCh1CBM0QTaLn73Y7GFO3";
    const LEGACY_SIGNATURE: &str = "untrusted comment: signature from minisign secret key
RWQf6LRCGA9i59SLOFxz6NxvASXDJeRtuZykwQepbDEGt87ig1BNpWaVWuNrm73YiIiJbq71Wi+dP9eKL8OC351vwIasSSbXxwA=
trusted comment: timestamp:1555779966\tfile:test
QtKMXWyYcwdpZAlPF7tE2ENJkRd1ujvKjlj1m9RtHTBnZPa5WKU5uWRs5GoP5M/VqE81QFuMKI5k/SfNQUaOAA==
";

    #[test]
    fn a_legacy_signature_has_no_prehash_and_is_verified_over_the_whole_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let plugin = dir.path().join("test");
        std::fs::write(&plugin, "test").unwrap();
        std::fs::write(super::signature_path(&plugin), LEGACY_SIGNATURE).unwrap();
        let keys = [super::TrustedKey::from_text(LEGACY_KEY).unwrap()];
        let expected = super::Expected::read(&plugin, &keys).unwrap();
        assert!(expected.prehash().is_none());
        let signer = expected.finish_over(b"test").unwrap();
        assert_eq!(signer.trusted_comment, "timestamp:1555779966\tfile:test");
        assert!(expected.finish_over(b"tesT").is_err());
    }

    #[test]
    fn base64_decodes_what_minisign_writes() {
        assert_eq!(base64_decode("aGVsbG8=").unwrap(), b"hello");
        assert_eq!(base64_decode("aGk=").unwrap(), b"hi");
        assert!(base64_decode("a*b").is_none());
    }

    #[test]
    fn key_ids_read_like_minisigns() {
        // minisign's own example key: `minisign -V -P RWQf6LRCGA9i53mlYecO4IzT51TGPpvWucNSCh1CBM0QTaLn73Y7GFO3`
        let key = TrustedKey::from_text("RWQf6LRCGA9i53mlYecO4IzT51TGPpvWucNSCh1CBM0QTaLn73Y7GFO3")
            .unwrap();
        assert_eq!(key.id(), "E7620F1842B4E81F");
    }

    #[test]
    fn garbage_is_not_a_key() {
        assert!(matches!(
            TrustedKey::from_text("untrusted comment: x\nnot base64!"),
            Err(Error::BadKey { .. })
        ));
        assert!(matches!(
            TrustedKey::from_text(""),
            Err(Error::BadKey { .. })
        ));
    }
}
