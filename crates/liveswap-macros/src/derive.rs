//! `#[derive(CrossSafe)]`: the layout description of a struct or an enum.
//!
//! Everything the description says is measured by the compiler in the
//! deriving crate (`size_of`, `align_of`, `offset_of!`) or taken from the
//! type's own definition site (`module_path!()`, the crate's name and
//! version), never from tokens as a user wrote them elsewhere. A field
//! under `#[cfg]` is described only when compiled in.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::visit::Visit;
use syn::visit_mut::VisitMut;
use syn::{Data, DeriveInput, Fields, GenericParam, Ident, Type};

fn error(span: Span, msg: &str) -> syn::Error {
    syn::Error::new(span, format!("liveswap::CrossSafe: {msg}"))
}

/// `#[liveswap(crate = path)]` on the type.
fn crate_path(input: &DeriveInput) -> syn::Result<TokenStream> {
    let mut path = crate::crate_path::default();
    for attr in &input.attrs {
        if attr.path().is_ident("liveswap") {
            attr.parse_nested_meta(|meta| {
                if meta.path.is_ident("crate") {
                    path = crate::crate_path::parse(meta.value()?)?;
                    Ok(())
                } else {
                    Err(meta.error("unknown argument: expected `crate = path`"))
                }
            })?;
        }
    }
    Ok(path)
}

/// The `repr` attributes, as written (`"Rust"` when there are none).
fn repr(input: &DeriveInput) -> String {
    let reprs: Vec<String> = input
        .attrs
        .iter()
        .filter(|a| a.path().is_ident("repr"))
        .filter_map(|a| a.meta.require_list().ok())
        .map(|l| l.tokens.to_string().replace(' ', ""))
        .collect();
    if reprs.is_empty() {
        "Rust".into()
    } else {
        reprs.join(",")
    }
}

/// Whether `ty` names the deriving type itself: `Self`, or its bare name
/// (one segment, no arguments). A longer path (`other::Tree`) names
/// another type and must be `CrossSafe` on its own.
fn is_self(ty: &syn::TypePath, ident: &Ident) -> bool {
    ty.qself.is_none()
        && ty.path.leading_colon.is_none()
        && ty.path.segments.len() == 1
        && ty.path.segments[0].arguments.is_none()
        && (ty.path.segments[0].ident == *ident || ty.path.segments[0].ident == "Self")
}

/// Whether a type mentions the deriving type (a recursive type).
struct Mentions<'a> {
    ident: &'a Ident,
    found: bool,
}

impl Visit<'_> for Mentions<'_> {
    fn visit_type_path(&mut self, ty: &syn::TypePath) {
        if is_self(ty, self.ident) {
            self.found = true;
        }
        syn::visit::visit_type_path(self, ty);
    }
}

/// Replaces the deriving type by its by-name marker inside a field type.
struct ByName<'a> {
    ident: &'a Ident,
    marker: &'a Ident,
}

impl VisitMut for ByName<'_> {
    fn visit_type_path_mut(&mut self, ty: &mut syn::TypePath) {
        let last = ty.path.segments.last().map(|s| s.ident.clone());
        if ty.qself.is_none()
            && last.is_some_and(|l| l == *self.ident || l == "Self")
            && ty
                .path
                .segments
                .last()
                .is_some_and(|s| s.arguments.is_none())
        {
            let marker = self.marker;
            *ty = syn::parse_quote!(#marker);
            return;
        }
        syn::visit_mut::visit_type_path_mut(self, ty);
    }
}

struct Ctx<'a> {
    krate: &'a TokenStream,
    ident: &'a Ident,
    marker: Ident,
    recursive: bool,
    generic: bool,
}

