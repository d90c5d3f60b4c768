//! `#[liveswap::interface]` and `#[derive(liveswap::CrossSafe)]`.
//!
//! Use them through the `liveswap` crate, which re-exports and documents
//! them in full. This crate only generates code:
//!
//! - `interface`: parses and validates an interface trait, and expands it
//!   into the vtable, the host's view, the method layouts and the
//!   plugin-side shims;
//! - `derive`: the layout description of a struct or enum;
//! - `crate_path`: which path the generated code uses for the library.

use proc_macro::TokenStream;

mod crate_path;
mod derive;
mod interface;

/// See `liveswap::interface`.
#[proc_macro_attribute]
pub fn interface(attr: TokenStream, item: TokenStream) -> TokenStream {
    interface::interface(attr, item)
}

/// See `liveswap::CrossSafe`.
#[proc_macro_derive(CrossSafe, attributes(liveswap))]
pub fn derive_cross_safe(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    match derive::expand(input) {
        Ok(tokens) => tokens.into(),
        Err(e) => e.to_compile_error().into(),
    }
}
