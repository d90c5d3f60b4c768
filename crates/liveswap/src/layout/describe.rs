//! What a crossing type says about itself.

/// A type that may cross the plugin boundary, as an argument, a result, or
/// inside one: it owns everything it holds (no reference, trait object or
/// function pointer that could point into an unloaded plugin) and
/// describes its layout.
///
/// Derive it for your own structs and enums with
/// [`#[derive(CrossSafe)]`](derive@crate::CrossSafe); the library
/// implements it for integers, floats, `bool`, `char`, `()`, `String`,
/// `Vec<T>`, `Option<T>`, `Result<T, E>`, `Box<T>`, tuples up to twelve,
/// arrays, `BTreeMap`, `BTreeSet`, `VecDeque`, the
/// `NonZero` integers, `Duration` and [`RemoteError`](crate::RemoteError).
/// References (`&T`, `&mut T`, `&[T]`, `&str`) cross only at the top of a
/// method's signature, where the interface macro ties them to the call.
/// `HashMap` and `HashSet` do not cross: an empty one points at a static
/// inside the binary that made it, which dangles once a plugin is
/// unloaded; use `BTreeMap` and `BTreeSet`.
///
/// # Safety
///
/// `LAYOUT` must describe `Self` truthfully (size, alignment, the size of
/// `Option<Self>`, every field's name, offset and type, every variant's
/// name and discriminant); if its `walked` is `Walk::EXACT`, `__adopt`
/// must adopt every heap block the value owns itself and call `__adopt` on
/// every `CrossSafe` value it holds;
/// and no value of `Self` may hold a pointer to
/// memory or code that belongs to the library that made it, other than
/// heap memory of the global allocator (which the library routes to the
/// host's). The derive guarantees both; write an impl by hand only for a
/// type the derive cannot handle.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot cross a plugin boundary",
    label = "`{Self}` does not implement `liveswap::CrossSafe`",
    note = "what crosses must own its data: a `&'static str`, `Box<dyn Trait>`, `std::io::Error`, \
            `anyhow::Error`, `Box<dyn Any>`, a `Waker`, `bytes::Bytes` or a function pointer \
            would point into the plugin and dangle once it is unloaded",
    note = "use `String` for text, `Vec<u8>` for bytes, `BTreeMap` for maps (an empty `HashMap` \
            points into the plugin), `liveswap::RemoteError` for errors, and \
            `#[derive(liveswap::CrossSafe)]` on your own structs and enums"
)]
pub unsafe trait CrossSafe: Sized + 'static {
    /// The type's layout; see [`TypeLayout`].
    const LAYOUT: LayoutRef;

    /// Hands every heap block the value owns to the host
    /// (`__private::adopt_block`). Generated code only.
    #[doc(hidden)]
    #[inline]
    fn __adopt(&self) {}
}

/// A reference to a [`TypeLayout`] that a type's own description may
/// reach again: a type that contains itself (`Tree { kids: Vec<Tree> }`,
/// through an alias, or two types that contain each other) describes its
/// fields in a `static`, and every mention of the type points there.
///
/// It is a `&'static TypeLayout` that the compiler does not follow when it
/// checks a constant, which is what lets such a description be evaluated
/// at compile time without a cycle. Built only from a `&'static
/// TypeLayout`; [`LayoutRef::get`] gives it back.
#[derive(Clone, Copy)]
pub struct LayoutRef(*const TypeLayout);

// SAFETY: the pointer comes from a `&'static TypeLayout` (see `new`), and
// `TypeLayout` holds only shared references to immutable data: sharing
// and sending it across threads is what `&'static TypeLayout` allows.
unsafe impl Sync for LayoutRef {}
// SAFETY: as for `Sync`.
unsafe impl Send for LayoutRef {}

impl LayoutRef {
    /// A reference to `layout`.
    #[must_use]
    pub const fn new(layout: &'static TypeLayout) -> Self {
        Self(layout)
    }

    /// The layout.
    #[must_use]
    pub const fn get(self) -> &'static TypeLayout {
        // SAFETY: the pointer was made from a `&'static TypeLayout` in
        // `new`, the only constructor: it is valid, aligned and immutable
        // for the rest of the program.
        unsafe { &*self.0 }
    }
}

impl std::fmt::Debug for LayoutRef {
    /// The type's name only: a type that contains itself would print
    /// forever.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LayoutRef({})", self.get().name)
    }
}

