//! A type table read back from bytes that came from an untrusted file:
//! every length is checked against what is left, every type reference
//! against the number of types, and nothing is trusted to terminate but
//! the byte count.

use super::table::{
    KIND_ARRAY, KIND_ENUM, KIND_REF, KIND_SCALAR, KIND_SLICE, KIND_STD, KIND_STR, KIND_STRUCT,
    KIND_TUPLE, MAX_TYPES,
};

/// Most generic arguments (or tuple elements) one type may have.
const MAX_ARGS: usize = 16;

/// Whether generic arguments loop (a type among its own arguments). No
/// type can be that, so such a table is hostile, and would make every
/// walk over identities endless. Fields may loop: a type that contains
/// itself (`Tree { kids: Vec<Tree> }`) is one entry that its fields'
/// types reach again, and the walks over fields remember what they saw.
fn arguments_loop(types: &[Type]) -> bool {
    const NEW: u8 = 0;
    const OPEN: u8 = 1;
    const DONE: u8 = 2;
    let mut state = vec![NEW; types.len()];
    for root in 0..types.len() {
        if state[root] != NEW {
            continue;
        }
        // Each entry: a type and how many of its children were visited.
        let mut stack = vec![(root, 0usize)];
        state[root] = OPEN;
        while let Some(&mut (node, ref mut next)) = stack.last_mut() {
            match types[node].args.get(*next).copied() {
                Some(child) => {
                    *next += 1;
                    match state[child] {
                        OPEN => return true,
                        NEW => {
                            state[child] = OPEN;
                            stack.push((child, 0));
                        }
                        _ => {}
                    }
                }
                None => {
                    state[node] = DONE;
                    stack.pop();
                }
            }
        }
    }
    false
}

/// A decoded type table (see the `table` module for the format).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    /// The distinct types, referred to by index.
    pub types: Vec<Type>,
    /// The interface's methods, in declaration order.
    pub methods: Vec<Method>,
}

/// A decoded type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Type {
    /// Path without generic arguments.
    pub name: String,
    /// Defining crate.
    pub package: String,
    /// Defining crate's version.
    pub version: String,
    /// `size_of`.
    pub size: u64,
    /// `align_of`.
    pub align: u64,
    /// `size_of::<Option<T>>()`.
    pub option_size: u64,
    /// Generic arguments, as indexes.
    pub args: Vec<usize>,
    /// Kind and contents.
    pub shape: Shape,
}

/// A decoded type's kind and contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shape {
    /// A primitive.
    Scalar,
    /// A standard-library type.
    Std,
    /// A struct and its fields.
    Struct(Vec<FieldRef>),
    /// An enum, its `repr` and variants.
    Enum(String, Vec<VariantRef>),
    /// A tuple and its elements' offsets.
    Tuple(Vec<u64>),
    /// An array and its length.
    Array(u64),
    /// A reference; `true` for `&mut`.
    Ref(bool),
    /// `str`.
    Str,
    /// `[T]`.
    Slice,
}

/// A decoded field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldRef {
    /// Name.
    pub name: String,
    /// Offset (`u64::MAX` inside an enum variant: unknown).
    pub offset: u64,
    /// Type, as an index.
    pub ty: usize,
}

/// A decoded enum variant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VariantRef {
    /// Name.
    pub name: String,
    /// Discriminant.
    pub discriminant: i128,
    /// Fields.
    pub fields: Vec<FieldRef>,
}

/// A decoded method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Method {
    /// Name.
    pub name: String,
    /// Passes scalars by value.
    pub direct: bool,
    /// Argument types, as indexes.
    pub args: Vec<usize>,
    /// Result type, as an index.
    pub ret: usize,
    /// Argument names, as declared.
    pub arg_names: Vec<String>,
}

/// Why a table could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed type table at byte {offset}: {what}")]
pub struct DecodeError {
    /// Where reading stopped.
    pub offset: usize,
    /// What was wrong.
    pub what: &'static str,
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    types: usize,
}

