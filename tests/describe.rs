//! `#[derive(Describe)]` and the migration attributes of `#[derive(Entity)]`: the shapes
//! derived types report, that postcard's bytes for their values walk exactly per those
//! shapes, and what an entity's descriptor carries (`renamed_from`, `default`, shapes).

use std::collections::BTreeMap;

use drift::prelude::*;
use drift::{NamedShape, Shape, Variant};
use proptest::prelude::*;
use serde::{Deserialize, Serialize};

// ---- A walker over postcard bytes, led by a shape ----

/// Consumes one value of `shape` from the front of `input`, checking each tag, length
/// and varint against postcard's layout.
fn walk(shape: &Shape, input: &mut &[u8]) -> Result<(), String> {
    match shape {
        Shape::Bool => match take(input, 1)?[0] {
            0 | 1 => Ok(()),
            b => Err(format!("bool byte {b}")),
        },
        Shape::U8 | Shape::I8 => take(input, 1).map(drop),
        Shape::U16 | Shape::I16 => varint(input, 16).map(drop),
        Shape::U32 | Shape::I32 => varint(input, 32).map(drop),
        Shape::U64 | Shape::I64 => varint(input, 64).map(drop),
        Shape::U128 | Shape::I128 => varint(input, 128).map(drop),
        Shape::F32 => take(input, 4).map(drop),
        Shape::F64 => take(input, 8).map(drop),
        Shape::Char => {
            let s = text(input)?;
            if s.chars().count() == 1 { Ok(()) } else { Err(format!("char of {} chars", s.chars().count())) }
        }
        Shape::String => text(input).map(drop),
        Shape::Bytes => {
            let n = len(input)?;
            take(input, n).map(drop)
        }
        Shape::Unit => Ok(()),
        Shape::Option(inner) => match take(input, 1)?[0] {
            0 => Ok(()),
            1 => walk(inner, input),
            t => Err(format!("option tag {t}")),
        },
        Shape::Seq(item) => (0..len(input)?).try_for_each(|_| walk(item, input)),
        Shape::Array(item, n) => (0..*n).try_for_each(|_| walk(item, input)),
        Shape::Tuple(items) => items.iter().try_for_each(|s| walk(s, input)),
        Shape::Map(k, v) => (0..len(input)?).try_for_each(|_| walk(k, input).and_then(|()| walk(v, input))),
        Shape::Struct { fields, .. } => fields.iter().try_for_each(|f| walk(&f.shape, input)),
        Shape::Enum { name, variants } => {
            let index = varint(input, 32)?;
            let variant = usize::try_from(index)
                .ok()
                .and_then(|i| variants.get(i))
                .ok_or_else(|| format!("variant {index} of enum {name}, which has {}", variants.len()))?;
            variant.fields.iter().try_for_each(|f| walk(&f.shape, input))
        }
        Shape::Opaque => Err("an opaque shape cannot be walked".into()),
        other => Err(format!("unexpected shape {other}")),
    }
}

fn take<'a>(input: &mut &'a [u8], n: usize) -> Result<&'a [u8], String> {
    if input.len() < n {
        return Err(format!("{n} bytes wanted, {} left", input.len()));
    }
    let (head, rest) = input.split_at(n);
    *input = rest;
    Ok(head)
}

/// A LEB128 varint of at most `bits` bits (zigzag values are the same on the wire).
fn varint(input: &mut &[u8], bits: u32) -> Result<u128, String> {
    let max_bytes = bits.div_ceil(7);
    let mut value: u128 = 0;
    for i in 0..max_bytes {
        let b = take(input, 1)?[0];
        value |= u128::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return if bits == 128 || value >> bits == 0 { Ok(value) } else { Err(format!("varint over {bits} bits")) };
        }
    }
    Err(format!("varint of more than {max_bytes} bytes for {bits} bits"))
}

fn len(input: &mut &[u8]) -> Result<usize, String> {
    usize::try_from(varint(input, 64)?).map_err(|e| e.to_string())
}

fn text<'a>(input: &mut &'a [u8]) -> Result<&'a str, String> {
    let n = len(input)?;
    std::str::from_utf8(take(input, n)?).map_err(|e| e.to_string())
}

/// Walks the whole encoding of `value` by `T`'s shape: every byte, nothing more.
fn walks_exactly<T: Serialize + Describe>(value: &T) -> Result<(), String> {
    let bytes = postcard::to_allocvec(value).map_err(|e| e.to_string())?;
    let mut input = bytes.as_slice();
    walk(&T::shape(), &mut input)?;
    if input.is_empty() { Ok(()) } else { Err(format!("{} of {} bytes left over", input.len(), bytes.len())) }
}

