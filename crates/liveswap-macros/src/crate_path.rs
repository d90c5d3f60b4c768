//! The path generated code uses to reach the library: `::liveswap`, or
//! what `crate = path` says (for a renamed dependency, as serde does).

use proc_macro2::TokenStream;
use quote::quote;

/// Parses the value of `crate = ...`: a path, bare or in a string.
pub fn parse(input: syn::parse::ParseStream) -> syn::Result<TokenStream> {
    if input.peek(syn::LitStr) {
        let lit: syn::LitStr = input.parse()?;
        let path: syn::Path = lit.parse()?;
        Ok(quote!(#path))
    } else {
        let path: syn::Path = input.parse()?;
        Ok(quote!(#path))
    }
}

/// The default, `::liveswap`.
pub fn default() -> TokenStream {
    quote!(::liveswap)
}
