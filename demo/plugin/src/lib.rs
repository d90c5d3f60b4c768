//! The demo plugin. `handles` exports the API object; `my_code` holds the
//! logic that changes often. Edit `my_code.rs`, run
//! `cargo build -p liveswap-demo-plugin`, and give the running demo the same
//! path again.

mod handles;
mod my_code;
