//! An interface's type table: every type reachable from its methods,
//! deduplicated and flattened into bytes without pointers, so that it can
//! sit in a plugin's descriptor section and be read from the file before
//! the file is mapped.
//!
//! It is computed by `const fn`s: the export macro evaluates it at compile
//! time in the plugin, and the host runs the same functions on its own
//! declarations at run time. Format (integers little-endian; a string is a
//! `u32` length and UTF-8 bytes; a type reference is a `u32` index into the
//! type list):
//!
//! ```text
//! table   = u32 type_count, type*, u32 method_count, method*
//! type    = str name, str package, str version, u64 size, u64 align,
//!           u64 option_size, u8 kind, u32 arg_count, u32 arg*, payload
//! payload = struct: u32 n, (str name, u64 offset, u32 type)*
//!         | enum:   str repr, u32 n, (str name, i128 discriminant,
//!                   u32 m, (str name, u64 offset, u32 type)*)*
//!         | tuple:  u32 n, u64 offset*
//!         | array:  u64 len
//!         | ref:    u8 mutable
//!         | other kinds: nothing
//! method  = str name, u8 direct, u32 arg_count, u32 arg*, u32 ret,
//!           str arg_name*   (arg_count of them)
//! ```

use super::describe::{Field, Kind, LayoutRef, MethodLayout, TypeLayout};

/// Most distinct types one interface may reach.
pub const MAX_TYPES: usize = 512;

pub(crate) const KIND_SCALAR: u8 = 1;
pub(crate) const KIND_STD: u8 = 2;
pub(crate) const KIND_STRUCT: u8 = 3;
pub(crate) const KIND_ENUM: u8 = 4;
pub(crate) const KIND_TUPLE: u8 = 5;
pub(crate) const KIND_ARRAY: u8 = 6;
pub(crate) const KIND_REF: u8 = 7;
pub(crate) const KIND_STR: u8 = 8;
pub(crate) const KIND_SLICE: u8 = 9;

/// The length in bytes of the table of `methods`.
pub const fn table_len(methods: &[MethodLayout]) -> usize {
    encode_into(methods, &mut [])
}

/// The table of `methods`, in an array of exactly [`table_len`] bytes
/// (the export macro evaluates both at compile time).
pub const fn encode_table<const N: usize>(methods: &[MethodLayout]) -> [u8; N] {
    let mut out = [0u8; N];
    let written = encode_into(methods, &mut out);
    assert!(written == N, "liveswap: type table length mismatch");
    out
}

/// The table of `methods`, at run time (the host's side of the check).
pub fn encode_vec(methods: &[MethodLayout]) -> Vec<u8> {
    // One pass when the table fits the first guess (it nearly always does).
    let mut out = vec![0u8; 16 * 1024];
    let len = encode_into(methods, &mut out);
    if len > out.len() {
        out = vec![0u8; len];
        encode_into(methods, &mut out);
    }
    out.truncate(len);
    out
}

/// Writes the table of `methods` into `out` as far as it fits, and returns
/// its full length.
const fn encode_into(methods: &[MethodLayout], out: &mut [u8]) -> usize {
    let types = collect(methods);
    let mut w = Writer { out, pos: 0 };
    w.u32(types.len as u32);
    let mut i = 0;
    while i < types.len {
        let Some(t) = types.items[i] else {
            unreachable!()
        };
        write_type(&mut w, &types, t);
        i += 1;
    }
    w.u32(methods.len() as u32);
    let mut m = 0;
    while m < methods.len() {
        let method = &methods[m];
        w.str(method.name);
        w.u8(method.direct as u8);
        w.u32(method.args.len() as u32);
        let mut a = 0;
        while a < method.args.len() {
            w.u32(types.index_of(method.args[a].get()));
            a += 1;
        }
        w.u32(types.index_of(method.ret.get()));
        let mut a = 0;
        while a < method.args.len() {
            w.str(if a < method.arg_names.len() {
                method.arg_names[a]
            } else {
                ""
            });
            a += 1;
        }
        m += 1;
    }
    w.pos
}

