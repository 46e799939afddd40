//! Items the derive's generated code refers to: re-exports, loaders, the traits
//! that turn cross-entity rules into trait bounds, and row codecs. Not a public API.

pub use crate::codec::KeyCodec;
pub use crate::codec::KeyError;
pub use crate::entity::{Entity, Field};
pub use crate::error::{Error, Result};
pub use crate::query::Query;
pub use crate::read::Reader;
pub use crate::relation::{
    BelongsTo, Eager, HasMany, HasOne, ManyToMany, ProxyOf, Relation, Transaction, dangling, lazy_belongs_to,
    lazy_has_many, lazy_has_one, lazy_many_to_many,
};
pub use crate::schema::{
    EntityDescriptor, FieldDefault, FieldDescriptor, FieldKind, FieldShape, IndexDescriptor, OnDelete,
    RelationDescriptor, RelationKind,
};
pub use crate::shape::{Describe, NamedShape, Shape, ShapeProbe, Variant, ViaDescribe, ViaOpaque};
pub use std::any::TypeId;

/// A query over `T` read through `reader` (for generated `*_query` accessors).
pub fn query_of<T: Entity>(reader: Reader<'_>) -> Query<'_, T> {
    Query::new(reader)
}

/// Implemented by the derive for each unique index (and the primary key).
#[diagnostic::on_unimplemented(
    message = "the foreign key of a `has_one` must be unique in `{Self}`",
    label = "mark this field of `{Self}` `#[drift(unique)]`"
)]
pub trait UniqueOn<const FIELDS: u64> {}

/// `T` is an entity.
pub fn assert_entity<T: Entity>() {}

/// A `belongs_to` key of type `F` can hold the parent's key `K`.
pub fn assert_fk<F: ForeignKeyOf<K>, K>() {}

/// Entity `C` has an index on the fields hashed `H`, of a type that can hold `K`.
pub fn assert_indexed_fk<C, K, const H: u64>()
where
    C: IndexOn<H>,
    <C as IndexOn<H>>::Value: ForeignKeyOf<K>,
{
}

/// Entity `C` has a unique index on the fields hashed `H`.
pub fn assert_unique_fk<C: UniqueOn<H>, const H: u64>() {}

/// `J` joins `A` and `B`: it has a `belongs_to` to each.
pub fn assert_join<J: BelongsToRel<A> + BelongsToRel<B>, A, B>() {}

/// A field type that can hold a foreign key to an entity whose key is `K`: `K`
/// itself, or `Option<K>` for an optional relation.
#[diagnostic::on_unimplemented(
    message = "a foreign key to an entity with key `{K}` must be `{K}` or `Option<{K}>`, not `{Self}`",
    label = "this field's type does not match the parent's primary key"
)]
pub trait ForeignKeyOf<K> {}
impl<K> ForeignKeyOf<K> for K {}
impl<K> ForeignKeyOf<K> for Option<K> {}

/// Implemented by the derive for each field (or field list) that leads an index
/// or the primary key, keyed by a hash of the field names, so that a `has_many`
/// can require its foreign key to be indexed.
#[diagnostic::on_unimplemented(
    message = "the foreign key of this relation is not indexed in `{Self}`",
    label = "add `#[drift(index)]` to this field of `{Self}` (or a `belongs_to` on it, which indexes it)",
    note = "children are found through an index on their foreign key, never by scanning the table"
)]
pub trait IndexOn<const FIELDS: u64> {
    /// The indexed field's type (a tuple for several fields).
    type Value;
}

/// Implemented by the derive for each `belongs_to(Parent, ..)` of an entity, so
/// that a `many_to_many(.., through = Join)` can require both sides.
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no `belongs_to({P}, ..)` relation",
    label = "the join entity of a `many_to_many` needs a `#[drift(belongs_to(..))]` to each side",
    note = "add `#[drift(belongs_to({P}, key = ..., on_delete = cascade))]` to a `BelongsTo<{P}>` field of `{Self}`"
)]
pub trait BelongsToRel<P> {}

/// FNV-1a of the field names joined by `,`: the key of [`IndexOn`].
#[must_use]
pub const fn fields_hash(names: &str) -> u64 {
    let bytes = names.as_bytes();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        h ^= bytes[i] as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
        i += 1;
    }
    h
}
pub use crate::validate::ValidationErrors;
pub use crate::validate::rules as validate;
pub use ::postcard;
pub use ::serde;
pub use std::borrow::Cow;

/// Encodes a row with postcard, appending to `out`.
///
/// # Errors
/// The postcard error, rendered.
pub fn encode_row<R: serde::Serialize + ?Sized>(row: &R, out: &mut Vec<u8>) -> Result<(), String> {
    let buf = std::mem::take(out);
    match postcard::to_extend(row, buf) {
        Ok(b) => {
            *out = b;
            Ok(())
        }
        Err(e) => Err(e.to_string()),
    }
}

/// Decodes a postcard row that must span all of `bytes`.
///
/// # Errors
/// The postcard error, rendered, or the count of trailing bytes.
pub fn decode_row<R: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<R, String> {
    match postcard::take_from_bytes(bytes) {
        Ok((r, [])) => Ok(r),
        Ok((_, rest)) => Err(format!("{} bytes left over after the row", rest.len())),
        Err(e) => Err(e.to_string()),
    }
}

/// Decodes key fields from the front of the stored key.
///
/// # Errors
/// The key error, rendered.
pub fn decode_key_field<K: KeyCodec>(input: &mut &[u8]) -> Result<K, String> {
    K::decode_key(input).map_err(|e| e.to_string())
}

/// Skips one key-encoded value of type `K`.
///
/// # Errors
/// When the bytes are not a valid encoding.
pub fn skip_key<K: KeyCodec>(input: &mut &[u8]) -> Result<(), KeyError> {
    K::decode_key(input).map(drop)
}

// Migration defaults: `#[drift(default = expr)]`.

/// A field's `default = expr`, encoded as the field is stored in a row: a row is a
/// postcard struct of its fields, which postcard writes as the fields one after the
/// other, so one field's bytes are the value's own encoding.
///
/// # Errors
/// The postcard error, rendered.
pub fn encode_default<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    encode_row(value, &mut out)?;
    Ok(out)
}

// `#[derive(Describe)]`.

/// The shape `shape` builds for the type `T`, or [`Shape::Opaque`] when `T`'s shape is
/// already being built on this thread: a recursive type (`enum List { Cons(u32,
/// Box<List>), Nil }`) has no finite shape, so the place where it holds itself is
/// opaque.
pub fn describe_once<T: ?Sized>(shape: impl FnOnce() -> Shape) -> Shape {
    thread_local! {
        static BUILDING: std::cell::RefCell<Vec<&'static str>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    struct Done;
    impl Drop for Done {
        fn drop(&mut self) {
            let _ = BUILDING.try_with(|b| b.borrow_mut().pop());
        }
    }
    let name = std::any::type_name::<T>();
    // Run from another thread-local's destructor after this one was destroyed, there
    // is no record of what is being built: the shape is opaque rather than a panic (or
    // an endless recursion on a recursive type).
    match BUILDING.try_with(|b| {
        let mut b = b.borrow_mut();
        if b.contains(&name) {
            return true;
        }
        b.push(name);
        false
    }) {
        Ok(true) => return Shape::Opaque,
        Ok(false) => {}
        Err(_) => return Shape::Opaque,
    }
    let _done = Done;
    shape()
}
