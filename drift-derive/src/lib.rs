//! `#[derive(Entity)]` for Drift KV.
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
//! Key and index fields need `drift::KeyCodec`; stored fields need
//! `serde::Serialize + serde::de::DeserializeOwned`.
#![forbid(unsafe_code)]

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
