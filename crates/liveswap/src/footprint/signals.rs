//! Signal handlers that point into a library: closing it would crash the
//! process at the next such signal. Read with `sigaction` for every signal
//! (64 system calls per look).

use crate::load::image::Ranges;

/// A signal whose handler lies in a library.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Handler {
    pub signal: i32,
    pub address: usize,
}

impl std::fmt::Display for Handler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // SAFETY: `strsignal` returns a string for any number; it is copied
        // out at once.
        let name = unsafe { std::ffi::CStr::from_ptr(libc::strsignal(self.signal)) };
        write!(
            f,
            "signal {} ({}, handler at {:#x})",
            self.signal,
            name.to_string_lossy(),
            self.address
        )
    }
}

/// The signals whose handler lies in `ranges`.
pub(crate) fn handlers_in(ranges: &Ranges) -> Vec<Handler> {
    (1..=libc::SIGRTMAX())
        .filter_map(|signal| {
            // SAFETY: all-zero is a valid `sigaction` (plain integers and
            // pointers), which the call below overwrites.
            let mut current: libc::sigaction = unsafe { std::mem::zeroed() };
            // SAFETY: a null new action only reads the current one.
            let rc = unsafe { libc::sigaction(signal, std::ptr::null(), &mut current) };
            let address = current.sa_sigaction;
            (rc == 0 && address > 1 && ranges.contains(address))
                .then_some(Handler { signal, address })
        })
        .collect()
}
