//! `Value::fit`: lossless conversions only.

use proptest::prelude::*;

use super::strategies::Address;
use crate::dynamic::Value;
use crate::shape::{Describe, Shape};

fn opt(s: Shape) -> Shape {
    Shape::Option(Box::new(s))
}

const INTS: [Shape; 10] = [
    Shape::U8,
    Shape::U16,
    Shape::U32,
    Shape::U64,
    Shape::U128,
    Shape::I8,
    Shape::I16,
    Shape::I32,
    Shape::I64,
    Shape::I128,
];

fn int_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<u8>().prop_map(Value::U8),
        any::<u32>().prop_map(Value::U32),
        any::<u64>().prop_map(Value::U64),
        any::<u128>().prop_map(Value::U128),
        any::<i8>().prop_map(Value::I8),
        any::<i32>().prop_map(Value::I32),
        any::<i64>().prop_map(Value::I64),
        any::<i128>().prop_map(Value::I128),
        (-300i64..300).prop_map(Value::I64),
    ]
}

fn int_of(v: &Value) -> i128 {
    match *v {
        Value::U8(n) => n.into(),
        Value::U16(n) => n.into(),
        Value::U32(n) => n.into(),
        Value::U64(n) => n.into(),
        Value::I8(n) => n.into(),
        Value::I16(n) => n.into(),
        Value::I32(n) => n.into(),
        Value::I64(n) => n.into(),
        Value::I128(n) => n,
        Value::U128(n) => i128::try_from(n).unwrap_or(i128::MAX),
        _ => unreachable!("not an integer"),
    }
}

fn int_shape_of(v: &Value) -> Shape {
    match v {
        Value::U8(_) => Shape::U8,
        Value::U16(_) => Shape::U16,
        Value::U32(_) => Shape::U32,
        Value::U64(_) => Shape::U64,
        Value::U128(_) => Shape::U128,
        Value::I8(_) => Shape::I8,
        Value::I16(_) => Shape::I16,
        Value::I32(_) => Shape::I32,
        Value::I64(_) => Shape::I64,
        _ => Shape::I128,
    }
}

proptest! {
    /// An integer fits an integer shape exactly when the shape holds its value, and
    /// keeps the value; a widening the shapes allow never fails.
    #[test]
    fn integers_fit_any_integer_shape_that_holds_them(v in int_value()) {
        for to in &INTS {
            let fitted = v.clone().fit(to);
            let holds = match to {
                Shape::U8 => u8::try_from(int_of(&v)).is_ok(),
                Shape::U16 => u16::try_from(int_of(&v)).is_ok(),
                Shape::U32 => u32::try_from(int_of(&v)).is_ok(),
                Shape::U64 => u64::try_from(int_of(&v)).is_ok(),
                Shape::U128 => !matches!(v, Value::I8(_) | Value::I32(_) | Value::I64(_) | Value::I128(_)) || int_of(&v) >= 0,
                Shape::I8 => i8::try_from(int_of(&v)).is_ok(),
                Shape::I16 => i16::try_from(int_of(&v)).is_ok(),
                Shape::I32 => i32::try_from(int_of(&v)).is_ok(),
                Shape::I64 => i64::try_from(int_of(&v)).is_ok(),
                _ => !matches!(v, Value::U128(n) if n > i128::MAX as u128),
            };
            prop_assert_eq!(fitted.is_ok(), holds, "{} into {}", v, to);
            if int_shape_of(&v).widens_to(to) {
                prop_assert!(holds);
            }
            match fitted {
                Ok(w) => {
                    prop_assert_eq!(&int_shape_of(&w), to);
                    if !matches!(v, Value::U128(_)) {
                        prop_assert_eq!(int_of(&w), int_of(&v));
                    }
                }
                Err(e) => prop_assert_eq!(e, format!("{v} does not fit in {to}")),
            }
        }
    }
}

#[test]
fn an_integer_out_of_range_names_the_value_and_the_type() {
    assert_eq!(Value::U64(3).fit(&Shape::U16).unwrap(), Value::U16(3));
    assert_eq!(Value::U64(70_000).fit(&Shape::U16).unwrap_err(), "70000 does not fit in u16");
    assert_eq!(Value::I32(-1).fit(&Shape::U32).unwrap_err(), "-1 does not fit in u32");
    assert_eq!(Value::U32(7).fit(&Shape::I64).unwrap(), Value::I64(7));
}

#[test]
fn floats_widen_and_narrow_only_exactly() {
    assert_eq!(Value::F32(1.5).fit(&Shape::F64).unwrap(), Value::F64(1.5));
    assert_eq!(Value::F64(0.25).fit(&Shape::F32).unwrap(), Value::F32(0.25));
    assert!(Value::F64(0.1).fit(&Shape::F32).is_err());
    assert!(Value::U8(1).fit(&Shape::F64).is_err());
}

