//! `#[liveswap::interface]`: turns a trait into a plugin interface.
//!
//! - `parse.rs`: the attribute's arguments (`Args`) and each method's
//!   signature, checked (`check_method`, giving a `Method`);
//! - `validate.rs`: what may not cross, rejected with the reason
//!   (`TypeCheck`, `borrows`);
//! - `types.rs`: what a signature type becomes in generated code (its
//!   layout, its walk for adoption, whether it passes in registers);
//! - `shim.rs`: one method's vtable field, host method and plugin-side
//!   function, by its kind (`Shim`: direct, call or async);
//! - `expand.rs`: the generated vtable, host view, shims and impls.

mod expand;
mod parse;
mod shim;
mod types;
mod validate;

use proc_macro::TokenStream;
use proc_macro2::Span;
use syn::{ItemTrait, parse_macro_input};

use parse::Args;

/// The attribute's entry point.
pub fn interface(attr: TokenStream, item: TokenStream) -> TokenStream {
    let args = parse_macro_input!(attr as Args);
    let item = parse_macro_input!(item as ItemTrait);
    match expand::expand(args, item) {
        Ok(tokens) => tokens.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

pub(super) fn error(span: Span, msg: &str) -> syn::Error {
    syn::Error::new(span, format!("liveswap::interface: {msg}"))
}