const fn write_type(w: &mut Writer<'_>, types: &TypeSet, t: &TypeLayout) {
    w.str(t.name);
    w.str(t.package);
    w.str(t.version);
    w.u64(t.size as u64);
    w.u64(t.align as u64);
    w.u64(t.option_size as u64);
    w.u8(kind_tag(&t.kind));
    w.u32(t.args.len() as u32);
    let mut a = 0;
    while a < t.args.len() {
        w.u32(types.index_of(t.args[a].get()));
        a += 1;
    }
    match &t.kind {
        Kind::Struct(fields) => write_fields(w, types, fields),
        Kind::Enum { repr, variants } => {
            w.str(repr);
            w.u32(variants.len() as u32);
            let mut v = 0;
            while v < variants.len() {
                w.str(variants[v].name);
                w.i128(variants[v].discriminant);
                write_fields(w, types, variants[v].fields);
                v += 1;
            }
        }
        Kind::Tuple(offsets) => {
            w.u32(offsets.len() as u32);
            let mut o = 0;
            while o < offsets.len() {
                w.u64(offsets[o] as u64);
                o += 1;
            }
        }
        Kind::Array(len) => w.u64(*len as u64),
        Kind::Ref { mutable } => w.u8(*mutable as u8),
        Kind::Scalar | Kind::Std | Kind::Str | Kind::Slice => {}
    }
}

const fn write_fields(w: &mut Writer<'_>, types: &TypeSet, fields: &[Field]) {
    w.u32(fields.len() as u32);
    let mut f = 0;
    while f < fields.len() {
        w.str(fields[f].name);
        w.u64(fields[f].offset as u64);
        w.u32(types.index_of(fields[f].ty.get()));
        f += 1;
    }
}

const fn kind_tag(kind: &Kind) -> u8 {
    match kind {
        Kind::Scalar => KIND_SCALAR,
        Kind::Std => KIND_STD,
        Kind::Struct(_) => KIND_STRUCT,
        Kind::Enum { .. } => KIND_ENUM,
        Kind::Tuple(_) => KIND_TUPLE,
        Kind::Array(_) => KIND_ARRAY,
        Kind::Ref { .. } => KIND_REF,
        Kind::Str => KIND_STR,
        Kind::Slice => KIND_SLICE,
    }
}

/// Bytes written as far as they fit; `pos` counts them all.
struct Writer<'a> {
    out: &'a mut [u8],
    pos: usize,
}

impl Writer<'_> {
    const fn bytes(&mut self, bytes: &[u8]) {
        let mut i = 0;
        while i < bytes.len() {
            if self.pos < self.out.len() {
                self.out[self.pos] = bytes[i];
            }
            self.pos += 1;
            i += 1;
        }
    }
    const fn u8(&mut self, v: u8) {
        self.bytes(&[v]);
    }
    const fn u32(&mut self, v: u32) {
        self.bytes(&v.to_le_bytes());
    }
    const fn u64(&mut self, v: u64) {
        self.bytes(&v.to_le_bytes());
    }
    const fn i128(&mut self, v: i128) {
        self.bytes(&v.to_le_bytes());
    }
    const fn str(&mut self, s: &str) {
        self.u32(s.len() as u32);
        self.bytes(s.as_bytes());
    }
}

/// The distinct types reachable from an interface, in the order first met
/// (breadth first from the methods' signatures).
struct TypeSet {
    items: [Option<&'static TypeLayout>; MAX_TYPES],
    len: usize,
}

impl TypeSet {
    const fn find(&self, t: &TypeLayout) -> Option<usize> {
        let mut i = 0;
        while i < self.len {
            if let Some(item) = self.items[i]
                && same_type(item, t)
            {
                return Some(i);
            }
            i += 1;
        }
        None
    }

    const fn index_of(&self, t: &TypeLayout) -> u32 {
        match self.find(t) {
            Some(i) => i as u32,
            None => panic!("liveswap: type missing from its own table"),
        }
    }