impl Ctx<'_> {
    /// The layout expression for a field's type: the type's own, or, if
    /// the type contains the deriving type, the same with that inner
    /// occurrence described by name.
    fn field_layout(&mut self, ty: &Type) -> syn::Result<TokenStream> {
        let krate = self.krate;
        let mut mentions = Mentions {
            ident: self.ident,
            found: false,
        };
        mentions.visit_type(ty);
        let mut ty = ty.clone();
        if mentions.found {
            if self.generic {
                return Err(error(
                    ty.span(),
                    "a generic type that contains itself is not supported",
                ));
            }
            self.recursive = true;
            ByName {
                ident: self.ident,
                marker: &self.marker,
            }
            .visit_type_mut(&mut ty);
        }
        Ok(quote_spanned!(ty.span()=> <#ty as #krate::CrossSafe>::LAYOUT))
    }

    fn fields(&mut self, fields: &Fields, measured: bool) -> syn::Result<TokenStream> {
        let krate = self.krate.clone();
        let mut out = Vec::new();
        for (i, field) in fields.iter().enumerate() {
            let cfgs = field.attrs.iter().filter(|a| a.path().is_ident("cfg"));
            let name = field
                .ident
                .as_ref()
                .map_or_else(|| i.to_string(), ToString::to_string);
            let member: syn::Member = match &field.ident {
                Some(ident) => syn::Member::Named(ident.clone()),
                None => syn::Member::Unnamed(syn::Index::from(i)),
            };
            let offset = if measured {
                quote!(::core::mem::offset_of!(Self, #member))
            } else {
                quote!(#krate::layout::Field::UNKNOWN_OFFSET)
            };
            let layout = self.field_layout(&field.ty)?;
            out.push(quote! {
                #(#cfgs)*
                #krate::layout::Field { name: #name, offset: #offset, ty: #layout }
            });
        }
        Ok(quote!(&[#(#out),*]))
    }
}

pub fn expand(input: DeriveInput) -> syn::Result<TokenStream> {
    let krate = crate_path(&input)?;
    let ident = &input.ident;
    let mut type_args = Vec::new();
    for param in &input.generics.params {
        match param {
            GenericParam::Lifetime(l) => {
                return Err(error(
                    l.span(),
                    "a type that crosses a plugin boundary cannot borrow (it would dangle once \
                     the plugin is unloaded): hold owned data (`String`, `Vec<T>`) instead",
                ));
            }
            GenericParam::Type(t) => type_args.push(t.ident.clone()),
            GenericParam::Const(c) => {
                return Err(error(
                    c.span(),
                    "a const parameter can change a type's meaning without changing its layout \
                     (`Fixed<2>` against `Fixed<3>`), and is not described: hold the value in a \
                     field instead",
                ));
            }
        }
    }
    let mut ctx = Ctx {
        krate: &krate,
        ident,
        marker: format_ident!("__LiveswapByName{}", ident),
        recursive: false,
        generic: !type_args.is_empty(),
    };
    let mut discriminants: Vec<TokenStream> = Vec::new();
    let kind = match &input.data {
        Data::Struct(s) => {
            let fields = ctx.fields(&s.fields, true)?;
            quote!(#krate::layout::Kind::Struct(#fields))
        }
        Data::Enum(e) => {
            let repr = repr(&input);
            let int_repr = repr
                .split(',')
                .find(|r| {
                    matches!(
                        *r,
                        "u8" | "u16"
                            | "u32"
                            | "u64"
                            | "u128"
                            | "usize"
                            | "i8"
                            | "i16"
                            | "i32"
                            | "i64"
                            | "i128"
                            | "isize"
                    )
                })
                .map(|r| Ident::new(r, Span::call_site()));
            let mut variants = Vec::new();
            // Each variant's discriminant is its explicit value, or one more
            // than the last variant compiled in before it: `__LAST_i` tracks
            // that through variants removed by `#[cfg]`.
            let mut previous = format_ident!("__LIVESWAP_NONE");
            discriminants.push(quote!(
                const __LIVESWAP_NONE: i128 = -1;
            ));
            for (i, v) in e.variants.iter().enumerate() {
                let this = format_ident!("__LIVESWAP_D{}", i);
                let last = format_ident!("__LIVESWAP_LAST{}", i);
                let value = match &v.discriminant {
                    // Through the repr's own type first, so that `1 << 31`
                    // in a `repr(u32)` enum reads as the enum stores it.
                    Some((_, expr)) => match &int_repr {
                        Some(int) => quote!(((#expr) as #int) as i128),
                        None => quote!((#expr) as i128),
                    },
                    None => quote!(#previous + 1),
                };
                let cfgs: Vec<TokenStream> = v
                    .attrs
                    .iter()
                    .filter(|a| a.path().is_ident("cfg"))
                    .filter_map(|a| a.meta.require_list().ok().map(|l| l.tokens.clone()))
                    .collect();
                discriminants.push(quote! {
                    #[allow(non_upper_case_globals, clippy::cast_lossless)]
                    const #this: i128 = #value;
                    #[allow(non_upper_case_globals)]
                    const #last: i128 = if ::core::cfg!(all(#(#cfgs),*)) { #this } else { #previous };
                });
                previous = last;
                let name = v.ident.to_string();
                let fields = ctx.fields(&v.fields, false)?;
                let cfg_attrs = v.attrs.iter().filter(|a| a.path().is_ident("cfg"));
                variants.push(quote! {
                    #(#cfg_attrs)*
                    #krate::layout::Variant { name: #name, discriminant: #this, fields: #fields }
                });
            }
            quote!(#krate::layout::Kind::Enum { repr: #repr, variants: &[#(#variants),*] })
        }
        Data::Union(u) => {
            return Err(error(
                u.union_token.span(),
                "a union cannot cross a plugin boundary: which field is live is not known",
            ));
        }
    };

    let mut generics = input.generics.clone();
    for param in &mut generics.params {
        if let GenericParam::Type(t) = param {
            t.bounds.push(syn::parse_quote!(#krate::CrossSafe));
        }
    }
    let (impl_generics, ty_generics, where_clause) = generics.split_for_impl();
    let name = ident.to_string();
    let identity = quote! {
        name: ::core::concat!(::core::module_path!(), "::", #name),
        package: match ::core::option_env!("CARGO_CRATE_NAME") {
            ::core::option::Option::Some(name) => name,
            ::core::option::Option::None => "",
        },
        version: match ::core::option_env!("CARGO_PKG_VERSION") {
            ::core::option::Option::Some(version) => version,
            ::core::option::Option::None => "",
        },
    };
    let marker = &ctx.marker;
    let by_name = ctx.recursive.then(|| {
        quote! {
            #[doc(hidden)]
            #[allow(non_camel_case_types)]
            struct #marker;
            // SAFETY: a marker never built: it only names the recursive
            // type inside its own description.
            unsafe impl #krate::CrossSafe for #marker {
                const LAYOUT: &'static #krate::layout::TypeLayout = &#krate::layout::TypeLayout {
                    #identity
                    size: ::core::mem::size_of::<#ident>(),
                    align: ::core::mem::align_of::<#ident>(),
                    option_size: ::core::mem::size_of::<::core::option::Option<#ident>>(),
                    kind: #krate::layout::Kind::ByName,
                    args: &[],
                };
            }
        }
    });
    Ok(quote! {
        const _: () = {
            #(#discriminants)*
            #by_name
            // SAFETY: the layout is measured by the compiler (`size_of`,
            // `align_of`, `offset_of!`) and every field's type is itself
            // `CrossSafe`, so nothing in it points into the library that
            // made it.
            unsafe impl #impl_generics #krate::CrossSafe for #ident #ty_generics #where_clause {
                const LAYOUT: &'static #krate::layout::TypeLayout = &#krate::layout::TypeLayout {
                    #identity
                    size: ::core::mem::size_of::<Self>(),
                    align: ::core::mem::align_of::<Self>(),
                    option_size: ::core::mem::size_of::<::core::option::Option<Self>>(),
                    kind: #kind,
                    args: &[#(<#type_args as #krate::CrossSafe>::LAYOUT),*],
                };
            }
        };
    })
}
