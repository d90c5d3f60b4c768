//! An error that can cross the boundary: owned text, no vtable.

use crate::layout::{CrossSafe, Field, Kind, LayoutRef, TypeLayout};

/// An error as text: its message and the messages of its sources, outermost
/// first. `Box<dyn Error>`, `std::io::Error` and `anyhow::Error` cannot cross
/// a plugin boundary (their vtables and drop code live in the plugin); this
/// can, so `Result<T, RemoteError>` is the way to return a failure.
///
/// Any `std::error::Error` converts into it with `?` (the source chain is
/// kept as text). Like `anyhow::Error`, it does not implement
/// `std::error::Error` itself (that would conflict with the conversion),
/// but it converts into `Box<dyn Error + Send + Sync>`.
///
/// ```
/// use liveswap::RemoteError;
/// fn parse(text: &str) -> Result<u32, RemoteError> {
///     Ok(text.trim().parse::<u32>()?)
/// }
/// let e = parse("x").unwrap_err();
/// assert_eq!(e.message(), "invalid digit found in string");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteError {
    message: String,
    sources: Vec<String>,
}

impl RemoteError {
    /// An error with this message and no source.
    pub fn new(message: impl Into<String>) -> Self {
        RemoteError {
            message: message.into(),
            sources: Vec::new(),
        }
    }

    /// The error's message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Its sources' messages, outermost first.
    pub fn sources(&self) -> &[String] {
        &self.sources
    }
}

impl<E: std::error::Error> From<E> for RemoteError {
    fn from(error: E) -> Self {
        let mut sources = Vec::new();
        let mut next = error.source();
        while let Some(source) = next {
            sources.push(source.to_string());
            next = source.source();
        }
        RemoteError {
            message: error.to_string(),
            sources,
        }
    }
}

impl std::fmt::Display for RemoteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)?;
        for source in &self.sources {
            write!(f, ": {source}")?;
        }
        Ok(())
    }
}

/// The error, with its source chain flattened into its message.
#[derive(Debug)]
struct Flattened(String);

impl std::fmt::Display for Flattened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Flattened {}

impl From<RemoteError> for Box<dyn std::error::Error + Send + Sync> {
    fn from(error: RemoteError) -> Self {
        Box::new(Flattened(error.to_string()))
    }
}

// SAFETY: two owned fields of crossing types; the layout is measured.
unsafe impl CrossSafe for RemoteError {
    const LAYOUT: LayoutRef = LayoutRef::new(&TypeLayout {
        name: "liveswap::RemoteError",
        package: "liveswap",
        version: env!("CARGO_PKG_VERSION"),
        size: size_of::<Self>(),
        align: align_of::<Self>(),
        option_size: size_of::<Option<Self>>(),
        kind: Kind::Struct(&[
            Field {
                name: "message",
                offset: std::mem::offset_of!(RemoteError, message),
                ty: <String as CrossSafe>::LAYOUT,
            },
            Field {
                name: "sources",
                offset: std::mem::offset_of!(RemoteError, sources),
                ty: <Vec<String> as CrossSafe>::LAYOUT,
            },
        ]),
        walked: crate::layout::Walk::EXACT,
        args: &[],
    });
    fn __adopt(&self) {
        self.message.__adopt();
        self.sources.__adopt();
    }
}
