//! Dynamic rows: any stored row read and written from its descriptor's shapes.
//!
//! A migration reads a row of an old version without the struct that wrote it: the
//! stored [`EntityDescriptor`](crate::EntityDescriptor) gives each field's
//! [`Shape`](crate::Shape), which is enough to decode the key (the order-preserving
//! key codec) and the row (postcard) into a [`Row`] of [`Value`]s, change it, and
//! encode it as a row of the new version.
//!
//! - [`decode_value`] / [`encode_value`]: one value in postcard's layout;
//! - [`decode_key_value`] / [`encode_key_value`]: one value in the key encoding;
//! - [`Value::fit`]: a value converted to another shape when nothing is lost;
//! - [`Row`]: a whole row, by field name.

mod fault;
mod fit;
mod key;
mod row;
mod value;
mod wire;

#[cfg(test)]
mod tests;

pub use key::{decode_key_value, encode_key_value};
pub use row::{Row, RowError};
pub use value::Value;
pub use wire::{decode_value, encode_value};
