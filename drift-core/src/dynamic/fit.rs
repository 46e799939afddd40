//! [`Value::fit`]: a value converted to a shape, when nothing is lost.

use super::fault::{Fault, deeper};
use super::value::{Int, Value};
use super::wire::{check_names, mismatch, missing};
use crate::shape::{NamedShape, Shape};

impl Value {
    /// Converts this value to shape `to` when no information is lost:
    /// - a value that already has the shape is kept;
    /// - any integer becomes an integer of any width and sign that holds it
    ///   (`Value::U64(3)` fits a `u16` field; `Value::U64(70_000)` does not);
    /// - an `f32` becomes an `f64`, and an `f64` an `f32` when the `f32` holds it exactly;
    /// - a value of `T` becomes `Some` of `Option<T>`;
    /// - bytes and sequences of `u8` are interchangeable, and a tuple, sequence or
    ///   bytes of the right length fills a fixed array;
    /// - containers, struct fields (by name) and enum variants (by name) convert item
    ///   by item.
    ///
    /// # Errors
    /// What cannot be converted, with where in the value: an integer out of range
    /// ("70000 does not fit in u16"), a value of another kind ("expected string, found
    /// u32 5"), a missing or unknown struct field, an unknown variant, a length that
    /// differs, [`Shape::Opaque`], or values nested deeper than 128 levels.
    pub fn fit(self, to: &Shape) -> Result<Value, String> {
        fit(self, to, 0).map_err(String::from)
    }
}

pub(crate) fn fit(value: Value, to: &Shape, depth: usize) -> Result<Value, Fault> {
    if let (Some(n), true) = (value.as_int(), is_int(to)) {
        return fit_int(n, to).ok_or_else(|| Fault::new(format!("{value} does not fit in {to}")));
    }
    Ok(match (to, value) {
        (Shape::Opaque, _) => return Err(Fault::opaque()),
        (Shape::Option(_), Value::Option(None)) => Value::Option(None),
        (Shape::Option(inner), Value::Option(Some(v))) => {
            Value::Option(Some(Box::new(fit(*v, inner, deeper(depth)?)?)))
        }
        (Shape::Option(inner), v) => Value::Option(Some(Box::new(fit(v, inner, deeper(depth)?)?))),
        (Shape::Bool, v @ Value::Bool(_))
        | (Shape::F32, v @ Value::F32(_))
        | (Shape::F64, v @ Value::F64(_))
        | (Shape::Char, v @ Value::Char(_))
        | (Shape::String, v @ Value::String(_))
        | (Shape::Bytes, v @ Value::Bytes(_))
        | (Shape::Unit, v @ Value::Unit) => v,
        (Shape::F64, Value::F32(x)) => Value::F64(x.into()),
        // An f64 that round-trips through f32 is held exactly (NaN stays NaN).
        #[allow(clippy::cast_possible_truncation, clippy::float_cmp)]
        (Shape::F32, Value::F64(x)) if x.is_nan() || f64::from(x as f32) == x => Value::F32(x as f32),
        (Shape::Seq(item), v @ Value::Bytes(_)) if **item == Shape::U8 => v,
        (Shape::Bytes, Value::Seq(items) | Value::Tuple(items)) => Value::Bytes(to_bytes(items)?),
        (Shape::Seq(item), Value::Seq(items) | Value::Tuple(items)) if **item == Shape::U8 => {
            Value::Bytes(to_bytes(items)?)
        }
        (Shape::Seq(item), Value::Seq(items) | Value::Tuple(items)) => Value::Seq(fit_items(items, item, depth)?),
        (Shape::Seq(item), Value::Bytes(b)) => Value::Seq(fit_items(bytes_as_items(b), item, depth)?),
        (Shape::Array(item, n), Value::Tuple(items) | Value::Seq(items)) if items.len() == *n => {
            Value::Tuple(fit_items(items, item, depth)?)
        }
        (Shape::Array(item, n), Value::Bytes(b)) if b.len() == *n => {
            Value::Tuple(fit_items(bytes_as_items(b), item, depth)?)
        }
        (Shape::Tuple(shapes), Value::Tuple(items)) if items.len() == shapes.len() => {
            let depth = deeper(depth)?;
            let fitted =
                items.into_iter().zip(shapes).enumerate().map(|(i, (v, s))| fit(v, s, depth).map_err(|e| e.at(i)));
            Value::Tuple(fitted.collect::<Result<_, _>>()?)
        }
        (Shape::Map(ks, vs), Value::Map(entries)) => {
            let depth = deeper(depth)?;
            let mut out = Vec::with_capacity(entries.len());
            for (i, (k, v)) in entries.into_iter().enumerate() {
                out.push((fit(k, ks, depth).map_err(|e| e.at(i))?, fit(v, vs, depth).map_err(|e| e.at(i))?));
            }
            Value::Map(out)
        }
        (Shape::Struct { name, fields }, Value::Struct(values)) => {
            Value::Struct(fit_fields(values, fields, deeper(depth)?, &format!("struct {name}"))?)
        }
        (Shape::Enum { name, variants }, Value::Enum { variant, fields }) => {
            let Some(v) = variants.iter().find(|v| v.name == variant) else {
                return Err(Fault::new(format!("enum {name} has no variant `{variant}`")));
            };
            let owner = format!("variant `{variant}` of enum {name}");
            let fields = fit_fields(fields, &v.fields, deeper(depth)?, &owner).map_err(|e| e.in_variant(&variant))?;
            Value::Enum { variant, fields }
        }
        (to, v) => return Err(mismatch(to, &v)),
    })
}

