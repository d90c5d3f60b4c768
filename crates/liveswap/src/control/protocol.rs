//! The control protocol: one JSON object per line each way, one reply per
//! request, versioned by `"v"`.
//!
//! ```text
//! > {"v":1,"cmd":"status","slot":"handles"}
//! < {"v":1,"ok":true,"result":{"slot":"handles","interface":"...","current":3,...}}
//! > {"v":1,"cmd":"swap","slot":"handles","path":"/srv/plugins/libh.so"}
//! < {"v":1,"ok":false,"error":{"kind":"refused","message":"plugin /srv/...: ..."}}
//! ```
//!
//! `slot` may be left out when the process has one slot. Commands:
//! `status`, `history`, `swap` (`path`), `rollback`, `inspect` (`path`),
//! `slots`. `status` gives each generation's `heap` (bytes `allocated`,
//! `freed`, `handed_to_host`, `live`, `reclaimed`, `left`, and
//! `reclaim_off`, why it is not reclaimed). `history` replies with the slot's last attempts, oldest first:
//! `{"attempts":[{"at_unix","trigger","source","content_hash","signer",
//! "outcome","generation","previous","state_schema","restored_from","error",
//! "steps_ms":{...}}]}`; a swap
//! or rollback asked for here is recorded with trigger `control`. Error kinds: `refused` (the process said no: a swap or rollback
//! refused, an inspection that would be refused), `bad_request` (malformed
//! JSON, unknown command, missing field, line too long, another protocol
//! version), `no_such_slot`.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The protocol version this library speaks.
pub const VERSION: u64 = 1;

/// A request, as parsed from one line.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Request {
    /// Protocol version; must be [`VERSION`].
    pub v: u64,
    /// The command.
    pub cmd: String,
    /// Which slot; optional when the process has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slot: Option<String>,
    /// The plugin path, for `swap` and `inspect`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// For `rollback`: without carrying the serving version's state.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cold: bool,
}

/// Kinds of error reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The process refused (a swap, a rollback, an inspection's verdict).
    Refused,
    /// The request could not be understood.
    BadRequest,
    /// No slot of that name.
    NoSuchSlot,
}

impl ErrorKind {
    fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Refused => "refused",
            ErrorKind::BadRequest => "bad_request",
            ErrorKind::NoSuchSlot => "no_such_slot",
        }
    }
}

/// A success reply line (without the newline).
pub fn ok(result: Value) -> String {
    json!({"v": VERSION, "ok": true, "result": result}).to_string()
}

/// An error reply line (without the newline).
pub fn error(kind: ErrorKind, message: impl Into<String>) -> String {
    let message: String = message.into();
    json!({"v": VERSION, "ok": false, "error": {"kind": kind.as_str(), "message": message}})
        .to_string()
}

/// Parses a request line.
///
/// # Errors
///
/// An error reply line for malformed JSON or another protocol version.
pub fn parse(line: &[u8]) -> Result<Request, String> {
    let request: Request = serde_json::from_slice(line)
        .map_err(|e| error(ErrorKind::BadRequest, format!("malformed request: {e}")))?;
    if request.v != VERSION {
        return Err(error(
            ErrorKind::BadRequest,
            format!(
                "protocol version {} is not spoken here (this process speaks {VERSION})",
                request.v
            ),
        ));
    }
    Ok(request)
}
