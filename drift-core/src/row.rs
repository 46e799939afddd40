//! Typed rows at the byte level: names, keys and rows of an entity rendered, decoded
//! and encoded with errors that name the entity, field and key.

use crate::codec::{KeyCodec, KeyError};
use crate::entity::Entity;
use crate::error::{Error, Result};
use crate::message::{hex, shorten};
use crate::stats::Counters;

/// The entity's name, as its descriptor gives it.
pub(crate) fn entity_name<T: Entity>() -> &'static str {
    let schema: &'static crate::schema::EntityDescriptor = T::SCHEMA;
    &schema.name
}

/// Renders stored key bytes of `T` for a message, shortened.
pub(crate) fn render_key<T: Entity>(bytes: &[u8]) -> String {
    match T::Key::from_key_bytes(bytes) {
        Ok(k) => shorten(format!("{k:?}")),
        Err(_) => hex(bytes),
    }
}

/// Decodes a stored row of `T`, counting it.
#[inline]
pub(crate) fn decode<T: Entity>(counters: &Counters, key: &[u8], row: &[u8]) -> Result<T> {
    Counters::bump(&counters.rows_decoded);
    T::__decode_row(key, row).map_err(|reason| Error::Decode {
        entity: entity_name::<T>(),
        key: render_key::<T>(key),
        reason,
    })
}

/// Encodes a primary key of `T`.
pub(crate) fn encode_key<T: Entity>(key: &T::Key, out: &mut Vec<u8>) -> Result<()> {
    key.encode_key(out).map_err(|source| {
        let schema: &'static crate::schema::EntityDescriptor = T::SCHEMA;
        let field = match &*schema.primary_key {
            [one] => &**one,
            _ => "primary key",
        };
        Error::Key { entity: entity_name::<T>(), field, key: shorten(format!("{key:?}")), source }
    })
}

/// A foreign key of relation `rel` of the row with key `key` could not be encoded.
pub(crate) fn fk_error<T: Entity>(rel: usize, key: &[u8], source: KeyError) -> Error {
    let schema: &'static crate::schema::EntityDescriptor = T::SCHEMA;
    let field = schema.relations.get(rel).and_then(|r| r.key.first()).map_or("foreign key", |f| &**f);
    Error::Key { entity: entity_name::<T>(), field, key: render_key::<T>(key), source }
}

/// Reads the foreign key of relation `rel` from a stored row (key, row bytes).
pub(crate) fn fk_of_row<T: Entity>(counters: &Counters, key: &[u8], row: &[u8], rel: usize) -> Result<Option<Vec<u8>>> {
    let entity: T = crate::row::decode(counters, key, row)?;
    let mut out = Vec::new();
    let present = entity.__belongs_to_key(rel, &mut out).map_err(|source| fk_error::<T>(rel, key, source))?;
    Ok(present.then_some(out))
}
