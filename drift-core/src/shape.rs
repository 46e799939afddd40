//! Wire shapes: how a stored field's bytes are laid out, so that a row can be read and
//! written without the struct that wrote it (see `dynamic`).
//!
//! Rows are postcard; a [`Shape`] names the postcard layout of one value. The derive
//! asks each field's type for its shape through [`Describe`]; a type that does not
//! implement it is [`Shape::Opaque`] (its entity can still be migrated with a typed
//! transform).

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::marker::PhantomData;
use std::rc::Rc;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// The wire shape of a stored value (postcard's layout).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Shape {
    /// `bool`: one byte, 0 or 1.
    Bool,
    /// `u8`: one byte.
    U8,
    /// `u16`: varint.
    U16,
    /// `u32`: varint.
    U32,
    /// `u64`: varint.
    U64,
    /// `u128`: varint.
    U128,
    /// `i8`: one byte, two's complement.
    I8,
    /// `i16`: zigzag varint.
    I16,
    /// `i32`: zigzag varint.
    I32,
    /// `i64`: zigzag varint.
    I64,
    /// `i128`: zigzag varint.
    I128,
    /// `f32`: 4 bytes little-endian.
    F32,
    /// `f64`: 8 bytes little-endian.
    F64,
    /// `char`: a varint length and its UTF-8 bytes.
    Char,
    /// `String`: a varint length and UTF-8 bytes.
    String,
    /// Bytes serialized as bytes (`serde_bytes`): a varint length and the bytes.
    Bytes,
    /// `()` or a unit struct: no bytes.
    Unit,
    /// `Option<T>`: a tag byte (0 none, 1 some) and the value.
    Option(Box<Shape>),
    /// A sequence (`Vec<T>`, sets, `VecDeque<T>`): a varint count and the items.
    Seq(Box<Shape>),
    /// A fixed array `[T; N]`: N items, no count.
    Array(Box<Shape>, usize),
    /// A tuple: the items in order, no count.
    Tuple(Vec<Shape>),
    /// A map: a varint count and key, value pairs.
    Map(Box<Shape>, Box<Shape>),
    /// A struct (named, tuple or newtype): its fields in order. Tuple fields are named
    /// `0`, `1`, ...
    Struct {
        /// The type's name.
        name: String,
        /// The fields, in declaration order.
        fields: Vec<NamedShape>,
    },
    /// An enum: a varint variant index and the variant's fields in order.
    Enum {
        /// The type's name.
        name: String,
        /// The variants, in declaration order.
        variants: Vec<Variant>,
    },
    /// A type whose layout is not described: rows holding it can be read only by a
    /// typed transform.
    Opaque,
}

/// A named field of a struct or enum variant.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct NamedShape {
    /// The field's name (`0`, `1`, ... for tuple fields).
    pub name: String,
    /// Its shape.
    pub shape: Shape,
}

/// One variant of an enum.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Variant {
    /// The variant's name.
    pub name: String,
    /// Its fields, in order (empty for a unit variant).
    pub fields: Vec<NamedShape>,
}

impl NamedShape {
    /// A named field.
    #[must_use]
    pub fn new(name: impl Into<String>, shape: Shape) -> Self {
        NamedShape { name: name.into(), shape }
    }
}

impl Shape {
    /// Whether some part of this shape is [`Shape::Opaque`].
    #[must_use]
    pub fn is_opaque(&self) -> bool {
        match self {
            Shape::Opaque => true,
            Shape::Option(s) | Shape::Seq(s) | Shape::Array(s, _) => s.is_opaque(),
            Shape::Map(k, v) => k.is_opaque() || v.is_opaque(),
            Shape::Tuple(items) => items.iter().any(Shape::is_opaque),
            Shape::Struct { fields, .. } => fields.iter().any(|f| f.shape.is_opaque()),
            Shape::Enum { variants, .. } => variants.iter().flat_map(|v| &v.fields).any(|f| f.shape.is_opaque()),
            _ => false,
        }
    }

