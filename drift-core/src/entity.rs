//! The [`Entity`] trait that `#[derive(Entity)]` implements, and typed field handles.

use std::fmt::Debug;
use std::marker::PhantomData;

use crate::codec::{KeyCodec, KeyError};
use crate::message::shorten;
use crate::schema::EntityDescriptor;
use crate::validate::ValidationErrors;

/// A struct stored as rows of one table. Implement it with `#[derive(Entity)]`.
///
/// Entities are `Clone + Send + Sync`: the decoded-entity cache shares rows between
/// transactions and threads.
///
/// # Contract
/// The derive guarantees, and a hand-written implementation must too:
/// - `encode_key` writes `key().encode_key(..)`: the primary-key fields in order;
/// - `decode_row(key, encode_row(e))` rebuilds `e` (relation fields unloaded);
/// - `encode_index(i, ..)` writes the fields of `SCHEMA.indexes[i]` in order, each
///   with its [`KeyCodec`].
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a Drift entity",
    label = "add `#[derive(Entity)]` to `{Self}`",
    note = "relations (`belongs_to`, `has_many`, `has_one`, `many_to_many`) and queries need entity types"
)]
pub trait Entity: Sized + Clone + Send + Sync + 'static {
    /// The primary key: one field's type, or the tuple of a composite key's fields.
    type Key: KeyCodec + Clone + Debug + Send + Sync + 'static;

    /// What the derive knows about the entity.
    const SCHEMA: &'static EntityDescriptor;

    /// The primary key of this row.
    fn key(&self) -> Self::Key;

    #[doc(hidden)]
    fn __encode_key(&self, out: &mut Vec<u8>) -> Result<(), KeyError>;

    /// The auto-increment key when the entity has one (`None` otherwise).
    #[doc(hidden)]
    fn __auto_key(&self) -> Option<u64> {
        None
    }

    #[doc(hidden)]
    fn __set_auto_key(&mut self, _key: u64) {}

    #[doc(hidden)]
    fn __encode_row(&self, out: &mut Vec<u8>) -> Result<(), String>;

    #[doc(hidden)]
    fn __decode_row(key: &[u8], row: &[u8]) -> Result<Self, String>;

    #[doc(hidden)]
    fn __encode_index(&self, index: usize, out: &mut Vec<u8>) -> Result<(), KeyError>;

    /// Skips the values of index `index` at the front of `input` (a non-unique
    /// index entry is those values followed by the primary key).
    #[doc(hidden)]
    fn __skip_index(index: usize, input: &mut &[u8]) -> Result<(), KeyError>;

    /// Encodes the foreign key of relation `relation` (a `belongs_to`) into `out`;
    /// `Ok(false)` when the key is `None` or the relation is not a `belongs_to`.
    #[doc(hidden)]
    fn __belongs_to_key(&self, relation: usize, out: &mut Vec<u8>) -> Result<bool, KeyError> {
        let _ = (relation, out);
        Ok(false)
    }

    /// Sets the (optional) foreign key of relation `relation` to `None`.
    #[doc(hidden)]
    fn __set_null(&mut self, relation: usize) {
        let _ = relation;
    }

    /// The entity type relation `relation` points at (the join entity's for a
    /// `many_to_many`: see `__relation_through`).
    #[doc(hidden)]
    fn __relation_target(relation: usize) -> Option<std::any::TypeId> {
        let _ = relation;
        None
    }

    /// The join entity type of a `many_to_many` relation.
    #[doc(hidden)]
    fn __relation_through(relation: usize) -> Option<std::any::TypeId> {
        let _ = relation;
        None
    }

    /// Skips the key encoding of the field at `position` at the front of `input`.
    /// Defined for the fields of the primary key and of indexes; others fail.
    #[doc(hidden)]
    fn __skip_field(position: usize, input: &mut &[u8]) -> Result<(), KeyError>;

    /// The indexed values of index `index`, rendered for error messages.
    #[doc(hidden)]
    fn __describe_index(&self, index: usize) -> String;

    /// Records every broken `validate` rule of the fields, then runs `validate_with`.
    #[doc(hidden)]
    fn __validate(&self, _errors: &mut ValidationErrors) {}

    /// After `__encode_key` (`index` is `None`) or `__encode_index` failed: the
    /// first field whose value has no key encoding.
    #[doc(hidden)]
    fn __failing_key_field(&self, _index: Option<usize>) -> Option<&'static str> {
        None
    }

    /// Checks the entity's `#[drift(validate(...))]` and `#[drift(validate_with = ...)]`
    /// rules without writing it; `insert`, `update` and `upsert` run the same check.
    ///
    /// # Errors
    /// Every broken rule, together.
    fn validate(&self) -> Result<(), ValidationErrors> {
        let schema: &'static EntityDescriptor = Self::SCHEMA;
        let key = match self.__auto_key() {
            Some(0) => None,
            _ => Some(shorten(format!("{:?}", self.key()))),
        };
        let mut errors = ValidationErrors::new(&schema.name, key);
        self.__validate(&mut errors);
        if errors.is_empty() { Ok(()) } else { Err(errors) }
    }
}

/// A typed handle on one field of entity `T` whose value has type `V`, generated as an
/// associated const (`User::AGE: Field<User, u32>`). Filters and orderings are built
/// from it, so a field of another entity or an operand of the wrong type does not
/// compile.
pub struct Field<T, V> {
    pub(crate) position: usize,
    pub(crate) name: &'static str,
    pub(crate) get: fn(&T) -> &V,
    _marker: PhantomData<fn(&T) -> &V>,
}

impl<T, V> Field<T, V> {
    #[doc(hidden)]
    #[must_use]
    pub const fn __new(position: usize, name: &'static str, get: fn(&T) -> &V) -> Self {
        Field { position, name, get, _marker: PhantomData }
    }

    /// The field's name.
    #[must_use]
    pub const fn name(&self) -> &'static str {
        self.name
    }

    /// Reads the field from an entity.
    #[must_use]
    pub fn get<'e>(&self, entity: &'e T) -> &'e V {
        (self.get)(entity)
    }
}

impl<T, V> Clone for Field<T, V> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T, V> Copy for Field<T, V> {}

impl<T, V> Debug for Field<T, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Field({})", self.name)
    }
}
