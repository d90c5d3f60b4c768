//! Plugin logs, delivered to the host's logger: `log` records and
//! `tracing` events emitted by plugin code reach the host's `tracing`
//! subscriber (or, in a host without one, its `log` logger) with their
//! level, target, module, file, line, message and fields.
//!
//! A plugin carries its own copy of `log` and of `tracing`, each with its
//! own global logger or dispatcher, unset: without this, its events go
//! nowhere. So the entry point (`export!`) installs, in the plugin's
//! copies, once its constructor has returned (a plugin that set its own
//! logger or dispatcher there keeps it; the constructor's own events are
//! not delivered), a `log::Log` and a `tracing` subscriber (`plugin.rs`) that hand
//! each enabled record to the host through [`HostLogger`] (`wire.rs`), an
//! `extern "C"` function of the host (`host.rs`), which re-emits it there.
//! Nothing of the plugin is kept: the record's strings are borrowed for
//! the call.
//!
//! Levels: the plugin's maximum level is the host's when the generation
//! is constructed (the higher of `log::max_level()` and `tracing`'s
//! `LevelFilter::current()`), so an event below it costs the plugin one
//! comparison; each record that passes is checked against the host's
//! level again when it arrives. A host that raises its level later sees
//! the extra events from generations loaded after that.
//!
//! Costs: about the cost of the host's own logging call, plus formatting
//! the event's fields into text in the plugin.

pub(crate) mod host;
pub(crate) mod plugin;
pub(crate) mod wire;
