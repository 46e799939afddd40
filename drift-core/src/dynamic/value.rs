//! [`Value`]: one stored value without its Rust type.

use std::fmt;

/// A stored value read without its Rust type, as its [`Shape`](crate::Shape) lays it
/// out. Integers keep their width; `Vec<u8>` (a sequence of `u8`) is [`Value::Bytes`];
/// fixed arrays are [`Value::Tuple`]s.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `bool`.
    Bool(bool),
    /// `u8`.
    U8(u8),
    /// `u16`.
    U16(u16),
    /// `u32`.
    U32(u32),
    /// `u64` (and `usize`).
    U64(u64),
    /// `u128`.
    U128(u128),
    /// `i8`.
    I8(i8),
    /// `i16`.
    I16(i16),
    /// `i32`.
    I32(i32),
    /// `i64` (and `isize`).
    I64(i64),
    /// `i128`.
    I128(i128),
    /// `f32`.
    F32(f32),
    /// `f64`.
    F64(f64),
    /// `char`.
    Char(char),
    /// `String`.
    String(String),
    /// Bytes: `Vec<u8>` or a bytes shape.
    Bytes(Vec<u8>),
    /// `()` or a unit struct.
    Unit,
    /// `Option<T>`.
    Option(Option<Box<Value>>),
    /// A sequence: `Vec<T>`, sets, `VecDeque<T>`.
    Seq(Vec<Value>),
    /// A tuple or a fixed array.
    Tuple(Vec<Value>),
    /// A map's entries, in stored order.
    Map(Vec<(Value, Value)>),
    /// A struct's fields, by name (tuple fields are named `0`, `1`, ...).
    Struct(Vec<(String, Value)>),
    /// An enum's variant, by name, and its fields (none for a unit variant).
    Enum {
        /// The variant's name.
        variant: String,
        /// The variant's fields, by name.
        fields: Vec<(String, Value)>,
    },
}

impl Value {
    /// What kind of value this is, for messages: `u32`, `string`, `seq`, ...
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Bool(_) => "bool",
            Value::U8(_) => "u8",
            Value::U16(_) => "u16",
            Value::U32(_) => "u32",
            Value::U64(_) => "u64",
            Value::U128(_) => "u128",
            Value::I8(_) => "i8",
            Value::I16(_) => "i16",
            Value::I32(_) => "i32",
            Value::I64(_) => "i64",
            Value::I128(_) => "i128",
            Value::F32(_) => "f32",
            Value::F64(_) => "f64",
            Value::Char(_) => "char",
            Value::String(_) => "string",
            Value::Bytes(_) => "bytes",
            Value::Unit => "()",
            Value::Option(_) => "option",
            Value::Seq(_) => "seq",
            Value::Tuple(_) => "tuple",
            Value::Map(_) => "map",
            Value::Struct(_) => "struct",
            Value::Enum { .. } => "enum",
        }
    }

    /// `Some(v)`.
    #[must_use]
    pub fn some(v: impl Into<Value>) -> Value {
        Value::Option(Some(Box::new(v.into())))
    }

    /// `None`.
    #[must_use]
    pub const fn none() -> Value {
        Value::Option(None)
    }

    /// The value as a signed or unsigned integer, when it is one.
    pub(crate) fn as_int(&self) -> Option<Int> {
        Some(match *self {
            Value::U8(v) => Int::U(v.into()),
            Value::U16(v) => Int::U(v.into()),
            Value::U32(v) => Int::U(v.into()),
            Value::U64(v) => Int::U(v.into()),
            Value::U128(v) => Int::U(v),
            Value::I8(v) => Int::I(v.into()),
            Value::I16(v) => Int::I(v.into()),
            Value::I32(v) => Int::I(v.into()),
            Value::I64(v) => Int::I(v.into()),
            Value::I128(v) => Int::I(v),
            _ => return None,
        })
    }

    /// The value and its kind, shortened, for error messages: `u64 70000`.
    pub(crate) fn describe(&self) -> String {
        match self {
            Value::Unit => "()".to_string(),
            Value::Option(None) => "None".to_string(),
            _ => crate::message::shorten(format!("{} {self}", self.kind())),
        }
    }
}

/// An integer of any width and sign.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Int {
    U(u128),
    I(i128),
}