fn field(name: &str, shape: Shape) -> NamedShape {
    NamedShape::new(name, shape)
}

fn boxed(shape: Shape) -> Box<Shape> {
    Box::new(shape)
}

// ---- Derived types ----

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Describe)]
struct Address {
    street: String,
    number: u16,
    unit: Option<char>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Describe)]
struct Meters(f64);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Describe)]
struct Span(i32, i64);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Describe)]
struct Marker;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Describe)]
enum Event {
    Started,
    Moved(i32, i32),
    Renamed { from: String, to: String },
    Tagged(BTreeMap<String, u128>),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Describe)]
struct Session {
    user: u64,
    #[serde(skip)]
    cache: Vec<u8>,
    #[serde(skip_serializing, skip_deserializing)]
    scratch: String,
    #[serde(rename = "ttl")]
    expires_in: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Describe)]
#[serde(transparent)]
struct UserId {
    id: u64,
    #[serde(skip)]
    checked: bool,
}

/// serde implements arrays for lengths up to 32, not for every `N`: hence the bound.
#[derive(Debug, Clone, PartialEq, Serialize, Describe)]
#[serde(bound(serialize = "T: Serialize, [i8; N]: Serialize"))]
struct Labeled<T, const N: usize> {
    label: String,
    items: Vec<T>,
    window: [i8; N],
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Describe)]
enum Either<L, R> {
    Left(L),
    Right(R),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Describe)]
struct Borrowed<'a> {
    name: &'a str,
}

/// Has serde, but not `Describe`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Undescribed {
    note: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Describe)]
struct Holder {
    kept: u8,
    other: Undescribed,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Describe)]
enum List {
    Nil,
    Cons(u32, Box<List>),
}

// ---- Shapes ----

#[test]
fn a_named_struct_describes_each_field_in_order() {
    assert_eq!(
        Address::shape(),
        Shape::Struct {
            name: "Address".into(),
            fields: vec![
                field("street", Shape::String),
                field("number", Shape::U16),
                field("unit", Shape::Option(boxed(Shape::Char))),
            ],
        }
    );
}

#[test]
fn tuple_newtype_and_unit_structs_name_their_fields_by_position() {
    assert_eq!(Meters::shape(), Shape::Struct { name: "Meters".into(), fields: vec![field("0", Shape::F64)] });
    assert_eq!(
        Span::shape(),
        Shape::Struct { name: "Span".into(), fields: vec![field("0", Shape::I32), field("1", Shape::I64)] }
    );
    assert_eq!(Marker::shape(), Shape::Struct { name: "Marker".into(), fields: vec![] });
}

#[test]
fn an_enum_describes_every_variant_in_order_with_its_fields() {
    assert_eq!(
        Event::shape(),
        Shape::Enum {
            name: "Event".into(),
            variants: vec![
                Variant { name: "Started".into(), fields: vec![] },
                Variant { name: "Moved".into(), fields: vec![field("0", Shape::I32), field("1", Shape::I32)] },
                Variant {
                    name: "Renamed".into(),
                    fields: vec![field("from", Shape::String), field("to", Shape::String)],
                },
                Variant {
                    name: "Tagged".into(),
                    fields: vec![field("0", Shape::Map(boxed(Shape::String), boxed(Shape::U128)))],
                },
            ],
        }
    );
}

#[test]
fn serde_skip_leaves_a_field_out_and_rename_changes_nothing() {
    assert_eq!(
        Session::shape(),
        Shape::Struct {
            name: "Session".into(),
            fields: vec![field("user", Shape::U64), field("expires_in", Shape::U32)]
        }
    );
}

#[test]
fn a_transparent_struct_has_its_one_field_s_shape() {
    assert_eq!(UserId::shape(), Shape::U64);
}

#[test]
fn generic_types_describe_their_parameters_as_instantiated() {
    assert_eq!(
        <Labeled<Address, 3>>::shape(),
        Shape::Struct {
            name: "Labeled".into(),
            fields: vec![
                field("label", Shape::String),
                field("items", Shape::Seq(boxed(Address::shape()))),
                field("window", Shape::Array(boxed(Shape::I8), 3)),
            ],
        }
    );
    assert_eq!(
        <Either<u8, Option<String>>>::shape(),
        Shape::Enum {
            name: "Either".into(),
            variants: vec![
                Variant { name: "Left".into(), fields: vec![field("0", Shape::U8)] },
                Variant { name: "Right".into(), fields: vec![field("0", Shape::Option(boxed(Shape::String)))] },
            ],
        }
    );
    assert_eq!(
        Borrowed::shape(),
        Shape::Struct { name: "Borrowed".into(), fields: vec![field("name", Shape::String)] }
    );
}

