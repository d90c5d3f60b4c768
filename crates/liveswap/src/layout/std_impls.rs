//! [`CrossSafe`] for primitives and the standard library's owning types,
//! and the layouts of the references a signature may hold.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::marker::PhantomData;
use std::mem::{align_of, offset_of, size_of};
use std::num::NonZero;
use std::time::Duration;

use super::describe::{CrossSafe, Kind, LayoutRef, TypeLayout, Walk};

macro_rules! scalars {
    ($($t:ty),* $(,)?) => {$(
        // SAFETY: a primitive holds no pointer; its layout is measured.
        unsafe impl CrossSafe for $t {
            const LAYOUT: LayoutRef = LayoutRef::new(&TypeLayout {
                name: stringify!($t),
                package: "core",
                version: "",
                size: size_of::<$t>(),
                align: align_of::<$t>(),
                option_size: size_of::<Option<$t>>(),
                kind: Kind::Scalar,
                walked: Walk::EXACT,
                args: &[],
            });
        }
    )*};
}

scalars!(
    u8,
    u16,
    u32,
    u64,
    u128,
    usize,
    i8,
    i16,
    i32,
    i64,
    i128,
    isize,
    f32,
    f64,
    bool,
    char,
    ()
);

macro_rules! nonzero {
    ($($t:ty),* $(,)?) => {$(
        // SAFETY: an integer that is not zero: no pointer, layout measured.
        unsafe impl CrossSafe for NonZero<$t> {
            const LAYOUT: LayoutRef = LayoutRef::new(&TypeLayout {
                name: "core::num::NonZero",
                package: "std",
                version: "",
                size: size_of::<Self>(),
                align: align_of::<Self>(),
                option_size: size_of::<Option<Self>>(),
                kind: Kind::Std,
                walked: Walk::EXACT,
                args: &[<$t as CrossSafe>::LAYOUT],
            });
        }
    )*};
}

nonzero!(
    u8, u16, u32, u64, u128, usize, i8, i16, i32, i64, i128, isize
);

/// Implements `CrossSafe` for a standard-library type that owns what it
/// holds, known by its path and its generic arguments.
macro_rules! std_type {
    ($path:literal, [$($p:ident),*], $t:ty) => {
        std_type!($path, [$($p),*], $t, walked: Walk::NO, adopt_nothing);
    };
    ($path:literal, [$($p:ident),*], $t:ty, walked: $walked:expr, $adopt:ident) => {
        // SAFETY: the type owns its contents (heap memory of the global
        // allocator, routed to the host's) and holds only `CrossSafe`
        // values; the compiler version, which the handshake checks, fixes
        // its layout for given arguments.
        unsafe impl<$($p: CrossSafe),*> CrossSafe for $t {
            const LAYOUT: LayoutRef = LayoutRef::new(&TypeLayout {
                name: $path,
                package: "std",
                version: "",
                size: size_of::<Self>(),
                align: align_of::<Self>(),
                option_size: size_of::<Option<Self>>(),
                kind: Kind::Std,
                walked: $walked,
                args: &[$(<$p as CrossSafe>::LAYOUT),*],
            });
            #[inline]
            fn __adopt(&self) {
                $adopt(self)
            }
        }
    };
}

std_type!("alloc::string::String", [], String, walked: Walk::EXACT, adopt_string);
std_type!("core::time::Duration", [], Duration, walked: Walk::EXACT, adopt_nothing);
std_type!("alloc::vec::Vec", [T], Vec<T>, walked: Walk::EXACT, adopt_vec);
std_type!("alloc::boxed::Box", [T], Box<T>, walked: Walk::EXACT, adopt_box);
std_type!("core::option::Option", [T], Option<T>, walked: Walk::EXACT, adopt_option);
std_type!("core::result::Result", [T, E], Result<T, E>, walked: Walk::EXACT, adopt_result);

