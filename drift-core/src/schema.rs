//! Schema descriptors: what the derive knows about an entity, stored in the file
//! and compared on open.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use crate::shape::Shape;

/// Text that is `&'static` when generated and owned when read back from a file.
pub type Text = Cow<'static, str>;

/// Describes one entity: its table, fields, key and indexes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntityDescriptor {
    /// The Rust type name.
    pub name: Text,
    /// The table name in the database file.
    pub table: Text,
    /// The schema version given by `#[drift(version = N)]` (1 by default).
    pub version: u32,
    /// All fields in declaration order, relation fields included.
    pub fields: Cow<'static, [FieldDescriptor]>,
    /// Names of the primary-key fields, in key order.
    pub primary_key: Cow<'static, [Text]>,
    /// Whether the (single, `u64`) primary key is assigned on insert when 0.
    pub auto_increment: bool,
    /// Secondary indexes.
    pub indexes: Cow<'static, [IndexDescriptor]>,
    /// Relations, in field order.
    #[serde(default)]
    pub relations: Cow<'static, [RelationDescriptor]>,
    /// The entity's name before a rename (`#[drift(renamed_from = "Old")]`): a
    /// migration moves the old entity's rows here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renamed_from: Option<Text>,
}

/// What kind of relation a field declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum RelationKind {
    /// `#[drift(belongs_to(Parent, key = fk))]`: this row holds the parent's key.
    BelongsTo,
    /// `#[drift(has_many(Child, foreign_key = fk))]`: children hold this row's key.
    HasMany,
    /// `#[drift(has_one(Child, foreign_key = fk))]`: at most one child holds the key.
    HasOne,
    /// `#[drift(many_to_many(Other, through = Join))]`: rows of `Join` pair the two.
    ManyToMany,
}

/// What deleting a parent does to the rows that belong to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub enum OnDelete {
    /// The delete fails with `Error::Restrict` while children exist (default).
    #[default]
    Restrict,
    /// The children are deleted too, recursively.
    Cascade,
    /// The children's (optional) foreign key is set to `None`.
    SetNull,
}

/// Describes one relation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelationDescriptor {
    /// The relation field's name.
    pub name: Text,
    /// The kind of relation.
    pub kind: RelationKind,
    /// The related entity's name.
    pub target: Text,
    /// The key fields: this entity's foreign key for `belongs_to`, the child's for
    /// `has_many` / `has_one`, empty for `many_to_many`.
    pub key: Cow<'static, [Text]>,
    /// The join entity of a `many_to_many`.
    pub through: Option<Text>,
    /// What deleting the parent does (for `belongs_to`).
    pub on_delete: OnDelete,
}

/// Describes one field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldDescriptor {
    /// Field name.
    pub name: Text,
    /// The field's Rust type, as written in the struct.
    pub ty: Text,
    /// How the field is stored.
    pub kind: FieldKind,
    /// Whether the field is an `Option`: decided by the derive from the field's type.
    /// An index entry holding `None` in such a field is not written for a unique index.
    /// Descriptors stored before this flag existed are upgraded when read: the flag
    /// is then taken from the stored type name.
    #[serde(default)]
    pub optional: bool,
    /// The field's wire shape (see [`Shape`]): how a migration reads its stored bytes
    /// without the struct. Descriptors stored before shapes existed have none until
    /// they are upgraded on open.
    #[serde(default)]
    pub shape: FieldShape,
    /// The field's name before a rename (`#[drift(renamed_from = "old")]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renamed_from: Option<Text>,
    /// The value a migration gives this field in rows stored without it
    /// (`#[drift(default = expr)]`). Not stored.
    #[serde(skip)]
    pub default: Option<FieldDefault>,
}

/// A field's wire shape as a descriptor holds it: computed on demand for a compiled
/// entity, read back for a stored one. Serialized as the shape itself (or `null`).
#[derive(Clone, Default)]
pub enum FieldShape {
    /// Computed by the derive's generated function.
    Compiled(fn() -> Shape),
    /// Read from a stored descriptor.
    Stored(Shape),
    /// Not known: a descriptor stored before shapes existed.
    #[default]
    Unknown,
}

impl FieldShape {
    /// The shape, when known.
    #[must_use]
    pub fn get(&self) -> Option<Shape> {
        match self {
            FieldShape::Compiled(f) => Some(f()),
            FieldShape::Stored(s) => Some(s.clone()),
            FieldShape::Unknown => None,
        }
    }
}

impl PartialEq for FieldShape {
    fn eq(&self, other: &Self) -> bool {
        self.get() == other.get()
    }
}

impl Eq for FieldShape {}

impl std::fmt::Debug for FieldShape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.get() {
            Some(s) => write!(f, "{s:?}"),
            None => f.write_str("Unknown"),
        }
    }
}

impl Serialize for FieldShape {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        self.get().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for FieldShape {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        Ok(Option::<Shape>::deserialize(deserializer)?.map_or(FieldShape::Unknown, FieldShape::Stored))
    }
}

/// A field's default for migrations: a function returning the value encoded as the
/// field is stored (postcard), generated from `#[drift(default = expr)]`.
#[derive(Clone, Copy)]
pub struct FieldDefault(pub fn() -> std::result::Result<Vec<u8>, String>);

impl FieldDefault {
    /// The default value, encoded.
    ///
    /// # Errors
    /// The encoder's message when the value cannot be encoded.
    pub fn encoded(&self) -> std::result::Result<Vec<u8>, String> {
        (self.0)()
    }
}

impl PartialEq for FieldDefault {
    fn eq(&self, other: &Self) -> bool {
        self.encoded() == other.encoded()
    }
}

impl Eq for FieldDefault {}

