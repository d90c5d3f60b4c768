//! The records that cross, and the host's functions that receive them.
//! `#[repr(C)]`; covered by the descriptor version.

/// A borrowed string: pointer and length (null for none).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct Text {
    ptr: *const u8,
    len: usize,
}

impl Text {
    /// Borrows `s`.
    pub(crate) fn of(s: Option<&str>) -> Text {
        match s {
            Some(s) => Text {
                ptr: s.as_ptr(),
                len: s.len(),
            },
            None => Text {
                ptr: std::ptr::null(),
                len: 0,
            },
        }
    }

    /// The string.
    ///
    /// # Safety
    ///
    /// Made by [`Text::of`] from a string still alive.
    pub(crate) unsafe fn get<'a>(self) -> Option<&'a str> {
        if self.ptr.is_null() {
            return None;
        }
        // SAFETY: the caller's contract: `ptr` and `len` are a live `str`'s.
        Some(unsafe {
            std::str::from_utf8_unchecked(std::slice::from_raw_parts(self.ptr, self.len))
        })
    }
}

/// One log record, every string borrowed for the call.
#[repr(C)]
pub struct LogRecord {
    /// 1 (error) to 5 (trace), as `log::Level`.
    pub level: u32,
    pub target: Text,
    pub module_path: Text,
    pub file: Text,
    /// 0 when unknown.
    pub line: u32,
    /// The message, then the event's other fields as ` name=value`.
    pub message: Text,
}

/// The host's logging functions, handed to the entry point.
#[repr(C)]
pub struct HostLogger {
    /// Re-emits a record in the host; catches its own panics.
    pub log: unsafe extern "C" fn(record: *const LogRecord),
    /// The host's maximum level now, 0 (off) to 5 (trace).
    pub max_level: extern "C" fn() -> u32,
}
