//! The demo plugin. `handles` exports the API object; `my_code` holds the
//! logic that changes often; `state` what survives a swap (how many times
//! the plugin was called). Edit `my_code.rs`, run
//! `cargo build -p liveswap-demo-plugin`, and give the running demo the same
//! path again.

mod handles;
mod my_code;
mod state;
