//! `Row` over hand-built descriptors, against bytes written by the typed codecs.

use std::borrow::Cow;

use crate::codec::KeyCodec;
use crate::dynamic::{Row, RowError, Value};
use crate::schema::{EntityDescriptor, FieldDefault, FieldDescriptor, FieldKind, FieldShape};
use crate::shape::{Describe, Shape};

fn field<T: Describe>(name: &'static str, kind: FieldKind) -> FieldDescriptor {
    let shape = T::shape();
    FieldDescriptor {
        name: name.into(),
        ty: std::any::type_name::<T>().into(),
        kind,
        optional: matches!(shape, Shape::Option(_)),
        shape: FieldShape::Stored(shape),
        renamed_from: None,
        default: None,
    }
}

fn entity(fields: Vec<FieldDescriptor>, key: &[&'static str]) -> EntityDescriptor {
    EntityDescriptor {
        name: "Post".into(),
        table: "posts".into(),
        version: 2,
        fields: Cow::Owned(fields),
        primary_key: Cow::Owned(key.iter().map(|k| Cow::Borrowed(*k)).collect()),
        auto_increment: false,
        indexes: Cow::Borrowed(&[]),
        relations: Cow::Borrowed(&[]),
        renamed_from: None,
    }
}

/// `Post { title: String (key, second), tags: Vec<String>, blog: u32 (key, first),
/// score: Option<i32>, author: relation }`, keyed by `(blog, title)`.
fn post() -> EntityDescriptor {
    entity(
        vec![
            field::<String>("title", FieldKind::Key),
            field::<Vec<String>>("tags", FieldKind::Data),
            field::<u32>("blog", FieldKind::Key),
            field::<Option<i32>>("score", FieldKind::Data),
            FieldDescriptor { shape: FieldShape::Unknown, ..field::<()>("author", FieldKind::Relation) },
        ],
        &["blog", "title"],
    )
}

fn post_bytes(blog: u32, title: &str, tags: &[&str], score: Option<i32>) -> (Vec<u8>, Vec<u8>) {
    let key = (blog, title.to_string()).to_key_bytes().unwrap();
    let tags: Vec<String> = tags.iter().map(|t| (*t).to_string()).collect();
    (key, postcard::to_allocvec(&(tags, score)).unwrap())
}

#[test]
fn a_row_decodes_in_field_order_and_encodes_to_the_same_bytes() {
    let desc = post();
    let (key, bytes) = post_bytes(7, "Hello", &["a", "b"], Some(-3));
    let row = Row::decode(&desc, &key, &bytes).unwrap();
    let names: Vec<&str> = row.fields().map(|(n, _)| n).collect();
    assert_eq!(names, ["title", "tags", "blog", "score"]);
    assert_eq!(row.get("title"), Some(&Value::from("Hello")));
    assert_eq!(row.get("tags"), Some(&Value::Seq(vec!["a".into(), "b".into()])));
    assert_eq!(row.get("blog"), Some(&Value::U32(7)));
    assert_eq!(row.get("score"), Some(&Value::some(Value::I32(-3))));
    assert!(!row.contains("author"));
    assert_eq!(row.encode(&desc).unwrap(), (key, bytes));
    assert_eq!(row.to_string(), r#"{ title: "Hello", tags: ["a", "b"], blog: 7, score: Some(-3) }"#);
}

#[test]
fn values_are_fitted_to_the_fields_when_encoding() {
    let desc = post();
    let row: Row =
        [("blog", Value::U64(7)), ("title", "Hello".into()), ("tags", Value::Seq(vec![])), ("score", Value::U8(4))]
            .into_iter()
            .collect();
    assert_eq!(row.encode(&desc).unwrap(), post_bytes(7, "Hello", &[], Some(4)));
    let mut big = row.clone();
    big.set("blog", u64::MAX);
    let err = big.encode(&desc).unwrap_err();
    assert_eq!(err, RowError::on_field("blog", "18446744073709551615 does not fit in u32"));
    assert_eq!(err.to_string(), "field `blog`: 18446744073709551615 does not fit in u32");
}

#[test]
fn a_missing_field_takes_its_default_or_none() {
    let mut desc = post();
    let row: Row = [("blog", Value::U32(1)), ("title", "t".into())].into_iter().collect();
    let err = row.encode(&desc).unwrap_err();
    assert_eq!(err.field.as_deref(), Some("tags"));
    assert!(err.to_string().starts_with("field `tags`: has no value"), "{err}");
    desc.fields.to_mut()[1].default =
        Some(FieldDefault(|| postcard::to_allocvec(&vec!["new".to_string()]).map_err(|e| e.to_string())));
    assert_eq!(row.encode(&desc).unwrap(), post_bytes(1, "t", &["new"], None));
}

#[test]
fn a_field_the_descriptor_lacks_is_an_error_naming_it() {
    let desc = post();
    let (key, bytes) = post_bytes(1, "t", &[], None);
    let mut row = Row::decode(&desc, &key, &bytes).unwrap();
    row.set("legacy", true);
    let err = row.encode(&desc).unwrap_err();
    assert_eq!(err.field.as_deref(), Some("legacy"));
    assert!(err.reason.contains("Post (version 2) has no such field"), "{err}");
    assert_eq!(row.remove("legacy"), Some(Value::Bool(true)));
    row.set("author", Value::Unit);
    assert_eq!(row.encode(&desc).unwrap_err().field.as_deref(), Some("author"));
    row.remove("author");
    assert_eq!(row.encode(&desc).unwrap(), (key, bytes));
}

#[test]
fn left_over_or_short_bytes_are_errors() {
    let desc = post();
    let (mut key, mut bytes) = post_bytes(1, "t", &[], None);
    bytes.push(0);
    assert_eq!(Row::decode(&desc, &key, &bytes).unwrap_err(), RowError::new("1 bytes left over after the row"));
    bytes.pop();
    key.push(9);
    assert_eq!(Row::decode(&desc, &key, &bytes).unwrap_err(), RowError::new("1 bytes left over after the key"));
    let err = Row::decode(&desc, &key[..2], &bytes).unwrap_err();
    assert_eq!(err.field.as_deref(), Some("blog"));
    assert!(err.reason.starts_with("key bytes: "), "{err}");
    key.pop();
    let err = Row::decode(&desc, &key, &bytes[..1]).unwrap_err();
    assert_eq!(err.field.as_deref(), Some("score"));
}

#[test]
fn a_field_without_a_recorded_or_known_shape_is_an_error() {
    let mut desc = post();
    desc.fields.to_mut()[1].shape = FieldShape::Unknown;
    let (key, bytes) = post_bytes(1, "t", &[], None);
    let err = Row::decode(&desc, &key, &bytes).unwrap_err();
    assert_eq!(err.field.as_deref(), Some("tags"));
    desc.fields.to_mut()[1].shape = FieldShape::Stored(Shape::Opaque);
    let err = Row::decode(&desc, &key, &bytes).unwrap_err();
    assert_eq!(err.to_string(), "field `tags`: row bytes: the field's type has no shape (derive Describe for it)");
}

#[test]
fn typed_getters_and_setters_go_through_the_field_types() {
    let desc = post();
    let (key, bytes) = post_bytes(300, "t", &["x"], Some(5));
    let mut row = Row::decode(&desc, &key, &bytes).unwrap();
    assert_eq!(row.get_as::<u64>("blog").unwrap(), 300);
    assert_eq!(row.get_as::<Option<u32>>("blog").unwrap(), Some(300));
    assert_eq!(row.get_as::<Vec<String>>("tags").unwrap(), ["x"]);
    assert_eq!(row.get_as::<Option<i64>>("score").unwrap(), Some(5));
    let err = row.get_as::<u8>("blog").unwrap_err();
    assert_eq!(err.field.as_deref(), Some("blog"));
    assert_eq!(err.reason, "cannot be read as `u8`: 300 does not fit in u8");
    assert_eq!(row.get_as::<String>("nope").unwrap_err().field.as_deref(), Some("nope"));
    row.set_as("tags", &vec!["p".to_string(), "q".to_string()]).unwrap();
    row.set_as("score", &None::<i32>).unwrap();
    assert_eq!(row.get("tags"), Some(&Value::Seq(vec!["p".into(), "q".into()])));
    assert_eq!(row.encode(&desc).unwrap(), post_bytes(300, "t", &["p", "q"], None));
}

#[test]
fn rename_keeps_the_place_and_replaces_a_field_of_the_new_name() {
    let mut row: Row = [("a", 1u8), ("b", 2), ("c", 3)].into_iter().collect();
    assert!(row.rename("c", "a"));
    assert_eq!(row.fields().map(|(n, v)| format!("{n}={v}")).collect::<Vec<_>>(), ["b=2", "a=3"]);
    assert!(row.rename("b", "z"));
    assert_eq!(row.fields().map(|(n, _)| n).collect::<Vec<_>>(), ["z", "a"]);
    assert!(!row.rename("missing", "y"));
    assert!(row.rename("a", "a"));
    assert_eq!(row.len(), 2);
    assert!(!row.is_empty());
}

#[test]
fn setting_a_name_twice_keeps_one_field() {
    let mut row = Row::new();
    row.set("n", 1u32);
    row.set("n", "one");
    assert_eq!(row.len(), 1);
    assert_eq!(row.get("n"), Some(&Value::from("one")));
    if let Some(v) = row.get_mut("n") {
        *v = Value::Unit;
    }
    assert_eq!(row.into_iter().collect::<Vec<_>>(), [("n".to_string(), Value::Unit)]);
}
