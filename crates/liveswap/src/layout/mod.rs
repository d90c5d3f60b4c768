//! Layouts of the types that cross the plugin boundary, and their check.
//!
//! Every type that crosses implements [`CrossSafe`], which carries a
//! [`LayoutRef`] to a `'static` [`TypeLayout`] (a pointer, so types may
//! refer to themselves and to each other): a description computed at compile time of what the
//! compiler made of the type (size, alignment, the size of `Option<T>`,
//! field names, offsets and types, variants and discriminants, generic
//! arguments, the defining crate's name and version).
//!
//! - `describe`: the description types and the trait;
//! - `std_impls`: the trait for scalars and the standard library's types;
//! - `table`: a whole interface's reachable types, deduplicated and
//!   flattened into pointer-free bytes, at compile time, for the plugin's
//!   descriptor section;
//! - `decode`: those bytes read back from an untrusted file;
//! - `compare`: host table against plugin table, with the first difference
//!   explained in one line.

mod compare;
mod decode;
mod describe;
pub(crate) mod std_impls;
mod table;

pub use compare::{compare_tables, equal_but_compatible_releases};
pub use decode::{DecodeError, FieldRef, Shape, Table, VariantRef};
pub use describe::{CrossSafe, Field, Kind, LayoutRef, MethodLayout, TypeLayout, Variant, Walk};
pub use table::{encode_table, encode_vec, table_len};

#[cfg(test)]
mod tests;
