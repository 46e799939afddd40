//! `decode_key_value` / `encode_key_value` against `KeyCodec`.

use proptest::prelude::*;
use serde::Serialize;

use super::strategies;
use crate::codec::KeyCodec;
use crate::dynamic::{Value, decode_key_value, decode_value, encode_key_value};
use crate::shape::{Describe, Shape};

/// `KeyCodec`'s bytes of `v` decode as `T`'s shape, consuming them all, and encode
/// back to the same bytes; the value postcard's bytes decode to key-encodes the same.
/// A value the codec refuses (NaN) is refused here too.
fn key_round_trip<T: KeyCodec + Describe + Serialize>(v: &T) -> Result<(), TestCaseError> {
    let shape = T::shape();
    let wire = postcard::to_allocvec(v).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let from_wire = decode_value(&shape, &mut &wire[..]).map_err(TestCaseError::fail)?;
    let Ok(bytes) = v.to_key_bytes() else {
        prop_assert!(encode_key_value(&shape, &from_wire, &mut Vec::new()).is_err());
        return Ok(());
    };
    let mut input = &bytes[..];
    let value = decode_key_value(&shape, &mut input).map_err(TestCaseError::fail)?;
    prop_assert!(input.is_empty(), "{} bytes left after {value}", input.len());
    let mut out = Vec::new();
    encode_key_value(&shape, &value, &mut out).map_err(TestCaseError::fail)?;
    prop_assert_eq!(&out, &bytes);
    let mut out = Vec::new();
    encode_key_value(&shape, &from_wire, &mut out).map_err(TestCaseError::fail)?;
    prop_assert_eq!(&out, &bytes);
    Ok(())
}

proptest! {
    #[test]
    fn integer_keys_match_the_codec(
        a in any::<u8>(), b in any::<u16>(), c in any::<u32>(), d in any::<u64>(), e in any::<u128>(),
        f in any::<i8>(), g in any::<i16>(), h in any::<i32>(), i in any::<i64>(), j in any::<i128>(),
        k in any::<usize>(), l in any::<isize>(),
    ) {
        key_round_trip(&a)?; key_round_trip(&b)?; key_round_trip(&c)?; key_round_trip(&d)?; key_round_trip(&e)?;
        key_round_trip(&f)?; key_round_trip(&g)?; key_round_trip(&h)?; key_round_trip(&i)?; key_round_trip(&j)?;
        key_round_trip(&k)?; key_round_trip(&l)?;
    }

    #[test]
    fn scalar_keys_match_the_codec(
        a in any::<f32>(), b in any::<f64>(), c in any::<bool>(), d in any::<char>(), e in ".*",
        f in proptest::collection::vec(any::<u8>(), 0..40),
        g in prop_oneof![Just(0.0f64), Just(-0.0f64), Just(f64::NAN), Just(f64::INFINITY), Just(f64::NEG_INFINITY)],
    ) {
        key_round_trip(&a)?; key_round_trip(&b)?; key_round_trip(&c)?; key_round_trip(&d)?; key_round_trip(&e)?;
        key_round_trip(&f)?; key_round_trip(&g)?; key_round_trip(&())?;
    }

    #[test]
    fn composite_keys_match_the_codec(
        a in any::<[u8; 4]>(),
        b in any::<Option<String>>(),
        c in any::<(u32, String)>(),
        d in any::<(i64, Option<u8>, bool)>(),
        e in any::<Box<i16>>(),
        f in any::<(u8, u8, u8, u8, u8, u8)>(),
        g in any::<Option<(Option<char>, Vec<u8>)>>(),
    ) {
        key_round_trip(&a)?; key_round_trip(&b)?; key_round_trip(&c)?; key_round_trip(&d)?;
        key_round_trip(&e)?; key_round_trip(&f)?; key_round_trip(&g)?;
    }

    /// Key bytes and value encodings order alike: the codec's contract, through values.
    #[test]
    fn encoded_values_keep_the_key_order(a in any::<(i32, String)>(), b in any::<(i32, String)>()) {
        let shape = <(i32, String)>::shape();
        let enc = |v: &(i32, String)| {
            let value = Value::Tuple(vec![v.0.into(), v.1.clone().into()]);
            let mut out = Vec::new();
            encode_key_value(&shape, &value, &mut out).map(|()| out)
        };
        prop_assert_eq!(enc(&a).map_err(TestCaseError::fail)?.cmp(&enc(&b).map_err(TestCaseError::fail)?), a.cmp(&b));
    }

    #[test]
    fn arbitrary_key_bytes_never_panic(shape in strategies::shape(), bytes in proptest::collection::vec(any::<u8>(), 0..48)) {
        let mut input = &bytes[..];
        if let Ok(v) = decode_key_value(&shape, &mut input) {
            let read = bytes.len() - input.len();
            let mut out = Vec::new();
            encode_key_value(&shape, &v, &mut out).map_err(TestCaseError::fail)?;
            prop_assert_eq!(&out[..], &bytes[..read]);
        }
    }

    #[test]
    fn arbitrary_key_values_never_panic(shape in strategies::shape(), value in strategies::value()) {
        let mut out = Vec::new();
        if encode_key_value(&shape, &value, &mut out).is_ok() {
            let mut input = &out[..];
            decode_key_value(&shape, &mut input).map_err(TestCaseError::fail)?;
            prop_assert!(input.is_empty());
        }
    }
}

