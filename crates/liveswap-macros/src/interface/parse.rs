//! The attribute's arguments, and each method's signature checked.

use proc_macro2::{Span, TokenStream as TokenStream2};
use syn::spanned::Spanned;
use syn::visit::Visit;
use syn::{FnArg, Ident, LitInt, LitStr, ReturnType, Token, TraitItemFn, Type};

use super::error;
use super::types::is_scalar;
use super::validate::{TypeCheck, borrows};

pub(super) struct Args {
    pub(super) version: u32,
    pub(super) name: Option<LitStr>,
    pub(super) krate: TokenStream2,
}

impl syn::parse::Parse for Args {
    fn parse(input: syn::parse::ParseStream) -> syn::Result<Self> {
        let mut version = None;
        let mut name = None;
        let mut krate = crate::crate_path::default();
        while !input.is_empty() {
            let key: Ident = if input.peek(Token![crate]) {
                let token: Token![crate] = input.parse()?;
                Ident::new("crate", token.span)
            } else {
                input.parse()?
            };
            input.parse::<Token![=]>()?;
            match key.to_string().as_str() {
                "version" => version = Some(input.parse::<LitInt>()?.base10_parse::<u32>()?),
                "name" => name = Some(input.parse::<LitStr>()?),
                "crate" => krate = crate::crate_path::parse(input)?,
                _ => {
                    return Err(syn::Error::new(
                        key.span(),
                        "unknown argument: expected `version = N`, `name = \"...\"` or \
                         `crate = path`",
                    ));
                }
            }
            if !input.is_empty() {
                input.parse::<Token![,]>()?;
            }
        }
        let version = version.ok_or_else(|| {
            syn::Error::new(
                Span::call_site(),
                "missing `version = N`: #[liveswap::interface(version = 1)]",
            )
        })?;
        Ok(Args {
            version,
            name,
            krate,
        })
    }
}

/// How a method's shim passes its values: each kind has its vtable field
/// type, host method and plugin-side function (`shim.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Shim {
    /// Scalars only (integers, floats, `bool`, `char`, `()`): taken and
    /// returned by value, in registers.
    Direct,
    /// Arguments moved in as a tuple, the result written to a slot.
    Call,
    /// As `Call`, the result being the method's future, boxed.
    Async,
}

/// One checked method of the interface.
pub(super) struct Method<'a> {
    pub(super) item: &'a TraitItemFn,
    pub(super) arg_types: Vec<Type>,
    /// Each argument's name as declared, `_` for a pattern.
    pub(super) arg_idents: Vec<String>,
    pub(super) ret: Type,
    /// An `async fn`: the shim returns a future of `ret`.
    pub(super) is_async: bool,
}

impl Method<'_> {
    /// How its shim passes values.
    pub(super) fn shim(&self) -> Shim {
        if self.is_async {
            Shim::Async
        } else if self.arg_types.iter().all(is_scalar) && is_scalar(&self.ret) {
            Shim::Direct
        } else {
            Shim::Call
        }
    }
}

pub(super) fn check_method(item: &TraitItemFn) -> syn::Result<Method<'_>> {
    let sig = &item.sig;
    let is_async = sig.asyncness.is_some();
    if let Some(attr) = item
        .attrs
        .iter()
        .find(|a| a.path().is_ident("cfg") || a.path().is_ident("cfg_attr"))
    {
        return Err(error(
            attr.span(),
            "a method of an interface cannot be under `#[cfg]`: a host and a plugin built with \
             other features would disagree on the methods, and the interface's version would \
             not say so. Declare the method always (it may return an error where the feature \
             is off), or move it to an interface of its own",
        ));
    }
    if is_async && item.default.is_some() {
        return Err(error(
            item.span(),
            "an `async fn` of an interface has no default body: implement it in the plugin",
        ));
    }
    if !sig.generics.params.is_empty()
        && sig
            .generics
            .params
            .iter()
            .all(|p| matches!(p, syn::GenericParam::Lifetime(_)))
    {
        return Err(error(
            sig.generics.span(),
            "named lifetimes are not needed in an interface: a returned reference borrows from \
             `&self` by elision (`fn name(&self) -> &str`), and argument references live for \
             the call",
        ));
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        return Err(error(
            sig.generics.span(),
            "generic methods cannot cross a plugin boundary: the plugin is compiled before the \
             host picks the types. Use concrete types (lifetimes are implied by `&self`)",
        ));
    }
    if let Some(u) = &sig.unsafety {
        return Err(error(
            u.span(),
            "`unsafe fn` is not supported in an interface",
        ));
    }
    if let Some(abi) = &sig.abi {
        return Err(error(
            abi.span(),
            "an interface method has no ABI of its own; remove `extern`",
        ));
    }
    if let Some(v) = &sig.variadic {
        return Err(error(v.span(), "variadic methods are not supported"));
    }
    match sig.inputs.first() {
        Some(FnArg::Receiver(r))
            if r.reference.as_ref().is_some_and(|(_, lt)| lt.is_none())
                && r.mutability.is_none()
                && r.colon_token.is_none() => {}
        _ => {
            return Err(error(
                sig.span(),
                "interface methods take `&self`: the instance is shared by every caller (no \
                 `self`, `&mut self`, `self: Box<Self>` or associated functions)",
            ));
        }
    }
    let mut arg_types = Vec::new();
    let mut arg_idents = Vec::new();
    for input in sig.inputs.iter().skip(1) {
        let FnArg::Typed(pat) = input else {
            unreachable!("only the first input can be a receiver")
        };
        let mut check = TypeCheck::argument();
        check.visit_type(&pat.ty);
        check.result()?;
        if is_async && borrows(&pat.ty) {
            return Err(error(
                pat.ty.span(),
                "an `async fn` of an interface takes its arguments by value: a borrowed \
                 argument would have to outlive the call, for as long as the future runs",
            ));
        }
        arg_types.push((*pat.ty).clone());
        arg_idents.push(match &*pat.pat {
            syn::Pat::Ident(p) => p.ident.to_string(),
            _ => "_".to_string(),
        });
    }
    let ret = match &sig.output {
        ReturnType::Default => syn::parse_quote!(()),
        ReturnType::Type(_, ty) => {
            let mut check = TypeCheck::returned();
            check.visit_type(ty);
            check.result()?;
            if is_async && borrows(ty) {
                return Err(error(
                    ty.span(),
                    "an `async fn` of an interface returns an owned value",
                ));
            }
            (**ty).clone()
        }
    };
    Ok(Method {
        item,
        arg_types,
        arg_idents,
        ret,
        is_async,
    })
}
