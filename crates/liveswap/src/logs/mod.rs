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
//! Levels: each event of the plugin is checked against the host's maximum
//! level as it is now (the higher of `log::max_level()` and `tracing`'s
//! `LevelFilter::current()`, read by a call to the host), so a host that
//! raises or lowers its level (a `tracing_subscriber::reload` filter) is
//! followed by generations already loaded. An event below it costs the
//! plugin that call and a comparison; no callsite's interest is cached.
//! Each record that passes is checked against the host's own filter again
//! when it arrives.
//!
//! Spans: the plugin's forwarder keeps its spans (`spans.rs`), and an
//! event inside spans carries their names and fields as text before its
//! message (`request{id=7}: message`), as the host's `fmt` layer would
//! show them; they are not re-created as host spans, whose metadata must
//! be `'static` (the plugin's is unloaded with it).
//!
//! Costs: about the cost of the host's own logging call, plus formatting
//! the event's fields (and its spans' names and fields) into text in the
//! plugin.

pub(crate) mod fields;
pub(crate) mod host;
pub(crate) mod plugin;
pub(crate) mod spans;
pub(crate) mod wire;
