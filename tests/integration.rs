//! The integration tests that share a process: each file is a module of
//! this one test binary (see `Cargo.toml` for which files keep their own
//! process, and why).

mod async_calls;
mod async_imports;
mod boundary;
mod concurrency;
mod control;
mod imports;
mod in_place;
mod lifecycle;
mod preflight;
mod probation;
mod quickstart;
mod read_path;
mod tasks;
mod trust;
mod typed;
mod unused_dependencies;
mod warm_start;
mod watch;
