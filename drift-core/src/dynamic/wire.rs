//! Values in postcard's layout, byte for byte: what rows are stored as.
//!
//! Decoding trusts neither the bytes nor the shape (both come from the file): a
//! claimed count never allocates more than the bytes left can fill, items that take
//! no bytes are counted against a budget, nesting stops at [`MAX_DEPTH`], and a
//! varint longer than its type is an error.

use super::fault::{Fault, MAX_DEPTH, deeper};
use super::value::Value;
use crate::shape::{NamedShape, Shape};

/// At most this many values are read from a sequence or array of items that take no
/// bytes (`Vec<()>`), whose count the bytes left cannot bound.
const MAX_ZERO_WIDTH_VALUES: usize = 1 << 16;

/// Decodes one value of shape `shape` from the front of `input`, advancing it past
/// the bytes read, as postcard deserializes the type. A sequence of `u8` is
/// [`Value::Bytes`], a fixed array a [`Value::Tuple`]. Whatever postcard writes
/// decodes and [`encode_value`] writes it back byte for byte; of the bytes postcard
/// also reads, a varint with needless continuation bytes is accepted (and written
/// back shortest), a char that is not exactly one character is refused.
///
/// # Errors
/// When the bytes end early or are not a valid encoding of `shape` (a bool byte
/// other than 0 or 1, a varint too long for its type, bad UTF-8, an out-of-range
/// variant index, a count larger than the bytes left), when values nest deeper than
/// 128 levels, and for [`Shape::Opaque`] ("the field's type has no shape").
pub fn decode_value(shape: &Shape, input: &mut &[u8]) -> Result<Value, String> {
    decode(shape, input, 0).map_err(String::from)
}

/// Appends the postcard encoding of `value` as shape `shape` to `out`: the bytes
/// postcard writes for the typed value. The value must already have the shape
/// ([`Value::fit`] converts one): `Value::Bytes` or a `Value::Seq` of `u8` for a
/// sequence of `u8` or bytes, a `Value::Tuple` (or `Value::Bytes` of the right
/// length, for `u8`) for an array, struct and variant fields by name in any order.
///
/// # Errors
/// When the value does not have the shape (naming what was expected and found),
/// nests deeper than 128 levels, or meets [`Shape::Opaque`].
pub fn encode_value(shape: &Shape, value: &Value, out: &mut Vec<u8>) -> Result<(), String> {
    encode(shape, value, out, 0).map_err(String::from)
}

std::thread_local! {
    /// Values of zero-width items the current top-level decode may still produce: one
    /// budget per value, so nested sequences cannot each take a full one.
    static ZERO_WIDTH_LEFT: std::cell::Cell<usize> = const { std::cell::Cell::new(MAX_ZERO_WIDTH_VALUES) };
}

