//! [`Row`]: one stored row read and written through its entity's descriptor.

use std::fmt;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::fault::Fault;
use super::value::Value;
use super::{key, wire};
use crate::entity::Entity;
use crate::schema::{EntityDescriptor, FieldDescriptor, FieldKind};
use crate::shape::{Describe, Shape};

/// Why a row could not be read, written or converted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    /// The field at fault, when one is.
    pub field: Option<String>,
    /// What went wrong.
    pub reason: String,
}

impl RowError {
    /// An error about the row as a whole.
    #[must_use]
    pub fn new(reason: impl Into<String>) -> Self {
        RowError { field: None, reason: reason.into() }
    }

    /// An error about field `field`.
    #[must_use]
    pub fn on_field(field: impl Into<String>, reason: impl Into<String>) -> Self {
        RowError { field: Some(field.into()), reason: reason.into() }
    }
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.field {
            Some(field) => write!(f, "field `{field}`: {}", self.reason),
            None => f.write_str(&self.reason),
        }
    }
}

impl std::error::Error for RowError {}

/// The fields of one stored row, key fields included, by name: what a migration
/// reads and writes without the entity's struct.
///
/// [`Row::decode`] reads a row with the descriptor it was stored with, in that
/// descriptor's field order (relation fields are never stored, so never present).
/// A transform then reads, sets, renames and removes fields, and [`Row::encode`]
/// writes it with the descriptor of the version it becomes. Names are unique: setting
/// a name replaces its value.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Row {
    fields: Vec<(String, Value)>,
}

impl Row {
    /// An empty row.
    #[must_use]
    pub fn new() -> Self {
        Row::default()
    }

    /// Reads a stored row: the key fields from `key` (the key codec, in
    /// `primary_key` order) and the data fields from `row` (postcard, in declaration
    /// order), with the shapes of `desc`, the descriptor the row was stored with.
    ///
    /// # Errors
    /// When a field's shape is unknown (a descriptor stored before shapes) or opaque,
    /// when the bytes do not decode as the shapes, or when bytes are left over.
    pub fn decode(desc: &EntityDescriptor, key: &[u8], row: &[u8]) -> Result<Row, RowError> {
        let mut slots: Vec<Option<Value>> = vec![None; desc.fields.len()];
        let mut k = key;
        for name in desc.primary_key.iter() {
            let (i, f) = key_field(desc, name)?;
            let shape = shape_of(f)?;
            let v = key::decode(&shape, &mut k, 0).map_err(|e| field_error(f, "key bytes", &e))?;
            slots[i] = Some(v);
        }
        if !k.is_empty() {
            return Err(RowError::new(format!("{} bytes left over after the key", k.len())));
        }
        let mut r = row;
        for (i, f) in desc.fields.iter().enumerate().filter(|(_, f)| f.kind == FieldKind::Data) {
            let shape = shape_of(f)?;
            slots[i] = Some(wire::decode(&shape, &mut r, 0).map_err(|e| field_error(f, "row bytes", &e))?);
        }
        if !r.is_empty() {
            return Err(RowError::new(format!("{} bytes left over after the row", r.len())));
        }
        let fields = desc.fields.iter().zip(slots).filter_map(|(f, v)| Some((f.name.to_string(), v?))).collect();
        Ok(Row { fields })
    }

    /// Writes this row as a row of `desc`: the key bytes and the row bytes. Each key
    /// and data field of `desc` is taken from the row by name and converted to the
    /// field's shape with [`Value::fit`]. A field the row lacks takes the field's
    /// default (`#[drift(default = ..)]`), else `None` when it is an `Option`.
    ///
    /// Every field of the row must be a stored field of `desc`: a field the new
    /// version dropped must be removed ([`Row::remove`]) and a renamed one renamed
    /// ([`Row::rename`]) first.
    ///
    /// # Errors
    /// A field of the row that `desc` does not store; a field with no value, no
    /// default and not an `Option` ("has no value"); a value that does not fit its
    /// field's shape; a NaN float in the key.
    pub fn encode(&self, desc: &EntityDescriptor) -> Result<(Vec<u8>, Vec<u8>), RowError> {
        for (name, _) in &self.fields {
            match desc.field(name) {
                None => {
                    return Err(RowError::on_field(
                        name,
                        format!(
                            "{} (version {}) has no such field: remove or rename it before encoding",
                            desc.name, desc.version
                        ),
                    ));
                }
                Some(f) if f.kind == FieldKind::Relation => {
                    return Err(RowError::on_field(name, "is a relation, which is not stored: remove it"));
                }
                Some(_) => {}
            }
        }
        let mut key_bytes = Vec::new();
        for name in desc.primary_key.iter() {
            let (_, f) = key_field(desc, name)?;
            let (shape, v) = self.value_for(f)?;
            key::encode(&shape, &v, &mut key_bytes, 0).map_err(|e| field_error(f, "key", &e))?;
        }
        let mut row_bytes = Vec::new();
        for f in desc.fields.iter().filter(|f| f.kind == FieldKind::Data) {
            let (shape, v) = self.value_for(f)?;
            wire::encode(&shape, &v, &mut row_bytes, 0).map_err(|e| field_error(f, "", &e))?;
        }
        Ok((key_bytes, row_bytes))
    }

