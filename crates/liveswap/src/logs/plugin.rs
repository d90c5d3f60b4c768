//! The plugin's half: a `log::Log` and a `tracing` subscriber, installed
//! in the plugin's own copies of those crates by the entry point, that
//! hand each enabled record to the host.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicPtr, AtomicU32, Ordering};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

use super::wire::{HostLogger, LogRecord, Text};

/// The host's logger, once the entry point ran.
static HOST: AtomicPtr<HostLogger> = AtomicPtr::new(std::ptr::null_mut());
/// The host's maximum level when this generation was constructed.
static MAX: AtomicU32 = AtomicU32::new(0);

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

/// Makes this plugin's `log` and `tracing` deliver to `host`, at the
/// host's level now. Called by the entry point once the constructor has
/// returned: a plugin that set a logger or dispatcher of its own there
/// keeps it, and events of the constructor itself are not delivered.
pub(crate) fn install(host: *const HostLogger) {
    if host.is_null() {
        return;
    }
    HOST.store(host.cast_mut(), Ordering::Release);
    // SAFETY: the host passes its `&'static HOST_LOGGER`.
    let level = (unsafe { &*host }.max_level)();
    MAX.store(level, Ordering::Relaxed);
    if log::set_logger(&ForwardLog).is_ok() {
        log::set_max_level(match level {
            0 => log::LevelFilter::Off,
            1 => log::LevelFilter::Error,
            2 => log::LevelFilter::Warn,
            3 => log::LevelFilter::Info,
            4 => log::LevelFilter::Debug,
            _ => log::LevelFilter::Trace,
        });
    }
    let _ = tracing::subscriber::set_global_default(ForwardTracing);
}

struct ForwardLog;

impl log::Log for ForwardLog {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() as u32 <= MAX.load(Ordering::Relaxed)
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
#[derive(Default)]
struct Rendered {
    message: String,
    fields: String,
}

impl Visit for Rendered {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            let _ = write!(self.fields, " {}={value:?}", field.name());
        }
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            let _ = write!(self.fields, " {}={value:?}", field.name());
        }
    }
}

impl Subscriber for ForwardTracing {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        level_number(metadata.level()) <= MAX.load(Ordering::Relaxed)
    }
    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        Some(match MAX.load(Ordering::Relaxed) {
            0 => tracing::level_filters::LevelFilter::OFF,
            1 => tracing::level_filters::LevelFilter::ERROR,
            2 => tracing::level_filters::LevelFilter::WARN,
            3 => tracing::level_filters::LevelFilter::INFO,
            4 => tracing::level_filters::LevelFilter::DEBUG,
            _ => tracing::level_filters::LevelFilter::TRACE,
        })
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        // Spans are not carried to the host: every span is the same one.
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let meta = event.metadata();
        let mut text = Rendered::default();
        event.record(&mut text);
        text.message.push_str(&text.fields);
        send(
            level_number(meta.level()),
            meta.target(),
            meta.module_path(),
            meta.file(),
            meta.line(),
            &text.message,
        );
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}
