//! What cannot cross a plugin boundary safely does not compile: each file in
//! `ui/` is one rejected form, with the compiler's message beside it. The
//! forms that must keep compiling are `pass.rs`'s, compiled by cargo: with
//! no passing case, trybuild only checks its cases (`cargo check`), and
//! builds no code of the library's dependencies.

#[test]
fn unsafe_interface_forms_are_compile_errors() {
    let t = trybuild::TestCases::new();
    t.compile_fail("ui/*.rs");
}
