//! The host's half: re-emits a plugin's record in the host, into the
//! calling thread's `tracing` dispatcher (as a `log` record converted the
//! way `tracing-log` does, so subscribers show the plugin's target, module,
//! file and line), or into its `log` logger when that thread has no
//! subscriber.

use std::panic::{AssertUnwindSafe, catch_unwind};

use super::wire::{HostLogger, LogRecord};

/// This process's logger, as plugins see it.
pub(crate) static HOST_LOGGER: HostLogger = HostLogger {
    log: receive,
    max_level,
};

/// The host's maximum level: the higher of `log`'s and `tracing`'s.
extern "C" fn max_level() -> u32 {
    let log = log::max_level() as u32;
    let tracing = match tracing::level_filters::LevelFilter::current().into_level() {
        None => 0,
        Some(tracing::Level::ERROR) => 1,
        Some(tracing::Level::WARN) => 2,
        Some(tracing::Level::INFO) => 3,
        Some(tracing::Level::DEBUG) => 4,
        Some(tracing::Level::TRACE) => 5,
    };
    log.max(tracing)
}

fn level(n: u32) -> Option<log::Level> {
    Some(match n {
        1 => log::Level::Error,
        2 => log::Level::Warn,
        3 => log::Level::Info,
        4 => log::Level::Debug,
        5 => log::Level::Trace,
        _ => return None,
    })
}

unsafe extern "C" fn receive(record: *const LogRecord) {
    // A panic in the host's logger must not unwind into plugin code (it
    // would be a foreign exception there, and abort).
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: the plugin passes a live record whose strings it made
        // with `Text::of` and keeps alive for the call.
        let r = unsafe { &*record };
        let Some(level) = level(r.level) else {
            return;
        };
        if level as u32 > max_level() {
            return;
        }
        // SAFETY: as above.
        let (target, module, file, message) = unsafe {
            (
                r.target.get(),
                r.module_path.get(),
                r.file.get(),
                r.message.get(),
            )
        };
        let args = format_args!("{}", message.unwrap_or(""));
        let record = log::Record::builder()
            .level(level)
            .target(target.unwrap_or("plugin"))
            .module_path(module)
            .file(file)
            .line((r.line != 0).then_some(r.line))
            .args(args)
            .build();
        let subscriber =
            tracing::dispatcher::get_default(|d| !d.is::<tracing::subscriber::NoSubscriber>());
        if subscriber {
            let _ = tracing_log::format_trace(&record);
        } else {
            log::logger().log(&record);
        }
    }));
    if let Err(payload) = outcome {
        crate::abi::panics::drop_payload(payload);
    }
}
