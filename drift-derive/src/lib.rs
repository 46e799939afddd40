//! `#[derive(Entity)]` and `#[derive(Describe)]` for Drift KV.
//!
//! # Attributes
//!
//! On the struct:
//! - `#[drift(table = "name")]`: the table name (default: the struct name in snake_case).
//! - `#[drift(version = N)]`: the schema version recorded in the file (default 1).
//! - `#[drift(index(fields(a, b)))]`: a secondary index on several fields, in that order;
//!   `#[drift(index(name = "by_ab", fields(a, b), unique))]` names it and makes it unique.
//! - `#[drift(validate_with = path)]`: a rule over the whole entity, run after the field
//!   rules: `fn(&Self, &mut drift::ValidationErrors)`, recording failures with `add`.
//!
//! On a field:
//! - `#[drift(primary_key)]`: the key; on several fields for a composite key (the key is
//!   then the tuple of those fields in declaration order).
//! - `#[drift(auto_increment)]`: with `primary_key` on a `u64`: assigned on insert when 0.
//! - `#[drift(unique)]`: a unique index on the field.
//! - `#[drift(index)]`: a non-unique index on the field.
//! - `#[drift(validate(...))]`: rules checked on insert, update and upsert, any of
//!   `length(min = N, max = N)` (characters of a string, items of a collection),
//!   `range(min = X, max = X)` (a number), `email`, `regex = "..."` (checked here, at
//!   compile time) and `custom = path` (`fn(&T) -> Result<(), E: Display>`). An
//!   `Option` field passes when `None`. A rule that cannot apply to the field's type is
//!   a compile error.
//!
//! For migrations (on the struct and on a field):
//! - `#[drift(renamed_from = "OldName")]` on the struct, `#[drift(renamed_from = "old_name")]`
//!   on a stored field: the name it had in the stored schema; a migration moves the
//!   old entity's rows, or the old field's values, here.
//! - `#[drift(default = expr)]` on a stored field that is not part of the key: the value,
//!   of the field's type, a migration gives the field in rows stored without it.
//!
//! Key and index fields need `drift::KeyCodec`; stored fields need
//! `serde::Serialize + serde::de::DeserializeOwned`.
//!
//! `#[derive(Describe)]` describes a struct or enum used as a field type, so that
//! migrations can read its stored bytes without the type (see `drift::Shape`). It reads
//! the type's `#[serde(...)]` attributes: `skip` leaves a field out, `transparent`
//! gives the type its one field's shape, and `flatten`, `tag`, `untagged`, `content`,
//! `with`, `serialize_with`, `deserialize_with`, `skip_serializing_if`, `other`,
//! `remote`, `into`, `from`, `try_from` and a one-way `skip_serializing` or
//! `skip_deserializing` on a field are errors: the layout they give cannot be described.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod expand;
mod internals;

use proc_macro::TokenStream;
use syn::{DeriveInput, parse_macro_input};

/// Derives `drift::Entity`: row encoding, key encoders, field handles and the schema
/// descriptor. See the crate documentation for the attributes.
#[proc_macro_derive(Entity, attributes(drift))]
pub fn derive_entity(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand::derive_entity(&input).into()
}

/// Derives `drift::Describe`: the type's wire shape, for migrations. See the crate
/// documentation for the serde attributes it reads.
#[proc_macro_derive(Describe)]
pub fn derive_describe(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand::derive_describe(&input).into()
}