/// The layout of one type, as the compiler laid it out.
#[derive(Debug)]
pub struct TypeLayout {
    /// The type's path without generic arguments: `my_api::Request`,
    /// `alloc::vec::Vec`, `u64`; `(..)` for a tuple, `[..]` for an array,
    /// `&` or `&mut` for a reference.
    pub name: &'static str,
    /// The crate that defines it (`std` for the standard library).
    pub package: &'static str,
    /// That crate's version (empty for the standard library, which the
    /// compiler version pins).
    pub version: &'static str,
    /// `size_of`.
    pub size: usize,
    /// `align_of`.
    pub align: usize,
    /// `size_of::<Option<Self>>()`: it shows niches (`NonZeroU32` against
    /// `u32`), which change the layout of every `Option` of the type. Zero
    /// where it does not apply.
    pub option_size: usize,
    /// What kind of type it is, with its fields or variants.
    pub kind: Kind,
    /// Whether the type's hidden `CrossSafe::__adopt` hands the host every
    /// heap block a value owns: exact only from the derive and
    /// the library's impls (but `VecDeque`, `BTreeMap` and `BTreeSet`), so
    /// a hand-written impl says [`Walk::NO`]. A plugin that hands the host
    /// a value of a type not walked, at any depth, keeps its heap at
    /// unload (see [`HeapReport`](crate::stats::HeapReport)).
    pub walked: Walk,
    /// Generic arguments (tuple and array elements, a reference's target).
    pub args: &'static [LayoutRef],
}

/// Whether a type's walk reaches every heap block its values own: what
/// lets the library free a plugin's leftover heap at unload without
/// freeing anything the host holds. Safe code can only say [`Walk::NO`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Walk(bool);

impl Walk {
    /// The walk may miss blocks (the default for a hand-written impl).
    pub const NO: Walk = Walk(false);
    /// The walk reaches every block: the library's impls, and the derive's
    /// (through `__private::EXACT_WALK`).
    pub(crate) const EXACT: Walk = Walk(true);

    /// Whether the walk reaches every block.
    #[must_use]
    pub const fn is_exact(self) -> bool {
        self.0
    }
}

/// The kind of a [`TypeLayout`].
#[derive(Debug)]
pub enum Kind {
    /// A primitive, known by its name.
    Scalar,
    /// A standard-library type, known by its path and generic arguments:
    /// the compiler version (checked) fixes its layout.
    Std,
    /// A struct, with its fields in declaration order.
    Struct(&'static [Field]),
    /// An enum: its `repr` (`Rust`, `u8`, `C`, ...) and its variants in
    /// declaration order.
    Enum {
        /// The `repr` attribute, `"Rust"` when there is none.
        repr: &'static str,
        /// The variants.
        variants: &'static [Variant],
    },
    /// A tuple: `args` are the elements, these their offsets.
    Tuple(&'static [usize]),
    /// An array of this many `args[0]`.
    Array(usize),
    /// A reference to `args[0]` (`&[T]` and `&str` too).
    Ref {
        /// `&mut`.
        mutable: bool,
    },
    /// `str`, the target of `&str`.
    Str,
    /// `[T]`, the target of `&[T]`.
    Slice,
}

/// A field of a struct or of an enum variant.
#[derive(Debug)]
pub struct Field {
    /// Its name (`0`, `1`, ... in a tuple struct).
    pub name: &'static str,
    /// Its offset in the struct; [`Field::UNKNOWN_OFFSET`] inside an enum
    /// variant, which the stable compiler cannot measure.
    pub offset: usize,
    /// Its type.
    pub ty: LayoutRef,
}

impl Field {
    /// The offset of a field of an enum variant.
    pub const UNKNOWN_OFFSET: usize = usize::MAX;
}

/// A variant of an enum.
#[derive(Debug)]
pub struct Variant {
    /// Its name.
    pub name: &'static str,
    /// Its discriminant.
    pub discriminant: i128,
    /// Its fields, in order.
    pub fields: &'static [Field],
}

/// One method of an interface: name, argument and result types, and
/// whether it passes scalars in registers.
#[derive(Debug)]
pub struct MethodLayout {
    /// The method's name.
    pub name: &'static str,
    /// Whether its shim takes and returns scalars by value.
    pub direct: bool,
    /// Its argument types, `&self` excluded.
    pub args: &'static [LayoutRef],
    /// Its arguments' names, as declared (`_` for a pattern): two
    /// arguments of one type in another order have the same types.
    pub arg_names: &'static [&'static str],
    /// Its result type.
    pub ret: LayoutRef,
}
