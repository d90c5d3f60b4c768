//! The loader's parts: opening the source (`open`), a bounded look for
//! its descriptor before anything is copied (`probe`), storing its private
//! copy (`store`), and the loaded library's own address ranges (`image`).

pub(crate) mod image;
pub(crate) mod open;
pub(crate) mod probe;
pub(crate) mod store;
