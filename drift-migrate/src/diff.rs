//! Typed differences between a stored and a compiled entity descriptor, each
//! classified by what applying it takes.

use std::fmt;

use drift_core::{EntityDescriptor, FieldDescriptor, FieldKind, RelationKind, Shape};

/// One difference between two versions of an entity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The entity (its compiled name; the stored one when it was removed).
    pub entity: String,
    /// What changed.
    pub kind: ChangeKind,
    /// What applying it takes.
    pub class: Class,
}

/// What changed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChangeKind {
    /// A new entity: its tables are created.
    EntityAdded,
    /// The entity is no longer compiled: its rows would be dropped.
    EntityRemoved,
    /// The entity was renamed (`#[drift(renamed_from = "..")]`).
    EntityRenamed {
        /// Its old name.
        from: String,
    },
    /// The entity's table changed: its rows move.
    TableChanged {
        /// The old table.
        from: String,
        /// The new table.
        to: String,
    },
    /// A field was added.
    FieldAdded {
        /// The field.
        field: String,
        /// Its type.
        ty: String,
        /// Whether it is an `Option` (stored rows get `None`).
        optional: bool,
        /// Whether it has a `#[drift(default = ..)]`.
        default: bool,
    },
    /// A field was removed: its values would be dropped.
    FieldRemoved {
        /// The field.
        field: String,
    },
    /// A field was renamed (`#[drift(renamed_from = "..")]`).
    FieldRenamed {
        /// The old name.
        from: String,
        /// The new name.
        to: String,
    },
    /// A field's type changed.
    TypeChanged {
        /// The field.
        field: String,
        /// The old type.
        from: String,
        /// The new type.
        to: String,
        /// Whether every stored value reads as the new type without loss.
        widening: bool,
    },
    /// A field became an `Option`.
    MadeOptional {
        /// The field.
        field: String,
    },
    /// A field is no longer an `Option`.
    MadeRequired {
        /// The field.
        field: String,
    },
    /// The stored fields are in a new order.
    FieldsReordered,
    /// A new index.
    IndexAdded {
        /// The index.
        index: String,
        /// Whether it is unique.
        unique: bool,
    },
    /// An index was removed.
    IndexRemoved {
        /// The index.
        index: String,
    },
    /// An index's fields changed.
    IndexChanged {
        /// The index.
        index: String,
    },
    /// An index became unique.
    UniqueAdded {
        /// The index.
        index: String,
    },
    /// An index is no longer unique.
    UniqueRemoved {
        /// The index.
        index: String,
    },
    /// A new relation.
    RelationAdded {
        /// The relation field.
        relation: String,
        /// `belongs_to`, `has_many`, ...
        kind: String,
        /// The related entity.
        target: String,
    },
    /// A relation was removed.
    RelationRemoved {
        /// The relation field.
        relation: String,
    },
    /// A relation's target, key or `on_delete` changed.
    RelationChanged {
        /// The relation field.
        relation: String,
    },
    /// The primary key's fields or their types changed.
    PrimaryKeyChanged {
        /// The old key fields.
        from: Vec<String>,
        /// The new key fields.
        to: Vec<String>,
    },
    /// `auto_increment` was turned on or off.
    AutoIncrementChanged {
        /// Whether it is on now.
        on: bool,
    },
    /// The version number changed.
    VersionChanged {
        /// The old version.
        from: u32,
        /// The new version.
        to: u32,
    },
}

/// What applying a change takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Class {
    /// No code: drift applies it.
    Automatic,
    /// Data would be dropped: needs `Migrations::drop_field` / `drop_entity` naming it.
    Acknowledge,
    /// Needs a transform over the old rows.
    Transform,
    /// Cannot be applied; the reason says what to do instead.
    Refused(String),
}

impl fmt::Display for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Class::Automatic => f.write_str("automatic"),
            Class::Acknowledge => f.write_str("drops data: needs an acknowledgement"),
            Class::Transform => f.write_str("needs a transform"),
            Class::Refused(reason) => write!(f, "refused: {reason}"),
        }
    }
}