impl std::fmt::Debug for FieldDefault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FieldDefault(..)")
    }
}

/// How a field is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum FieldKind {
    /// Part of the primary key: stored in the key, not in the row.
    Key,
    /// Stored in the row, in declaration order among the data fields.
    Data,
    /// A relation proxy: never stored.
    Relation,
}

/// Describes one secondary index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexDescriptor {
    /// Index name: the field name for a single-field index, the field names joined
    /// by `_` for a multi-field one.
    pub name: Text,
    /// Indexed fields, in index order.
    pub fields: Cow<'static, [Text]>,
    /// Whether two rows may share a value.
    pub unique: bool,
}

impl EntityDescriptor {
    /// Fills in what descriptors stored by earlier versions lack: a field's
    /// `optional` flag, from the type the derive wrote then.
    pub(crate) fn upgrade(&mut self) {
        for f in self.fields.to_mut() {
            let head = f.ty.split('<').next().unwrap_or("");
            if head.trim().rsplit("::").next() == Some("Option") {
                f.optional = true;
            }
        }
    }

    /// Fills in the shapes a descriptor stored before shapes existed lacks, from
    /// `compiled`, for each field whose type is written the same in both. Returns
    /// whether anything was filled in.
    pub fn upgrade_shapes(&mut self, compiled: &EntityDescriptor) -> bool {
        let mut changed = false;
        for f in self.fields.to_mut() {
            if matches!(f.shape, FieldShape::Unknown) && f.kind != FieldKind::Relation {
                if let Some(c) = compiled.field(&f.name).filter(|c| c.ty == f.ty && c.kind == f.kind) {
                    if let Some(shape) = c.shape.get() {
                        f.shape = FieldShape::Stored(shape);
                        changed = true;
                    }
                }
            }
        }
        changed
    }

    /// Whether field `name` exists and is an `Option`.
    #[must_use]
    pub fn is_optional(&self, name: &str) -> bool {
        self.field(name).is_some_and(|f| f.optional)
    }

    /// The descriptor of the field named `name`.
    #[must_use]
    pub fn field(&self, name: &str) -> Option<&FieldDescriptor> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// The differences between `self` (stored) and `compiled`, one sentence each;
    /// empty when they match.
    #[must_use]
    pub fn differences(&self, compiled: &EntityDescriptor) -> Vec<String> {
        let mut out = Vec::new();
        if self.name != compiled.name {
            out.push(format!("entity `{}` was renamed to `{}`", self.name, compiled.name));
        }
        if self.table != compiled.table {
            out.push(format!("table `{}` became `{}`", self.table, compiled.table));
        }
        if self.version != compiled.version {
            out.push(format!("version {} became {}", self.version, compiled.version));
        }
        let renamed_to = |old: &str| {
            compiled.fields.iter().find(|c| c.renamed_from.as_deref() == Some(old) && self.field(&c.name).is_none())
        };
        for f in self.fields.iter() {
            match compiled.field(&f.name) {
                None => match renamed_to(&f.name) {
                    Some(c) => out.push(format!("field `{}` was renamed to `{}`", f.name, c.name)),
                    None => out.push(format!("field `{}` was removed", f.name)),
                },
                Some(c) if c.ty != f.ty => {
                    out.push(format!("field `{}` changed type from `{}` to `{}`", f.name, f.ty, c.ty));
                }
                Some(c) if c.kind != f.kind => {
                    out.push(format!("field `{}` changed from {:?} to {:?}", f.name, f.kind, c.kind));
                }
                Some(c) if matches!((f.shape.get(), c.shape.get()), (Some(a), Some(b)) if a != b) => {
                    out.push(format!("field `{}` of type `{}` changed its stored layout", f.name, f.ty));
                }
                Some(_) => {}
            }
        }
        for c in compiled.fields.iter() {
            let renamed = c.renamed_from.as_deref().is_some_and(|old| self.field(old).is_some());
            if self.field(&c.name).is_none() && !renamed {
                out.push(format!("field `{}` of type `{}` was added", c.name, c.ty));
            }
        }
        let stored_data: Vec<_> = self.fields.iter().filter(|f| f.kind == FieldKind::Data).map(|f| &f.name).collect();
        let compiled_data: Vec<_> =
            compiled.fields.iter().filter(|f| f.kind == FieldKind::Data).map(|f| &f.name).collect();
        if out.is_empty() && stored_data != compiled_data {
            out.push("stored fields were reordered".to_string());
        }
        if self.primary_key != compiled.primary_key {
            out.push(format!(
                "primary key ({}) became ({})",
                self.primary_key.join(", "),
                compiled.primary_key.join(", ")
            ));
        }
        if self.auto_increment != compiled.auto_increment {
            out.push(format!("auto_increment {} became {}", self.auto_increment, compiled.auto_increment));
        }
        for i in self.indexes.iter() {
            match compiled.indexes.iter().find(|c| c.name == i.name) {
                None => out.push(format!("index `{}` was removed", i.name)),
                Some(c) if c != i => out.push(format!("index `{}` changed", i.name)),
                Some(_) => {}
            }
        }
        for c in compiled.indexes.iter() {
            if !self.indexes.iter().any(|i| i.name == c.name) {
                out.push(format!("index `{}` was added", c.name));
            }
        }
        for r in self.relations.iter() {
            match compiled.relations.iter().find(|c| c.name == r.name) {
                None => out.push(format!("relation `{}` was removed", r.name)),
                Some(c) if c != r => out.push(format!("relation `{}` changed", r.name)),
                Some(_) => {}
            }
        }
        for c in compiled.relations.iter() {
            if !self.relations.iter().any(|r| r.name == c.name) {
                out.push(format!("relation `{}` was added", c.name));
            }
        }
        out
    }
}
