//! The plugin's half: method shims and the entry point, which catch every
//! panic (including one raised while dropping a panic's payload, which is
//! leaked) and report it as a value, and the `export!` macro.

use std::any::Any;
use std::cell::Cell;
use std::ffi::c_void;
use std::io::Write as _;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Once;
use std::sync::atomic::Ordering;

use super::alloc::RoutedAllocator;
use super::host::MessageSink;
use super::panics::{PANICS, drop_payload};
use super::{
    CALL_FAILED, CALL_OK, CALL_PANICKED, Direct, DowngradeFn, ENTRY_EARLY_ALLOCATION, ENTRY_FAILED,
    ENTRY_OK, ENTRY_PANICKED, EntryCall, FIELD_LOCATION, FIELD_MESSAGE, MergeFn, RawObject,
    STATE_COLD, STATE_FAILED, STATE_RESTORED, SnapshotFn,
};
use crate::interface::Export;
use crate::warm::{Snapshot, WarmStart};

const LOCATION_CAP: usize = 240;

thread_local! {
    // Const-initialized and without drop glue: it registers no thread-local
    // destructor, which would keep the plugin's library mapped. A fixed
    // buffer, not a String, for the same reason.
    static LAST_PANIC_LOCATION: Cell<([u8; LOCATION_CAP], usize)> = const { Cell::new(([0; LOCATION_CAP], 0)) };
}

/// Replaces the plugin's panic hook (this std copy's, not the host's) with
/// one that records the location and prints nothing: the message reaches
/// the host as an error value instead. The default hook would ask for the
/// current thread's handle, which in a plugin creates a pthread key whose
/// destructor lives in the plugin.
fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            if let Some(loc) = info.location() {
                let mut buf = [0u8; LOCATION_CAP];
                let mut cursor = std::io::Cursor::new(&mut buf[..]);
                // A location too long for the buffer is cut short.
                let _ = write!(cursor, "{}:{}:{}", loc.file(), loc.line(), loc.column());
                let len = cursor.position() as usize;
                LAST_PANIC_LOCATION.with(|l| l.set((buf, len)));
            }
        }));
    });
}

/// The text of a panic payload.
fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-string payload".to_string()
    }
}

/// Writes a caught panic's message and location into `sink`, then drops
/// the payload; a payload whose own drop panics is leaked, not unwound.
pub(crate) fn report_panic(sink: &mut MessageSink<'_>, payload: Box<dyn Any + Send>) {
    PANICS.fetch_add(1, Ordering::Relaxed);
    sink.write(FIELD_MESSAGE, &panic_message(&*payload));
    let (buf, len) = LAST_PANIC_LOCATION.with(|l| l.replace(([0; LOCATION_CAP], 0)));
    if len > 0 {
        sink.write(FIELD_LOCATION, &String::from_utf8_lossy(&buf[..len]));
    }
    drop_payload(payload);
}

/// The body of a generated method shim: runs `f`, writes its result to
/// `ret`, or the panic's message to `sink`.
///
/// # Safety
///
/// `ret` points to writable, suitably aligned space for an `R`, and `sink`
/// to a live [`MessageSink`].
pub unsafe fn call_shim<R>(
    sink: *mut MessageSink<'_>,
    ret: *mut c_void,
    f: impl FnOnce() -> R,
) -> u32 {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(value) => {
            // SAFETY: the caller guarantees `ret` has room for an `R`.
            unsafe { ret.cast::<R>().write(value) };
            CALL_OK
        }
        Err(payload) => {
            // SAFETY: the caller guarantees `sink` is live.
            report_panic(unsafe { &mut *sink }, payload);
            CALL_PANICKED
        }
    }
}