    /// Field `f`'s shape and its value in this row (or its default), fitted.
    fn value_for(&self, f: &FieldDescriptor) -> Result<(Shape, Value), RowError> {
        let shape = shape_of(f)?;
        let value = match (self.get(&f.name), &f.default) {
            (Some(v), _) => v.clone(),
            (None, Some(default)) => {
                let bytes = default.encoded().map_err(|e| RowError::on_field(&*f.name, format!("default: {e}")))?;
                let mut input = &bytes[..];
                let v = wire::decode(&shape, &mut input, 0).map_err(|e| field_error(f, "default", &e))?;
                if !input.is_empty() {
                    return Err(RowError::on_field(&*f.name, "default: bytes left over after the value"));
                }
                v
            }
            (None, None) if f.optional => Value::Option(None),
            (None, None) => {
                return Err(RowError::on_field(
                    &*f.name,
                    "has no value (set it, or give the field a default or an `Option` type)",
                ));
            }
        };
        let value = super::fit::fit(value, &shape, 0).map_err(|e| field_error(f, "", &e))?;
        Ok((shape, value))
    }

    /// The row of `entity`, as [`Row::decode`] reads it once stored.
    ///
    /// # Errors
    /// When the entity's key or row cannot be encoded, or a field's shape is unknown
    /// or opaque.
    pub fn from_entity<T: Entity>(entity: &T) -> Result<Row, RowError> {
        let mut key_bytes = Vec::new();
        entity.__encode_key(&mut key_bytes).map_err(|e| RowError {
            field: entity.__failing_key_field(None).map(str::to_string),
            reason: e.to_string(),
        })?;
        let mut row_bytes = Vec::new();
        entity.__encode_row(&mut row_bytes).map_err(RowError::new)?;
        Row::decode(T::SCHEMA, &key_bytes, &row_bytes)
    }

    /// This row as entity `T`: encoded with `T::SCHEMA` (see [`Row::encode`]) and
    /// decoded as `T` would be read from the database. Relation fields are unloaded.
    ///
    /// # Errors
    /// As [`Row::encode`], and when `T` cannot decode the bytes.
    pub fn to_entity<T: Entity>(&self) -> Result<T, RowError> {
        let (key_bytes, row_bytes) = self.encode(T::SCHEMA)?;
        T::__decode_row(&key_bytes, &row_bytes).map_err(RowError::new)
    }