fn is_int(s: &Shape) -> bool {
    matches!(
        s,
        Shape::U8
            | Shape::U16
            | Shape::U32
            | Shape::U64
            | Shape::U128
            | Shape::I8
            | Shape::I16
            | Shape::I32
            | Shape::I64
            | Shape::I128
    )
}

/// `n` as integer shape `to`, when `to` holds it.
fn fit_int(n: Int, to: &Shape) -> Option<Value> {
    macro_rules! conv {
        ($t:ty, $v:ident) => {
            match n {
                Int::U(u) => <$t>::try_from(u).ok().map(Value::$v),
                Int::I(i) => <$t>::try_from(i).ok().map(Value::$v),
            }
        };
    }
    match to {
        Shape::U8 => conv!(u8, U8),
        Shape::U16 => conv!(u16, U16),
        Shape::U32 => conv!(u32, U32),
        Shape::U64 => conv!(u64, U64),
        Shape::U128 => conv!(u128, U128),
        Shape::I8 => conv!(i8, I8),
        Shape::I16 => conv!(i16, I16),
        Shape::I32 => conv!(i32, I32),
        Shape::I64 => conv!(i64, I64),
        Shape::I128 => conv!(i128, I128),
        _ => None,
    }
}

fn to_bytes(items: Vec<Value>) -> Result<Vec<u8>, Fault> {
    let mut out = Vec::with_capacity(items.len());
    for (i, v) in items.into_iter().enumerate() {
        match fit(v, &Shape::U8, 0).map_err(|e| e.at(i))? {
            Value::U8(b) => out.push(b),
            other => return Err(mismatch(&Shape::U8, &other).at(i)),
        }
    }
    Ok(out)
}

fn bytes_as_items(b: Vec<u8>) -> Vec<Value> {
    b.into_iter().map(Value::U8).collect()
}

fn fit_items(items: Vec<Value>, item: &Shape, depth: usize) -> Result<Vec<Value>, Fault> {
    let depth = deeper(depth)?;
    items.into_iter().enumerate().map(|(i, v)| fit(v, item, depth).map_err(|e| e.at(i))).collect()
}

/// Struct or variant fields fitted to `shapes`, in `shapes`' order, looked up by name.
fn fit_fields(
    values: Vec<(String, Value)>,
    shapes: &[NamedShape],
    depth: usize,
    owner: &str,
) -> Result<Vec<(String, Value)>, Fault> {
    check_names(shapes, values.iter().map(|(n, _)| n.as_str()), owner)?;
    let mut slots: Vec<Option<(String, Value)>> = values.into_iter().map(Some).collect();
    let mut out = Vec::with_capacity(shapes.len());
    for s in shapes {
        let taken =
            slots.iter_mut().find(|slot| slot.as_ref().is_some_and(|(n, _)| *n == s.name)).and_then(Option::take);
        let Some((name, v)) = taken else { return Err(missing(s, owner)) };
        let v = fit(v, &s.shape, depth).map_err(|e| e.in_field(&s.name))?;
        out.push((name, v));
    }
    Ok(out)
}
