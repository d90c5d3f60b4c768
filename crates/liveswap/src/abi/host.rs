//! The host's half of a call: where the plugin writes its error text, how
//! a result or a caught panic comes back, and the view's two pointers.

use std::ffi::c_void;
use std::marker::PhantomData;

use super::{CALL_OK, Direct, FIELD_LOCATION, Message};

/// A host-owned place for the plugin to write an error message and the
/// location it came from. The plugin calls `write`, which copies the bytes
/// into host memory, so no allocation changes hands. The target is an
/// `Option<Message>` that stays `None` (one word to set up, nothing to
/// drop) unless something is written; the sink borrows it mutably for
/// `'a`, so it cannot outlive it.
#[repr(C)]
pub struct MessageSink<'a> {
    ctx: *mut c_void,
    write: unsafe extern "C" fn(ctx: *mut c_void, field: u32, ptr: *const u8, len: usize),
    target: PhantomData<&'a mut Option<Message>>,
}

impl<'a> MessageSink<'a> {
    /// A sink that writes into `target`.
    #[inline]
    pub fn new(target: &'a mut Option<Message>) -> Self {
        unsafe extern "C" fn write(ctx: *mut c_void, field: u32, ptr: *const u8, len: usize) {
            // A panic here (out of memory while copying) must not unwind
            // into the plugin that called us.
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                // SAFETY: `ctx` is the `&'a mut Option<Message>` the sink
                // was built from, borrowed for as long as the sink lives;
                // `ptr..ptr+len` is a live byte slice (the plugin passes a
                // `&str`).
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
            }));
            if let Err(payload) = outcome {
                crate::abi::panics::drop_payload(payload);
            }
        }
        MessageSink {
            ctx: (target as *mut Option<Message>).cast(),
            write,
            target: PhantomData,
        }
    }

    /// Writes `text` into the host's message.
    pub fn write(&mut self, field: u32, text: &str) {
        // SAFETY: `ctx` and `write` were paired by `new`, and the target is
        // borrowed for as long as `self` lives.
        unsafe { (self.write)(self.ctx, field, text.as_ptr(), text.len()) }
    }
}

/// The two pointers behind an interface's view: the plugin's instance and
/// its vtable. Only [`RawView::new`], which is `unsafe`, makes one, and it
/// is neither `Clone` nor `Copy`, so safe code can neither forge a view nor
/// copy one out of the guard that keeps its plugin loaded.
pub struct RawView<V> {
    instance: *const c_void,
    vtable: *const V,
}

impl<V> RawView<V> {
    /// Wraps an instance and its vtable.
    ///
    /// # Safety
    ///
    /// Both come from the entry point of a plugin whose handshake for the
    /// interface of `V` succeeded, and stay valid while the view lives.
    pub unsafe fn new(instance: *const c_void, vtable: *const V) -> Self {
        RawView { instance, vtable }
    }

    /// The instance.
    #[inline]
    pub fn instance(&self) -> *const c_void {
        self.instance
    }

    /// The vtable.
    #[inline]
    pub fn vtable(&self) -> *const V {
        self.vtable
    }
}

/// The end of a generated host method calling a direct shim.
///
/// # Safety
///
/// `ret` came from a direct shim, which sets `value` when its status is
/// [`CALL_OK`].
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
        crate::telemetry::plugin_panic();
        Err(crate::CallError::Panicked(crate::error::Panic::new(
            message.unwrap_or_default(),
        )))
    }
}