/// Whether a struct's or variant's field names are `0`, `1`, ...: a tuple struct.
fn positional(fields: &[(String, Value)]) -> bool {
    fields.iter().enumerate().all(|(i, (n, _))| n.parse::<usize>() == Ok(i))
}

fn list<'a>(f: &mut fmt::Formatter<'_>, items: impl IntoIterator<Item = &'a Value>) -> fmt::Result {
    for (i, v) in items.into_iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{v}")?;
    }
    Ok(())
}

fn named(f: &mut fmt::Formatter<'_>, fields: &[(String, Value)]) -> fmt::Result {
    if positional(fields) {
        f.write_str("(")?;
        list(f, fields.iter().map(|(_, v)| v))?;
        f.write_str(")")
    } else {
        f.write_str("{ ")?;
        for (i, (n, v)) in fields.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{n}: {v}")?;
        }
        f.write_str(" }")
    }
}

/// Readable, Rust-like: strings and chars quoted, `Some(1)`, `[1, 2]`, `{ a: 1 }`,
/// `Variant(1)`, bytes as `b"..."`.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Bool(v) => write!(f, "{v}"),
            Value::U8(v) => write!(f, "{v}"),
            Value::U16(v) => write!(f, "{v}"),
            Value::U32(v) => write!(f, "{v}"),
            Value::U64(v) => write!(f, "{v}"),
            Value::U128(v) => write!(f, "{v}"),
            Value::I8(v) => write!(f, "{v}"),
            Value::I16(v) => write!(f, "{v}"),
            Value::I32(v) => write!(f, "{v}"),
            Value::I64(v) => write!(f, "{v}"),
            Value::I128(v) => write!(f, "{v}"),
            Value::F32(v) => write!(f, "{v:?}"),
            Value::F64(v) => write!(f, "{v:?}"),
            Value::Char(v) => write!(f, "{v:?}"),
            Value::String(v) => write!(f, "{v:?}"),
            Value::Bytes(v) => write!(f, "b\"{}\"", v.escape_ascii()),
            Value::Unit => f.write_str("()"),
            Value::Option(None) => f.write_str("None"),
            Value::Option(Some(v)) => write!(f, "Some({v})"),
            Value::Seq(items) => {
                f.write_str("[")?;
                list(f, items)?;
                f.write_str("]")
            }
            Value::Tuple(items) => {
                f.write_str("(")?;
                list(f, items)?;
                f.write_str(if items.len() == 1 { ",)" } else { ")" })
            }
            Value::Map(entries) => {
                f.write_str("{")?;
                for (i, (k, v)) in entries.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k}: {v}")?;
                }
                f.write_str("}")
            }
            Value::Struct(fields) => named(f, fields),
            Value::Enum { variant, fields } => {
                f.write_str(variant)?;
                if fields.is_empty() {
                    return Ok(());
                }
                if !positional(fields) {
                    f.write_str(" ")?;
                }
                named(f, fields)
            }
        }
    }
}

macro_rules! from_scalar {
    ($($t:ty => $v:ident),* $(,)?) => {
        $(impl From<$t> for Value {
            fn from(v: $t) -> Self {
                Value::$v(v)
            }
        })*
    };
}

from_scalar! {
    bool => Bool, u8 => U8, u16 => U16, u32 => U32, u64 => U64, u128 => U128,
    i8 => I8, i16 => I16, i32 => I32, i64 => I64, i128 => I128, f32 => F32, f64 => F64,
    char => Char, String => String, Vec<u8> => Bytes,
}

/// `usize` is stored as a `u64`.
impl From<usize> for Value {
    fn from(v: usize) -> Self {
        Value::U64(v as u64)
    }
}

/// `isize` is stored as an `i64`.
impl From<isize> for Value {
    fn from(v: isize) -> Self {
        Value::I64(v as i64)
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::String(v.to_string())
    }
}

impl From<&[u8]> for Value {
    fn from(v: &[u8]) -> Self {
        Value::Bytes(v.to_vec())
    }
}

impl From<()> for Value {
    fn from((): ()) -> Self {
        Value::Unit
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        Value::Option(v.map(|v| Box::new(v.into())))
    }
}

/// A sequence of values.
impl From<Vec<Value>> for Value {
    fn from(v: Vec<Value>) -> Self {
        Value::Seq(v)
    }
}
