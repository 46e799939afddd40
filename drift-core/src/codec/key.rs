//! Order-preserving, self-delimiting key encoding (see `docs/format.md`).
//!
//! Invariants, for every implementor:
//! - `a.cmp(b) == encode(a).cmp(encode(b))` (byte order equals the type's order);
//! - `decode(encode(x)) == x`, consuming exactly the bytes `encode` wrote;
//! - an encoding is never a strict prefix of another value's encoding of the same
//!   type, so concatenations (tuples, composite keys) compare field by field.

use std::cmp::Ordering;
use std::fmt;

/// Why a value could not be encoded as a key, or key bytes could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyError {
    /// A float key was NaN, which has no place in a total order.
    NaN,
    /// The input ended inside a value.
    UnexpectedEnd {
        /// The type being decoded.
        ty: &'static str,
    },
    /// The bytes are not a valid encoding of the type.
    Invalid {
        /// The type being decoded.
        ty: &'static str,
        /// What was wrong.
        reason: &'static str,
    },
    /// Bytes were left over after the whole key was decoded.
    TrailingBytes(usize),
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyError::NaN => f.write_str("NaN cannot be used as a key"),
            KeyError::UnexpectedEnd { ty } => write!(f, "key bytes end inside a `{ty}`"),
            KeyError::Invalid { ty, reason } => write!(f, "invalid `{ty}` key bytes: {reason}"),
            KeyError::TrailingBytes(n) => write!(f, "{n} bytes left over after the key"),
        }
    }
}

impl std::error::Error for KeyError {}

/// A type with an order-preserving, self-delimiting byte encoding, usable as a
/// primary key, an index field or a filter operand.
///
/// # Contract
/// An implementor must guarantee, for all values `a`, `b`:
/// - `encode(a) < encode(b)` (bytewise) exactly when `a.key_cmp(b)` is `Less`, and equal
///   encodings exactly for equal values;
/// - `decode_key` reads back exactly the bytes `encode_key` appended and returns an
///   equal value;
/// - no encoding is a strict prefix of another encoding of the same type.
///
/// Concatenating encodings then orders tuples lexicographically, which is what
/// composite keys and multi-field indexes rely on.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be used as a key or index field: it has no order-preserving key encoding",
    label = "`{Self}` does not implement `drift::KeyCodec`",
    note = "key, index and unique fields need a `KeyCodec` type: an integer, float, `bool`, `char`, `String`, `Vec<u8>`, `[u8; N]`, or an `Option` or tuple of these",
    note = "implement `drift::KeyCodec` for `{Self}`, or store it as a plain field: no `primary_key`, `index` or `unique`, and not in `index(fields(...))`"
)]
pub trait KeyCodec: Sized {
    /// Appends the encoding of `self` to `out`.
    ///
    /// # Errors
    /// [`KeyError::NaN`] for a NaN float; other types never fail.
    fn encode_key(&self, out: &mut Vec<u8>) -> Result<(), KeyError>;

    /// Decodes one value from the front of `input`, advancing it past the bytes read.
    ///
    /// # Errors
    /// [`KeyError`] when the bytes are truncated or not a valid encoding.
    fn decode_key(input: &mut &[u8]) -> Result<Self, KeyError>;

    /// Compares two values in key order. The default compares encodings; types with
    /// a cheaper `Ord` that agrees with the encoding override it.
    fn key_cmp(&self, other: &Self) -> Ordering {
        let (mut a, mut b) = (Vec::new(), Vec::new());
        let ea = self.encode_key(&mut a);
        let eb = other.encode_key(&mut b);
        match (ea, eb) {
            (Ok(()), Ok(())) => a.cmp(&b),
            (Err(_), Ok(())) => Ordering::Greater,
            (Ok(()), Err(_)) => Ordering::Less,
            (Err(_), Err(_)) => Ordering::Equal,
        }
    }

    /// Whether the value stands for no value: `None`, or a NaN float. `min` and `max`
    /// skip such values, as SQL skips NULL.
    #[doc(hidden)]
    fn __no_value(&self) -> bool {
        false
    }

    /// Encodes `self` into a fresh buffer.
    ///
    /// # Errors
    /// As [`KeyCodec::encode_key`].
    fn to_key_bytes(&self) -> Result<Vec<u8>, KeyError> {
        let mut out = Vec::with_capacity(16);
        self.encode_key(&mut out)?;
        Ok(out)
    }

