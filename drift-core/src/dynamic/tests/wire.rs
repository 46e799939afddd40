//! `decode_value` / `encode_value` against postcard.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use serde::Serialize;

use super::strategies::{self, Address, Event};
use crate::dynamic::{Value, decode_value, encode_value};
use crate::shape::{Describe, Shape};

/// Postcard's bytes of `v` decode as `T`'s shape, consuming them all, and encode
/// back to the same bytes; the value also fits its own shape unchanged.
fn round_trip<T: Serialize + Describe>(v: &T) -> Result<Value, TestCaseError> {
    let bytes = postcard::to_allocvec(v).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let shape = T::shape();
    let mut input = &bytes[..];
    let value = decode_value(&shape, &mut input).map_err(TestCaseError::fail)?;
    prop_assert!(input.is_empty(), "{} bytes left after {value}", input.len());
    let mut out = Vec::new();
    encode_value(&shape, &value, &mut out).map_err(TestCaseError::fail)?;
    prop_assert_eq!(&out, &bytes);
    let fitted = value.clone().fit(&shape).map_err(TestCaseError::fail)?;
    let mut again = Vec::new();
    encode_value(&shape, &fitted, &mut again).map_err(TestCaseError::fail)?;
    prop_assert_eq!(&again, &bytes);
    Ok(value)
}

proptest! {
    #[test]
    fn integers_match_postcard(
        a in any::<u8>(), b in any::<u16>(), c in any::<u32>(), d in any::<u64>(), e in any::<u128>(),
        f in any::<i8>(), g in any::<i16>(), h in any::<i32>(), i in any::<i64>(), j in any::<i128>(),
        k in any::<usize>(), l in any::<isize>(),
    ) {
        round_trip(&a)?; round_trip(&b)?; round_trip(&c)?; round_trip(&d)?; round_trip(&e)?;
        round_trip(&f)?; round_trip(&g)?; round_trip(&h)?; round_trip(&i)?; round_trip(&j)?;
        round_trip(&k)?; round_trip(&l)?;
    }

    #[test]
    fn scalars_match_postcard(a in any::<f32>(), b in any::<f64>(), c in any::<bool>(), d in any::<char>(), e in ".*") {
        round_trip(&a)?; round_trip(&b)?; round_trip(&c)?; round_trip(&d)?; round_trip(&e)?; round_trip(&())?;
    }

    #[test]
    fn byte_vectors_decode_as_bytes(v in proptest::collection::vec(any::<u8>(), 0..300)) {
        prop_assert_eq!(round_trip(&v)?, Value::Bytes(v));
    }

    #[test]
    fn options_and_sequences_match_postcard(
        a in any::<Option<u32>>(),
        b in proptest::collection::vec(any::<Option<i32>>(), 0..20),
        c in any::<Option<Option<bool>>>(),
        d in proptest::collection::vec(".{0,5}", 0..5),
        e in proptest::collection::btree_set(any::<i16>(), 0..5),
        f in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..3), 0..3),
    ) {
        round_trip(&a)?; round_trip(&b)?; round_trip(&c)?; round_trip(&d)?; round_trip(&e)?; round_trip(&f)?;
    }

    #[test]
    fn tuples_arrays_and_maps_match_postcard(
        a in any::<(u8, String, i64)>(),
        b in any::<[u16; 3]>(),
        c in any::<[u8; 4]>(),
        d in strategies::string_map(),
        e in any::<(bool, (char, Option<f32>))>(),
    ) {
        round_trip(&a)?; round_trip(&b)?; round_trip(&c)?; round_trip(&d)?; round_trip(&e)?;
        let empty: [u32; 0] = [];
        round_trip(&empty)?;
    }

    #[test]
    fn structs_and_enums_match_postcard(a in strategies::address(), e in strategies::event(), es in proptest::collection::vec(strategies::event(), 0..4)) {
        round_trip(&a)?; round_trip(&e)?; round_trip(&es)?;
    }

    /// Hostile bytes under any shape: an error, never a panic; what decodes
    /// re-encodes to bytes that decode to the same encoding.
    #[test]
    fn arbitrary_bytes_never_panic(shape in strategies::shape(), bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        let mut input = &bytes[..];
        if let Ok(v) = decode_value(&shape, &mut input) {
            let mut out = Vec::new();
            encode_value(&shape, &v, &mut out).map_err(TestCaseError::fail)?;
            let mut again = &out[..];
            let w = decode_value(&shape, &mut again).map_err(TestCaseError::fail)?;
            prop_assert!(again.is_empty());
            let mut out2 = Vec::new();
            encode_value(&shape, &w, &mut out2).map_err(TestCaseError::fail)?;
            prop_assert_eq!(out, out2);
        }
    }

    /// Any value against any shape: encoding and fitting fail or succeed, never panic;
    /// what encodes decodes back.
    #[test]
    fn arbitrary_values_never_panic(shape in strategies::shape(), value in strategies::value()) {
        let mut out = Vec::new();
        if encode_value(&shape, &value, &mut out).is_ok() {
            let mut input = &out[..];
            decode_value(&shape, &mut input).map_err(TestCaseError::fail)?;
            prop_assert!(input.is_empty());
        }
        let _ = value.fit(&shape);
    }
}

