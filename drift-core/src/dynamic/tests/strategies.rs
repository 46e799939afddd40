//! Shared fixtures: typed values with hand-written shapes, and strategies for
//! arbitrary shapes and values.

use std::collections::BTreeMap;

use proptest::prelude::*;
use serde::{Deserialize, Serialize};

use crate::dynamic::Value;
use crate::shape::{Describe, NamedShape, Shape, Variant};

/// A nested struct, described by hand as `#[derive(Describe)]` would.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct Address {
    pub(super) street: String,
    pub(super) zip: u32,
    pub(super) geo: Option<(f64, f64)>,
}

impl Describe for Address {
    fn shape() -> Shape {
        Shape::Struct {
            name: "Address".into(),
            fields: vec![
                NamedShape::new("street", String::shape()),
                NamedShape::new("zip", u32::shape()),
                NamedShape::new("geo", <Option<(f64, f64)>>::shape()),
            ],
        }
    }
}

/// An enum with every kind of variant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) enum Event {
    Created,
    Renamed(String),
    Moved(i32, i32),
    Tagged { tags: Vec<String>, by: Option<u64> },
    Nested(Box<Address>),
}

impl Describe for Event {
    fn shape() -> Shape {
        let v = |name: &str, fields: Vec<NamedShape>| Variant { name: name.into(), fields };
        Shape::Enum {
            name: "Event".into(),
            variants: vec![
                v("Created", vec![]),
                v("Renamed", vec![NamedShape::new("0", String::shape())]),
                v("Moved", vec![NamedShape::new("0", i32::shape()), NamedShape::new("1", i32::shape())]),
                v(
                    "Tagged",
                    vec![
                        NamedShape::new("tags", <Vec<String>>::shape()),
                        NamedShape::new("by", <Option<u64>>::shape()),
                    ],
                ),
                v("Nested", vec![NamedShape::new("0", Address::shape())]),
            ],
        }
    }
}

pub(super) fn address() -> impl Strategy<Value = Address> {
    (".{0,8}", any::<u32>(), any::<Option<(f64, f64)>>()).prop_map(|(street, zip, geo)| Address { street, zip, geo })
}

pub(super) fn event() -> impl Strategy<Value = Event> {
    prop_oneof![
        Just(Event::Created),
        ".{0,8}".prop_map(Event::Renamed),
        any::<(i32, i32)>().prop_map(|(a, b)| Event::Moved(a, b)),
        (proptest::collection::vec(".{0,4}", 0..4), any::<Option<u64>>())
            .prop_map(|(tags, by)| Event::Tagged { tags, by }),
        address().prop_map(|a| Event::Nested(Box::new(a))),
    ]
}

pub(super) fn string_map() -> impl Strategy<Value = BTreeMap<String, i64>> {
    proptest::collection::btree_map(".{0,6}", any::<i64>(), 0..5)
}

fn leaf_shape() -> impl Strategy<Value = Shape> {
    prop_oneof![
        Just(Shape::Bool),
        Just(Shape::U8),
        Just(Shape::U16),
        Just(Shape::U32),
        Just(Shape::U64),
        Just(Shape::U128),
        Just(Shape::I8),
        Just(Shape::I16),
        Just(Shape::I32),
        Just(Shape::I64),
        Just(Shape::I128),
        Just(Shape::F32),
        Just(Shape::F64),
        Just(Shape::Char),
        Just(Shape::String),
        Just(Shape::Bytes),
        Just(Shape::Unit),
        Just(Shape::Opaque),
    ]
}

/// Any shape, containers nested a few levels.
pub(super) fn shape() -> impl Strategy<Value = Shape> {
    leaf_shape().prop_recursive(4, 24, 4, |inner| {
        let named = |inner: BoxedStrategy<Shape>| {
            proptest::collection::vec(inner, 0..4).prop_map(|shapes| {
                shapes.into_iter().enumerate().map(|(i, s)| NamedShape::new(format!("f{i}"), s)).collect::<Vec<_>>()
            })
        };
        let inner = inner.boxed();
        prop_oneof![
            inner.clone().prop_map(|s| Shape::Option(Box::new(s))),
            inner.clone().prop_map(|s| Shape::Seq(Box::new(s))),
            (inner.clone(), 0..4usize).prop_map(|(s, n)| Shape::Array(Box::new(s), n)),
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Shape::Tuple),
            (inner.clone(), inner.clone()).prop_map(|(k, v)| Shape::Map(Box::new(k), Box::new(v))),
            named(inner.clone()).prop_map(|fields| Shape::Struct { name: "S".into(), fields }),
            proptest::collection::vec(named(inner), 1..4).prop_map(|vs| Shape::Enum {
                name: "E".into(),
                variants: vs
                    .into_iter()
                    .enumerate()
                    .map(|(i, fields)| Variant { name: format!("V{i}"), fields })
                    .collect(),
            }),
        ]
    })
}

fn leaf_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<bool>().prop_map(Value::Bool),
        any::<u8>().prop_map(Value::U8),
        any::<u16>().prop_map(Value::U16),
        any::<u32>().prop_map(Value::U32),
        any::<u64>().prop_map(Value::U64),
        any::<u128>().prop_map(Value::U128),
        any::<i8>().prop_map(Value::I8),
        any::<i16>().prop_map(Value::I16),
        any::<i32>().prop_map(Value::I32),
        any::<i64>().prop_map(Value::I64),
        any::<i128>().prop_map(Value::I128),
        any::<f32>().prop_map(Value::F32),
        any::<f64>().prop_map(Value::F64),
        any::<char>().prop_map(Value::Char),
        ".{0,4}".prop_map(Value::String),
        proptest::collection::vec(any::<u8>(), 0..4).prop_map(Value::Bytes),
        Just(Value::Unit),
    ]
}

/// Any value, containers nested a few levels, unrelated to any shape.
pub(super) fn value() -> impl Strategy<Value = Value> {
    leaf_value().prop_recursive(4, 24, 4, |inner| {
        let named = proptest::collection::vec(("f[0-3]", inner.clone()), 0..4);
        prop_oneof![
            proptest::option::of(inner.clone()).prop_map(|v| Value::Option(v.map(Box::new))),
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Seq),
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Tuple),
            proptest::collection::vec((inner.clone(), inner), 0..3).prop_map(Value::Map),
            named.clone().prop_map(Value::Struct),
            ("V[0-2]", named).prop_map(|(variant, fields)| Value::Enum { variant, fields }),
        ]
    })
}
