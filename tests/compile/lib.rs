//! Nothing: the compile tests are in `compile_fail.rs`, their cases
//! in `ui/` (must not compile); `pass.rs` compiles and runs the forms in
//! `pass/` (must compile).
