//! Forms that must keep compiling, and run: each file in `pass/` is one,
//! a module here whose `main` a test calls. What a form declares need not
//! all be called.
#![allow(dead_code)]

#[path = "pass/method_named_like_metadata.rs"]
mod method_named_like_metadata;
#[path = "pass/provide_async.rs"]
mod provide_async;
#[path = "pass/recursion.rs"]
mod recursion;

#[test]
fn a_method_named_like_version_metadata_is_the_plugin_s() {
    method_named_like_metadata::main();
}

#[test]
fn an_interface_with_an_async_fn_is_lent_as_a_host_service() {
    provide_async::main();
}

#[test]
fn recursive_types_through_aliases_and_each_other_compile() {
    recursion::main();
}
