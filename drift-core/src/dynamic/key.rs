//! Values in the order-preserving key encoding: how key fields are stored.
//!
//! Every leaf goes through the type's own [`KeyCodec`] impl, so the bytes are the
//! typed codec's by construction; only the containers (`Option`, tuples, `[u8; N]`)
//! are walked here, the way their impls concatenate.

use super::fault::{Fault, deeper};
use super::value::Value;
use super::wire::mismatch;
use crate::codec::{KeyCodec, KeyError};
use crate::shape::Shape;

/// Decodes one key-encoded value of shape `shape` from the front of `input`,
/// advancing it past the bytes read: the value [`KeyCodec::decode_key`] of the field's
/// type reads. A `Vec<u8>` is [`Value::Bytes`], a `[u8; N]` a [`Value::Tuple`] of `u8`.
///
/// # Errors
/// When the bytes are truncated or invalid (the [`KeyError`], rendered), or the
/// shape has no key encoding (a sequence other than of `u8`, a map, a struct, an
/// enum, an array other than of `u8`, [`Shape::Opaque`]).
pub fn decode_key_value(shape: &Shape, input: &mut &[u8]) -> Result<Value, String> {
    decode(shape, input, 0).map_err(String::from)
}

/// Appends the key encoding of `value` as shape `shape` to `out`: the bytes
/// [`KeyCodec::encode_key`] of the field's type writes. The value must already have
/// the shape ([`Value::fit`] converts one).
///
/// # Errors
/// A NaN float; a value that does not have the shape; a shape with no key encoding.
pub fn encode_key_value(shape: &Shape, value: &Value, out: &mut Vec<u8>) -> Result<(), String> {
    encode(shape, value, out, 0).map_err(String::from)
}

fn codec_err(e: &KeyError) -> Fault {
    Fault::new(e.to_string())
}

fn no_key_encoding(shape: &Shape) -> Fault {
    match shape {
        Shape::Opaque => Fault::opaque(),
        _ => Fault::new(format!("a {shape} has no key encoding")),
    }
}

fn is_u8_array(shape: &Shape) -> Option<usize> {
    match shape {
        Shape::Array(item, n) if **item == Shape::U8 => Some(*n),
        _ => None,
    }
}

fn is_bytes(shape: &Shape) -> bool {
    match shape {
        Shape::Bytes => true,
        Shape::Seq(item) => **item == Shape::U8,
        _ => false,
    }
}

pub(crate) fn decode(shape: &Shape, input: &mut &[u8], depth: usize) -> Result<Value, Fault> {
    fn leaf<T: KeyCodec>(input: &mut &[u8], f: impl FnOnce(T) -> Value) -> Result<Value, Fault> {
        T::decode_key(input).map(f).map_err(|e| codec_err(&e))
    }
    match shape {
        Shape::Bool => leaf(input, Value::Bool),
        Shape::U8 => leaf(input, Value::U8),
        Shape::U16 => leaf(input, Value::U16),
        Shape::U32 => leaf(input, Value::U32),
        Shape::U64 => leaf(input, Value::U64),
        Shape::U128 => leaf(input, Value::U128),
        Shape::I8 => leaf(input, Value::I8),
        Shape::I16 => leaf(input, Value::I16),
        Shape::I32 => leaf(input, Value::I32),
        Shape::I64 => leaf(input, Value::I64),
        Shape::I128 => leaf(input, Value::I128),
        Shape::F32 => leaf(input, Value::F32),
        Shape::F64 => leaf(input, Value::F64),
        Shape::Char => leaf(input, Value::Char),
        Shape::String => leaf(input, Value::String),
        Shape::Unit => leaf(input, |()| Value::Unit),
        s if is_bytes(s) => leaf(input, Value::Bytes),
        Shape::Option(inner) => match input.split_first() {
            Some((0, rest)) => {
                *input = rest;
                Ok(Value::Option(None))
            }
            Some((1, rest)) => {
                *input = rest;
                Ok(Value::Option(Some(Box::new(decode(inner, input, deeper(depth)?)?))))
            }
            Some(_) => Err(codec_err(&KeyError::Invalid { ty: "Option", reason: "tag is neither 0 nor 1" })),
            None => Err(codec_err(&KeyError::UnexpectedEnd { ty: "Option" })),
        },
        Shape::Tuple(shapes) => {
            let depth = deeper(depth)?;
            let mut items = Vec::with_capacity(shapes.len());
            for (i, s) in shapes.iter().enumerate() {
                items.push(decode(s, input, depth).map_err(|e| e.at(i))?);
            }
            Ok(Value::Tuple(items))
        }
        // `[u8; N]`: the N bytes as they are.
        s => match is_u8_array(s) {
            Some(n) if input.len() >= n => {
                let (head, rest) = input.split_at(n);
                *input = rest;
                Ok(Value::Tuple(head.iter().copied().map(Value::U8).collect()))
            }
            Some(_) => Err(codec_err(&KeyError::UnexpectedEnd { ty: "[u8; N]" })),
            None => Err(no_key_encoding(s)),
        },
    }
}

