//! Encoding a plugin's warm-start state (feature `state`): serde and
//! postcard, a compact binary format that is not self-describing, so a
//! snapshot is read with the type it was written with. Keep one type per
//! [`WarmStart::SCHEMA`](crate::WarmStart::SCHEMA), and migrate in
//! [`WarmStart::restore`](crate::WarmStart::restore):
//!
//! ```
//! use serde::{Deserialize, Serialize};
//! use liveswap::{RemoteError, Snapshot, state};
//!
//! #[derive(Serialize, Deserialize)]
//! struct V1 { hits: u64 }
//! #[derive(Serialize, Deserialize, Debug, PartialEq)]
//! struct V2 { hits: u64, misses: u64 }
//!
//! fn restore(prior: Snapshot<'_>) -> Result<V2, RemoteError> {
//!     match prior.schema {
//!         1 => { let v1: V1 = state::decode(prior.bytes)?; Ok(V2 { hits: v1.hits, misses: 0 }) }
//!         2 => state::decode(prior.bytes),
//!         n => Err(RemoteError::new(format!("unknown state schema {n}"))),
//!     }
//! }
//! let bytes = state::encode(&V1 { hits: 7 })?;
//! assert_eq!(restore(Snapshot { schema: 1, bytes: &bytes })?, V2 { hits: 7, misses: 0 });
//! assert!(state::decode::<V2>(&[0xff]).is_err());
//! # Ok::<(), RemoteError>(())
//! ```
//!
//! Costs: about a memory copy for byte blobs (`Vec<u8>` fields, see
//! `serde_bytes`-style fields), and a varint per integer; measured in
//! BENCHMARKS.md (`state`).

use crate::remote_error::RemoteError;

/// Serializes `value` with postcard.
///
/// # Errors
///
/// What serde reports (a type that cannot be serialized).
pub fn encode<T: serde::Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, RemoteError> {
    postcard::to_allocvec(value).map_err(|e| RemoteError::new(format!("encoding state: {e}")))
}

/// Deserializes a `T` from `bytes`, all of which must be used.
///
/// # Errors
///
/// Bytes that are not a `T` (truncated, garbage, or trailing data).
pub fn decode<'a, T: serde::Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, RemoteError> {
    let (value, rest) = postcard::take_from_bytes(bytes)
        .map_err(|e| RemoteError::new(format!("decoding state: {e}")))?;
    if !rest.is_empty() {
        return Err(RemoteError::new(format!(
            "decoding state: {} bytes left over",
            rest.len()
        )));
    }
    Ok(value)
}