fn adopt_nothing<T>(_: &T) {}

fn adopt_string(s: &String) {
    if s.capacity() != 0 {
        crate::heap::adopt_block(s.as_ptr());
    }
}

fn adopt_vec<T: CrossSafe>(v: &Vec<T>) {
    for item in v {
        item.__adopt();
    }
    if v.capacity() != 0 && size_of::<T>() != 0 {
        crate::heap::adopt_block(v.as_ptr().cast());
    }
}

// The box itself, not just its contents: its block is adopted too.
#[allow(clippy::borrowed_box)]
fn adopt_box<T: CrossSafe>(b: &Box<T>) {
    let inner: &T = b;
    inner.__adopt();
    if size_of::<T>() != 0 {
        crate::heap::adopt_block(std::ptr::from_ref(inner).cast());
    }
}

fn adopt_option<T: CrossSafe>(o: &Option<T>) {
    if let Some(t) = o {
        t.__adopt();
    }
}

fn adopt_result<T: CrossSafe, E: CrossSafe>(r: &Result<T, E>) {
    match r {
        Ok(t) => t.__adopt(),
        Err(e) => e.__adopt(),
    }
}

// Their buffers' and nodes' addresses are not public: not walked, so a
// generation that hands one to the host keeps its heap at unload.
std_type!("alloc::collections::VecDeque", [T], VecDeque<T>);
std_type!("alloc::collections::BTreeSet", [T], BTreeSet<T>);
std_type!("alloc::collections::BTreeMap", [K, V], BTreeMap<K, V>);
// No `HashMap` or `HashSet`: an empty one points at a static "empty group"
// inside the binary that made it, which dangles once a plugin's copy of it
// is unloaded. `BTreeMap` and `BTreeSet` own all they point to.

// SAFETY: an array of crossing values; its layout is measured.
unsafe impl<T: CrossSafe, const N: usize> CrossSafe for [T; N] {
    const LAYOUT: LayoutRef = LayoutRef::new(&TypeLayout {
        name: "[..]",
        package: "core",
        version: "",
        size: size_of::<Self>(),
        align: align_of::<Self>(),
        option_size: size_of::<Option<Self>>(),
        kind: Kind::Array(N),
        walked: Walk::EXACT,
        args: &[T::LAYOUT],
    });
    #[inline]
    fn __adopt(&self) {
        for item in self {
            item.__adopt();
        }
    }
}

macro_rules! tuple {
    ($($t:ident . $i:tt),+) => {
        // SAFETY: a tuple of crossing values; its layout and every
        // element's offset (the compiler may reorder them) are measured.
        unsafe impl<$($t: CrossSafe),+> CrossSafe for ($($t,)+) {
            const LAYOUT: LayoutRef = LayoutRef::new(&TypeLayout {
                name: "(..)",
                package: "core",
                version: "",
                size: size_of::<Self>(),
                align: align_of::<Self>(),
                option_size: size_of::<Option<Self>>(),
                kind: Kind::Tuple(&[$(offset_of!(Self, $i)),+]),
                walked: Walk::EXACT,
                args: &[$($t::LAYOUT),+],
            });
            #[inline]
            fn __adopt(&self) {
                $(self.$i.__adopt();)+
            }
        }
    };
}

tuple!(A.0);
tuple!(A.0, B.1);
tuple!(A.0, B.1, C.2);
tuple!(A.0, B.1, C.2, D.3);
tuple!(A.0, B.1, C.2, D.3, E.4);
tuple!(A.0, B.1, C.2, D.3, E.4, F.5);
tuple!(A.0, B.1, C.2, D.3, E.4, F.5, G.6);
tuple!(A.0, B.1, C.2, D.3, E.4, F.5, G.6, H.7);
tuple!(A.0, B.1, C.2, D.3, E.4, F.5, G.6, H.7, I.8);
tuple!(A.0, B.1, C.2, D.3, E.4, F.5, G.6, H.7, I.8, J.9);
tuple!(A.0, B.1, C.2, D.3, E.4, F.5, G.6, H.7, I.8, J.9, K.10);
tuple!(A.0, B.1, C.2, D.3, E.4, F.5, G.6, H.7, I.8, J.9, K.10, L.11);