/// The body of a generated direct shim: runs `f` and returns its result,
/// or writes the panic's message to `sink`.
///
/// # Safety
///
/// `sink` points to a live [`MessageSink`].
#[inline]
pub unsafe fn call_direct<R>(sink: *mut MessageSink<'_>, f: impl FnOnce() -> R) -> Direct<R> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(value) => Direct {
            value: std::mem::MaybeUninit::new(value),
            status: CALL_OK,
        },
        Err(payload) => {
            // SAFETY: the caller guarantees `sink` is live.
            report_panic(unsafe { &mut *sink }, payload);
            Direct {
                value: std::mem::MaybeUninit::uninit(),
                status: CALL_PANICKED,
            }
        }
    }
}

unsafe extern "C" fn drop_boxed<T>(instance: *mut c_void) {
    // A panicking destructor is caught and ignored: nothing may unwind into
    // the host, and the host is already letting go of this instance.
    let result = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: `instance` came from `Box::into_raw` in `entry` below, for
        // this `T`, and the host calls `drop` exactly once.
        drop(unsafe { Box::from_raw(instance.cast::<T>()) });
    }));
    if let Err(payload) = result {
        drop_payload(payload);
    }
}

/// The body of a plugin's entry point; the export macro calls it.
///
/// # Safety
///
/// `call` points to a valid [`EntryCall`] (the host's loader builds it),
/// `section` to the plugin's descriptor section, and `allocator` is the
/// plugin's global allocator.
pub unsafe fn entry<I, T, E>(
    call: *mut EntryCall<'_>,
    section: *const u8,
    allocator: &RoutedAllocator,
    construct: impl FnOnce() -> Result<T, E>,
) -> u32
where
    I: Export<T> + ?Sized,
    E: std::fmt::Display,
{
    // SAFETY: forwarded from this function's contract.
    unsafe {
        run_entry::<I, T>(call, section, allocator, |_| {
            construct()
                .map(|value| (value, None))
                .map_err(|e| e.to_string())
        })
    }
}

/// The body of the entry point of a plugin with warm-start state
/// (`export!(Trait => warm Type)`): restores a `T` from the host's
/// snapshot, if any, and hands the host its state functions.
///
/// # Safety
///
/// As for [`entry`]; moreover `call.prior..call.prior + call.prior_len` is
/// a live byte slice when `call.has_prior` is 1.
pub unsafe fn entry_warm<I, T>(
    call: *mut EntryCall<'_>,
    section: *const u8,
    allocator: &RoutedAllocator,
) -> u32
where
    I: Export<T> + ?Sized,
    T: WarmStart,
{
    let state: StateFns = (
        T::SCHEMA,
        snapshot_shim::<T>,
        T::MERGES.then_some(merge_shim::<T> as MergeFn),
        downgrade_shim::<T>,
    );
    let construct = |call: &mut EntryCall<'_>| {
        if call.has_prior != 1 {
            return T::restore(None)
                .map(|v| (v, Some(state)))
                .map_err(|e| e.to_string());
        }
        // SAFETY: the caller guarantees the slice is live for the call.
        let bytes = unsafe { std::slice::from_raw_parts(call.prior, call.prior_len) };
        let prior = Snapshot {
            schema: call.prior_schema,
            bytes,
        };
        let cold = call.cold_on_failure == 1;
        let error = match catch_unwind(AssertUnwindSafe(|| T::restore(Some(prior)))) {
            Ok(Ok(value)) => {
                call.state = STATE_RESTORED;
                return Ok((value, Some(state)));
            }
            Ok(Err(e)) if !cold => {
                call.state = STATE_FAILED;
                return Err(e.to_string());
            }
            Ok(Err(e)) => format!("failed: {e}"),
            Err(payload) if !cold => {
                call.state = STATE_FAILED;
                // Caught and reported by `run_entry`, as a panic.
                std::panic::resume_unwind(payload)
            }
            Err(payload) => {
                let text = format!("panicked: {}", panic_message(&*payload));
                // Counts the panic and records its location.
                report_panic(&mut call.error, payload);
                text
            }
        };
        let why = format!("restore from schema {} {error}", prior.schema);
        call.error.write(FIELD_MESSAGE, &why);
        call.state = STATE_COLD;
        T::restore(None)
            .map(|v| (v, Some(state)))
            .map_err(|e| format!("{why}; starting cold failed too: {e}"))
    };
    // SAFETY: forwarded from this function's contract.
    unsafe { run_entry::<I, T>(call, section, allocator, construct) }
}