#[test]
fn a_field_whose_type_has_no_describe_is_opaque() {
    let shape = Holder::shape();
    assert_eq!(
        shape,
        Shape::Struct { name: "Holder".into(), fields: vec![field("kept", Shape::U8), field("other", Shape::Opaque)] }
    );
    assert!(shape.is_opaque());
}

#[test]
fn a_recursive_type_is_opaque_where_it_holds_itself() {
    let list = List::shape();
    assert_eq!(
        list,
        Shape::Enum {
            name: "List".into(),
            variants: vec![
                Variant { name: "Nil".into(), fields: vec![] },
                Variant { name: "Cons".into(), fields: vec![field("0", Shape::U32), field("1", Shape::Opaque)] },
            ],
        }
    );
    // The guard is per call: describing again gives the same shape.
    assert_eq!(List::shape(), list);
}

// ---- Postcard bytes walk per the shape ----

#[test]
fn encoded_structs_walk_exactly_per_their_shape() {
    walks_exactly(&Address { street: "Main St".into(), number: 300, unit: Some('ß') }).unwrap();
    walks_exactly(&Address { street: String::new(), number: u16::MAX, unit: None }).unwrap();
    walks_exactly(&Meters(-0.5)).unwrap();
    walks_exactly(&Span(i32::MIN, i64::MAX)).unwrap();
    walks_exactly(&Marker).unwrap();
    walks_exactly(&Session { user: 1 << 40, cache: vec![1, 2, 3], scratch: "x".into(), expires_in: 3600 }).unwrap();
    walks_exactly(&UserId { id: u64::MAX, checked: true }).unwrap();
    walks_exactly(&Borrowed { name: "ünïcödé" }).unwrap();
}

#[test]
fn encoded_enums_walk_exactly_per_their_shape_in_every_variant() {
    walks_exactly(&Event::Started).unwrap();
    walks_exactly(&Event::Moved(-1, i32::MAX)).unwrap();
    walks_exactly(&Event::Renamed { from: "a".into(), to: "b".repeat(200) }).unwrap();
    walks_exactly(&Event::Tagged(BTreeMap::from([("x".into(), u128::MAX), ("y".into(), 0)]))).unwrap();
}

#[test]
fn encoded_generic_values_walk_exactly_per_their_instantiated_shape() {
    let address = Address { street: "Elm".into(), number: 7, unit: None };
    walks_exactly(&Labeled { label: "a".into(), items: vec![address.clone(), address], window: [-128, 0, 127] })
        .unwrap();
    walks_exactly(&Labeled::<Event, 0> { label: String::new(), items: vec![Event::Started], window: [] }).unwrap();
    walks_exactly(&Either::<u8, Option<String>>::Left(255)).unwrap();
    walks_exactly(&Either::<u8, Option<String>>::Right(Some("r".into()))).unwrap();
    walks_exactly(&Either::<Span, Vec<Either<i16, bool>>>::Right(vec![Either::Left(-300), Either::Right(true)]))
        .unwrap();
}

#[test]
fn the_walker_rejects_bytes_of_another_layout() {
    // A u64 too wide for a u32 varint, and a string that is not one char.
    let wide = postcard::to_allocvec(&u64::MAX).unwrap();
    assert!(walk(&Shape::U32, &mut wide.as_slice()).is_err());
    let two = postcard::to_allocvec("ab").unwrap();
    assert!(walk(&Shape::Char, &mut two.as_slice()).is_err());
    // An `Address` read as a `Session` (another field count and widths) leaves bytes over.
    let bytes = postcard::to_allocvec(&Address { street: "Main".into(), number: 1, unit: None }).unwrap();
    let mut input = bytes.as_slice();
    assert!(walk(&Session::shape(), &mut input).is_err() || !input.is_empty());
    // A variant index past the last variant.
    assert!(walk(&Event::shape(), &mut [9u8].as_slice()).is_err());
}

fn address() -> impl Strategy<Value = Address> {
    (".{0,12}", any::<u16>(), any::<Option<char>>()).prop_map(|(street, number, unit)| Address { street, number, unit })
}

