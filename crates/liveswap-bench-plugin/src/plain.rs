//! The plain exported function (read by hot-lib-reloader's
//! `hot_functions_from_file!`).

#[unsafe(no_mangle)]
pub fn add(a: i64, b: i64) -> i64 {
    a.wrapping_add(b)
}