    /// Whether every value of `self` can be read as a value of `to` without loss:
    /// the same shape, an integer of the same sign (or unsigned into signed) and no
    /// narrower, `f32` into `f64`, `T` into `Option<T>`, or these inside the same
    /// containers.
    #[must_use]
    pub fn widens_to(&self, to: &Shape) -> bool {
        use Shape::*;
        if self == to {
            return true;
        }
        let unsigned = |s: &Shape| match s {
            U8 => Some(8),
            U16 => Some(16),
            U32 => Some(32),
            U64 => Some(64),
            U128 => Some(128),
            _ => None,
        };
        let signed = |s: &Shape| match s {
            I8 => Some(8),
            I16 => Some(16),
            I32 => Some(32),
            I64 => Some(64),
            I128 => Some(128),
            _ => None,
        };
        match (self, to) {
            (a, b) if unsigned(a).is_some() && unsigned(b).is_some() => unsigned(a) <= unsigned(b),
            (a, b) if signed(a).is_some() && signed(b).is_some() => signed(a) <= signed(b),
            (a, b) if unsigned(a).is_some() && signed(b).is_some() => unsigned(a) < signed(b),
            (F32, F64) => true,
            (Option(a), Option(b)) | (Seq(a), Seq(b)) => a.widens_to(b),
            (Array(a, n), Array(b, m)) => n == m && a.widens_to(b),
            (Map(ak, av), Map(bk, bv)) => ak.widens_to(bk) && av.widens_to(bv),
            (Tuple(a), Tuple(b)) => a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.widens_to(y)),
            (a, Option(b)) => a.widens_to(b),
            _ => false,
        }
    }
}

impl std::fmt::Display for Shape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let list = |f: &mut std::fmt::Formatter<'_>, items: &[Shape]| -> std::fmt::Result {
            for (i, s) in items.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{s}")?;
            }
            Ok(())
        };
        match self {
            Shape::Bool => f.write_str("bool"),
            Shape::U8 => f.write_str("u8"),
            Shape::U16 => f.write_str("u16"),
            Shape::U32 => f.write_str("u32"),
            Shape::U64 => f.write_str("u64"),
            Shape::U128 => f.write_str("u128"),
            Shape::I8 => f.write_str("i8"),
            Shape::I16 => f.write_str("i16"),
            Shape::I32 => f.write_str("i32"),
            Shape::I64 => f.write_str("i64"),
            Shape::I128 => f.write_str("i128"),
            Shape::F32 => f.write_str("f32"),
            Shape::F64 => f.write_str("f64"),
            Shape::Char => f.write_str("char"),
            Shape::String => f.write_str("string"),
            Shape::Bytes => f.write_str("bytes"),
            Shape::Unit => f.write_str("()"),
            Shape::Option(s) => write!(f, "option<{s}>"),
            Shape::Seq(s) => write!(f, "seq<{s}>"),
            Shape::Array(s, n) => write!(f, "[{s}; {n}]"),
            Shape::Tuple(items) => {
                f.write_str("(")?;
                list(f, items)?;
                f.write_str(")")
            }
            Shape::Map(k, v) => write!(f, "map<{k}, {v}>"),
            Shape::Struct { name, .. } => write!(f, "struct {name}"),
            Shape::Enum { name, .. } => write!(f, "enum {name}"),
            Shape::Opaque => f.write_str("opaque"),
        }
    }
}

/// Types whose stored layout drift can describe. Implemented for std types;
/// `#[derive(Describe)]` implements it for a struct or enum used as a field.
pub trait Describe {
    /// This type's wire shape.
    fn shape() -> Shape;
}

macro_rules! leaf {
    ($($t:ty => $s:ident),* $(,)?) => {
        $(impl Describe for $t {
            fn shape() -> Shape {
                Shape::$s
            }
        })*
    };
}

leaf! {
    bool => Bool, u8 => U8, u16 => U16, u32 => U32, u64 => U64, u128 => U128,
    i8 => I8, i16 => I16, i32 => I32, i64 => I64, i128 => I128, f32 => F32, f64 => F64,
    char => Char, String => String, str => String, () => Unit,
}

// usize and isize are varints of u64 / i64 width in postcard.
leaf! { usize => U64, isize => I64 }

impl<T: Describe> Describe for Option<T> {
    fn shape() -> Shape {
        Shape::Option(Box::new(T::shape()))
    }
}

macro_rules! seq {
    ($($t:ident),*) => {
        $(impl<T: Describe> Describe for $t<T> {
            fn shape() -> Shape {
                Shape::Seq(Box::new(T::shape()))
            }
        })*
    };
}
seq!(Vec, VecDeque, BTreeSet);

impl<T: Describe, S> Describe for HashSet<T, S> {
    fn shape() -> Shape {
        Shape::Seq(Box::new(T::shape()))
    }
}

impl<T: Describe> Describe for [T] {
    fn shape() -> Shape {
        Shape::Seq(Box::new(T::shape()))
    }
}

impl<T: Describe, const N: usize> Describe for [T; N] {
    fn shape() -> Shape {
        Shape::Array(Box::new(T::shape()), N)
    }
}

impl<K: Describe, V: Describe> Describe for BTreeMap<K, V> {
    fn shape() -> Shape {
        Shape::Map(Box::new(K::shape()), Box::new(V::shape()))
    }
}

impl<K: Describe, V: Describe, S> Describe for HashMap<K, V, S> {
    fn shape() -> Shape {
        Shape::Map(Box::new(K::shape()), Box::new(V::shape()))
    }
}

