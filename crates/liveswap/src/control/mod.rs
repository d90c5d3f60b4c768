//! Operating a running process from outside (feature `control`): a Unix
//! socket that answers `status`, `history`, `swap`, `rollback` and
//! `inspect` for the slots it is given, one JSON object per line.
//!
//! - `protocol`: the request and reply lines, as types;
//! - `handler`: a request and the asker's rights in, a reply line out
//!   (no I/O);
//! - `server`: the socket, its directory's permissions, peer checks
//!   (`SO_PEERCRED`: root, this process's effective user, and an
//!   allow-list), one thread per client, line-length and idle limits.
//!
//! Nothing of it runs unless [`ControlServer::start`] is called: without
//! the feature, or without a server, the read path is untouched.

mod admission;
mod handler;
mod peer;
pub mod protocol;
mod server;

pub use server::{ControlError, ControlOptions, ControlServer};
