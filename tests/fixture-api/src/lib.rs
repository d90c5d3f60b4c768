//! Test interfaces written by hand, the way `#[liveswap::interface]` would
//! generate them: a `#[repr(C)]` vtable of `extern "C"` shims that catch
//! panics, and a host-side view whose methods call through it.

use std::ffi::c_void;
use std::marker::PhantomData;
use std::panic::{AssertUnwindSafe, catch_unwind};

use liveswap::layout::MethodLayout;
use liveswap::{CrossSafe, Export, Interface};

/// What a greeter plugin implements.
pub trait Greet: Send + Sync + 'static {
    /// Which build this is (1, 2, ...).
    fn build(&self) -> u32;
    /// Some arithmetic that differs between builds.
    fn answer(&self, x: u64) -> u64;
}

/// The greeter's table.
#[repr(C)]
pub struct GreeterVTable {
    pub build: unsafe extern "C" fn(*const c_void) -> u32,
    pub answer: unsafe extern "C" fn(*const c_void, u64) -> u64,
}

/// Returned by a shim whose method panicked.
pub const PANICKED: u64 = u64::MAX;

/// The host's view of a greeter plugin.
pub struct Greeter {
    this: *const c_void,
    vtable: *const GreeterVTable,
}

// SAFETY: the instance is `Greet: Send + Sync`; the vtable is immutable.
unsafe impl Send for Greeter {}
// SAFETY: as above.
unsafe impl Sync for Greeter {}

// SAFETY: `GreeterVTable` is `repr(C)` with only `extern "C"` fns taking
// integers; every shim catches panics; the view holds only the two pointers;
// nothing owned crosses (integers only), so there is nothing to adopt.
unsafe impl Interface for Greeter {
    type VTable = GreeterVTable;
    type View = Greeter;
    const NAME: &'static str = "fixture::Greeter";
    const VERSION: u32 = 1;
    const METHODS: &'static [MethodLayout] = &[
        MethodLayout {
            name: "build",
            direct: true,
            args: &[],
            arg_names: &[],
            ret: <u32 as CrossSafe>::LAYOUT,
        },
        MethodLayout {
            name: "answer",
            direct: true,
            args: &[<u64 as CrossSafe>::LAYOUT],
            arg_names: &["n"],
            ret: <u64 as CrossSafe>::LAYOUT,
        },
    ];
    const __ADOPTS: bool = true;
    unsafe fn view(this: *const c_void, vtable: *const GreeterVTable) -> Self {
        Greeter { this, vtable }
    }
}

impl Greeter {
    pub fn build(&self) -> u32 {
        // SAFETY: `&self` is borrowed from a guard that keeps the plugin
        // loaded; the vtable and instance are valid for that long.
        unsafe { ((*self.vtable).build)(self.this) }
    }
    pub fn answer(&self, x: u64) -> u64 {
        // SAFETY: as in `build`.
        unsafe { ((*self.vtable).answer)(self.this, x) }
    }
}

struct GreeterShims<T>(PhantomData<T>);

impl<T: Greet> GreeterShims<T> {
    const VTABLE: GreeterVTable = GreeterVTable {
        build: Self::build,
        answer: Self::answer,
    };
    unsafe extern "C" fn build(this: *const c_void) -> u32 {
        // SAFETY: the library passes the instance it boxed for this `T`.
        let this = unsafe { &*this.cast::<T>() };
        catch_unwind(AssertUnwindSafe(|| this.build())).unwrap_or(u32::MAX)
    }
    unsafe extern "C" fn answer(this: *const c_void, x: u64) -> u64 {
        // SAFETY: as in `build`.
        let this = unsafe { &*this.cast::<T>() };
        catch_unwind(AssertUnwindSafe(|| this.answer(x))).unwrap_or(PANICKED)
    }
}

// SAFETY: the shims take a `*const T` and catch panics.
unsafe impl<T: Greet> Export<T> for Greeter {
    fn vtable() -> &'static GreeterVTable {
        &GreeterShims::<T>::VTABLE
    }
}

/// An unrelated interface, to be rejected where a `Greeter` is expected.
pub struct Other {
    _this: *const c_void,
}

/// `Other`'s table.
#[repr(C)]
pub struct OtherVTable {
    pub nothing: unsafe extern "C" fn(*const c_void),
}

// SAFETY: as for `Greeter`.
unsafe impl Send for Other {}
// SAFETY: as for `Greeter`.
unsafe impl Sync for Other {}