pub(crate) fn decode(shape: &Shape, input: &mut &[u8], depth: usize) -> Result<Value, Fault> {
    if depth == 0 {
        ZERO_WIDTH_LEFT.with(|left| left.set(MAX_ZERO_WIDTH_VALUES));
    }
    Ok(match shape {
        Shape::Bool => match byte(input, shape)? {
            0 => Value::Bool(false),
            1 => Value::Bool(true),
            b => return Err(Fault::new(format!("a bool byte must be 0 or 1, not {b}"))),
        },
        Shape::U8 => Value::U8(byte(input, shape)?),
        Shape::U16 => Value::U16(narrow(varint(input, 16, shape)?, shape)?),
        Shape::U32 => Value::U32(narrow(varint(input, 32, shape)?, shape)?),
        Shape::U64 => Value::U64(narrow(varint(input, 64, shape)?, shape)?),
        Shape::U128 => Value::U128(varint(input, 128, shape)?),
        Shape::I8 => Value::I8(i8::from_le_bytes([byte(input, shape)?])),
        Shape::I16 => Value::I16(narrow_signed(unzigzag(varint(input, 16, shape)?), shape)?),
        Shape::I32 => Value::I32(narrow_signed(unzigzag(varint(input, 32, shape)?), shape)?),
        Shape::I64 => Value::I64(narrow_signed(unzigzag(varint(input, 64, shape)?), shape)?),
        Shape::I128 => Value::I128(unzigzag(varint(input, 128, shape)?)),
        Shape::F32 => Value::F32(f32::from_le_bytes(array(input, shape)?)),
        Shape::F64 => Value::F64(f64::from_le_bytes(array(input, shape)?)),
        Shape::Char => {
            let n = length(input, shape)?;
            let s = std::str::from_utf8(take(input, n, shape)?).map_err(|_| Fault::new("a char is not UTF-8"))?;
            let mut chars = s.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) => Value::Char(c),
                _ => return Err(Fault::new(format!("a char is {} bytes that are not one character", s.len()))),
            }
        }
        Shape::String => {
            let n = length(input, shape)?;
            let s = std::str::from_utf8(take(input, n, shape)?).map_err(|_| Fault::new("a string is not UTF-8"))?;
            Value::String(s.to_string())
        }
        Shape::Bytes => Value::Bytes(bytes(input, shape)?),
        Shape::Seq(item) if **item == Shape::U8 => Value::Bytes(bytes(input, shape)?),
        Shape::Unit => Value::Unit,
        Shape::Option(inner) => match byte(input, shape)? {
            0 => Value::Option(None),
            1 => Value::Option(Some(Box::new(decode(inner, input, deeper(depth)?)?))),
            b => return Err(Fault::new(format!("an option tag must be 0 or 1, not {b}"))),
        },
        Shape::Seq(item) => {
            let depth = deeper(depth)?;
            let n = length(input, shape)?;
            check_count(&[&**item], n, input.len(), shape)?;
            let mut items = Vec::with_capacity(n.min(input.len()));
            for i in 0..n {
                items.push(decode(item, input, depth).map_err(|e| e.at(i))?);
            }
            Value::Seq(items)
        }
        Shape::Array(item, n) => {
            let depth = deeper(depth)?;
            check_count(&[&**item], *n, input.len(), shape)?;
            let mut items = Vec::with_capacity((*n).min(input.len()));
            for i in 0..*n {
                items.push(decode(item, input, depth).map_err(|e| e.at(i))?);
            }
            Value::Tuple(items)
        }
        Shape::Tuple(shapes) => {
            let depth = deeper(depth)?;
            let mut items = Vec::with_capacity(shapes.len());
            for (i, s) in shapes.iter().enumerate() {
                items.push(decode(s, input, depth).map_err(|e| e.at(i))?);
            }
            Value::Tuple(items)
        }
        Shape::Map(k, v) => {
            let depth = deeper(depth)?;
            let n = length(input, shape)?;
            check_count(&[&**k, &**v], n, input.len(), shape)?;
            let mut entries = Vec::with_capacity(n.min(input.len()));
            for i in 0..n {
                let key = decode(k, input, depth).map_err(|e| e.at(i))?;
                let value = decode(v, input, depth).map_err(|e| e.at(i))?;
                entries.push((key, value));
            }
            Value::Map(entries)
        }
        Shape::Struct { fields, .. } => Value::Struct(decode_fields(fields, input, deeper(depth)?)?),
        Shape::Enum { name, variants } => {
            let depth = deeper(depth)?;
            let index: u32 = narrow(varint(input, 32, shape)?, shape)?;
            let Some(variant) = usize::try_from(index).ok().and_then(|i| variants.get(i)) else {
                return Err(Fault::new(format!(
                    "variant index {index} is out of range for enum {name} ({} variants)",
                    variants.len()
                )));
            };
            let fields = decode_fields(&variant.fields, input, depth).map_err(|e| e.in_variant(&variant.name))?;
            Value::Enum { variant: variant.name.clone(), fields }
        }
        Shape::Opaque => return Err(Fault::opaque()),
    })
}

fn decode_fields(fields: &[NamedShape], input: &mut &[u8], depth: usize) -> Result<Vec<(String, Value)>, Fault> {
    let mut out = Vec::with_capacity(fields.len());
    for f in fields {
        out.push((f.name.clone(), decode(&f.shape, input, depth).map_err(|e| e.in_field(&f.name))?));
    }
    Ok(out)
}