    const fn insert(&mut self, t: LayoutRef) {
        let t = t.get();
        if let Some(i) = self.find(t) {
            let Some(known) = self.items[i] else {
                unreachable!()
            };
            // Same path, crate and version, other contents: two types
            // declared in function bodies (or `const` blocks) of one module
            // share a `module_path!()`. Describing one as the other would
            // hide the second's changes.
            assert!(
                same_contents(known, t),
                "liveswap: two different types that cross have the same path (types declared \
                 inside functions share their module's path): rename one, or move it to a module"
            );
        } else {
            assert!(
                self.len < MAX_TYPES,
                "liveswap: an interface may reach at most 512 distinct types"
            );
            self.items[self.len] = Some(t);
            self.len += 1;
        }
    }
}

const fn collect(methods: &[MethodLayout]) -> TypeSet {
    let mut set = TypeSet {
        items: [None; MAX_TYPES],
        len: 0,
    };
    let mut m = 0;
    while m < methods.len() {
        let mut a = 0;
        while a < methods[m].args.len() {
            set.insert(methods[m].args[a]);
            a += 1;
        }
        set.insert(methods[m].ret);
        m += 1;
    }
    // The set is its own work queue: every type's children are added
    // behind it.
    let mut i = 0;
    while i < set.len {
        let Some(t) = set.items[i] else {
            unreachable!()
        };
        let mut a = 0;
        while a < t.args.len() {
            set.insert(t.args[a]);
            a += 1;
        }
        match &t.kind {
            Kind::Struct(fields) => insert_fields(&mut set, fields),
            Kind::Enum { variants, .. } => {
                let mut v = 0;
                while v < variants.len() {
                    insert_fields(&mut set, variants[v].fields);
                    v += 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    set
}

const fn insert_fields(set: &mut TypeSet, fields: &'static [Field]) {
    let mut f = 0;
    while f < fields.len() {
        set.insert(fields[f].ty);
        f += 1;
    }
}

/// Whether two layouts describe the same type: same path, crate, version,
/// kind and generic arguments.
const fn same_type(a: &TypeLayout, b: &TypeLayout) -> bool {
    // Integers first: most different types differ there, and it is cheap.
    if a.size != b.size
        || a.align != b.align
        || a.option_size != b.option_size
        || !str_eq(a.name, b.name)
        || !str_eq(a.package, b.package)
        || !str_eq(a.version, b.version)
        || kind_tag(&a.kind) != kind_tag(&b.kind)
        || a.args.len() != b.args.len()
    {
        return false;
    }
    if let (Kind::Array(x), Kind::Array(y)) = (&a.kind, &b.kind)
        && *x != *y
    {
        return false;
    }
    let mut i = 0;
    while i < a.args.len() {
        if !same_type(a.args[i].get(), b.args[i].get()) {
            return false;
        }
        i += 1;
    }
    true
}

/// Compared from the end: paths of one crate share their beginning.
/// Whether two layouts of one identity have the same fields or variants
/// (names, offsets, discriminants, and the identity of each field's type).
const fn same_contents(a: &TypeLayout, b: &TypeLayout) -> bool {
    match (&a.kind, &b.kind) {
        (Kind::Struct(x), Kind::Struct(y)) => same_fields(x, y),
        (
            Kind::Enum {
                repr: ra,
                variants: va,
            },
            Kind::Enum {
                repr: rb,
                variants: vb,
            },
        ) => {
            if !str_eq(ra, rb) || va.len() != vb.len() {
                return false;
            }
            let mut i = 0;
            while i < va.len() {
                if !str_eq(va[i].name, vb[i].name)
                    || va[i].discriminant != vb[i].discriminant
                    || !same_fields(va[i].fields, vb[i].fields)
                {
                    return false;
                }
                i += 1;
            }
            true
        }
        (Kind::Tuple(x), Kind::Tuple(y)) => {
            if x.len() != y.len() {
                return false;
            }
            let mut i = 0;
            while i < x.len() {
                if x[i] != y[i] {
                    return false;
                }
                i += 1;
            }
            true
        }
        _ => true,
    }
}

const fn same_fields(a: &[Field], b: &[Field]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if !str_eq(a[i].name, b[i].name)
            || a[i].offset != b[i].offset
            || !same_type(a[i].ty.get(), b[i].ty.get())
        {
            return false;
        }
        i += 1;
    }
    true
}

const fn str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = a.len();
    while i > 0 {
        i -= 1;
        if a[i] != b[i] {
            return false;
        }
    }
    true
}