/// The layout of `&T` and `&mut T` in a signature (generated code).
pub struct RefTo<T: ?Sized>(PhantomData<T>);

impl<T: CrossSafe> RefTo<T> {
    /// `&T`.
    pub const SHARED: LayoutRef = LayoutRef::new(&TypeLayout {
        name: "&",
        package: "core",
        version: "",
        size: size_of::<&T>(),
        align: align_of::<&T>(),
        option_size: size_of::<Option<&T>>(),
        kind: Kind::Ref { mutable: false },
        walked: Walk::EXACT,
        args: &[T::LAYOUT],
    });
    /// `&mut T`.
    pub const MUT: LayoutRef = LayoutRef::new(&TypeLayout {
        name: "&mut",
        package: "core",
        version: "",
        size: size_of::<&mut T>(),
        align: align_of::<&mut T>(),
        option_size: size_of::<Option<&mut T>>(),
        kind: Kind::Ref { mutable: true },
        walked: Walk::EXACT,
        args: &[T::LAYOUT],
    });
}

/// The layout of `&[T]` and `&mut [T]` in a signature (generated code).
pub struct SliceOf<T>(PhantomData<T>);

impl<T: CrossSafe> SliceOf<T> {
    const SLICE: LayoutRef = LayoutRef::new(&TypeLayout {
        name: "[]",
        package: "core",
        version: "",
        size: 0,
        align: align_of::<T>(),
        option_size: 0,
        kind: Kind::Slice,
        walked: Walk::EXACT,
        args: &[T::LAYOUT],
    });
    /// `&[T]`.
    pub const SHARED: LayoutRef = LayoutRef::new(&TypeLayout {
        name: "&",
        package: "core",
        version: "",
        size: size_of::<&[T]>(),
        align: align_of::<&[T]>(),
        option_size: size_of::<Option<&[T]>>(),
        kind: Kind::Ref { mutable: false },
        walked: Walk::EXACT,
        args: &[Self::SLICE],
    });
    /// `&mut [T]`.
    pub const MUT: LayoutRef = LayoutRef::new(&TypeLayout {
        name: "&mut",
        package: "core",
        version: "",
        size: size_of::<&mut [T]>(),
        align: align_of::<&mut [T]>(),
        option_size: size_of::<Option<&mut [T]>>(),
        kind: Kind::Ref { mutable: true },
        walked: Walk::EXACT,
        args: &[Self::SLICE],
    });
}

const STR: LayoutRef = LayoutRef::new(&TypeLayout {
    name: "str",
    package: "core",
    version: "",
    size: 0,
    align: 1,
    option_size: 0,
    kind: Kind::Str,
    walked: Walk::EXACT,
    args: &[],
});

/// The layout of `&str` in a signature (generated code).
pub const STR_REF: LayoutRef = LayoutRef::new(&TypeLayout {
    name: "&",
    package: "core",
    version: "",
    size: size_of::<&str>(),
    align: align_of::<&str>(),
    option_size: size_of::<Option<&str>>(),
    kind: Kind::Ref { mutable: false },
    walked: Walk::EXACT,
    args: &[STR],
});

/// The layout of `&mut str` in a signature (generated code).
pub const STR_MUT: LayoutRef = LayoutRef::new(&TypeLayout {
    name: "&mut",
    package: "core",
    version: "",
    size: size_of::<&mut str>(),
    align: align_of::<&mut str>(),
    option_size: size_of::<Option<&mut str>>(),
    kind: Kind::Ref { mutable: true },
    walked: Walk::EXACT,
    args: &[STR],
});
