//! The plugin's half: a `log::Log` and a `tracing` subscriber, installed
//! in the plugin's own copies of those crates by the entry point, that
//! hand each enabled record to the host.

use std::sync::atomic::{AtomicPtr, Ordering};

use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Event, Metadata, Subscriber};

use super::fields::Rendered;
use super::wire::{HostLogger, LogRecord, Text};

/// The host's logger, once the entry point ran.
static HOST: AtomicPtr<HostLogger> = AtomicPtr::new(std::ptr::null_mut());

fn host() -> Option<&'static HostLogger> {
    // SAFETY: a non-null pointer was stored by `install` from the host's
    // `&'static HOST_LOGGER`, and the host outlives its plugins.
    unsafe { HOST.load(Ordering::Acquire).as_ref() }
}

fn send(
    level: u32,
    meta_target: &str,
    module: Option<&str>,
    file: Option<&str>,
    line: Option<u32>,
    message: &str,
) {
    let Some(host) = host() else {
        return;
    };
    let record = LogRecord {
        level,
        target: Text::of(Some(meta_target)),
        module_path: Text::of(module),
        file: Text::of(file),
        line: line.unwrap_or(0),
        message: Text::of(Some(message)),
    };
    // SAFETY: the host's function, given a record that lives for the call.
    unsafe { (host.log)(&record) };
}

/// The host's maximum level now (1 error .. 5 trace; 0: off, or no host).
fn host_level() -> u32 {
    host().map_or(0, |host| (host.max_level)())
}

/// Makes this plugin's `log` and `tracing` deliver to `host`, at the
/// host's level at each event. Called by the entry point once the constructor has
/// returned: a plugin that set a logger or dispatcher of its own there
/// keeps it, and events of the constructor itself are not delivered.
pub(crate) fn install(host: *const HostLogger) {
    if host.is_null() {
        return;
    }
    HOST.store(host.cast_mut(), Ordering::Release);
    if log::set_logger(&ForwardLog).is_ok() {
        // Every record reaches `ForwardLog::enabled`, which asks the host.
        log::set_max_level(log::LevelFilter::Trace);
    }
    let _ = tracing::subscriber::set_global_default(ForwardTracing);
}

struct ForwardLog;

impl log::Log for ForwardLog {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() as u32 <= host_level()
    }
    fn log(&self, record: &log::Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let message = record.args().to_string();
        send(
            record.level() as u32,
            record.target(),
            record.module_path(),
            record.file(),
            record.line(),
            &message,
        );
    }
    fn flush(&self) {}
}

fn level_number(level: &tracing::Level) -> u32 {
    match *level {
        tracing::Level::ERROR => 1,
        tracing::Level::WARN => 2,
        tracing::Level::INFO => 3,
        tracing::Level::DEBUG => 4,
        tracing::Level::TRACE => 5,
    }
}

struct ForwardTracing;

/// The event's message, then its other fields as ` name=value`.
impl Subscriber for ForwardTracing {
    /// Never cached: the host's level may change at any time, so each
    /// event asks `enabled`.
    fn register_callsite(&self, _: &'static Metadata<'static>) -> Interest {
        Interest::sometimes()
    }
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        level_number(metadata.level()) <= host_level()
    }
    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        Some(tracing::level_filters::LevelFilter::TRACE)
    }
    fn new_span(&self, attrs: &Attributes<'_>) -> Id {
        super::spans::new_span(attrs)
    }
    fn record(&self, id: &Id, values: &Record<'_>) {
        super::spans::record(id, values);
    }
    fn clone_span(&self, id: &Id) -> Id {
        super::spans::clone_span(id)
    }
    fn try_close(&self, id: Id) -> bool {
        super::spans::try_close(&id)
    }
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let meta = event.metadata();
        let mut text = Rendered::default();
        event.record(&mut text);
        let mut message = super::spans::context();
        message.push_str(&text.message);
        message.push_str(&text.fields);
        send(
            level_number(meta.level()),
            meta.target(),
            meta.module_path(),
            meta.file(),
            meta.line(),
            &message,
        );
    }
    fn enter(&self, id: &Id) {
        super::spans::enter(id);
    }
    fn exit(&self, id: &Id) {
        super::spans::exit(id);
    }
}
