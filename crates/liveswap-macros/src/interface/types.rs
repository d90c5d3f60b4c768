//! What a signature type becomes in generated code.

use proc_macro2::TokenStream as TokenStream2;
use quote::{quote, quote_spanned};
use syn::Type;
use syn::spanned::Spanned;

/// The layout expression of a signature type: references at the top of a
/// signature are described here (they cannot implement `CrossSafe`, which
/// keeps them out of every other place); everything else must be
/// `CrossSafe`.
pub(super) fn layout_of(ty: &Type, krate: &TokenStream2) -> TokenStream2 {
    let span = ty.span();
    match ty {
        Type::Paren(p) => layout_of(&p.elem, krate),
        Type::Reference(r) => {
            let mutable = r.mutability.is_some();
            let which = if mutable { quote!(MUT) } else { quote!(SHARED) };
            match &*r.elem {
                Type::Path(p) if p.qself.is_none() && p.path.is_ident("str") => {
                    if mutable {
                        quote_spanned!(span=> #krate::__private::STR_MUT)
                    } else {
                        quote_spanned!(span=> #krate::__private::STR_REF)
                    }
                }
                Type::Slice(s) => {
                    let elem = &s.elem;
                    quote_spanned!(span=> #krate::__private::SliceOf::<#elem>::#which)
                }
                elem => quote_spanned!(span=> #krate::__private::RefTo::<#elem>::#which),
            }
        }
        ty => quote_spanned!(span=> <#ty as #krate::CrossSafe>::LAYOUT),
    }
}

/// The statement that hands the host every heap block `value` (of type
/// `ty`, a place expression) owns: for an owned value its own walk; for
/// `&mut T` what the plugin may have put into `T`; nothing for a shared
/// reference or `&mut str`.
pub(super) fn adopt_of(ty: &Type, value: TokenStream2, krate: &TokenStream2) -> TokenStream2 {
    // Spanned and written as `layout_of` writes the type's layout, so that
    // a type that is not `CrossSafe` gets one error, not two.
    let span = ty.span();
    match ty {
        Type::Paren(p) => adopt_of(&p.elem, value, krate),
        Type::Reference(r) if r.mutability.is_none() => quote!(),
        Type::Reference(r) => match &*r.elem {
            Type::Path(p) if p.qself.is_none() && p.path.is_ident("str") => quote!(),
            Type::Slice(slice) => {
                let elem = &slice.elem;
                quote_spanned! {span=>
                    for item in (#value).iter() {
                        <#elem as #krate::CrossSafe>::__adopt(item);
                    }
                }
            }
            elem => quote_spanned!(span=> <#elem as #krate::CrossSafe>::__adopt(&*#value);),
        },
        ty => quote_spanned!(span=> <#ty as #krate::CrossSafe>::__adopt(&#value);),
    }
}

/// `ty` without the parentheses around it.
pub(super) fn unparen(ty: &Type) -> &Type {
    match ty {
        Type::Paren(p) => unparen(&p.elem),
        ty => ty,
    }
}

/// Whether `ty` is a scalar that a direct shim passes by value: an integer
/// (up to 64 bits), a float, `bool`, `char` or `()`.
pub(super) fn is_scalar(ty: &Type) -> bool {
    match ty {
        Type::Tuple(t) => t.elems.is_empty(),
        Type::Paren(p) => is_scalar(&p.elem),
        Type::Path(p) => {
            p.qself.is_none()
                && p.path.leading_colon.is_none()
                && p.path.segments.len() == 1
                && p.path.segments[0].arguments.is_none()
                && matches!(
                    p.path.segments[0].ident.to_string().as_str(),
                    "i8" | "i16"
                        | "i32"
                        | "i64"
                        | "isize"
                        | "u8"
                        | "u16"
                        | "u32"
                        | "u64"
                        | "usize"
                        | "f32"
                        | "f64"
                        | "bool"
                        | "char"
                )
        }
        _ => false,
    }
}