    /// The value of field `name`.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.fields.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// The value of field `name`, to change in place.
    #[must_use]
    pub fn get_mut(&mut self, name: &str) -> Option<&mut Value> {
        self.fields.iter_mut().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// Field `name` read as a `T`: its value fitted to `T`'s shape ([`Value::fit`]:
    /// a `u32` field reads as a `u64`, a `String` as an `Option<String>`) and
    /// deserialized.
    ///
    /// # Errors
    /// When the row has no field `name`, or its value does not fit `T`.
    pub fn get_as<T: DeserializeOwned + Describe>(&self, name: &str) -> Result<T, RowError> {
        let v = self.get(name).ok_or_else(|| RowError::on_field(name, "has no value in this row"))?;
        let as_t = |e: &dyn fmt::Display| {
            RowError::on_field(name, format!("cannot be read as `{}`: {e}", std::any::type_name::<T>()))
        };
        let shape = T::shape();
        let v = super::fit::fit(v.clone(), &shape, 0).map_err(|e| as_t(&e))?;
        let mut bytes = Vec::new();
        wire::encode(&shape, &v, &mut bytes, 0).map_err(|e| as_t(&e))?;
        match postcard::take_from_bytes::<T>(&bytes) {
            Ok((t, [])) => Ok(t),
            Ok((_, rest)) => Err(as_t(&format!("{} bytes left over", rest.len()))),
            Err(e) => Err(as_t(&e)),
        }
    }

    /// Sets field `name` to `value`, replacing its value or appending the field.
    pub fn set(&mut self, name: &str, value: impl Into<Value>) {
        let value = value.into();
        match self.get_mut(name) {
            Some(v) => *v = value,
            None => self.fields.push((name.to_string(), value)),
        }
    }

    /// Sets field `name` to `value` of a type that [`Describe`]s its layout: what
    /// storing `value` in a field of type `T` stores.
    ///
    /// # Errors
    /// When `T`'s shape is opaque or `value` cannot be serialized.
    pub fn set_as<T: Serialize + Describe + ?Sized>(&mut self, name: &str, value: &T) -> Result<(), RowError> {
        let err = |e: &dyn fmt::Display| {
            RowError::on_field(name, format!("cannot be set from a `{}`: {e}", std::any::type_name::<T>()))
        };
        let bytes = postcard::to_allocvec(value).map_err(|e| err(&e))?;
        let mut input = &bytes[..];
        let v = wire::decode(&T::shape(), &mut input, 0).map_err(|e| err(&e))?;
        if !input.is_empty() {
            return Err(err(&format!("its shape leaves {} bytes unread", input.len())));
        }
        self.set(name, v);
        Ok(())
    }

    /// Removes field `name`, returning its value.
    pub fn remove(&mut self, name: &str) -> Option<Value> {
        let i = self.fields.iter().position(|(n, _)| n == name)?;
        Some(self.fields.remove(i).1)
    }

    /// Renames field `from` to `to`, keeping its place; a field already named `to`
    /// is replaced. Returns whether the row had a field `from`.
    pub fn rename(&mut self, from: &str, to: &str) -> bool {
        if from == to {
            return self.contains(from);
        }
        let Some(mut i) = self.fields.iter().position(|(n, _)| n == from) else {
            return false;
        };
        if let Some(j) = self.fields.iter().position(|(n, _)| n == to) {
            self.fields.remove(j);
            if j < i {
                i -= 1;
            }
        }
        self.fields[i].0 = to.to_string();
        true
    }

    /// The fields, in order: a decoded row's in descriptor order, set fields after.
    #[must_use]
    pub fn fields(&self) -> impl ExactSizeIterator<Item = (&str, &Value)> + '_ {
        self.fields.iter().map(|(n, v)| (n.as_str(), v))
    }

    /// How many fields the row has.
    #[must_use]
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// Whether the row has no fields.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// Whether the row has field `name`.
    #[must_use]
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
}

/// Fields in order; a name given twice keeps its last value, at its first place.
impl<S: Into<String>, V: Into<Value>> FromIterator<(S, V)> for Row {
    fn from_iter<I: IntoIterator<Item = (S, V)>>(iter: I) -> Self {
        let mut row = Row::new();
        for (n, v) in iter {
            row.set(&n.into(), v);
        }
        row
    }
}

impl IntoIterator for Row {
    type Item = (String, Value);
    type IntoIter = std::vec::IntoIter<(String, Value)>;

    fn into_iter(self) -> Self::IntoIter {
        self.fields.into_iter()
    }
}

/// `{ id: 1, title: "Hello" }`.
impl fmt::Display for Row {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{ ")?;
        for (i, (n, v)) in self.fields.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{n}: {v}")?;
        }
        f.write_str(" }")
    }
}

/// The primary-key field `name` of `desc` and its position.
fn key_field<'d>(desc: &'d EntityDescriptor, name: &str) -> Result<(usize, &'d FieldDescriptor), RowError> {
    desc.fields.iter().enumerate().find(|(_, f)| f.name == name).ok_or_else(|| {
        RowError::on_field(name, format!("is in the primary key of {} but not among its fields", desc.name))
    })
}

fn shape_of(f: &FieldDescriptor) -> Result<Shape, RowError> {
    f.shape.get().ok_or_else(|| {
        RowError::on_field(&*f.name, "the descriptor records no shape for this field (stored before shapes existed)")
    })
}

fn field_error(f: &FieldDescriptor, context: &str, e: &Fault) -> RowError {
    if context.is_empty() {
        RowError::on_field(&*f.name, e.to_string())
    } else {
        RowError::on_field(&*f.name, format!("{context}: {e}"))
    }
}