fn decode_all(shape: &Shape, bytes: &[u8]) -> Result<Value, String> {
    let mut input = bytes;
    let v = decode_value(shape, &mut input)?;
    assert!(input.is_empty(), "bytes left over");
    Ok(v)
}

fn seq(s: Shape) -> Shape {
    Shape::Seq(Box::new(s))
}

#[test]
fn bytes_encode_as_a_sequence_of_u8_and_as_bytes() {
    let v = Value::Bytes(vec![1, 0, 255]);
    for shape in [seq(Shape::U8), Shape::Bytes] {
        let mut out = Vec::new();
        encode_value(&shape, &v, &mut out).unwrap();
        assert_eq!(out, postcard::to_allocvec(&vec![1u8, 0, 255]).unwrap());
        assert_eq!(decode_all(&shape, &out).unwrap(), v);
    }
    let mut out = Vec::new();
    encode_value(&seq(Shape::U8), &Value::Seq(vec![Value::U8(1), Value::U8(0), Value::U8(255)]), &mut out).unwrap();
    assert_eq!(decode_all(&Shape::Bytes, &out).unwrap(), v);
}

#[test]
fn a_set_decodes_as_a_sequence() {
    let set: BTreeSet<u32> = [3, 1, 2].into();
    let bytes = postcard::to_allocvec(&set).unwrap();
    assert_eq!(decode_all(&seq(Shape::U32), &bytes).unwrap(), Value::Seq(vec![1u32.into(), 2u32.into(), 3u32.into()]));
}

#[test]
fn structs_and_variants_decode_with_their_field_names() {
    let a = Address { street: "Main".into(), zip: 12345, geo: None };
    let v = decode_all(&Address::shape(), &postcard::to_allocvec(&a).unwrap()).unwrap();
    assert_eq!(
        v,
        Value::Struct(vec![
            ("street".into(), "Main".into()),
            ("zip".into(), Value::U32(12345)),
            ("geo".into(), Value::none()),
        ])
    );
    let e = Event::Moved(-1, 2);
    let v = decode_all(&Event::shape(), &postcard::to_allocvec(&e).unwrap()).unwrap();
    assert_eq!(
        v,
        Value::Enum { variant: "Moved".into(), fields: vec![("0".into(), (-1i32).into()), ("1".into(), 2i32.into())] }
    );
    assert_eq!(v.to_string(), "Moved(-1, 2)");
}

#[test]
fn struct_fields_encode_by_name_in_any_order() {
    let shuffled = Value::Struct(vec![
        ("geo".into(), Value::some(Value::Tuple(vec![1.5f64.into(), (-2.0f64).into()]))),
        ("zip".into(), Value::U32(7)),
        ("street".into(), "Elm".into()),
    ]);
    let mut out = Vec::new();
    encode_value(&Address::shape(), &shuffled, &mut out).unwrap();
    let typed = Address { street: "Elm".into(), zip: 7, geo: Some((1.5, -2.0)) };
    assert_eq!(out, postcard::to_allocvec(&typed).unwrap());
}