    /// Decodes a value that must span all of `bytes`.
    ///
    /// # Errors
    /// As [`KeyCodec::decode_key`], and [`KeyError::TrailingBytes`] when bytes remain.
    fn from_key_bytes(mut bytes: &[u8]) -> Result<Self, KeyError> {
        let v = Self::decode_key(&mut bytes)?;
        if bytes.is_empty() { Ok(v) } else { Err(KeyError::TrailingBytes(bytes.len())) }
    }
}

/// The smallest byte string greater than every string that starts with `prefix`, or
/// `None` when no such string exists (`prefix` is empty or all `0xFF`).
#[must_use]
pub fn prefix_successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut out = prefix.to_vec();
    while let Some(last) = out.pop() {
        if last != 0xFF {
            out.push(last + 1);
            return Some(out);
        }
    }
    None
}

fn take<'a>(input: &mut &'a [u8], n: usize, ty: &'static str) -> Result<&'a [u8], KeyError> {
    if input.len() < n {
        return Err(KeyError::UnexpectedEnd { ty });
    }
    let (head, tail) = input.split_at(n);
    *input = tail;
    Ok(head)
}

macro_rules! unsigned {
    ($($t:ty),*) => {$(
        impl KeyCodec for $t {
            #[inline]
            fn encode_key(&self, out: &mut Vec<u8>) -> Result<(), KeyError> {
                out.extend_from_slice(&self.to_be_bytes());
                Ok(())
            }
            #[inline]
            fn decode_key(input: &mut &[u8]) -> Result<Self, KeyError> {
                let bytes = take(input, size_of::<$t>(), stringify!($t))?;
                let mut arr = [0u8; size_of::<$t>()];
                arr.copy_from_slice(bytes);
                Ok(<$t>::from_be_bytes(arr))
            }
            #[inline]
            fn key_cmp(&self, other: &Self) -> Ordering {
                self.cmp(other)
            }
        }
    )*};
}
unsigned!(u8, u16, u32, u64, u128, usize);

macro_rules! signed {
    ($($t:ty => $u:ty),*) => {$(
        impl KeyCodec for $t {
            #[inline]
            fn encode_key(&self, out: &mut Vec<u8>) -> Result<(), KeyError> {
                // Flipping the sign bit maps two's complement onto unsigned order.
                #[allow(clippy::cast_sign_loss)]
                let u = (*self as $u) ^ (1 << (<$u>::BITS - 1));
                out.extend_from_slice(&u.to_be_bytes());
                Ok(())
            }
            #[inline]
            fn decode_key(input: &mut &[u8]) -> Result<Self, KeyError> {
                let u = <$u as KeyCodec>::decode_key(input)
                    .map_err(|_| KeyError::UnexpectedEnd { ty: stringify!($t) })?;
                #[allow(clippy::cast_possible_wrap)]
                Ok((u ^ (1 << (<$u>::BITS - 1))) as $t)
            }
            #[inline]
            fn key_cmp(&self, other: &Self) -> Ordering {
                self.cmp(other)
            }
        }
    )*};
}
signed!(i8 => u8, i16 => u16, i32 => u32, i64 => u64, i128 => u128, isize => usize);

macro_rules! float {
    ($($t:ty => $u:ty),*) => {$(
        impl KeyCodec for $t {
            fn __no_value(&self) -> bool {
                self.is_nan()
            }
            fn encode_key(&self, out: &mut Vec<u8>) -> Result<(), KeyError> {
                if self.is_nan() {
                    return Err(KeyError::NaN);
                }
                // -0.0 and 0.0 are one key.
                let v = if *self == 0.0 { 0.0 } else { *self };
                let bits = v.to_bits();
                let sign = 1 << (<$u>::BITS - 1);
                let u = if bits & sign == 0 { bits | sign } else { !bits };
                out.extend_from_slice(&u.to_be_bytes());
                Ok(())
            }
            fn decode_key(input: &mut &[u8]) -> Result<Self, KeyError> {
                let u = <$u as KeyCodec>::decode_key(input)
                    .map_err(|_| KeyError::UnexpectedEnd { ty: stringify!($t) })?;
                let sign = 1 << (<$u>::BITS - 1);
                let bits = if u & sign != 0 { u & !sign } else { !u };
                let v = <$t>::from_bits(bits);
                if v.is_nan() {
                    return Err(KeyError::Invalid { ty: stringify!($t), reason: "NaN" });
                }
                // -0.0 is written as 0.0; accepting its own bytes would give zero
                // two encodings.
                if bits == sign {
                    return Err(KeyError::Invalid {
                        ty: stringify!($t),
                        reason: "negative zero is encoded as zero",
                    });
                }
                Ok(v)
            }
            fn key_cmp(&self, other: &Self) -> Ordering {
                let norm = |x: $t| if x == 0.0 { 0.0 } else { x };
                norm(*self).total_cmp(&norm(*other))
            }
        }
    )*};
}
float!(f32 => u32, f64 => u64);

