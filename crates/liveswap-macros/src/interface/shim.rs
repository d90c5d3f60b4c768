//! One method's shim, by its kind ([`Shim`]): the vtable field's type,
//! the host view's method that calls it, and the plugin-side function.

use proc_macro2::TokenStream as TokenStream2;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Ident, Type};

use super::parse::{Method, Shim};
use super::types::{adopt_of, unparen};

/// The type of the method's vtable field.
pub(super) fn field_type(m: &Method<'_>, krate: &TokenStream2) -> TokenStream2 {
    match m.shim() {
        Shim::Direct => {
            let args = &m.arg_types;
            let ret = &m.ret;
            quote!(for<'sink> unsafe extern "C" fn(
                *const ::core::ffi::c_void,
                *mut #krate::__private::MessageSink<'sink>
                #(, #args)*
            ) -> #krate::__private::Direct<#ret>)
        }
        Shim::Call | Shim::Async => quote!(
            for<'sink> unsafe extern "C" fn(
                *const ::core::ffi::c_void,
                *mut ::core::ffi::c_void,
                *mut ::core::ffi::c_void,
                *mut #krate::__private::MessageSink<'sink>,
            ) -> u32
        ),
    }
}

/// The host view's method: calls the shim and returns its result (or, for
/// an async method, its future), adopting what crosses.
pub(super) fn host_method(m: &Method<'_>, krate: &TokenStream2) -> TokenStream2 {
    let ident = &m.item.sig.ident;
    let docs = m.item.attrs.iter().filter(|a| a.path().is_ident("doc"));
    let arg_names: Vec<Ident> = (0..m.arg_types.len())
        .map(|i| format_ident!("arg{}", i))
        .collect();
    let arg_types = &m.arg_types;
    let ret = &m.ret;
    let span = m.item.sig.span();
    if m.shim() == Shim::Direct {
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
    let (slot, returns, finish) = if m.shim() == Shim::Async {
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
    let adopt_result = if m.shim() == Shim::Async {
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
}

/// The plugin-side function of the vtable: calls the implementation under
/// the panic guard.
pub(super) fn shim_fn(m: &Method<'_>, krate: &TokenStream2, trait_name: &Ident) -> TokenStream2 {
    let ident = &m.item.sig.ident;
    let arg_names: Vec<Ident> = (0..m.arg_types.len())
        .map(|i| format_ident!("arg{}", i))
        .collect();
    let arg_types = &m.arg_types;
    if m.shim() == Shim::Direct {
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
    let call = if m.shim() == Shim::Async {
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
}
