//! The loader's parts: opening the source (`open`), storing its private
//! copy (`store`), and the loaded library's own address ranges (`image`).

pub(crate) mod image;
pub(crate) mod open;
pub(crate) mod store;