impl KeyCodec for bool {
    #[inline]
    fn encode_key(&self, out: &mut Vec<u8>) -> Result<(), KeyError> {
        out.push(u8::from(*self));
        Ok(())
    }
    fn decode_key(input: &mut &[u8]) -> Result<Self, KeyError> {
        match take(input, 1, "bool")?[0] {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(KeyError::Invalid { ty: "bool", reason: "byte is neither 0 nor 1" }),
        }
    }
    fn key_cmp(&self, other: &Self) -> Ordering {
        self.cmp(other)
    }
}

impl KeyCodec for char {
    fn encode_key(&self, out: &mut Vec<u8>) -> Result<(), KeyError> {
        out.extend_from_slice(&u32::from(*self).to_be_bytes());
        Ok(())
    }
    fn decode_key(input: &mut &[u8]) -> Result<Self, KeyError> {
        let u = u32::decode_key(input).map_err(|_| KeyError::UnexpectedEnd { ty: "char" })?;
        char::from_u32(u).ok_or(KeyError::Invalid { ty: "char", reason: "not a Unicode scalar value" })
    }
    fn key_cmp(&self, other: &Self) -> Ordering {
        self.cmp(other)
    }
}

/// Byte strings: each `0x00` is written `0x00 0xFF`, and `0x00 0x00` ends the value
/// (FoundationDB's tuple layer uses the same escape). Escaped bytes keep their order,
/// and the terminator sorts below every continuation, so a shorter string that is a
/// prefix of a longer one sorts first.
pub(crate) fn encode_bytes(bytes: &[u8], out: &mut Vec<u8>) {
    out.reserve(bytes.len() + 2);
    encode_bytes_unterminated(bytes, out);
    out.extend_from_slice(&[0x00, 0x00]);
}

/// The escaped bytes without terminator: every encoding of a string starting with
/// `bytes` starts with these, which is what a `starts_with` range scan needs.
pub(crate) fn encode_bytes_unterminated(bytes: &[u8], out: &mut Vec<u8>) {
    let mut rest = bytes;
    while let Some(pos) = rest.iter().position(|&b| b == 0) {
        out.extend_from_slice(&rest[..pos]);
        out.extend_from_slice(&[0x00, 0xFF]);
        rest = &rest[pos + 1..];
    }
    out.extend_from_slice(rest);
}

fn decode_bytes(input: &mut &[u8], ty: &'static str) -> Result<Vec<u8>, KeyError> {
    let mut out = Vec::new();
    let mut i = 0;
    let buf = *input;
    loop {
        let Some(rel) = buf[i..].iter().position(|&b| b == 0) else {
            return Err(KeyError::UnexpectedEnd { ty });
        };
        out.extend_from_slice(&buf[i..i + rel]);
        let z = i + rel;
        match buf.get(z + 1) {
            Some(0x00) => {
                *input = &buf[z + 2..];
                return Ok(out);
            }
            Some(0xFF) => {
                out.push(0);
                i = z + 2;
            }
            Some(_) => {
                return Err(KeyError::Invalid { ty, reason: "bad escape after 0x00" });
            }
            None => return Err(KeyError::UnexpectedEnd { ty }),
        }
    }
}

impl KeyCodec for String {
    fn encode_key(&self, out: &mut Vec<u8>) -> Result<(), KeyError> {
        encode_bytes(self.as_bytes(), out);
        Ok(())
    }
    fn decode_key(input: &mut &[u8]) -> Result<Self, KeyError> {
        let bytes = decode_bytes(input, "String")?;
        String::from_utf8(bytes).map_err(|_| KeyError::Invalid { ty: "String", reason: "not UTF-8" })
    }
    fn key_cmp(&self, other: &Self) -> Ordering {
        self.cmp(other)
    }
}

impl KeyCodec for Vec<u8> {
    fn encode_key(&self, out: &mut Vec<u8>) -> Result<(), KeyError> {
        encode_bytes(self, out);
        Ok(())
    }
    fn decode_key(input: &mut &[u8]) -> Result<Self, KeyError> {
        decode_bytes(input, "Vec<u8>")
    }
    fn key_cmp(&self, other: &Self) -> Ordering {
        self.cmp(other)
    }
}