impl fmt::Display for ChangeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChangeKind::EntityAdded => f.write_str("entity added"),
            ChangeKind::EntityRemoved => f.write_str("entity removed"),
            ChangeKind::EntityRenamed { from } => write!(f, "renamed from `{from}`"),
            ChangeKind::TableChanged { from, to } => write!(f, "table `{from}` became `{to}`"),
            ChangeKind::FieldAdded { field, ty, .. } => write!(f, "field `{field}` of type `{ty}` added"),
            ChangeKind::FieldRemoved { field } => write!(f, "field `{field}` removed"),
            ChangeKind::FieldRenamed { from, to } => write!(f, "field `{from}` renamed to `{to}`"),
            ChangeKind::TypeChanged { field, from, to, .. } => {
                write!(f, "field `{field}` changed type from `{from}` to `{to}`")
            }
            ChangeKind::MadeOptional { field } => write!(f, "field `{field}` made optional"),
            ChangeKind::MadeRequired { field } => write!(f, "field `{field}` made required"),
            ChangeKind::FieldsReordered => f.write_str("stored fields reordered"),
            ChangeKind::IndexAdded { index, unique: true } => write!(f, "unique index `{index}` added"),
            ChangeKind::IndexAdded { index, unique: false } => write!(f, "index `{index}` added"),
            ChangeKind::IndexRemoved { index } => write!(f, "index `{index}` removed"),
            ChangeKind::IndexChanged { index } => write!(f, "index `{index}` changed its fields"),
            ChangeKind::UniqueAdded { index } => write!(f, "index `{index}` made unique"),
            ChangeKind::UniqueRemoved { index } => write!(f, "index `{index}` no longer unique"),
            ChangeKind::RelationAdded { relation, kind, target } => {
                write!(f, "relation `{relation}` ({kind} {target}) added")
            }
            ChangeKind::RelationRemoved { relation } => write!(f, "relation `{relation}` removed"),
            ChangeKind::RelationChanged { relation } => write!(f, "relation `{relation}` changed"),
            ChangeKind::PrimaryKeyChanged { from, to } => {
                write!(f, "primary key ({}) became ({})", from.join(", "), to.join(", "))
            }
            ChangeKind::AutoIncrementChanged { on: true } => f.write_str("auto_increment turned on"),
            ChangeKind::AutoIncrementChanged { on: false } => f.write_str("auto_increment turned off"),
            ChangeKind::VersionChanged { from, to } => write!(f, "version {from} became {to}"),
        }
    }
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} ({})", self.entity, self.kind, self.class)
    }
}

impl ChangeKind {
    /// Whether applying it rewrites stored rows.
    #[must_use]
    pub fn rewrites_rows(&self) -> bool {
        matches!(
            self,
            ChangeKind::FieldAdded { .. }
                | ChangeKind::FieldRemoved { .. }
                | ChangeKind::FieldRenamed { .. }
                | ChangeKind::TypeChanged { .. }
                | ChangeKind::MadeOptional { .. }
                | ChangeKind::MadeRequired { .. }
                | ChangeKind::FieldsReordered
        )
    }
}

/// The differences between the `stored` descriptors of a file and the `compiled`
/// ones, entity by entity: added, removed and renamed entities (matched as
/// [`match_entities`] does), then each entity's own changes (see [`diff_entity`]).
#[must_use]
pub fn diff(stored: &[EntityDescriptor], compiled: &[&EntityDescriptor]) -> Vec<Change> {
    let sources = match_entities(stored, compiled, |c| former_names(c, None));
    let mut out = Vec::new();
    for (c, source) in compiled.iter().zip(&sources) {
        match source {
            Some(i) => out.extend(diff_entity(&stored[*i], c)),
            None => {
                out.push(Change { entity: c.name.to_string(), kind: ChangeKind::EntityAdded, class: Class::Automatic })
            }
        }
    }
    for (i, s) in stored.iter().enumerate() {
        if !sources.contains(&Some(i)) {
            out.push(Change { entity: s.name.to_string(), kind: ChangeKind::EntityRemoved, class: Class::Acknowledge });
        }
    }
    out
}

