//! The control protocol: one JSON object per line each way, one reply per
//! request, versioned by `"v"`. The server and `liveswapctl` share these
//! types: [`Request`], [`Reply`] and each command's result
//! ([`StatusReply`], [`HistoryReply`], [`SwapReply`], [`InspectReply`],
//! [`SlotsReply`]).
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
use serde_json::Value;

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

impl Request {
    /// A request for `cmd`, in this library's protocol version, to the
    /// process's only slot (set `slot` to name one).
    pub fn new(cmd: impl Into<String>) -> Self {
        Request {
            v: VERSION,
            cmd: cmd.into(),
            slot: None,
            path: None,
            cold: false,
        }
    }
}

/// A reply line: the result of a command, or why it failed.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Reply {
    /// Protocol version.
    pub v: u64,
    /// Whether the command succeeded.
    pub ok: bool,
    /// Its result, when it succeeded: one of the `*Reply` types below,
    /// by command.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    /// Why it failed, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorReply>,
}

/// What a failed command replies.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct ErrorReply {
    /// `refused`, `bad_request` or `no_such_slot`.
    pub kind: String,
    /// For a person.
    pub message: String,
}

/// The `status` result: a slot's generations.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct StatusReply {
    /// The slot's name.
    pub slot: String,
    /// Its interface.
    pub interface: String,
    /// The serving generation.
    pub current: u64,
    /// Generations loaded now (serving, draining or pinned).
    pub live: usize,
    /// Replaced generations still in use.
    pub draining: usize,
    /// Generations that could not be unloaded.
    pub pinned: usize,
    /// Generations unloaded (of those still listed).
    pub unloaded: usize,
    /// Plugin libraries loaded by this process since it started.
    pub loaded_in_process: u64,
    /// Plugin libraries mapped in this process now.
    pub mapped_in_process: u64,
    /// Few pthread keys left.
    pub near_generation_limit: bool,
    /// pthread keys free, when the key table is readable.
    pub free_pthread_keys: Option<usize>,
    /// Each generation listed, oldest first.
    pub generations: Vec<GenerationStatus>,
}

/// One generation in a [`StatusReply`].
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct GenerationStatus {
    /// Its number.
    pub generation: u64,
    /// The path it was loaded from.
    pub source: String,
    /// When, in seconds since the Unix epoch.
    pub loaded_at_unix: f64,
    /// `current`, `draining`, `pinned` or `unloaded`.
    pub state: String,
    /// What pins it, when pinned.
    pub reason: Option<String>,
    /// The schema of its warm-start state.
    pub state_schema: Option<u32>,
    /// The schema of the snapshot it was restored from.
    pub restored_from: Option<u32>,
    /// What its code allocated, and what was taken back at its unload.
    pub heap: crate::stats::HeapReport,
}

/// The `history` result: the slot's last attempts, oldest first.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct HistoryReply {
    /// The slot's name.
    pub slot: String,
    /// Its interface.
    pub interface: String,
    /// The attempts.
    pub attempts: Vec<AttemptRecord>,
}

/// One attempt in a [`HistoryReply`] (see [`Attempt`](crate::history::Attempt)).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct AttemptRecord {
    /// When, in seconds since the Unix epoch.
    pub at_unix: f64,
    /// What asked for it (`api`, `watch`, `control`, ...).
    pub trigger: String,
    /// `load`, `swap` or `rollback`.
    pub kind: String,
    /// The path.
    pub source: String,
    /// BLAKE3 of its bytes, once read.
    pub content_hash: Option<String>,
    /// The key id that signed it.
    pub signer: Option<String>,
    /// `published`, `refused`, ...
    pub outcome: String,
    /// The generation published.
    pub generation: Option<u64>,
    /// The one it replaced.
    pub previous: Option<u64>,
    /// Its state schema.
    pub state_schema: Option<u32>,
    /// The schema it was restored from.
    pub restored_from: Option<u32>,
    /// Why it was refused.
    pub error: Option<String>,
    /// Each step's time.
    pub steps_ms: StepsMs,
}

/// The steps of an attempt, in milliseconds.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct StepsMs {
    /// Copying the file.
    pub copy: f64,
    /// The handshake and checks.
    pub check: f64,
    /// The isolated preflight.
    pub isolated_preflight: f64,
    /// `dlopen` and the constructor.
    pub load: f64,
    /// The in-process preflight.
    pub preflight: f64,
    /// Publishing.
    pub publish: f64,
    /// All of it.
    pub total: f64,
}

/// The `swap` and `rollback` result.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct SwapReply {
    /// The generation now serving.
    pub generation: u64,
    /// The one it replaced.
    pub previous: u64,
    /// The path it was loaded from.
    pub source: String,
    /// The swap's time.
    pub total_ms: f64,
    /// What the checks warned of.
    pub warnings: Vec<String>,
}

/// The `inspect` result of a file the host would accept.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct InspectReply {
    /// The file.
    pub path: String,
    /// Always true: a refusal is an error reply.
    pub accepted: bool,
    /// What the checks warned of.
    pub warnings: Vec<String>,
}

/// The `slots` result.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct SlotsReply {
    /// Each slot the process serves.
    pub slots: Vec<SlotEntry>,
}

/// One slot in a [`SlotsReply`].
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct SlotEntry {
    /// Its name.
    pub slot: String,
    /// Its interface.
    pub interface: String,
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

/// A success reply line (without the newline) carrying `result`.
pub fn ok(result: &impl Serialize) -> String {
    match serde_json::to_value(result) {
        Ok(result) => line(&Reply {
            v: VERSION,
            ok: true,
            result: Some(result),
            error: None,
        }),
        Err(e) => error(
            ErrorKind::Refused,
            format!("the reply could not be encoded: {e}"),
        ),
    }
}

/// An error reply line (without the newline).
pub fn error(kind: ErrorKind, message: impl Into<String>) -> String {
    line(&Reply {
        v: VERSION,
        ok: false,
        result: None,
        error: Some(ErrorReply {
            kind: kind.as_str().into(),
            message: message.into(),
        }),
    })
}

fn line(reply: &Reply) -> String {
    // A struct of strings, numbers and JSON values: it always encodes.
    serde_json::to_string(reply).unwrap_or_default()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reply_line_reads_back_as_the_typed_result_a_client_renders() {
        let sent = SwapReply {
            generation: 3,
            previous: 2,
            source: "/srv/plugins/libh.so".into(),
            total_ms: 0.64,
            warnings: vec!["imports pthread_create".into()],
        };
        let reply: Reply = serde_json::from_str(&ok(&sent)).unwrap();
        assert!(reply.ok && reply.error.is_none());
        let got: SwapReply = serde_json::from_value(reply.result.unwrap()).unwrap();
        assert_eq!(got, sent);
    }

    #[test]
    fn an_error_reply_names_its_kind_and_a_request_speaks_this_version() {
        let reply: Reply =
            serde_json::from_str(&error(ErrorKind::NoSuchSlot, "no slot named \"x\"")).unwrap();
        assert_eq!(
            reply.error,
            Some(ErrorReply {
                kind: "no_such_slot".into(),
                message: "no slot named \"x\"".into()
            })
        );
        let line = serde_json::to_string(&Request::new("status")).unwrap();
        assert_eq!(parse(line.as_bytes()).unwrap(), Request::new("status"));
    }
}