/// Refuses a count of items (each made of `item`'s shapes) that the bytes left
/// cannot hold, or that would make too many values of items taking no bytes.
fn check_count(item: &[&Shape], n: usize, left: usize, shape: &Shape) -> Result<(), Fault> {
    if item.iter().any(|s| !zero_width(s, 0)) {
        if n > left {
            return Err(Fault::new(format!("a {shape} claims {n} items but only {left} bytes are left")));
        }
    } else {
        let per_item = item.iter().fold(1usize, |acc, s| acc.saturating_add(value_count(s, 0)));
        let need = n.saturating_mul(per_item);
        let left = ZERO_WIDTH_LEFT.with(std::cell::Cell::get);
        if need > left {
            return Err(Fault::new(format!(
                "a {shape} of {n} items that take no bytes is longer than the {MAX_ZERO_WIDTH_VALUES} values \
                 such items may make up in one value"
            )));
        }
        ZERO_WIDTH_LEFT.with(|l| l.set(left - need));
    }
    Ok(())
}

/// Whether every value of `shape` is encoded in no bytes. Past [`MAX_DEPTH`] the
/// answer is `false`: decoding such a shape fails anyway.
fn zero_width(shape: &Shape, depth: usize) -> bool {
    if depth > MAX_DEPTH {
        return false;
    }
    match shape {
        Shape::Unit => true,
        Shape::Array(item, n) => *n == 0 || zero_width(item, depth + 1),
        Shape::Tuple(items) => items.iter().all(|s| zero_width(s, depth + 1)),
        Shape::Struct { fields, .. } => fields.iter().all(|f| zero_width(&f.shape, depth + 1)),
        _ => false,
    }
}

/// How many values one value of the zero-width `shape` is made of (saturating).
fn value_count(shape: &Shape, depth: usize) -> usize {
    if depth > MAX_DEPTH {
        return usize::MAX;
    }
    let sum = |shapes: &mut dyn Iterator<Item = &Shape>| {
        shapes.fold(1usize, |acc, s| acc.saturating_add(value_count(s, depth + 1)))
    };
    match shape {
        Shape::Array(item, n) => n.saturating_mul(value_count(item, depth + 1)).saturating_add(1),
        Shape::Tuple(items) => sum(&mut items.iter()),
        Shape::Struct { fields, .. } => sum(&mut fields.iter().map(|f| &f.shape)),
        _ => 1,
    }
}

fn byte(input: &mut &[u8], shape: &Shape) -> Result<u8, Fault> {
    let (&b, rest) = input.split_first().ok_or_else(|| Fault::end(shape))?;
    *input = rest;
    Ok(b)
}

fn take<'a>(input: &mut &'a [u8], n: usize, shape: &Shape) -> Result<&'a [u8], Fault> {
    if input.len() < n {
        return Err(Fault::end(shape));
    }
    let (head, rest) = input.split_at(n);
    *input = rest;
    Ok(head)
}

fn array<const N: usize>(input: &mut &[u8], shape: &Shape) -> Result<[u8; N], Fault> {
    let mut out = [0u8; N];
    out.copy_from_slice(take(input, N, shape)?);
    Ok(out)
}

fn bytes(input: &mut &[u8], shape: &Shape) -> Result<Vec<u8>, Fault> {
    let n = length(input, shape)?;
    Ok(take(input, n, shape)?.to_vec())
}

/// A length or count: a `usize` varint, which postcard writes as a `u64` one.
fn length(input: &mut &[u8], shape: &Shape) -> Result<usize, Fault> {
    let n = varint(input, 64, shape)?;
    usize::try_from(n).map_err(|_| Fault::new(format!("a {shape} claims {n} items")))
}

/// A varint of a `bits`-wide unsigned integer, as postcard reads it: at most
/// `ceil(bits / 7)` bytes, and the last of that many holds no bits past `bits`.
fn varint(input: &mut &[u8], bits: u32, shape: &Shape) -> Result<u128, Fault> {
    let max = bits.div_ceil(7);
    let last_max = (1u8 << (bits % 7)) - 1;
    let mut out = 0u128;
    for i in 0..max {
        let b = byte(input, shape)?;
        out |= u128::from(b & 0x7F) << (7 * i);
        if b & 0x80 == 0 {
            if i == max - 1 && b > last_max {
                break;
            }
            return Ok(out);
        }
    }
    Err(Fault::new(format!("a varint is too long for a {shape}")))
}