/// The names `compiled` had before: its own, the one it was renamed from, and, through
/// the recorded versions in `history`, every earlier one.
#[must_use]
pub fn former_names(compiled: &EntityDescriptor, history: Option<&crate::SchemaHistory>) -> Vec<String> {
    let mut names = vec![compiled.name.to_string()];
    if let Some(old) = &compiled.renamed_from {
        names.push(old.to_string());
    }
    let Some(history) = history else { return names };
    let mut i = 0;
    while i < names.len() {
        let recorded: Vec<String> = history
            .entities
            .get(&names[i])
            .into_iter()
            .flat_map(|versions| versions.values())
            .filter_map(|d| d.renamed_from.as_ref().map(ToString::to_string))
            .collect();
        for old in recorded {
            if !names.contains(&old) {
                names.push(old);
            }
        }
        i += 1;
    }
    names
}

/// For each compiled entity, the stored descriptor it continues, each claimed at most
/// once: first the one in its own table under one of its `former` names; then, for
/// the rest, one of its former names in a table no compiled entity uses (a rename or
/// a moved table). Two entities of one name in different tables stay apart.
#[must_use]
pub fn match_entities(
    stored: &[EntityDescriptor],
    compiled: &[&EntityDescriptor],
    former: impl Fn(&EntityDescriptor) -> Vec<String>,
) -> Vec<Option<usize>> {
    let names: Vec<Vec<String>> = compiled.iter().map(|c| former(c)).collect();
    let mut out = vec![None; compiled.len()];
    let mut claimed = vec![false; stored.len()];
    for (ci, c) in compiled.iter().enumerate() {
        if let Some(si) = stored.iter().position(|s| s.table == c.table && names[ci].iter().any(|n| *n == *s.name)) {
            out[ci] = Some(si);
            claimed[si] = true;
        }
    }
    // Then through former names: declared renames first, for every entity, then
    // each entity's own name (a moved table), so that a rename to a new name and a
    // new entity of the old name never race on the order they were registered in.
    for own in [false, true] {
        for ci in 0..compiled.len() {
            if out[ci].is_some() {
                continue;
            }
            // Former names in order: the nearest rename first.
            for (i, name) in names[ci].iter().enumerate() {
                if (i == 0) != own {
                    continue;
                }
                let found = stored.iter().enumerate().position(|(si, s)| {
                    !claimed[si] && s.name == *name && !compiled.iter().any(|other| other.table == s.table)
                });
                if let Some(si) = found {
                    out[ci] = Some(si);
                    claimed[si] = true;
                    break;
                }
            }
        }
    }
    out
}

/// The field of `from` that field `to` continues: the one of its name, or the one
/// it was renamed from when `from` has no field of its name.
#[must_use]
pub fn source_field<'a>(from: &'a EntityDescriptor, to: &FieldDescriptor) -> Option<&'a FieldDescriptor> {
    from.field(&to.name).or_else(|| to.renamed_from.as_deref().and_then(|old| from.field(old)))
}

/// A key field's shape when known, and its type as written.
type KeyType = (Option<Shape>, String);

/// The outer type's name of a type as written: `BTreeSet` for `std::collections::BTreeSet<u32>`.
fn head(ty: &str) -> &str {
    ty.split('<').next().unwrap_or(ty).rsplit("::").next().unwrap_or(ty).trim()
}

/// Whether a value of type `a` read as type `b`, with the same bytes, keeps its
/// meaning: not when one is a set and the other is not (duplicates and order).
fn same_meaning(a: &str, b: &str) -> bool {
    let set = |t: &str| matches!(head(t), "BTreeSet" | "HashSet" | "IndexSet");
    set(a) == set(b)
}

fn stored_fields(d: &EntityDescriptor) -> impl Iterator<Item = &FieldDescriptor> {
    d.fields.iter().filter(|f| f.kind != FieldKind::Relation)
}

