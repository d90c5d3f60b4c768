//! What cannot cross a plugin boundary safely does not compile: each file in
//! `ui/` is one rejected form, with the compiler's message beside it.

#[test]
fn unsafe_interface_forms_are_compile_errors() {
    let t = trybuild::TestCases::new();
    t.compile_fail("ui/*.rs");
}