#[test]
fn shapes_without_a_key_encoding_are_refused() {
    for shape in [
        Shape::Seq(Box::new(Shape::U32)),
        Shape::Map(Box::new(Shape::U8), Box::new(Shape::U8)),
        Shape::Array(Box::new(Shape::U16), 2),
        Shape::Struct { name: "S".into(), fields: vec![] },
        Shape::Enum { name: "E".into(), variants: vec![] },
    ] {
        let err = decode_key_value(&shape, &mut &[0u8; 8][..]).unwrap_err();
        assert_eq!(err, format!("a {shape} has no key encoding"));
        assert_eq!(encode_key_value(&shape, &Value::Unit, &mut Vec::new()).unwrap_err(), err);
    }
    let err = decode_key_value(&Shape::Opaque, &mut &[0u8][..]).unwrap_err();
    assert_eq!(err, "the field's type has no shape (derive Describe for it)");
}

#[test]
fn a_nan_key_and_negative_zero_bytes_are_refused() {
    let err = encode_key_value(&Shape::F64, &Value::F64(f64::NAN), &mut Vec::new()).unwrap_err();
    assert_eq!(err, "NaN cannot be used as a key");
    let mut out = Vec::new();
    encode_key_value(&Shape::F64, &Value::F64(-0.0), &mut out).unwrap();
    assert_eq!(out, 0.0f64.to_key_bytes().unwrap());
    // The bytes -0.0 would have without the rule: its bits inverted.
    let neg_zero = (!(-0.0f64).to_bits()).to_be_bytes();
    assert!(decode_key_value(&Shape::F64, &mut &neg_zero[..]).unwrap_err().contains("negative zero"));
}

#[test]
fn key_values_of_another_shape_name_both() {
    let err = encode_key_value(&Shape::U64, &Value::U32(1), &mut Vec::new()).unwrap_err();
    assert_eq!(err, "expected u64, found u32 1");
    let err = encode_key_value(
        &Shape::Tuple(vec![Shape::U8, Shape::String]),
        &Value::Tuple(vec![Value::U8(1), Value::U8(2)]),
        &mut Vec::new(),
    )
    .unwrap_err();
    assert_eq!(err, "expected string, found u8 2 (at `[1]`)");
}

#[test]
fn byte_keys_decode_as_bytes_and_arrays_as_tuples() {
    let bytes = vec![0u8, 1, 0].to_key_bytes().unwrap();
    assert_eq!(decode_key_value(&Vec::<u8>::shape(), &mut &bytes[..]).unwrap(), Value::Bytes(vec![0, 1, 0]));
    let arr = [7u8, 0].to_key_bytes().unwrap();
    assert_eq!(
        decode_key_value(&<[u8; 2]>::shape(), &mut &arr[..]).unwrap(),
        Value::Tuple(vec![Value::U8(7), Value::U8(0)])
    );
    let mut out = Vec::new();
    encode_key_value(&<[u8; 2]>::shape(), &Value::Bytes(vec![7, 0]), &mut out).unwrap();
    assert_eq!(out, arr);
}
