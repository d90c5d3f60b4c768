//! An event's or a span's fields rendered as text, for the host's log.

use std::fmt::Write as _;

use tracing::field::{Field, Visit};

/// An event's or a span's values as text: the message, and the other
/// fields as ` name=value`.
#[derive(Default)]
pub(crate) struct Rendered {
    pub(crate) message: String,
    pub(crate) fields: String,
}

impl Rendered {
    /// Every value as fields (a span's: `message` is an ordinary field).
    pub(crate) fn all(self) -> String {
        if self.message.is_empty() {
            self.fields
        } else {
            format!(" message={:?}{}", self.message, self.fields)
        }
    }
}

impl Visit for Rendered {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            let _ = write!(self.fields, " {}={value:?}", field.name());
        }
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            let _ = write!(self.fields, " {}={value:?}", field.name());
        }
    }
}