/// A plugin's warm-start schema and state functions.
type StateFns = (u32, SnapshotFn, Option<MergeFn>, DowngradeFn);

/// What a constructor hands back: the instance, and its warm-start schema
/// and state functions when it has state.
type Constructed<T> = (T, Option<StateFns>);

/// The common body of both entry points.
///
/// # Safety
///
/// As for [`entry`].
unsafe fn run_entry<I, T>(
    call: *mut EntryCall<'_>,
    section: *const u8,
    allocator: &RoutedAllocator,
    construct: impl FnOnce(&mut EntryCall<'_>) -> Result<Constructed<T>, String>,
) -> u32
where
    I: Export<T> + ?Sized,
{
    // SAFETY: the caller guarantees `call` is valid and exclusively ours.
    let call = unsafe { &mut *call };
    call.section = section;
    if let Err(held) = allocator.attach(call.allocator) {
        let message = format!(
            "the plugin's code allocated memory while its library was being opened (a static \
             constructor) and still holds {held} block(s) from the system allocator; it could \
             not switch to the host's allocator"
        );
        call.error.write(FIELD_MESSAGE, &message);
        return ENTRY_EARLY_ALLOCATION;
    }
    install_panic_hook();
    crate::imports::plugin::install(call.imports, call.imports_len);
    crate::tasks::plugin::install(call.spawner);
    let logger = call.logger;
    let outcome = catch_unwind(AssertUnwindSafe(|| match construct(call) {
        Ok((value, state)) => Ok(RawObject {
            instance: Box::into_raw(Box::new(value)).cast(),
            vtable: (I::vtable() as *const I::VTable).cast(),
            drop: drop_boxed::<T>,
            panics: &PANICS,
            schema: state.map_or(0, |(schema, ..)| schema),
            snapshot: state.map(|(_, snapshot, ..)| snapshot),
            merge: state.and_then(|(_, _, merge, _)| merge),
            downgrade: state.map(|(.., downgrade)| downgrade),
        }),
        Err(error) => Err(error),
    }));
    match outcome {
        Ok(Ok(object)) => {
            call.object = object;
            // After the constructor, so that a plugin that sets a logger or
            // dispatcher of its own there keeps it (and its `init()` does
            // not fail on ours).
            if let Err(payload) = catch_unwind(|| crate::logs::plugin::install(logger)) {
                drop_payload(payload);
            }
            ENTRY_OK
        }
        Ok(Err(message)) => {
            call.error.write(FIELD_MESSAGE, &message);
            ENTRY_FAILED
        }
        Err(payload) => {
            report_panic(&mut call.error, payload);
            ENTRY_PANICKED
        }
    }
}

/// Writes a state function's outcome: `CALL_OK`, or the error or panic
/// into `sink`.
fn state_call(sink: &mut MessageSink<'_>, f: impl FnOnce() -> Result<(), String>) -> u32 {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => CALL_OK,
        Ok(Err(message)) => {
            sink.write(FIELD_MESSAGE, &message);
            CALL_FAILED
        }
        Err(payload) => {
            report_panic(sink, payload);
            CALL_PANICKED
        }
    }
}

unsafe extern "C" fn snapshot_shim<T: WarmStart>(
    instance: *const c_void,
    out: *mut Vec<u8>,
    sink: *mut MessageSink<'_>,
) -> u32 {
    // SAFETY: the host passes this plugin's live instance (a `T` boxed by
    // `run_entry`), a live sink and a live, empty `Vec<u8>` it owns.
    let (this, out, sink) = unsafe { (&*instance.cast::<T>(), &mut *out, &mut *sink) };
    state_call(sink, || {
        // The bytes are allocated through the host's allocator (this
        // plugin's global allocator routes there), so the host frees them.
        *out = this.snapshot().map_err(|e| e.to_string())?;
        Ok(())
    })
}