// SAFETY: `OtherVTable` is `repr(C)`; its one shim cannot panic.
unsafe impl Interface for Other {
    type VTable = OtherVTable;
    type View = Other;
    const NAME: &'static str = "fixture::Other";
    const VERSION: u32 = 1;
    const METHODS: &'static [MethodLayout] = &[MethodLayout {
        name: "nothing",
        direct: true,
        args: &[],
        arg_names: &[],
        ret: <() as CrossSafe>::LAYOUT,
    }];
    unsafe fn view(this: *const c_void, _vtable: *const OtherVTable) -> Self {
        Other { _this: this }
    }
}

unsafe extern "C" fn nothing(_: *const c_void) {}

// SAFETY: the one shim ignores its instance and cannot panic.
unsafe impl<T: Send + Sync + 'static> Export<T> for Other {
    fn vtable() -> &'static OtherVTable {
        &OtherVTable { nothing }
    }
}

/// A whole greeter plugin: build `$build` answers `x + $build`.
#[macro_export]
macro_rules! greeter_plugin {
    ($build:literal) => {
        struct Build;

        impl $crate::Greet for Build {
            fn build(&self) -> u32 {
                $build
            }
            fn answer(&self, x: u64) -> u64 {
                x + $build
            }
        }

        ::liveswap::export!($crate::Greeter, Build);
    };
}

/// The marker file a fixture's load-time constructor creates, named for the
/// fixture and this process.
pub fn marker_path(fixture: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("liveswap-marker-{}-{fixture}", std::process::id()))
}

/// Emits a load-time constructor (`.init_array`, run by `dlopen` before any
/// entry point) that creates [`marker_path`]`(name)`: proof that the
/// library's code ran.
#[macro_export]
macro_rules! marker_constructor {
    ($name:literal) => {
        #[used]
        #[unsafe(link_section = ".init_array")]
        static WRITE_MARKER: extern "C" fn() = {
            extern "C" fn write_marker() {
                let _ = ::std::fs::write($crate::marker_path($name), b"constructor ran");
            }
            write_marker
        };
    };
}

/// A typed interface declared with the attribute: every kind of value that
/// may cross, and a method that panics.
#[liveswap::interface(version = 1, name = "fixture::Calc")]
pub trait Calc: Send + Sync {
    /// Integer arithmetic.
    fn add(&self, a: i64, b: i64) -> i64;
    /// Integer division: panics when `b` is 0 (scalars only, so its shim
    /// passes them in registers).
    fn divide(&self, a: i64, b: i64) -> i64;
    /// Floats in, float out.
    fn ratio(&self, a: f64, b: f32) -> f64;
    /// A borrowed string in, an owned one out.
    fn greet(&self, name: &str) -> String;
    /// A borrowed slice in.
    fn sum(&self, xs: &[i64]) -> i64;
    /// An owned string in, a vector out.
    fn words(&self, text: String) -> Vec<String>;
    /// Options and tuples.
    fn half(&self, x: Option<u32>) -> Option<(u32, bool)>;
    /// A value borrowed from the plugin's instance.
    fn label(&self) -> &str;
    /// Unit in, unit out.
    fn touch(&self);
    /// Panics with `message` when `fail` is set.
    fn checked(&self, fail: bool, message: String) -> u32;
    /// Named like `Version::generation`, which must not hide it.
    fn generation(&self) -> u64;
    /// Named like `Version::source`, which must not hide it.
    fn source(&self) -> String;
}

/// A timer for plugins with no runtime: ready `ms` milliseconds after its
/// first poll. The sleep is a task handed to the host
/// (`liveswap::spawn_blocking`), which wakes the waker the executor gave.
pub struct Delay {
    ms: u64,
    shared: Option<std::sync::Arc<std::sync::Mutex<DelayState>>>,
}

#[derive(Default)]
struct DelayState {
    done: bool,
    waker: Option<std::task::Waker>,
}

impl Delay {
    pub fn new(ms: u64) -> Self {
        Delay { ms, shared: None }
    }
}

impl std::future::Future for Delay {
    type Output = ();
    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        let ms = self.ms;
        let shared = self.shared.get_or_insert_with(|| {
            let shared = std::sync::Arc::new(std::sync::Mutex::new(DelayState::default()));
            let timer = std::sync::Arc::clone(&shared);
            liveswap::spawn_blocking(move || {
                std::thread::sleep(std::time::Duration::from_millis(ms));
                let waker = {
                    let mut s = timer.lock().unwrap();
                    s.done = true;
                    s.waker.take()
                };
                if let Some(waker) = waker {
                    waker.wake();
                }
            })
            .expect("the host takes the timer");
            shared
        });
        let mut s = shared.lock().unwrap();
        if s.done {
            std::task::Poll::Ready(())
        } else {
            s.waker = Some(cx.waker().clone());
            std::task::Poll::Pending
        }
    }
}
