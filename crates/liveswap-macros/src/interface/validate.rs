//! What may not cross the boundary, rejected with the reason.

use proc_macro2::Span;
use syn::Type;
use syn::spanned::Spanned;
use syn::visit::Visit;

use super::error;

/// Whether `ty` holds a reference or a lifetime anywhere (through
/// parentheses, tuples, generic arguments): an async method's arguments
/// and result must own all they hold, since its future outlives the call.
pub(super) fn borrows(ty: &Type) -> bool {
    struct Borrows(bool);
    impl<'ast> Visit<'ast> for Borrows {
        fn visit_type_reference(&mut self, _: &'ast syn::TypeReference) {
            self.0 = true;
        }
        fn visit_lifetime(&mut self, _: &'ast syn::Lifetime) {
            self.0 = true;
        }
    }
    let mut found = Borrows(false);
    found.visit_type(ty);
    found.0
}

pub(super) const CALLBACK: &str = "closures, trait objects and function pointers cannot be passed to a \
     plugin: a host panic inside one would unwind through the plugin's code, which cannot catch \
     it (the process would abort). Pass data, and let the host act on what the method returns";

/// Rejects what cannot cross the boundary safely, with a message that says
/// why; the rest is left to the `CrossSafe` bound on every type.
pub(super) struct TypeCheck {
    pub(super) returned: bool,
    /// Inside a reference's target.
    pub(super) under_ref: bool,
    pub(super) error: Option<syn::Error>,
}

impl TypeCheck {
    pub(super) fn argument() -> Self {
        TypeCheck {
            returned: false,
            under_ref: false,
            error: None,
        }
    }
    pub(super) fn returned() -> Self {
        TypeCheck {
            returned: true,
            under_ref: false,
            error: None,
        }
    }
    pub(super) fn fail(&mut self, span: Span, msg: &str) {
        if self.error.is_none() {
            self.error = Some(error(span, msg));
        }
    }
    pub(super) fn result(self) -> syn::Result<()> {
        self.error.map_or(Ok(()), Err)
    }
}

impl<'ast> Visit<'ast> for TypeCheck {
    fn visit_type_impl_trait(&mut self, t: &'ast syn::TypeImplTrait) {
        self.fail(
            t.span(),
            "`impl Trait` cannot cross a plugin boundary: name a concrete type",
        );
    }
    fn visit_lifetime(&mut self, lt: &'ast syn::Lifetime) {
        if self.returned && lt.ident != "_" {
            self.fail(
                lt.span(),
                "a value returned by a plugin may only borrow from `&self` (elided lifetime): \
                 `'static` or a named lifetime would outlive the guard that keeps the plugin \
                 loaded. Return an owned value instead",
            );
        }
    }
    fn visit_type_trait_object(&mut self, t: &'ast syn::TypeTraitObject) {
        if self.returned {
            self.fail(
                t.span(),
                "a trait object returned by a plugin carries the plugin's vtable and drop code, \
                 which dangle after unload. Return an owned value instead",
            );
        } else {
            self.fail(t.span(), CALLBACK);
        }
        syn::visit::visit_type_trait_object(self, t);
    }
    fn visit_type_bare_fn(&mut self, t: &'ast syn::TypeBareFn) {
        if self.returned {
            self.fail(
                t.span(),
                "a function pointer returned by a plugin dangles after unload",
            );
        } else {
            self.fail(t.span(), CALLBACK);
        }
    }
    fn visit_type_reference(&mut self, r: &'ast syn::TypeReference) {
        if self.returned && r.mutability.is_some() {
            self.fail(
                r.span(),
                "a method taking `&self` cannot return `&mut`: return an owned value",
            );
        }
        if self.under_ref {
            self.fail(
                r.span(),
                "a reference crosses only at the top of a signature, to an owned value \
                 (`&T`, `&mut T`, `&[T]`, `&str`): through `&mut &str` one side would keep a \
                 reference into the other's memory, which dangles once the plugin is unloaded. \
                 Use `&mut String` (or return the value)",
            );
        }
        let outer = std::mem::replace(&mut self.under_ref, true);
        syn::visit::visit_type_reference(self, r);
        self.under_ref = outer;
    }
    fn visit_path_segment(&mut self, seg: &'ast syn::PathSegment) {
        if seg.ident == "Self" {
            self.fail(seg.span(), "`Self` cannot appear in an interface signature");
        }
        syn::visit::visit_path_segment(self, seg);
    }
}