unsafe extern "C" fn downgrade_shim<T: WarmStart>(
    instance: *const c_void,
    schema: u32,
    out: *mut Vec<u8>,
    written: *mut u8,
    sink: *mut MessageSink<'_>,
) -> u32 {
    // SAFETY: the host passes this plugin's live instance, a live sink, a
    // live, empty `Vec<u8>` it owns and a live flag.
    let (this, out, written, sink) =
        unsafe { (&*instance.cast::<T>(), &mut *out, &mut *written, &mut *sink) };
    state_call(sink, || {
        // Allocated through the host's allocator, as for a snapshot.
        if let Some(bytes) = this.snapshot_for(schema).map_err(|e| e.to_string())? {
            *out = bytes;
            *written = 1;
        }
        Ok(())
    })
}

unsafe extern "C" fn merge_shim<T: WarmStart>(
    instance: *const c_void,
    schema: u32,
    base: *const u8,
    base_len: usize,
    last: *const u8,
    last_len: usize,
    sink: *mut MessageSink<'_>,
) -> u32 {
    // SAFETY: the host passes this plugin's live instance, a live sink and
    // two byte slices it keeps alive for the call.
    let (this, base, last, sink) = unsafe {
        (
            &*instance.cast::<T>(),
            std::slice::from_raw_parts(base, base_len),
            std::slice::from_raw_parts(last, last_len),
            &mut *sink,
        )
    };
    state_call(sink, || {
        this.merge(
            Snapshot {
                schema,
                bytes: base,
            },
            Snapshot {
                schema,
                bytes: last,
            },
        )
        .map_err(|e| e.to_string())
    })
}

