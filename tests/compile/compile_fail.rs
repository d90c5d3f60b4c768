//! What cannot cross a plugin boundary safely does not compile: each file in
//! `ui/` is one rejected form, with the compiler's message beside it; each
//! file in `ui-pass/` is a form that must keep compiling.

#[test]
fn unsafe_interface_forms_are_compile_errors() {
    let t = trybuild::TestCases::new();
    t.compile_fail("ui/*.rs");
}

#[test]
fn recursive_types_through_aliases_and_each_other_compile() {
    let t = trybuild::TestCases::new();
    t.pass("ui-pass/*.rs");
}
