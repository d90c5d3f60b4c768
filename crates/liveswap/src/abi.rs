//! The entry point's calling convention, and the plugin-side half of it.
//!
//! A plugin exports one function, [`ENTRY_SYMBOL`](crate::ENTRY_SYMBOL),
//! of type [`EntryFn`]. The host passes an [`EntryCall`]; the plugin fills
//! in a pointer to its descriptor and either a [`RawObject`] or an error
//! message, written through a [`MessageSink`] that points back into host
//! memory (so no allocation changes hands).
//!
//! Everything here is `#[repr(C)]`, and its layout is covered by
//! [`DESCRIPTOR_VERSION`](crate::DESCRIPTOR_VERSION).

use std::any::Any;
use std::cell::Cell;
use std::ffi::c_void;
use std::io::Write as _;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Once;

use crate::descriptor::Descriptor;
use crate::interface::Export;

/// The plugin's instance: a boxed value, its vtable and its destructor.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct RawObject {
    /// The boxed instance.
    pub instance: *mut c_void,
    /// The interface's vtable, in the plugin's memory.
    pub vtable: *const c_void,
    /// Drops the boxed instance; catches its panics.
    pub drop: unsafe extern "C" fn(*mut c_void),
}

/// Which text a [`MessageSink`] write carries.
pub const FIELD_MESSAGE: u32 = 0;
/// See [`FIELD_MESSAGE`].
pub const FIELD_LOCATION: u32 = 1;

/// A host-owned place for the plugin to write an error message and the
/// location it came from. The plugin calls `write`, which copies the bytes
/// into host memory. The target is an `Option<Message>` that stays `None`
/// (one word to set up, nothing to drop) unless something is written.
#[repr(C)]
pub struct MessageSink {
    ctx: *mut c_void,
    write: unsafe extern "C" fn(ctx: *mut c_void, field: u32, ptr: *const u8, len: usize),
}

/// What a [`MessageSink`] collected.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Message {
    /// The panic's or error's text.
    pub message: String,
    /// `file:line:column` of a panic, when known.
    pub location: Option<String>,
}

impl MessageSink {
    /// A sink that writes into `target`.
    #[inline]
    pub fn new(target: &mut Option<Message>) -> Self {
        unsafe extern "C" fn write(ctx: *mut c_void, field: u32, ptr: *const u8, len: usize) {
            // SAFETY: `ctx` is the `&mut Option<Message>` the sink was built
            // from, which outlives the sink; `ptr..ptr+len` is a live byte
            // slice (the plugin passes a `&str`).
            let (target, bytes) = unsafe {
                (
                    (*ctx.cast::<Option<Message>>()).get_or_insert_with(Message::default),
                    std::slice::from_raw_parts(ptr, len),
                )
            };
            let text = String::from_utf8_lossy(bytes).into_owned();
            match field {
                FIELD_LOCATION => target.location = Some(text),
                _ => target.message = text,
            }
        }
        MessageSink {
            ctx: (target as *mut Option<Message>).cast(),
            write,
        }
    }

    /// Writes `text` into the host's message. Called by plugin-side shims.
    pub fn write(&mut self, field: u32, text: &str) {
        // SAFETY: `ctx` and `write` were paired by `new`, and the target
        // outlives the call that carries this sink.
        unsafe { (self.write)(self.ctx, field, text.as_ptr(), text.len()) }
    }

    /// Writes a caught panic's message and location.
    pub fn write_panic(&mut self, payload: &(dyn Any + Send)) {
        self.write(FIELD_MESSAGE, &panic_message(payload));
        let (buf, len) = LAST_PANIC_LOCATION.with(|l| l.replace(([0; LOCATION_CAP], 0)));
        if len > 0 {
            self.write(FIELD_LOCATION, &String::from_utf8_lossy(&buf[..len]));
        }
    }
}

/// The arguments of the entry point.
#[repr(C)]
pub struct EntryCall {
    /// Out: the plugin's descriptor, in its memory.
    pub descriptor: *const Descriptor,
    /// Out: the instance, when the status is [`ENTRY_OK`].
    pub object: RawObject,
    /// In: where to write the error of a failed constructor.
    pub error: MessageSink,
}

