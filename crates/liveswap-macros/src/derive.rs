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

/// Whether a type mentions the deriving type by its bare name (with or
/// without arguments) or as `Self`: a generic type that contains itself.
struct Mentions<'a> {
    ident: &'a Ident,
    found: bool,
}

impl Visit<'_> for Mentions<'_> {
    fn visit_type_path(&mut self, ty: &syn::TypePath) {
        if ty.qself.is_none()
            && ty.path.leading_colon.is_none()
            && ty.path.segments.len() == 1
            && (ty.path.segments[0].ident == *self.ident || ty.path.segments[0].ident == "Self")
        {
            self.found = true;
        }
        syn::visit::visit_type_path(self, ty);
    }
}

/// Replaces `Self` by the type's name, for a description that lives in a
/// `static` (where `Self` means nothing).
struct NameSelf<'a> {
    ident: &'a Ident,
}

impl VisitMut for NameSelf<'_> {
    fn visit_path_mut(&mut self, path: &mut syn::Path) {
        if let Some(first) = path.segments.first_mut()
            && first.ident == "Self"
        {
            first.ident = self.ident.clone();
        }
        syn::visit_mut::visit_path_mut(self, path);
    }
}

struct Ctx<'a> {
    krate: &'a TokenStream,
    ident: &'a Ident,
    /// The type has generic parameters: its description is a constant per
    /// instance, not a `static`.
    generic: bool,
}

impl Ctx<'_> {
    /// The type the description names: `Self` in a constant, the type's
    /// own name in a `static`.
    fn this(&self) -> TokenStream {
        if self.generic {
            quote!(Self)
        } else {
            let ident = self.ident;
            quote!(#ident)
        }
    }

    /// The layout expression for a field's type.
    ///
    /// A non-generic type's description is a `static`, so a field that
    /// reaches the type again (`Vec<Tree>`, an alias of it, a type that
    /// contains this one) points back at it, and every other type in the
    /// field is described in full: each must be `CrossSafe` on its own.
    fn field_layout(&mut self, ty: &Type) -> syn::Result<TokenStream> {
        let krate = self.krate;
        let mut ty = ty.clone();
        if self.generic {
            let mut mentions = Mentions {
                ident: self.ident,
                found: false,
            };
            mentions.visit_type(&ty);
            if mentions.found {
                return Err(error(
                    ty.span(),
                    "a generic type that contains itself is not supported: make the recursive \
                     part a non-generic type (`struct Node { kids: Vec<Node>, value: u64 }`)",
                ));
            }
        } else {
            NameSelf { ident: self.ident }.visit_type_mut(&mut ty);
        }
        Ok(quote_spanned!(ty.span()=> <#ty as #krate::CrossSafe>::LAYOUT))
    }

    fn fields(&mut self, fields: &Fields, measured: bool) -> syn::Result<TokenStream> {
        let krate = self.krate.clone();
        let this = self.this();
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
                quote!(::core::mem::offset_of!(#this, #member))
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

    let adopt = adopt_body(&input.data, &krate);
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
    let this = ctx.this();
    let layout = quote! {
        #krate::layout::TypeLayout {
            #identity
            size: ::core::mem::size_of::<#this>(),
            align: ::core::mem::align_of::<#this>(),
            option_size: ::core::mem::size_of::<::core::option::Option<#this>>(),
            kind: #kind,
            walked: #krate::__private::EXACT_WALK,
            args: &[#(<#type_args as #krate::CrossSafe>::LAYOUT),*],
        }
    };
    // A non-generic type's description is a `static`, which the fields'
    // descriptions may point back to (a type that contains itself); a
    // generic type's is a constant per instance.
    let (description, value) = if ctx.generic {
        (
            quote!(),
            quote!(#krate::layout::LayoutRef::new(&const { #layout })),
        )
    } else {
        (
            quote! {
                static __LIVESWAP_LAYOUT: #krate::layout::TypeLayout = #layout;
            },
            quote!(#krate::layout::LayoutRef::new(&__LIVESWAP_LAYOUT)),
        )
    };
    Ok(quote! {
        const _: () = {
            #(#discriminants)*
            #description
            // SAFETY: the layout is measured by the compiler (`size_of`,
            // `align_of`, `offset_of!`) and every field's type is itself
            // `CrossSafe`, so nothing in it points into the library that
            // made it.
            unsafe impl #impl_generics #krate::CrossSafe for #ident #ty_generics #where_clause {
                const LAYOUT: #krate::layout::LayoutRef = #value;
                #[inline]
                fn __adopt(&self) {
                    #adopt
                }
            }
        };
    })
}

/// The body of `__adopt`: every field's own `__adopt`, for a struct, or the
/// fields of the variant the value is, for an enum.
fn adopt_body(data: &Data, krate: &TokenStream) -> TokenStream {
    // Binds a variant's or struct's fields to `__f0`, `__f1`, ... and
    // adopts each.
    fn bind(fields: &Fields, krate: &TokenStream) -> (TokenStream, TokenStream) {
        let names: Vec<Ident> = (0..fields.len())
            .map(|i| format_ident!("__f{}", i))
            .collect();
        let pattern = match fields {
            Fields::Named(named) => {
                let members = named.named.iter().map(|f| f.ident.as_ref());
                quote!({ #(#members: #names),* })
            }
            Fields::Unnamed(_) => quote!(( #(#names),* )),
            Fields::Unit => quote!(),
        };
        // Spanned and written as the field's layout is, so that a field
        // type that is not `CrossSafe` gets one error, not two.
        let calls = fields.iter().zip(&names).map(|(field, name)| {
            let ty = &field.ty;
            quote_spanned!(ty.span()=> <#ty as #krate::CrossSafe>::__adopt(#name);)
        });
        let calls = quote!(#(#calls)*);
        (pattern, calls)
    }
    match data {
        Data::Struct(s) => {
            let (pattern, calls) = bind(&s.fields, krate);
            quote! {
                let Self #pattern = self;
                #calls
            }
        }
        Data::Enum(e) if e.variants.is_empty() => quote!(),
        Data::Enum(e) => {
            let arms = e.variants.iter().map(|v| {
                let ident = &v.ident;
                let cfgs = v.attrs.iter().filter(|a| a.path().is_ident("cfg"));
                let (pattern, calls) = bind(&v.fields, krate);
                quote!(#(#cfgs)* Self::#ident #pattern => { #calls })
            });
            quote! {
                #[allow(unreachable_patterns)]
                match self {
                    #(#arms)*
                }
            }
        }
        Data::Union(_) => quote!(),
    }
}