#[test]
fn a_value_fits_an_option_of_its_shape() {
    assert_eq!(Value::U8(1).fit(&opt(Shape::U32)).unwrap(), Value::some(Value::U32(1)));
    assert_eq!(Value::none().fit(&opt(Shape::U32)).unwrap(), Value::none());
    assert_eq!(Value::some(Value::U8(1)).fit(&opt(opt(Shape::U16))).unwrap(), Value::some(Value::some(Value::U16(1))));
    assert!(Value::some(Value::U8(1)).fit(&Shape::U8).is_err());
    assert!(Value::String("x".into()).fit(&opt(Shape::U8)).is_err());
}

#[test]
fn bytes_and_sequences_of_u8_convert_both_ways() {
    let seq_u8 = Shape::Seq(Box::new(Shape::U8));
    assert_eq!(Value::Seq(vec![Value::U64(1), Value::U8(2)]).fit(&seq_u8).unwrap(), Value::Bytes(vec![1, 2]));
    assert_eq!(
        Value::Bytes(vec![1, 2]).fit(&Shape::Seq(Box::new(Shape::U16))).unwrap(),
        Value::Seq(vec![Value::U16(1), Value::U16(2)])
    );
    assert_eq!(Value::Bytes(vec![1, 2]).fit(&Shape::Bytes).unwrap(), Value::Bytes(vec![1, 2]));
    assert_eq!(Value::Seq(vec![Value::U16(300)]).fit(&seq_u8).unwrap_err(), "300 does not fit in u8 (at `[0]`)");
    let arr = Shape::Array(Box::new(Shape::U8), 2);
    assert_eq!(Value::Bytes(vec![1, 2]).fit(&arr).unwrap(), Value::Tuple(vec![Value::U8(1), Value::U8(2)]));
    assert_eq!(Value::Tuple(vec![Value::U8(1), Value::U8(2)]).fit(&seq_u8).unwrap(), Value::Bytes(vec![1, 2]));
    assert_eq!(Value::Bytes(vec![1]).fit(&arr).unwrap_err(), "expected [u8; 2], found a bytes of 1 items");
}

#[test]
fn structs_fit_by_field_name_and_report_the_path() {
    let v = Value::Struct(vec![
        ("zip".into(), Value::U8(9)),
        ("street".into(), "Elm".into()),
        ("geo".into(), Value::Tuple(vec![Value::F32(1.0), Value::F64(2.0)])),
    ]);
    let fitted = v.fit(&Address::shape()).unwrap();
    assert_eq!(
        fitted,
        Value::Struct(vec![
            ("street".into(), "Elm".into()),
            ("zip".into(), Value::U32(9)),
            ("geo".into(), Value::some(Value::Tuple(vec![Value::F64(1.0), Value::F64(2.0)]))),
        ])
    );
    let missing = Value::Struct(vec![("street".into(), "Elm".into())]);
    assert_eq!(missing.fit(&Address::shape()).unwrap_err(), "field `zip` of struct Address has no value");
    let extra = Value::Struct(vec![("street".into(), "Elm".into()), ("city".into(), "X".into())]);
    assert_eq!(extra.fit(&Address::shape()).unwrap_err(), "struct Address has no field `city`");
    let nested = Shape::Seq(Box::new(Address::shape()));
    let bad = Value::Seq(vec![Value::Struct(vec![
        ("street".into(), "Elm".into()),
        ("zip".into(), Value::I64(-5)),
        ("geo".into(), Value::none()),
    ])]);
    assert_eq!(bad.fit(&nested).unwrap_err(), "-5 does not fit in u32 (at `[0].zip`)");
}

#[test]
fn a_value_of_another_kind_does_not_fit() {
    assert_eq!(Value::U32(5).fit(&Shape::String).unwrap_err(), "expected string, found u32 5");
    assert_eq!(Value::from("x").fit(&Shape::Char).unwrap_err(), r#"expected char, found string "x""#);
    assert_eq!(
        Value::Enum { variant: "Gone".into(), fields: vec![] }
            .fit(&Shape::Enum { name: "E".into(), variants: vec![] })
            .unwrap_err(),
        "enum E has no variant `Gone`"
    );
    assert_eq!(Value::Unit.fit(&Shape::Opaque).unwrap_err(), "the field's type has no shape (derive Describe for it)");
}

#[test]
fn values_display_readably() {
    let v = Value::Struct(vec![
        ("name".into(), "Ann \"A\"".into()),
        ("tags".into(), Value::Seq(vec!["a".into()])),
        ("raw".into(), Value::Bytes(vec![b'h', 0])),
        ("c".into(), Value::Char('x')),
        ("f".into(), Value::F64(1.0)),
        ("t".into(), Value::Tuple(vec![Value::U8(1)])),
        ("o".into(), Value::from(Some(2u16))),
        ("e".into(), Value::Enum { variant: "On".into(), fields: vec![("at".into(), Value::Unit)] }),
    ]);
    assert_eq!(
        v.to_string(),
        r#"{ name: "Ann \"A\"", tags: ["a"], raw: b"h\x00", c: 'x', f: 1.0, t: (1,), o: Some(2), e: On { at: () } }"#
    );
}
