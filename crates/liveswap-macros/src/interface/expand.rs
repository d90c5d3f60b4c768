//! The generated code: vtable, host view, shims, and the impls.

use proc_macro2::TokenStream as TokenStream2;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Ident, ItemTrait, ReturnType, TraitItem, Type};

use super::error;
use super::parse::{Args, check_method};
use super::types::{adopt_of, layout_of, unparen};

pub(super) fn expand(args: Args, item: ItemTrait) -> syn::Result<TokenStream2> {
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
