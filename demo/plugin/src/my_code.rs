//! The logic that changes often. Edit, rebuild, swap.

/// What the plugin says about itself.
pub fn some_data() -> String {
    "I live in a shared object".to_string()
}

/// Some business logic.
pub fn some_fn(i: i64) -> String {
    format!("Adding to 10: {}", i + 10)
}
