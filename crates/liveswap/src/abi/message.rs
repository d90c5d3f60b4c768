//! [`Message`]: a panic's or an error's text, as the host collects it from
//! a plugin (a leaf: the error types name it).

/// What a [`MessageSink`](super::host::MessageSink) collected.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Message {
    /// The panic's or error's text.
    pub message: String,
    /// `file:line:column` of a panic, when known.
    pub location: Option<String>,
}