fn unzigzag(n: u128) -> i128 {
    // Both operands are below 2^127, so the casts keep their values.
    #[allow(clippy::cast_possible_wrap)]
    let (half, sign) = ((n >> 1) as i128, (n & 1) as i128);
    half ^ -sign
}

/// Narrows a decoded varint to its type; [`varint`] keeps it within the type's bits.
fn narrow<T: TryFrom<u128>>(n: u128, shape: &Shape) -> Result<T, Fault> {
    T::try_from(n).map_err(|_| Fault::new(format!("{n} is out of range for a {shape}")))
}

fn narrow_signed<T: TryFrom<i128>>(n: i128, shape: &Shape) -> Result<T, Fault> {
    T::try_from(n).map_err(|_| Fault::new(format!("{n} is out of range for a {shape}")))
}

pub(crate) fn encode(shape: &Shape, value: &Value, out: &mut Vec<u8>, depth: usize) -> Result<(), Fault> {
    match (shape, value) {
        (Shape::Bool, Value::Bool(b)) => out.push(u8::from(*b)),
        (Shape::U8, Value::U8(v)) => out.push(*v),
        (Shape::U16, Value::U16(v)) => put_varint(out, (*v).into()),
        (Shape::U32, Value::U32(v)) => put_varint(out, (*v).into()),
        (Shape::U64, Value::U64(v)) => put_varint(out, (*v).into()),
        (Shape::U128, Value::U128(v)) => put_varint(out, *v),
        (Shape::I8, Value::I8(v)) => out.extend_from_slice(&v.to_le_bytes()),
        (Shape::I16, Value::I16(v)) => put_varint(out, zigzag((*v).into())),
        (Shape::I32, Value::I32(v)) => put_varint(out, zigzag((*v).into())),
        (Shape::I64, Value::I64(v)) => put_varint(out, zigzag((*v).into())),
        (Shape::I128, Value::I128(v)) => put_varint(out, zigzag(*v)),
        (Shape::F32, Value::F32(v)) => out.extend_from_slice(&v.to_le_bytes()),
        (Shape::F64, Value::F64(v)) => out.extend_from_slice(&v.to_le_bytes()),
        (Shape::Char, Value::Char(c)) => put_bytes(out, c.encode_utf8(&mut [0; 4]).as_bytes()),
        (Shape::String, Value::String(s)) => put_bytes(out, s.as_bytes()),
        (Shape::Bytes, Value::Bytes(b)) => put_bytes(out, b),
        (Shape::Seq(item), Value::Bytes(b)) if **item == Shape::U8 => put_bytes(out, b),
        (Shape::Bytes, Value::Seq(items)) => {
            put_len(out, items.len());
            for (i, v) in items.iter().enumerate() {
                encode(&Shape::U8, v, out, depth).map_err(|e| e.at(i))?;
            }
        }
        (Shape::Unit, Value::Unit) => {}
        (Shape::Option(_), Value::Option(None)) => out.push(0),
        (Shape::Option(inner), Value::Option(Some(v))) => {
            out.push(1);
            encode(inner, v, out, deeper(depth)?)?;
        }
        (Shape::Seq(item), Value::Seq(items)) => {
            let depth = deeper(depth)?;
            put_len(out, items.len());
            for (i, v) in items.iter().enumerate() {
                encode(item, v, out, depth).map_err(|e| e.at(i))?;
            }
        }
        (Shape::Array(item, n), Value::Bytes(b)) if **item == Shape::U8 && b.len() == *n => out.extend_from_slice(b),
        (Shape::Array(item, n), Value::Tuple(items)) if items.len() == *n => {
            let depth = deeper(depth)?;
            for (i, v) in items.iter().enumerate() {
                encode(item, v, out, depth).map_err(|e| e.at(i))?;
            }
        }
        (Shape::Tuple(shapes), Value::Tuple(items)) if items.len() == shapes.len() => {
            let depth = deeper(depth)?;
            for (i, (s, v)) in shapes.iter().zip(items).enumerate() {
                encode(s, v, out, depth).map_err(|e| e.at(i))?;
            }
        }
        (Shape::Map(ks, vs), Value::Map(entries)) => {
            let depth = deeper(depth)?;
            put_len(out, entries.len());
            for (i, (k, v)) in entries.iter().enumerate() {
                encode(ks, k, out, depth).map_err(|e| e.at(i))?;
                encode(vs, v, out, depth).map_err(|e| e.at(i))?;
            }
        }
        (Shape::Struct { name, fields }, Value::Struct(values)) => {
            encode_fields(fields, values, out, deeper(depth)?, &format!("struct {name}"))?;
        }
        (Shape::Enum { name, variants }, Value::Enum { variant, fields }) => {
            let depth = deeper(depth)?;
            let Some((index, v)) = variants.iter().enumerate().find(|(_, v)| v.name == *variant) else {
                return Err(Fault::new(format!("enum {name} has no variant `{variant}`")));
            };
            put_varint(out, index as u128);
            encode_fields(&v.fields, fields, out, depth, &format!("variant `{variant}` of enum {name}"))
                .map_err(|e| e.in_variant(variant))?;
        }
        (Shape::Opaque, _) => return Err(Fault::opaque()),
        (shape, value) => return Err(mismatch(shape, value)),
    }
    Ok(())
}