macro_rules! transparent {
    ($($t:ident),*) => {
        $(impl<T: Describe + ?Sized> Describe for $t<T> {
            fn shape() -> Shape {
                T::shape()
            }
        })*
    };
}
transparent!(Box, Rc, Arc);

impl<T: Describe + ?Sized> Describe for &T {
    fn shape() -> Shape {
        T::shape()
    }
}

impl<T: Describe + ToOwned + ?Sized> Describe for Cow<'_, T> {
    fn shape() -> Shape {
        T::shape()
    }
}

impl<T: ?Sized> Describe for PhantomData<T> {
    fn shape() -> Shape {
        Shape::Unit
    }
}

impl Describe for std::time::Duration {
    fn shape() -> Shape {
        Shape::Struct {
            name: "Duration".into(),
            fields: vec![NamedShape::new("secs", Shape::U64), NamedShape::new("nanos", Shape::U32)],
        }
    }
}

impl Describe for std::time::SystemTime {
    fn shape() -> Shape {
        Shape::Struct {
            name: "SystemTime".into(),
            fields: vec![
                NamedShape::new("secs_since_epoch", Shape::U64),
                NamedShape::new("nanos_since_epoch", Shape::U32),
            ],
        }
    }
}

macro_rules! tuple {
    ($($name:ident)+) => {
        impl<$($name: Describe),+> Describe for ($($name,)+) {
            fn shape() -> Shape {
                Shape::Tuple(vec![$($name::shape()),+])
            }
        }
    };
}
tuple!(A);
tuple!(A B);
tuple!(A B C);
tuple!(A B C D);
tuple!(A B C D E);
tuple!(A B C D E F);
tuple!(A B C D E F G);
tuple!(A B C D E F G H);
tuple!(A B C D E F G H I);
tuple!(A B C D E F G H I J);
tuple!(A B C D E F G H I J K);
tuple!(A B C D E F G H I J K L);

/// Picks a field type's shape in generated code: [`Describe::shape`] when the type
/// implements it, [`Shape::Opaque`] otherwise (method resolution through autoref:
/// `(&&ShapeProbe::<T>::new()).drift_shape()`).
#[doc(hidden)]
pub struct ShapeProbe<T: ?Sized>(PhantomData<T>);

impl<T: ?Sized> ShapeProbe<T> {
    #[doc(hidden)]
    #[must_use]
    pub const fn new() -> Self {
        ShapeProbe(PhantomData)
    }
}

impl<T: ?Sized> Default for ShapeProbe<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: ?Sized> std::fmt::Debug for ShapeProbe<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ShapeProbe<{}>", std::any::type_name::<T>())
    }
}

#[doc(hidden)]
pub trait ViaDescribe {
    fn drift_shape(&self) -> Shape;
}

impl<T: Describe + ?Sized> ViaDescribe for &ShapeProbe<T> {
    fn drift_shape(&self) -> Shape {
        T::shape()
    }
}

#[doc(hidden)]
pub trait ViaOpaque {
    fn drift_shape(&self) -> Shape;
}

impl<T: ?Sized> ViaOpaque for ShapeProbe<T> {
    fn drift_shape(&self) -> Shape {
        Shape::Opaque
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn std_types_have_their_postcard_shapes() {
        assert_eq!(<Option<Vec<u8>>>::shape(), Shape::Option(Box::new(Shape::Seq(Box::new(Shape::U8)))));
        assert_eq!(<[u16; 3]>::shape(), Shape::Array(Box::new(Shape::U16), 3));
        assert_eq!(<(u8, String)>::shape(), Shape::Tuple(vec![Shape::U8, Shape::String]));
        assert_eq!(<BTreeMap<String, i64>>::shape(), Shape::Map(Box::new(Shape::String), Box::new(Shape::I64)));
    }

    #[test]
    #[allow(clippy::needless_borrow)] // the borrows pick the impl, as in generated code
    fn the_probe_falls_back_to_opaque() {
        struct NotDescribed;
        assert_eq!((&&ShapeProbe::<u32>::new()).drift_shape(), Shape::U32);
        assert_eq!((&&ShapeProbe::<NotDescribed>::new()).drift_shape(), Shape::Opaque);
    }

    #[test]
    fn widening_accepts_lossless_reads_only() {
        assert!(Shape::U32.widens_to(&Shape::U64));
        assert!(Shape::U32.widens_to(&Shape::I64));
        assert!(!Shape::U64.widens_to(&Shape::I64));
        assert!(!Shape::I32.widens_to(&Shape::U64));
        assert!(Shape::String.widens_to(&Shape::Option(Box::new(Shape::String))));
        assert!(!Shape::Option(Box::new(Shape::String)).widens_to(&Shape::String));
        assert!(Shape::F32.widens_to(&Shape::F64));
    }
}