#[test]
fn encoding_a_value_of_another_shape_names_both() {
    let mut out = Vec::new();
    let err = encode_value(&Shape::U32, &Value::String("five".into()), &mut out).unwrap_err();
    assert_eq!(err, r#"expected u32, found string "five""#);
    let err =
        encode_value(&Address::shape(), &Value::Struct(vec![("street".into(), "x".into())]), &mut out).unwrap_err();
    assert_eq!(err, "field `zip` of struct Address has no value");
    let bad_zip = Value::Struct(vec![
        ("street".into(), "x".into()),
        ("zip".into(), Value::U64(1)),
        ("geo".into(), Value::none()),
    ]);
    let err = encode_value(&Address::shape(), &bad_zip, &mut out).unwrap_err();
    assert_eq!(err, "expected u32, found u64 1 (at `.zip`)");
    let err = encode_value(&Shape::Array(Box::new(Shape::U8), 4), &Value::Bytes(vec![1, 2]), &mut out).unwrap_err();
    assert_eq!(err, "expected [u8; 4], found a bytes of 2 items");
}

#[test]
fn an_opaque_shape_is_refused() {
    let err = decode_value(&Shape::Opaque, &mut &[0u8][..]).unwrap_err();
    assert_eq!(err, "the field's type has no shape (derive Describe for it)");
    let err = encode_value(&seq(Shape::Opaque), &Value::Seq(vec![Value::Unit]), &mut Vec::new()).unwrap_err();
    assert_eq!(err, "the field's type has no shape (derive Describe for it) (at `[0]`)");
}

#[test]
fn an_overlong_varint_is_an_error() {
    // u16::MAX is ff ff 03; a last byte above 3 overflows, a fourth byte is too long.
    assert_eq!(decode_all(&Shape::U16, &[0xff, 0xff, 0x03]).unwrap(), Value::U16(u16::MAX));
    assert!(decode_value(&Shape::U16, &mut &[0xff, 0xff, 0x04][..]).unwrap_err().contains("varint"));
    assert!(decode_value(&Shape::U16, &mut &[0xff, 0xff, 0x83, 0x00][..]).unwrap_err().contains("varint"));
    assert!(decode_value(&Shape::U64, &mut &[0xff; 11][..]).unwrap_err().contains("varint"));
    let mut max = vec![0xff; 18];
    max.push(0x03);
    assert_eq!(decode_all(&Shape::U128, &max).unwrap(), Value::U128(u128::MAX));
    max[18] = 0x04;
    assert!(decode_value(&Shape::U128, &mut &max[..]).is_err());
}

#[test]
fn invalid_tags_and_text_are_errors() {
    assert_eq!(decode_value(&Shape::Bool, &mut &[2u8][..]).unwrap_err(), "a bool byte must be 0 or 1, not 2");
    assert!(decode_value(&Shape::Option(Box::new(Shape::U8)), &mut &[2u8, 0][..]).is_err());
    assert!(decode_value(&Shape::String, &mut &[2u8, 0xff, 0xfe][..]).unwrap_err().contains("UTF-8"));
    assert!(decode_value(&Shape::Char, &mut &[2u8, b'a', b'b'][..]).is_err());
    assert!(decode_value(&Shape::Char, &mut &[0u8][..]).is_err());
    let err = decode_value(&Event::shape(), &mut &[9u8][..]).unwrap_err();
    assert_eq!(err, "variant index 9 is out of range for enum Event (5 variants)");
    assert_eq!(decode_value(&Shape::U32, &mut &[][..]).unwrap_err(), "the bytes end inside a u32");
}

#[test]
fn a_huge_claimed_count_fails_without_allocating() {
    // A count of 2^62 items, then nothing.
    let mut bytes = vec![0x80; 8];
    bytes.push(0x40);
    for shape in [seq(Shape::U32), seq(Shape::Unit), seq(seq(Shape::Unit)), Shape::String, Shape::Bytes] {
        assert!(decode_value(&shape, &mut &bytes[..]).is_err(), "{shape}");
    }
    let map = Shape::Map(Box::new(Shape::Unit), Box::new(Shape::Unit));
    assert!(decode_value(&map, &mut &bytes[..]).unwrap_err().contains("take no bytes"));
    let array = Shape::Array(Box::new(Shape::Array(Box::new(Shape::Unit), 1 << 20)), 1 << 20);
    assert!(decode_value(&array, &mut &[][..]).is_err());
    // A modest count of items without bytes is fine.
    assert_eq!(decode_all(&seq(Shape::Unit), &[3]).unwrap(), Value::Seq(vec![Value::Unit; 3]));
}

#[test]
fn nesting_deeper_than_the_limit_is_an_error() {
    let mut shape = Shape::U8;
    for _ in 0..200 {
        shape = Shape::Option(Box::new(shape));
    }
    let bytes = vec![1u8; 201];
    assert!(decode_value(&shape, &mut &bytes[..]).unwrap_err().contains("deeper than 128"));
    let mut value = Value::U8(1);
    for _ in 0..200 {
        value = Value::some(value);
    }
    assert!(encode_value(&shape, &value, &mut Vec::new()).unwrap_err().contains("deeper than 128"));
    assert!(value.fit(&shape).unwrap_err().contains("deeper than 128"));
}

#[test]
fn maps_keep_their_entries_in_stored_order() {
    let m: BTreeMap<String, i64> = [("b".to_string(), -1), ("a".to_string(), 2)].into();
    let v = round_trip(&m).unwrap();
    assert_eq!(v, Value::Map(vec![("a".into(), 2i64.into()), ("b".into(), (-1i64).into())]));
    assert_eq!(v.to_string(), r#"{"a": 2, "b": -1}"#);
}