pub(crate) fn encode(shape: &Shape, value: &Value, out: &mut Vec<u8>, depth: usize) -> Result<(), Fault> {
    let done = match (shape, value) {
        (Shape::Bool, Value::Bool(v)) => v.encode_key(out),
        (Shape::U8, Value::U8(v)) => v.encode_key(out),
        (Shape::U16, Value::U16(v)) => v.encode_key(out),
        (Shape::U32, Value::U32(v)) => v.encode_key(out),
        (Shape::U64, Value::U64(v)) => v.encode_key(out),
        (Shape::U128, Value::U128(v)) => v.encode_key(out),
        (Shape::I8, Value::I8(v)) => v.encode_key(out),
        (Shape::I16, Value::I16(v)) => v.encode_key(out),
        (Shape::I32, Value::I32(v)) => v.encode_key(out),
        (Shape::I64, Value::I64(v)) => v.encode_key(out),
        (Shape::I128, Value::I128(v)) => v.encode_key(out),
        (Shape::F32, Value::F32(v)) => v.encode_key(out),
        (Shape::F64, Value::F64(v)) => v.encode_key(out),
        (Shape::Char, Value::Char(v)) => v.encode_key(out),
        (Shape::String, Value::String(v)) => v.encode_key(out),
        (Shape::Unit, Value::Unit) => ().encode_key(out),
        (s, Value::Bytes(b)) if is_bytes(s) => b.encode_key(out),
        (s, Value::Seq(items)) if is_bytes(s) => u8_items(items)?.encode_key(out),
        (Shape::Option(_), Value::Option(None)) => None::<()>.encode_key(out),
        (Shape::Option(inner), Value::Option(Some(v))) => {
            out.push(1);
            return encode(inner, v, out, deeper(depth)?);
        }
        (Shape::Tuple(shapes), Value::Tuple(items)) if items.len() == shapes.len() => {
            let depth = deeper(depth)?;
            for (i, (s, v)) in shapes.iter().zip(items).enumerate() {
                encode(s, v, out, depth).map_err(|e| e.at(i))?;
            }
            Ok(())
        }
        (s, Value::Bytes(b)) if is_u8_array(s) == Some(b.len()) => {
            out.extend_from_slice(b);
            Ok(())
        }
        (s, Value::Tuple(items)) if is_u8_array(s) == Some(items.len()) => {
            out.extend_from_slice(&u8_items(items)?);
            Ok(())
        }
        (s, v) if is_u8_array(s).is_some() || key_shape(s) => return Err(mismatch(s, v)),
        (s, _) => return Err(no_key_encoding(s)),
    };
    done.map_err(|e| codec_err(&e))
}

/// Whether `shape` has a key encoding at its top level.
fn key_shape(shape: &Shape) -> bool {
    !matches!(
        shape,
        Shape::Seq(_) | Shape::Array(..) | Shape::Map(..) | Shape::Struct { .. } | Shape::Enum { .. } | Shape::Opaque
    ) || is_bytes(shape)
}

fn u8_items(items: &[Value]) -> Result<Vec<u8>, Fault> {
    items
        .iter()
        .enumerate()
        .map(|(i, v)| match v {
            Value::U8(b) => Ok(*b),
            other => Err(mismatch(&Shape::U8, other).at(i)),
        })
        .collect()
}