/// "expected u16, found string "x"" (and the length for arrays and tuples).
pub(crate) fn mismatch(shape: &Shape, value: &Value) -> Fault {
    let items = match (shape, value) {
        (Shape::Array(..) | Shape::Tuple(_), Value::Tuple(items) | Value::Seq(items)) => Some(items.len()),
        (Shape::Array(..), Value::Bytes(b)) => Some(b.len()),
        _ => None,
    };
    match items {
        Some(n) => Fault::new(format!("expected {shape}, found a {} of {n} items", value.kind())),
        None => Fault::new(format!("expected {shape}, found {}", value.describe())),
    }
}

/// Struct or variant fields in `shapes`' order, looked up by name in `values`, which
/// must hold each exactly once and nothing else.
fn encode_fields(
    shapes: &[NamedShape],
    values: &[(String, Value)],
    out: &mut Vec<u8>,
    depth: usize,
    owner: &str,
) -> Result<(), Fault> {
    check_names(shapes, values.iter().map(|(n, _)| n.as_str()), owner)?;
    for (i, s) in shapes.iter().enumerate() {
        // Fields usually come in order; look further only when they do not.
        let v = match values.get(i) {
            Some((n, v)) if *n == s.name => v,
            _ => values.iter().find(|(n, _)| *n == s.name).map(|(_, v)| v).ok_or_else(|| missing(s, owner))?,
        };
        encode(&s.shape, v, out, depth).map_err(|e| e.in_field(&s.name))?;
    }
    Ok(())
}

/// Refuses a field name that `shapes` lacks, or one given twice.
pub(crate) fn check_names<'a>(
    shapes: &[NamedShape],
    names: impl Iterator<Item = &'a str>,
    owner: &str,
) -> Result<(), Fault> {
    let mut seen: Vec<&str> = Vec::new();
    for n in names {
        if !shapes.iter().any(|s| s.name == n) {
            return Err(Fault::new(format!("{owner} has no field `{n}`")));
        }
        if seen.contains(&n) {
            return Err(Fault::new(format!("field `{n}` of {owner} is given twice")));
        }
        seen.push(n);
    }
    Ok(())
}

pub(crate) fn missing(s: &NamedShape, owner: &str) -> Fault {
    Fault::new(format!("field `{}` of {owner} has no value", s.name))
}

fn put_varint(out: &mut Vec<u8>, mut v: u128) {
    while v >= 0x80 {
        // The mask keeps the low seven bits, which fit a byte.
        #[allow(clippy::cast_possible_truncation)]
        out.push((v as u8 & 0x7F) | 0x80);
        v >>= 7;
    }
    #[allow(clippy::cast_possible_truncation)]
    out.push(v as u8);
}

fn put_len(out: &mut Vec<u8>, n: usize) {
    put_varint(out, n as u128);
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_len(out, b.len());
    out.extend_from_slice(b);
}

/// Zigzag: 0, -1, 1, -2, ... as 0, 1, 2, 3, ...; a value of a narrower type stays
/// within that type's bits.
fn zigzag(v: i128) -> u128 {
    // `(v << 1) ^ (v >> 127)` is never negative.
    #[allow(clippy::cast_sign_loss)]
    let z = ((v << 1) ^ (v >> 127)) as u128;
    z
}