fn event() -> impl Strategy<Value = Event> {
    prop_oneof![
        Just(Event::Started),
        (any::<i32>(), any::<i32>()).prop_map(|(a, b)| Event::Moved(a, b)),
        (".{0,8}", ".{0,8}").prop_map(|(from, to)| Event::Renamed { from, to }),
        proptest::collection::btree_map(".{0,4}", any::<u128>(), 0..4).prop_map(Event::Tagged),
    ]
}

proptest! {
    #[test]
    fn every_encoded_value_walks_exactly_per_its_shape(
        addresses in proptest::collection::vec(address(), 0..4),
        events in proptest::collection::vec(event(), 0..6),
        window in any::<[i8; 4]>(),
        either in prop_oneof![any::<i64>().prop_map(Either::Left), event().prop_map(Either::Right)],
    ) {
        prop_assert_eq!(walks_exactly(&Labeled { label: "l".into(), items: addresses, window }), Ok(()));
        prop_assert_eq!(walks_exactly(&Labeled::<Event, 4> { label: String::new(), items: events, window }), Ok(()));
        prop_assert_eq!(walks_exactly(&either), Ok(()));
    }
}

// ---- Entity descriptors ----

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Describe)]
enum Plan {
    Free,
    Paid { seats: u32 },
}

#[derive(Debug, Clone, Entity)]
#[drift(renamed_from = "Account")]
struct User {
    #[drift(primary_key)]
    id: u64,
    #[drift(renamed_from = "mail")]
    email: String,
    #[drift(default = Plan::Paid { seats: 3 })]
    plan: Plan,
    #[drift(default = Self::DEFAULT_AGE)]
    age: u32,
    #[drift(default = Some("anonymous".to_string()))]
    nickname: Option<String>,
    note: Undescribed,
}

impl User {
    const DEFAULT_AGE: u32 = 18;
}

#[derive(Debug, Clone, Entity)]
struct Subscription {
    #[drift(primary_key)]
    id: u64,
    #[drift(default = Plan::Paid { seats: 3 })]
    plan: Plan,
}

fn decoded_default<T: serde::de::DeserializeOwned>(name: &str) -> T {
    let default = User::SCHEMA.field(name).and_then(|f| f.default).expect("the field has a default");
    let bytes = default.encoded().expect("the default encodes");
    postcard::from_bytes(&bytes).expect("the default decodes as the field's type")
}

#[test]
fn the_descriptor_carries_the_struct_and_field_renames() {
    let schema = User::SCHEMA;
    assert_eq!(schema.renamed_from.as_deref(), Some("Account"));
    assert_eq!(schema.field("email").and_then(|f| f.renamed_from.as_deref()), Some("mail"));
    assert_eq!(schema.field("plan").and_then(|f| f.renamed_from.as_deref()), None);
    assert_eq!(Subscription::SCHEMA.renamed_from, None);
}

#[test]
fn the_descriptor_carries_each_default_encoded() {
    assert_eq!(decoded_default::<Plan>("plan"), Plan::Paid { seats: 3 });
    assert_eq!(decoded_default::<u32>("age"), 18);
    assert_eq!(decoded_default::<Option<String>>("nickname"), Some("anonymous".to_string()));
    assert!(User::SCHEMA.field("email").is_some_and(|f| f.default.is_none()));
    assert!(User::SCHEMA.field("id").is_some_and(|f| f.default.is_none()));
}

#[test]
fn a_default_is_encoded_as_the_field_is_stored_in_a_row() {
    // `Subscription` stores one field, so its row is exactly that field's bytes.
    let default = Subscription::SCHEMA.field("plan").and_then(|f| f.default).unwrap().encoded().unwrap();
    let mut row = Vec::new();
    Subscription { id: 1, plan: Plan::Paid { seats: 3 } }.__encode_row(&mut row).unwrap();
    assert_eq!(default, row);
}

#[test]
fn a_field_shape_is_its_type_s_describe_or_opaque() {
    let shape = |name: &str| User::SCHEMA.field(name).and_then(|f| f.shape.get());
    assert_eq!(shape("plan"), Some(Plan::shape()));
    assert!(matches!(shape("plan"), Some(Shape::Enum { ref name, .. }) if name == "Plan"));
    assert_eq!(shape("nickname"), Some(Shape::Option(boxed(Shape::String))));
    assert_eq!(shape("note"), Some(Shape::Opaque));
}
