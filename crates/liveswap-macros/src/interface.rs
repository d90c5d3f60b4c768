//! `#[liveswap::interface]`: turns a trait into a plugin interface.
//!
//! Parsing (`Args`), validation (`check_method`, `TypeCheck`) and
//! expansion (`expand`) of the attribute.

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::visit::Visit;
use syn::{
    FnArg, Ident, ItemTrait, LitInt, LitStr, ReturnType, Token, TraitItem, TraitItemFn, Type,
    parse_macro_input,
};

/// The attribute's entry point.
pub fn interface(attr: TokenStream, item: TokenStream) -> TokenStream {
    let args = parse_macro_input!(attr as Args);
    let item = parse_macro_input!(item as ItemTrait);
    match expand(args, item) {
        Ok(tokens) => tokens.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

struct Args {
    version: u32,
    name: Option<LitStr>,
    krate: TokenStream2,
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

/// One checked method of the interface.
struct Method<'a> {
    item: &'a TraitItemFn,
    arg_types: Vec<Type>,
    /// Each argument's name as declared, `_` for a pattern.
    arg_idents: Vec<String>,
    ret: Type,
    /// An `async fn`: the shim returns a future of `ret`.
    is_async: bool,
}

impl Method<'_> {
    /// All arguments and the result are scalars: the shim takes and returns
    /// them by value, in registers. Otherwise they travel by pointer.
    fn direct(&self) -> bool {
        !self.is_async && self.arg_types.iter().all(is_scalar) && is_scalar(&self.ret)
    }
}

fn error(span: Span, msg: &str) -> syn::Error {
    syn::Error::new(span, format!("liveswap::interface: {msg}"))
}

fn check_method(item: &TraitItemFn) -> syn::Result<Method<'_>> {
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

/// Whether `ty` holds a reference or a lifetime anywhere (through
/// parentheses, tuples, generic arguments): an async method's arguments
/// and result must own all they hold, since its future outlives the call.
fn borrows(ty: &Type) -> bool {
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

const CALLBACK: &str = "closures, trait objects and function pointers cannot be passed to a \
     plugin: a host panic inside one would unwind through the plugin's code, which cannot catch \
     it (the process would abort). Pass data, and let the host act on what the method returns";

/// Rejects what cannot cross the boundary safely, with a message that says
/// why; the rest is left to the `CrossSafe` bound on every type.
struct TypeCheck {
    returned: bool,
    /// Inside a reference's target.
    under_ref: bool,
    error: Option<syn::Error>,
}

impl TypeCheck {
    fn argument() -> Self {
        TypeCheck {
            returned: false,
            under_ref: false,
            error: None,
        }
    }
    fn returned() -> Self {
        TypeCheck {
            returned: true,
            under_ref: false,
            error: None,
        }
    }
    fn fail(&mut self, span: Span, msg: &str) {
        if self.error.is_none() {
            self.error = Some(error(span, msg));
        }
    }
    fn result(self) -> syn::Result<()> {
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

/// The layout expression of a signature type: references at the top of a
/// signature are described here (they cannot implement `CrossSafe`, which
/// keeps them out of every other place); everything else must be
/// `CrossSafe`.
fn layout_of(ty: &Type, krate: &TokenStream2) -> TokenStream2 {
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
fn adopt_of(ty: &Type, value: TokenStream2, krate: &TokenStream2) -> TokenStream2 {
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
fn unparen(ty: &Type) -> &Type {
    match ty {
        Type::Paren(p) => unparen(&p.elem),
        ty => ty,
    }
}

/// Whether `ty` is a scalar that a direct shim passes by value: an integer
/// (up to 64 bits), a float, `bool`, `char` or `()`.
fn is_scalar(ty: &Type) -> bool {
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

fn expand(args: Args, item: ItemTrait) -> syn::Result<TokenStream2> {
    if !item.generics.params.is_empty() || item.generics.where_clause.is_some() {
        return Err(error(
            item.generics.span(),
            "an interface trait cannot be generic",
        ));
    }
    if let Some(u) = &item.unsafety {
        return Err(error(u.span(), "an interface trait cannot be `unsafe`"));
    }
    let mut methods = Vec::new();
    for trait_item in &item.items {
        match trait_item {
            TraitItem::Fn(f) => methods.push(check_method(f)?),
            other => {
                return Err(error(
                    other.span(),
                    "an interface holds only methods (no associated types, constants or macros)",
                ));
            }
        }
    }

    let vis = &item.vis;
    let trait_name = &item.ident;
    let vtable = format_ident!("{}VTable", trait_name);
    let api = format_ident!("{}Api", trait_name);
    let shims = format_ident!("__{}Shims", trait_name);
    let version = args.version;
    let name = match &args.name {
        Some(lit) => quote!(#lit),
        None => {
            let ident = trait_name.to_string();
            quote!(::core::concat!(::core::module_path!(), "::", #ident))
        }
    };

    let krate = &args.krate;
    let method_layouts = methods.iter().map(|m| {
        let name = m.item.sig.ident.to_string();
        let direct = m.direct();
        let arg_layouts = m.arg_types.iter().map(|t| layout_of(t, krate));
        let arg_idents = &m.arg_idents;
        let ret_layout = if m.is_async {
            let ret = &m.ret;
            quote!(#krate::__private::FutureOf::<#ret>::LAYOUT)
        } else {
            layout_of(&m.ret, krate)
        };
        quote! {
            #krate::layout::MethodLayout {
                name: #name,
                direct: #direct,
                args: &[#(#arg_layouts),*],
                arg_names: &[#(#arg_idents),*],
                ret: #ret_layout,
            }
        }
    });

    let field_names: Vec<&Ident> = methods.iter().map(|m| &m.item.sig.ident).collect();
    let field_types: Vec<TokenStream2> = methods
        .iter()
        .map(|m| {
            if m.direct() {
                let args = &m.arg_types;
                let ret = &m.ret;
                quote!(for<'sink> unsafe extern "C" fn(
                    *const ::core::ffi::c_void,
                    *mut #krate::__private::MessageSink<'sink>
                    #(, #args)*
                ) -> #krate::__private::Direct<#ret>)
            } else {
                quote!(
                    for<'sink> unsafe extern "C" fn(
                        *const ::core::ffi::c_void,
                        *mut ::core::ffi::c_void,
                        *mut ::core::ffi::c_void,
                        *mut #krate::__private::MessageSink<'sink>,
                    ) -> u32
                )
            }
        })
        .collect();
    let host_methods = methods.iter().map(|m| {
        let ident = &m.item.sig.ident;
        let docs = m.item.attrs.iter().filter(|a| a.path().is_ident("doc"));
        let arg_names: Vec<Ident> = (0..m.arg_types.len()).map(|i| format_ident!("arg{}", i)).collect();
        let arg_types = &m.arg_types;
        let ret = &m.ret;
        let span = m.item.sig.span();
        if m.direct() {
            return quote_spanned! {span=>
                #(#docs)*
                #[allow(clippy::too_many_arguments)]
                #[inline]
                pub fn #ident(&self #(, #arg_names: #arg_types)*) -> ::core::result::Result<#ret, #krate::CallError> {
                    let mut message: ::core::option::Option<#krate::__private::Message> = ::core::option::Option::None;
                    let mut sink = #krate::__private::MessageSink::new(&mut message);
                    // SAFETY: `&self` is borrowed from a guard that keeps the
                    // plugin loaded, so the instance and vtable are live; the
                    // direct shim takes its scalar arguments by value and
                    // sets the result exactly when its status is `CALL_OK`.
                    let ret = unsafe { ((*self.0.vtable()).#ident)(self.0.instance(), &mut sink #(, #arg_names)*) };
                    // SAFETY: `ret` came from the direct shim.
                    unsafe { #krate::__private::finish_direct(ret, message) }
                }
            };
        }
        // The general shim: arguments moved in as a tuple, the result (or,
        // for an async method, its future) written to a slot.
        let (slot, returns, finish) = if m.is_async {
            (
                quote!(#krate::__private::RawFuture),
                quote!(#krate::RemoteFuture<'_, #ret>),
                quote!(#krate::__private::start_future(status, ret, message)),
            )
        } else {
            (
                quote!(#ret),
                quote!(::core::result::Result<#ret, #krate::CallError>),
                quote!(#krate::__private::finish_call(status, ret, message)),
            )
        };
        // Only `&mut` arguments can carry something back.
        let adopt_args: Vec<TokenStream2> = arg_types
            .iter()
            .enumerate()
            .filter(|(_, t)| matches!(unparen(t), Type::Reference(r) if r.mutability.is_some()))
            .map(|(i, t)| {
                let index = syn::Index::from(i);
                adopt_of(t, quote!(args.#index), krate)
            })
            .collect();
        let adopt_result = if m.is_async {
            // Its output is adopted when it is ready (`RemoteFuture`).
            quote!()
        } else {
            let walk = adopt_of(ret, quote!(*value), krate);
            quote! {
                if let ::core::result::Result::Ok(value) = &result {
                    #walk
                }
            }
        };
        quote_spanned! {span=>
            #(#docs)*
            #[allow(clippy::too_many_arguments)]
            #[inline]
            pub fn #ident(&self #(, #arg_names: #arg_types)*) -> #returns {
                let mut args = ::core::mem::ManuallyDrop::new((#(#arg_names,)*));
                let mut ret = ::core::mem::MaybeUninit::<#slot>::uninit();
                let mut message: ::core::option::Option<#krate::__private::Message> = ::core::option::Option::None;
                let mut sink = #krate::__private::MessageSink::new(&mut message);
                // SAFETY: `&self` is borrowed from a guard that keeps the
                // plugin loaded, so the instance and vtable are live; the
                // shim takes ownership of `args` (hence `ManuallyDrop`) and
                // writes `ret` exactly when it returns `CALL_OK`.
                let status = unsafe {
                    ((*self.0.vtable()).#ident)(
                        self.0.instance(),
                        ::core::ptr::addr_of_mut!(*args).cast(),
                        ret.as_mut_ptr().cast(),
                        &mut sink,
                    )
                };
                // SAFETY: `status` and `ret` came from the shim (an async
                // method's future borrows `self`, which keeps the plugin
                // loaded).
                let result = unsafe { #finish };
                // What the plugin handed over is the host's now: its heap
                // blocks leave the plugin's account, so that they are not
                // reclaimed with its statics.
                #(#adopt_args)*
                #adopt_result
                result
            }
        }
    });
    let shim_fns = methods.iter().map(|m| {
        let ident = &m.item.sig.ident;
        let arg_names: Vec<Ident> = (0..m.arg_types.len())
            .map(|i| format_ident!("arg{}", i))
            .collect();
        let arg_types = &m.arg_types;
        if m.direct() {
            let ret = &m.ret;
            return quote! {
                unsafe extern "C" fn #ident(
                    this: *const ::core::ffi::c_void,
                    sink: *mut #krate::__private::MessageSink<'_>
                    #(, #arg_names: #arg_types)*
                ) -> #krate::__private::Direct<#ret> {
                    // SAFETY: the host passes the instance the entry point
                    // boxed for this type and a live sink.
                    unsafe {
                        #krate::__private::call_direct(sink, || {
                            let this = &*this.cast::<__LiveswapImpl>();
                            <__LiveswapImpl as #trait_name>::#ident(this #(, #arg_names)*)
                        })
                    }
                }
            };
        }
        let adopt_args: Vec<TokenStream2> = arg_types
            .iter()
            .zip(&arg_names)
            .map(|(t, name)| adopt_of(t, quote!(#name), krate))
            .collect();
        let call = quote!(<__LiveswapImpl as #trait_name>::#ident(this #(, #arg_names)*));
        // An async method's result is its future, boxed.
        let call = if m.is_async {
            quote!(#krate::__private::RawFuture::new(#call))
        } else {
            call
        };
        quote! {
            unsafe extern "C" fn #ident(
                this: *const ::core::ffi::c_void,
                args: *mut ::core::ffi::c_void,
                ret: *mut ::core::ffi::c_void,
                sink: *mut #krate::__private::MessageSink<'_>,
            ) -> u32 {
                // SAFETY: the host passes the instance the entry point boxed
                // for this type, its arguments as a tuple it gives up, a
                // slot for the result (for an async method, its future,
                // which borrows the instance: the host keeps it alive, the
                // future borrowing its guard, until it drops the future),
                // and a live sink.
                unsafe {
                    #krate::__private::call_shim(sink, ret, || {
                        let this = &*this.cast::<__LiveswapImpl>();
                        let (#(#arg_names,)*) = ::core::ptr::read(args.cast::<(#(#arg_types,)*)>());
                        // Arguments a plugin passes a host service are the
                        // host's now (a no-op in a plugin's copy).
                        #(#adopt_args)*
                        #call
                    })
                }
            }
        }
    });

    let doc_vtable = format!("The `#[repr(C)]` table of [`{trait_name}`]'s shims (generated).");
    let doc_api = format!(
        "The host's view of a [`{trait_name}`] plugin (generated): each method calls the \
         plugin and returns its result, or `CallError::Panicked` with the panic's message if \
         it panicked. Reach it through a `liveswap::Slot<dyn {trait_name}>` guard; what it \
         returns may borrow from that guard, never outlive it. It cannot be built or copied \
         by safe code."
    );
    // An `async fn` becomes, in the trait, a method returning a `Send`
    // future (which an `async fn` in an impl satisfies when its body is
    // `Send`): the plugin's future may be polled on any host thread. It
    // requires `Self: Sized`, which keeps `dyn Trait` a valid type.
    let mut item = item.clone();
    for trait_item in &mut item.items {
        if let TraitItem::Fn(f) = trait_item
            && f.sig.asyncness.take().is_some()
        {
            let ret: Type = match &f.sig.output {
                ReturnType::Default => syn::parse_quote!(()),
                ReturnType::Type(_, ty) => (**ty).clone(),
            };
            f.sig.output = syn::parse_quote!(
                -> impl ::core::future::Future<Output = #ret> + ::core::marker::Send
            );
            // Kept out of `dyn Trait` (a method returning `impl Future`
            // would make it not dyn compatible); the shims call it on the
            // concrete type.
            f.sig
                .generics
                .make_where_clause()
                .predicates
                .push(syn::parse_quote!(Self: ::core::marker::Sized));
        }
    }
    let host_service = quote! {
        // SAFETY: generated by the interface macro, whose shims catch
        // panics and, for an `async fn`, hand the host's future a waker
        // of host code in place of a plugin's.
        unsafe impl #krate::HostService for dyn #trait_name {}
    };
    Ok(quote! {
        #item

        #[doc = #doc_vtable]
        #[repr(C)]
        #vis struct #vtable {
            #(#[doc(hidden)] pub #field_names: #field_types,)*
        }

        #[doc = #doc_api]
        #vis struct #api(#krate::__private::RawView<#vtable>);

        // SAFETY: every instance exported for this interface is
        // `Send + Sync` (see the `Export` impl below); the vtable is
        // immutable.
        unsafe impl ::core::marker::Send for #api {}
        // SAFETY: as above.
        unsafe impl ::core::marker::Sync for #api {}

        impl #api {
            #(#host_methods)*
        }

        #[doc(hidden)]
        #vis struct #shims<__LiveswapImpl>(::core::marker::PhantomData<fn() -> __LiveswapImpl>);

        impl<__LiveswapImpl: #trait_name + ::core::marker::Send + ::core::marker::Sync + 'static> #shims<__LiveswapImpl> {
            const VTABLE: #vtable = #vtable { #(#field_names: Self::#field_names,)* };
            #(#shim_fns)*
        }

        // SAFETY: the vtable is `repr(C)` of `extern "C"` shims that catch
        // every panic (`call_shim`, `call_direct`); `METHODS` describes
        // every argument and result type, each `CrossSafe` or a reference
        // to one; the view wraps a `RawView`, which only `view` builds and
        // which is neither `Clone` nor `Copy`.
        unsafe impl<'__liveswap_any> #krate::Interface for dyn #trait_name + '__liveswap_any {
            type VTable = #vtable;
            type View = #api;
            const NAME: &'static str = #name;
            const VERSION: u32 = #version;
            const METHODS: &'static [#krate::layout::MethodLayout] = &[#(#method_layouts),*];
            const __ADOPTS: bool = true;
            unsafe fn view(this: *const ::core::ffi::c_void, vtable: *const #vtable) -> #api {
                // SAFETY: forwarded from this function's contract.
                #api(unsafe { #krate::__private::RawView::new(this, vtable) })
            }
            fn __host_section() -> &'static [u8] {
                const LEN: usize = #krate::__private::table_len(
                    <dyn #trait_name as #krate::Interface>::METHODS,
                );
                // What a plugin of this interface must show, in the host
                // binary too, for `liveswap check`.
                #[used]
                #[unsafe(link_section = ".liveswap_host")]
                static SECTION: #krate::__private::Section<LEN> =
                    #krate::__private::Section::of::<dyn #trait_name>(true);
                SECTION.as_bytes()
            }
        }

        #host_service

        // SAFETY: each shim receives a pointer to a live instance, boxed by
        // the entry point, and catches panics.
        unsafe impl<__LiveswapImpl: #trait_name + ::core::marker::Send + ::core::marker::Sync + 'static>
            #krate::Export<__LiveswapImpl> for dyn #trait_name
        {
            fn vtable() -> &'static #vtable {
                &#shims::<__LiveswapImpl>::VTABLE
            }
        }
    })
}