/// The entry point: fills `call` and returns an `ENTRY_*` status.
pub type EntryFn = unsafe extern "C" fn(call: *mut EntryCall) -> u32;
/// The constructor returned a value.
pub const ENTRY_OK: u32 = 0;
/// The constructor returned an error.
pub const ENTRY_FAILED: u32 = 1;
/// The constructor panicked.
pub const ENTRY_PANICKED: u32 = 2;

const LOCATION_CAP: usize = 240;

thread_local! {
    // Const-initialized and without drop glue: it registers no thread-local
    // destructor, so it does not pin the plugin (see DESIGN.md's pitfalls).
    // A fixed buffer, not a String, for the same reason.
    static LAST_PANIC_LOCATION: Cell<([u8; LOCATION_CAP], usize)> = const { Cell::new(([0; LOCATION_CAP], 0)) };
}

/// Replaces the plugin's panic hook (this std copy's, not the host's) with
/// one that records the location and prints nothing: the message reaches
/// the host as an error value instead. The default hook would ask for the
/// current thread's handle, which in a plugin leaks a pthread key per loaded
/// copy.
pub fn install_panic_hook() {
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
pub fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-string payload".to_string()
    }
}

/// A method shim's status: the result was written.
pub const CALL_OK: u32 = 0;
/// A method shim's status: the method panicked; the sink holds the message.
pub const CALL_PANICKED: u32 = 2;

/// The body of a generated method shim (plugin side): runs `f`, writes its
/// result to `ret`, or the panic's message to `sink`.
///
/// # Safety
///
/// `ret` points to writable, suitably aligned space for an `R`, and `sink`
/// to a live [`MessageSink`].
#[doc(hidden)]
pub unsafe fn call_shim<R>(sink: *mut MessageSink, ret: *mut c_void, f: impl FnOnce() -> R) -> u32 {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(value) => {
            // SAFETY: the caller guarantees `ret` has room for an `R`.
            unsafe { ret.cast::<R>().write(value) };
            CALL_OK
        }
        Err(payload) => {
            // SAFETY: the caller guarantees `sink` is live.
            unsafe { (*sink).write_panic(&*payload) };
            // A payload whose destructor panics must not unwind either.
            let _ = catch_unwind(AssertUnwindSafe(move || drop(payload)));
            CALL_PANICKED
        }
    }
}

/// The result of a *direct* shim: methods whose arguments and result are all
/// scalars (integers, floats, `bool`, `char`, `()`) pass them by value and
/// return this, which comes back in registers.
#[repr(C)]
pub struct Direct<R> {
    /// The result, written when `status` is [`CALL_OK`].
    pub value: std::mem::MaybeUninit<R>,
    /// [`CALL_OK`] or [`CALL_PANICKED`].
    pub status: u32,
}

/// The body of a generated direct shim (plugin side): runs `f` and returns
/// its result, or writes the panic's message to `sink`.
///
/// # Safety
///
/// `sink` points to a live [`MessageSink`].
#[doc(hidden)]
#[inline]
pub unsafe fn call_direct<R>(sink: *mut MessageSink, f: impl FnOnce() -> R) -> Direct<R> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(value) => Direct {
            value: std::mem::MaybeUninit::new(value),
            status: CALL_OK,
        },
        Err(payload) => {
            // SAFETY: the caller guarantees `sink` is live.
            unsafe { (*sink).write_panic(&*payload) };
            let _ = catch_unwind(AssertUnwindSafe(move || drop(payload)));
            Direct {
                value: std::mem::MaybeUninit::uninit(),
                status: CALL_PANICKED,
            }
        }
    }
}

/// The end of a generated host method calling a direct shim.
///
/// # Safety
///
/// `ret` came from a direct shim, which sets `value` when its status is
/// [`CALL_OK`].
#[doc(hidden)]
#[inline]
pub unsafe fn finish_direct<R>(
    ret: Direct<R>,
    message: Option<Message>,
) -> Result<R, crate::CallError> {
    // SAFETY: forwarded from this function's contract.
    unsafe { finish_call(ret.status, ret.value, message) }
}