/// Exports an implementation of an interface from a plugin crate.
///
/// For an interface declared with [`#[liveswap::interface]`](crate::interface):
/// `export!(Trait => expr)`. For a hand-written [`Interface`](crate::Interface)
/// type: `export!(Type, expr)`. `expr` constructs the instance when the host
/// loads the plugin; with `try expr`, it is a `Result<T, E: Display>` whose
/// `Err` the host receives as
/// [`Error::ConstructorFailed`](crate::Error::ConstructorFailed). A panic in
/// either is caught and reported the same way.
///
/// `export!(Trait => warm Type)` (or `export!(Iface, warm Type)`) exports a
/// type with state that survives swaps: it implements
/// [`WarmStart`](crate::WarmStart), and the instance is built by
/// `Type::restore` from the serving version's snapshot (or from nothing).
///
/// A plugin that calls host services names them:
/// `export!(Trait => expr, imports(dyn HostData, dyn Clock))`. Each is
/// checked against what the host provides before any plugin code runs,
/// and taken with [`import`](crate::import) (see
/// [`Options::provide`](crate::Options::provide)).
///
/// The macro emits the entry point, the descriptor section (with the
/// interface's type table, computed at compile time) and the plugin's
/// global allocator, which routes every allocation to the host's (so a
/// plugin crate cannot set a `#[global_allocator]` of its own). Use it once
/// per plugin, in a crate built as a `cdylib` with `panic = "unwind"`.
///
/// ```
/// # #[liveswap::interface(version = 1)]
/// # pub trait Handles: Send + Sync { fn some_data(&self) -> String; }
/// struct MyHandles { data: String }
/// impl Handles for MyHandles {
///     fn some_data(&self) -> String { self.data.clone() }
/// }
/// impl MyHandles {
///     fn from_env() -> Result<Self, std::env::VarError> {
///         Ok(MyHandles { data: std::env::var("MY_PLUGIN_DATA")? })
///     }
/// }
/// // `try`: an `Err` here refuses the load (or swap) with its message.
/// liveswap::export!(Handles => try MyHandles::from_env());
/// ```
#[macro_export]
macro_rules! export {
    (@imports $($imp:ty),+) => {
        $(
            const _: () = {
                #[unsafe(link_section = ".liveswap_imports")]
                #[used]
                static __LIVESWAP_IMPORT: $crate::__private::Section<
                    { $crate::__private::table_len(<$imp as $crate::Interface>::METHODS) },
                > = $crate::__private::Section::of::<$imp>(true);
            };
        )+
    };
    (@emit ($iface:ty) $construct:expr) => {
        $crate::export!(@emit_with ($iface) |call, section, allocator| {
            $crate::__private::entry::<$iface, _, _>(call, section, allocator, || $construct)
        });
    };
    (@emit_with ($iface:ty) |$call:ident, $section:ident, $allocator:ident| $body:expr) => {
        const __LIVESWAP_TABLE_LEN: usize =
            $crate::__private::table_len(<$iface as $crate::Interface>::METHODS);

        #[unsafe(link_section = ".liveswap")]
        #[used]
        static __LIVESWAP_SECTION: $crate::__private::Section<__LIVESWAP_TABLE_LEN> =
            $crate::__private::Section::of::<$iface>(cfg!(panic = "unwind"));

        #[global_allocator]
        static __LIVESWAP_ALLOCATOR: $crate::__private::RoutedAllocator =
            $crate::__private::RoutedAllocator::new();

        /// The plugin's entry point, called by the liveswap loader.
        ///
        /// # Safety
        ///
        /// Only the liveswap loader calls it, with a valid `EntryCall`.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn liveswap_entry($call: *mut $crate::__private::EntryCall<'_>) -> u32 {
            let $section: *const u8 = (&raw const __LIVESWAP_SECTION).cast();
            let $allocator = &__LIVESWAP_ALLOCATOR;
            // SAFETY: forwarded from this function's own contract; the
            // section and the allocator are this plugin's.
            unsafe { $body }
        }
    };
    (@emit_warm ($iface:ty) $ty:ty) => {
        $crate::export!(@emit_with ($iface) |call, section, allocator| {
            $crate::__private::entry_warm::<$iface, $ty>(call, section, allocator)
        });
    };
    // Each form with `imports(..)` comes just before the same form
    // without: an arm that parsed `$construct:expr` and then fails moves
    // on, but one that cannot parse `try ..` as an expression is an error.
    ($tr:path => try $construct:expr, imports($($imp:ty),+ $(,)?)) => {
        $crate::export!(@imports $($imp),+);
        $crate::export!(@emit (dyn $tr) $construct);
    };
    ($tr:path => try $construct:expr) => {
        $crate::export!(@emit (dyn $tr) $construct);
    };
    ($tr:path => warm $ty:ty, imports($($imp:ty),+ $(,)?)) => {
        $crate::export!(@imports $($imp),+);
        $crate::export!(@emit_warm (dyn $tr) $ty);
    };
    ($tr:path => warm $ty:ty) => {
        $crate::export!(@emit_warm (dyn $tr) $ty);
    };
    ($tr:path => $construct:expr, imports($($imp:ty),+ $(,)?)) => {
        $crate::export!(@imports $($imp),+);
        $crate::export!(@emit (dyn $tr) ::core::result::Result::<_, ::core::convert::Infallible>::Ok($construct));
    };
    ($tr:path => $construct:expr) => {
        $crate::export!(@emit (dyn $tr) ::core::result::Result::<_, ::core::convert::Infallible>::Ok($construct));
    };
    ($iface:ty, try $construct:expr) => {
        $crate::export!(@emit ($iface) $construct);
    };
    ($iface:ty, warm $ty:ty) => {
        $crate::export!(@emit_warm ($iface) $ty);
    };
    ($iface:ty, $construct:expr) => {
        $crate::export!(@emit ($iface) ::core::result::Result::<_, ::core::convert::Infallible>::Ok($construct));
    };
}
