//! Nothing: the compile tests are in `compile_fail.rs`, their cases
//! in `ui/` (must not compile) and `ui-pass/` (must compile).