fn kind_name(kind: RelationKind) -> &'static str {
    match kind {
        RelationKind::BelongsTo => "belongs_to",
        RelationKind::HasMany => "has_many",
        RelationKind::HasOne => "has_one",
        RelationKind::ManyToMany => "many_to_many",
        _ => "relation",
    }
}

/// The differences between one entity's stored descriptor `from` and compiled `to`.
#[must_use]
pub fn diff_entity(from: &EntityDescriptor, to: &EntityDescriptor) -> Vec<Change> {
    let entity = to.name.to_string();
    let mut out = Vec::new();
    let mut push = |kind: ChangeKind, class: Class| out.push(Change { entity: entity.clone(), kind, class });
    if from.name != to.name {
        push(ChangeKind::EntityRenamed { from: from.name.to_string() }, Class::Automatic);
    }
    if from.table != to.table {
        push(ChangeKind::TableChanged { from: from.table.to_string(), to: to.table.to_string() }, Class::Automatic);
    }
    // Primary key: the key bytes are the row's address, and every index entry and
    // foreign key holds them.
    let key_types = |d: &EntityDescriptor| -> Vec<KeyType> {
        d.primary_key
            .iter()
            .map(|k| {
                let f = d.field(k);
                (f.and_then(|f| f.shape.get()), f.map(|f| f.ty.to_string()).unwrap_or_default())
            })
            .collect()
    };
    let renamed_key: Vec<String> = to
        .primary_key
        .iter()
        .map(|k| to.field(k).and_then(|f| source_field(from, f)).map_or_else(|| k.to_string(), |f| f.name.to_string()))
        .collect();
    let (kf, kt) = (key_types(from), key_types(to));
    let key_types_same = kf.len() == kt.len()
        && kf.iter().zip(&kt).all(|((sa, ta), (sb, tb))| match (sa, sb) {
            (Some(a), Some(b)) => a == b,
            _ => ta == tb,
        });
    if renamed_key != from.primary_key.iter().map(ToString::to_string).collect::<Vec<_>>() || !key_types_same {
        push(
            ChangeKind::PrimaryKeyChanged {
                from: from.primary_key.iter().map(ToString::to_string).collect(),
                to: to.primary_key.iter().map(ToString::to_string).collect(),
            },
            Class::Refused(
                "the primary key addresses every row, index entry and foreign key; keep the old key \
                 and add a unique index on the new fields instead"
                    .into(),
            ),
        );
    }
    if from.auto_increment != to.auto_increment {
        push(ChangeKind::AutoIncrementChanged { on: to.auto_increment }, Class::Automatic);
    }
    // Fields.
    let mut continued = Vec::new();
    for t in stored_fields(to) {
        match source_field(from, t) {
            None => {
                let class = if t.optional || t.default.is_some() { Class::Automatic } else { Class::Transform };
                push(
                    ChangeKind::FieldAdded {
                        field: t.name.to_string(),
                        ty: t.ty.to_string(),
                        optional: t.optional,
                        default: t.default.is_some(),
                    },
                    class,
                );
            }
            Some(f) => {
                continued.push(f.name.to_string());
                if f.name != t.name {
                    push(
                        ChangeKind::FieldRenamed { from: f.name.to_string(), to: t.name.to_string() },
                        Class::Automatic,
                    );
                }
                if f.kind != t.kind {
                    // Moving a field into or out of the key changes the key.
                    continue;
                }
                let (fs, ts) = (f.shape.get(), t.shape.get());
                let same_type = match (&fs, &ts) {
                    (Some(a), Some(b)) if !a.is_opaque() && !b.is_opaque() => a == b && same_meaning(&f.ty, &t.ty),
                    _ => f.ty == t.ty && fs == ts,
                };
                if same_type {
                    continue;
                }
                let widening = matches!((&fs, &ts), (Some(a), Some(b)) if !a.is_opaque() && a.widens_to(b))
                    && same_meaning(&f.ty, &t.ty);
                if !f.optional && t.optional && widening {
                    push(ChangeKind::MadeOptional { field: t.name.to_string() }, Class::Automatic);
                } else if f.optional && !t.optional {
                    push(ChangeKind::MadeRequired { field: t.name.to_string() }, Class::Transform);
                } else {
                    push(
                        ChangeKind::TypeChanged {
                            field: t.name.to_string(),
                            from: f.ty.to_string(),
                            to: t.ty.to_string(),
                            widening,
                        },
                        if widening { Class::Automatic } else { Class::Transform },
                    );
                }
            }
        }
    }
    for f in stored_fields(from) {
        if !continued.iter().any(|c| *c == f.name) {
            push(ChangeKind::FieldRemoved { field: f.name.to_string() }, Class::Acknowledge);
        }
    }
    let order_from: Vec<&str> = stored_fields(from).filter(|f| f.kind == FieldKind::Data).map(|f| &*f.name).collect();
    let order_to: Vec<&str> = stored_fields(to)
        .filter(|f| f.kind == FieldKind::Data)
        .filter_map(|t| source_field(from, t).map(|f| &*f.name))
        .collect();
    let kept: Vec<&str> = order_from.iter().copied().filter(|n| order_to.contains(n)).collect();
    if kept != order_to {
        push(ChangeKind::FieldsReordered, Class::Automatic);
    }
    // Indexes, by name; index fields compared through renames.
    let renamed = |name: &str| -> String {
        to.fields
            .iter()
            .find(|t| t.renamed_from.as_deref() == Some(name) && from.field(&t.name).is_none())
            .map_or_else(|| name.to_string(), |t| t.name.to_string())
    };
    for i in from.indexes.iter() {
        match to.indexes.iter().find(|c| c.name == i.name) {
            None => push(ChangeKind::IndexRemoved { index: i.name.to_string() }, Class::Automatic),
            Some(c) => {
                let fields: Vec<String> = i.fields.iter().map(|f| renamed(f)).collect();
                if fields.iter().map(String::as_str).ne(c.fields.iter().map(|f| &**f)) {
                    push(ChangeKind::IndexChanged { index: c.name.to_string() }, Class::Automatic);
                }
                if c.unique && !i.unique {
                    push(ChangeKind::UniqueAdded { index: c.name.to_string() }, Class::Automatic);
                } else if i.unique && !c.unique {
                    push(ChangeKind::UniqueRemoved { index: c.name.to_string() }, Class::Automatic);
                }
            }
        }
    }
    for c in to.indexes.iter() {
        if !from.indexes.iter().any(|i| i.name == c.name) {
            push(ChangeKind::IndexAdded { index: c.name.to_string(), unique: c.unique }, Class::Automatic);
        }
    }
    // Relations: nothing of theirs is stored in rows but the key fields; a new or
    // changed `belongs_to` is checked for dangling keys when applied.
    for r in from.relations.iter() {
        match to.relations.iter().find(|c| c.name == r.name) {
            None => push(ChangeKind::RelationRemoved { relation: r.name.to_string() }, Class::Automatic),
            Some(c) => {
                let key: Vec<String> = r.key.iter().map(|k| renamed(k)).collect();
                if c.kind != r.kind
                    || c.target != r.target
                    || c.through != r.through
                    || c.on_delete != r.on_delete
                    || key.iter().map(String::as_str).ne(c.key.iter().map(|k| &**k))
                {
                    push(ChangeKind::RelationChanged { relation: c.name.to_string() }, Class::Automatic);
                }
            }
        }
    }
    for c in to.relations.iter() {
        if !from.relations.iter().any(|r| r.name == c.name) {
            push(
                ChangeKind::RelationAdded {
                    relation: c.name.to_string(),
                    kind: kind_name(c.kind).to_string(),
                    target: c.target.to_string(),
                },
                Class::Automatic,
            );
        }
    }
    if from.version != to.version {
        push(ChangeKind::VersionChanged { from: from.version, to: to.version }, Class::Automatic);
    }
    out
}