impl<'a> Reader<'a> {
    fn fail<T>(&self, what: &'static str) -> Result<T, DecodeError> {
        Err(DecodeError {
            offset: self.pos,
            what,
        })
    }
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        match self.bytes.get(self.pos..self.pos.saturating_add(n)) {
            Some(b) if self.pos.checked_add(n).is_some() => {
                self.pos += n;
                Ok(b)
            }
            _ => self.fail("unexpected end"),
        }
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }
    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.array::<1>()?[0])
    }
    fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(self.array()?))
    }
    fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_le_bytes(self.array()?))
    }
    fn i128(&mut self) -> Result<i128, DecodeError> {
        Ok(i128::from_le_bytes(self.array()?))
    }
    /// A count of items each at least `min_size` bytes long: refused if
    /// what is left cannot hold them (so no huge allocation on bad input).
    fn count(&mut self, min_size: usize) -> Result<usize, DecodeError> {
        let n = self.u32()? as usize;
        if n.saturating_mul(min_size) > self.bytes.len() - self.pos {
            return self.fail("count larger than the bytes left");
        }
        Ok(n)
    }
    fn str(&mut self) -> Result<String, DecodeError> {
        let n = self.u32()? as usize;
        let bytes = self.take(n)?;
        match std::str::from_utf8(bytes) {
            Ok(s) => Ok(s.to_owned()),
            Err(_) => self.fail("string is not UTF-8"),
        }
    }
    fn index(&mut self) -> Result<usize, DecodeError> {
        let i = self.u32()? as usize;
        if i >= self.types {
            return self.fail("type index out of range");
        }
        Ok(i)
    }
    fn indexes(&mut self) -> Result<Vec<usize>, DecodeError> {
        let n = self.count(4)?;
        (0..n).map(|_| self.index()).collect()
    }
    fn fields(&mut self) -> Result<Vec<FieldRef>, DecodeError> {
        let n = self.count(16)?;
        (0..n)
            .map(|_| {
                Ok(FieldRef {
                    name: self.str()?,
                    offset: self.u64()?,
                    ty: self.index()?,
                })
            })
            .collect()
    }
}

impl Table {
    /// Reads a table; every byte must be used.
    ///
    /// # Errors
    ///
    /// [`DecodeError`] when the bytes are not a well-formed table.
    pub fn decode(bytes: &[u8]) -> Result<Table, DecodeError> {
        let mut r = Reader {
            bytes,
            pos: 0,
            types: 0,
        };
        let n = r.count(40)?;
        if n > MAX_TYPES {
            return r.fail("more types than an interface may reach");
        }
        r.types = n;
        let mut types = Vec::with_capacity(n);
        for _ in 0..n {
            types.push(read_type(&mut r)?);
        }
        if arguments_loop(&types) {
            return Err(DecodeError {
                offset: r.pos,
                what: "a type is among its own generic arguments",
            });
        }
        let m = r.count(13)?;
        let mut methods = Vec::with_capacity(m);
        for _ in 0..m {
            let (name, direct, args, ret) = (r.str()?, r.u8()? != 0, r.indexes()?, r.index()?);
            let arg_names = args.iter().map(|_| r.str()).collect::<Result<_, _>>()?;
            methods.push(Method {
                name,
                direct,
                args,
                ret,
                arg_names,
            });
        }
        if r.pos != bytes.len() {
            return r.fail("bytes left after the table");
        }
        Ok(Table { types, methods })
    }
}

fn read_type(r: &mut Reader<'_>) -> Result<Type, DecodeError> {
    let name = r.str()?;
    let package = r.str()?;
    let version = r.str()?;
    let size = r.u64()?;
    let align = r.u64()?;
    let option_size = r.u64()?;
    let kind = r.u8()?;
    let args = r.indexes()?;
    if args.len() > MAX_ARGS {
        return r.fail("more generic arguments than a type may have");
    }
    let shape = match kind {
        KIND_SCALAR => Shape::Scalar,
        KIND_STD => Shape::Std,
        KIND_STRUCT => Shape::Struct(r.fields()?),
        KIND_ENUM => {
            let repr = r.str()?;
            let n = r.count(24)?;
            let mut variants = Vec::with_capacity(n);
            for _ in 0..n {
                variants.push(VariantRef {
                    name: r.str()?,
                    discriminant: r.i128()?,
                    fields: r.fields()?,
                });
            }
            Shape::Enum(repr, variants)
        }
        KIND_TUPLE => {
            let n = r.count(8)?;
            Shape::Tuple((0..n).map(|_| r.u64()).collect::<Result<_, _>>()?)
        }
        KIND_ARRAY => Shape::Array(r.u64()?),
        KIND_REF => Shape::Ref(r.u8()? != 0),
        KIND_STR => Shape::Str,
        KIND_SLICE => Shape::Slice,
        _ => return r.fail("unknown kind of type"),
    };
    Ok(Type {
        name,
        package,
        version,
        size,
        align,
        option_size,
        args,
        shape,
    })
}