impl<const N: usize> KeyCodec for [u8; N] {
    fn encode_key(&self, out: &mut Vec<u8>) -> Result<(), KeyError> {
        out.extend_from_slice(self);
        Ok(())
    }
    fn decode_key(input: &mut &[u8]) -> Result<Self, KeyError> {
        let bytes = take(input, N, "[u8; N]")?;
        let mut arr = [0u8; N];
        arr.copy_from_slice(bytes);
        Ok(arr)
    }
    fn key_cmp(&self, other: &Self) -> Ordering {
        self.cmp(other)
    }
}

impl KeyCodec for () {
    fn encode_key(&self, _out: &mut Vec<u8>) -> Result<(), KeyError> {
        Ok(())
    }
    fn decode_key(_input: &mut &[u8]) -> Result<Self, KeyError> {
        Ok(())
    }
    fn key_cmp(&self, _other: &Self) -> Ordering {
        Ordering::Equal
    }
}

/// `None` is `0x00`, `Some(v)` is `0x01` followed by `v`: `None` sorts first.
impl<T: KeyCodec> KeyCodec for Option<T> {
    fn __no_value(&self) -> bool {
        self.as_ref().is_none_or(KeyCodec::__no_value)
    }
    fn encode_key(&self, out: &mut Vec<u8>) -> Result<(), KeyError> {
        match self {
            None => {
                out.push(0);
                Ok(())
            }
            Some(v) => {
                out.push(1);
                v.encode_key(out)
            }
        }
    }
    fn decode_key(input: &mut &[u8]) -> Result<Self, KeyError> {
        match take(input, 1, "Option")?[0] {
            0 => Ok(None),
            1 => T::decode_key(input).map(Some),
            _ => Err(KeyError::Invalid { ty: "Option", reason: "tag is neither 0 nor 1" }),
        }
    }
    fn key_cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Less,
            (Some(_), None) => Ordering::Greater,
            (Some(a), Some(b)) => a.key_cmp(b),
        }
    }
}

impl<T: KeyCodec> KeyCodec for Box<T> {
    fn __no_value(&self) -> bool {
        (**self).__no_value()
    }
    fn encode_key(&self, out: &mut Vec<u8>) -> Result<(), KeyError> {
        (**self).encode_key(out)
    }
    fn decode_key(input: &mut &[u8]) -> Result<Self, KeyError> {
        T::decode_key(input).map(Box::new)
    }
    fn key_cmp(&self, other: &Self) -> Ordering {
        (**self).key_cmp(other)
    }
}

macro_rules! tuple {
    ($($name:ident $idx:tt),+) => {
        impl<$($name: KeyCodec),+> KeyCodec for ($($name,)+) {
            fn encode_key(&self, out: &mut Vec<u8>) -> Result<(), KeyError> {
                $( self.$idx.encode_key(out)?; )+
                Ok(())
            }
            fn decode_key(input: &mut &[u8]) -> Result<Self, KeyError> {
                Ok(($( $name::decode_key(input)?, )+))
            }
            fn key_cmp(&self, other: &Self) -> Ordering {
                $(
                    match self.$idx.key_cmp(&other.$idx) {
                        Ordering::Equal => {}
                        ord => return ord,
                    }
                )+
                Ordering::Equal
            }
        }
    };
}
tuple!(A 0);
tuple!(A 0, B 1);
tuple!(A 0, B 1, C 2);
tuple!(A 0, B 1, C 2, D 3);
tuple!(A 0, B 1, C 2, D 3, E 4);
tuple!(A 0, B 1, C 2, D 3, E 4, F 5);

#[cfg(test)]
mod tests {
    use super::*;

    fn enc<T: KeyCodec>(v: &T) -> Vec<u8> {
        v.to_key_bytes().unwrap()
    }

    #[test]
    fn string_pairs_with_shifted_boundary_differ() {
        assert_ne!(enc(&("a".to_string(), "bc".to_string())), enc(&("ab".to_string(), "c".to_string())));
    }

    #[test]
    fn nul_bytes_round_trip_and_sort() {
        let a = "a".to_string();
        let b = "a\0".to_string();
        let c = "a\0b".to_string();
        assert!(enc(&a) < enc(&b) && enc(&b) < enc(&c));
        assert_eq!(String::from_key_bytes(&enc(&c)).unwrap(), c);
    }

    #[test]
    fn negative_zero_equals_zero_and_nan_is_rejected() {
        assert_eq!(enc(&-0.0f64), enc(&0.0f64));
        assert_eq!(f64::NAN.to_key_bytes(), Err(KeyError::NaN));
    }

    #[test]
    fn prefix_successor_skips_ff() {
        assert_eq!(prefix_successor(&[1, 0xFF]), Some(vec![2]));
        assert_eq!(prefix_successor(&[0xFF]), None);
    }
}