/// The end of a generated host method: the result, or the plugin's panic.
///
/// # Safety
///
/// `ret` was written by the shim if and only if `status` is [`CALL_OK`].
#[doc(hidden)]
#[inline]
pub unsafe fn finish_call<R>(
    status: u32,
    ret: std::mem::MaybeUninit<R>,
    message: Option<Message>,
) -> Result<R, crate::CallError> {
    if status == CALL_OK {
        // A shim writes the message only when it fails, so on success there
        // is nothing to drop: not reading it back spares the call a load.
        std::mem::forget(message);
        // SAFETY: the shim wrote the result (caller's guarantee).
        Ok(unsafe { ret.assume_init() })
    } else {
        Err(crate::CallError::Panicked(crate::error::Panic::new(
            message.unwrap_or_default(),
        )))
    }
}

/// Folds the sizes and alignments of an interface's types into the hash of
/// its declaration (generated `FINGERPRINT`s).
#[doc(hidden)]
pub const fn fingerprint(shape: u64, layouts: &[(usize, usize)]) -> u64 {
    let mut hash = shape;
    let mut i = 0;
    while i < layouts.len() {
        hash = (hash ^ layouts[i].0 as u64).wrapping_mul(0x0000_0100_0000_01b3);
        hash = (hash ^ layouts[i].1 as u64).wrapping_mul(0x0000_0100_0000_01b3);
        i += 1;
    }
    hash
}

unsafe extern "C" fn drop_boxed<T>(instance: *mut c_void) {
    // A panicking destructor is caught and ignored: nothing may unwind into
    // the host, and the host is already letting go of this instance.
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: `instance` came from `Box::into_raw` in `entry` below, for
        // this `T`, and the host calls `drop` exactly once.
        drop(unsafe { Box::from_raw(instance.cast::<T>()) });
    }));
}

/// The body of a plugin's entry point; the export macro calls it.
///
/// # Safety
///
/// `call` points to a valid [`EntryCall`] (the host's loader builds it).
#[doc(hidden)]
pub unsafe fn entry<I, T, E>(
    call: *mut EntryCall,
    descriptor: &'static Descriptor,
    construct: impl FnOnce() -> Result<T, E>,
) -> u32
where
    I: Export<T> + ?Sized,
    E: std::fmt::Display,
{
    install_panic_hook();
    // SAFETY: the caller guarantees `call` is valid and exclusively ours.
    let call = unsafe { &mut *call };
    call.descriptor = descriptor;
    match catch_unwind(AssertUnwindSafe(construct)) {
        Ok(Ok(value)) => {
            call.object = RawObject {
                instance: Box::into_raw(Box::new(value)).cast(),
                vtable: (I::vtable() as *const I::VTable).cast(),
                drop: drop_boxed::<T>,
            };
            ENTRY_OK
        }
        Ok(Err(error)) => {
            call.error.write(FIELD_MESSAGE, &error.to_string());
            ENTRY_FAILED
        }
        Err(payload) => {
            call.error.write_panic(&*payload);
            ENTRY_PANICKED
        }
    }
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
/// The macro emits the entry point and the descriptor section; use it once
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
    (@emit ($iface:ty) $construct:expr) => {
        #[unsafe(link_section = ".liveswap")]
        #[used]
        static LIVESWAP_DESCRIPTOR: $crate::Descriptor =
            $crate::Descriptor::of::<$iface>(cfg!(panic = "unwind"));

        /// The plugin's entry point, called by the liveswap loader.
        ///
        /// # Safety
        ///
        /// Only the liveswap loader calls it, with a valid `EntryCall`.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn liveswap_entry(call: *mut $crate::abi::EntryCall) -> u32 {
            // SAFETY: forwarded from this function's own contract.
            unsafe { $crate::abi::entry::<$iface, _, _>(call, &LIVESWAP_DESCRIPTOR, || $construct) }
        }
    };
    ($tr:path => try $construct:expr) => {
        $crate::export!(@emit (dyn $tr) $construct);
    };
    ($tr:path => $construct:expr) => {
        $crate::export!(@emit (dyn $tr) ::core::result::Result::<_, ::core::convert::Infallible>::Ok($construct));
    };
    ($iface:ty, try $construct:expr) => {
        $crate::export!(@emit ($iface) $construct);
    };
    ($iface:ty, $construct:expr) => {
        $crate::export!(@emit ($iface) ::core::result::Result::<_, ::core::convert::Infallible>::Ok($construct));
    };
}
