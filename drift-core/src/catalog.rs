//! Which tables the registered entities use, by table id, and how their relations
//! connect them.

use std::any::TypeId;
use std::collections::HashMap;
use std::sync::Arc;

use crate::codec::KeyError;
use crate::error::{Error, Result};
use crate::schema::{EntityDescriptor, OnDelete, RelationKind};
use crate::storage::TableId;

/// Which table an access path reads, and how to get primary keys from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    /// The row table itself.
    Table,
    /// Index `i`; unique indexes map values to the key, others end entries with it.
    Index(usize, bool),
}

/// Reads the foreign key of relation `rel` from a stored row (key, row bytes).
pub(crate) type FkOfRow = fn(&crate::stats::Counters, &[u8], &[u8], usize) -> Result<Option<Vec<u8>>>;

/// Reads the foreign key of relation `rel` from a stored row (key, row bytes), without
/// counters.
pub(crate) type FkOfStoredRow = fn(&[u8], &[u8], usize) -> Result<Option<Vec<u8>>>;

/// Type-erased reads of one entity type, captured when it is registered, so that
/// code that does not name the type (cascades, loaders, messages) can use it. The
/// writes a cascade needs are in [`crate::transaction::WriteOps`].
#[derive(Clone, Copy)]
pub(crate) struct VTable {
    pub(crate) target: fn(usize) -> Option<TypeId>,
    pub(crate) through: fn(usize) -> Option<TypeId>,
    pub(crate) skip_index: fn(usize, &mut &[u8]) -> std::result::Result<(), KeyError>,
    pub(crate) fk_of_row: FkOfRow,
    pub(crate) render_key: fn(&[u8]) -> String,
}

impl std::fmt::Debug for VTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("VTable")
    }
}

impl VTable {
    pub(crate) fn of<T: crate::entity::Entity>() -> VTable {
        VTable {
            target: T::__relation_target,
            through: T::__relation_through,
            skip_index: T::__skip_index,
            fk_of_row: crate::row::fk_of_row::<T>,
            render_key: crate::row::render_key::<T>,
        }
    }
}

/// An entity as given to `Db::builder().entity::<T>()`.
pub(crate) struct Registered {
    pub(crate) type_id: TypeId,
    pub(crate) schema: &'static EntityDescriptor,
    pub(crate) vtable: VTable,
}

/// How a relation of an entity reaches the related rows.
#[derive(Debug, Clone)]
pub(crate) enum RelInfo {
    /// This row holds the parent's key: a primary-key lookup in `parent`.
    BelongsTo { parent: usize },
    /// Children of entity `child` hold this row's key: a prefix scan of `source`.
    HasMany { child: usize, source: Source, optional: bool },
    /// Rows of `join` hold this row's key (found by a prefix scan of `source`) and
    /// the other entity's key in relation `other_rel` of the join.
    ManyToMany { join: usize, source: Source, other_rel: usize },
}

/// A `belongs_to` of another entity that points at this one: what deleting a row
/// of this entity does to it.
#[derive(Debug, Clone)]
pub(crate) struct Inbound {
    pub(crate) child: usize,
    pub(crate) rel: usize,
    pub(crate) source: Source,
    pub(crate) on_delete: OnDelete,
    pub(crate) field: String,
    /// The child's key field is an `Option`: its entries carry the `Some` tag.
    pub(crate) optional: bool,
}

/// Whether the (single) field `fields[0]` of `schema` is an `Option`: then its key
/// encoding is the `Some` tag followed by the parent's key.
pub(crate) fn optional_key(schema: &EntityDescriptor, fields: &[crate::schema::Text]) -> bool {
    let [name] = fields else { return false };
    schema.is_optional(name)
}

/// The encoded prefix of the children of the parent with key `parent_key`.
pub(crate) fn child_prefix(parent_key: &[u8], optional: bool) -> std::borrow::Cow<'_, [u8]> {
    if optional {
        let mut v = Vec::with_capacity(parent_key.len() + 1);
        v.push(1);
        v.extend_from_slice(parent_key);
        std::borrow::Cow::Owned(v)
    } else {
        std::borrow::Cow::Borrowed(parent_key)
    }
}

/// The name of the table of index `index` of the entity stored in `table`.
#[must_use]
pub fn index_table(table: &str, index: &str) -> String {
    format!("{table}#{index}")
}

/// Per index of `schema`: for a unique index with `Option` fields, its fields
/// (position, is an `Option`), whose `None` means the row has no entry there.
pub(crate) fn nullable_fields(schema: &EntityDescriptor) -> Vec<Option<Vec<(usize, bool)>>> {
    schema
        .indexes
        .iter()
        .map(|idx| {
            let fields: Vec<(usize, bool)> = idx
                .fields
                .iter()
                .filter_map(|f| schema.fields.iter().position(|d| d.name == *f).map(|p| (p, schema.is_optional(f))))
                .collect();
            (idx.unique && fields.iter().any(|(_, o)| *o)).then_some(fields)
        })
        .collect()
}

/// One registered entity and its tables.
#[derive(Debug)]
pub(crate) struct EntityInfo {
    pub(crate) schema: &'static EntityDescriptor,
    /// The table of rows: encoded key -> postcard row.
    pub(crate) table: TableId,
    /// One table per `schema.indexes[i]`.
    pub(crate) indexes: Vec<TableId>,
    /// Position in `Catalog::entities`.
    pub(crate) ordinal: usize,
    /// One per `schema.relations[i]`.
    pub(crate) relations: Vec<RelInfo>,
    /// `belongs_to` relations of other entities that point here.
    pub(crate) inbound: Vec<Inbound>,
    /// Per index: for a unique index with `Option` fields, its fields (position,
    /// is an `Option`). A row whose value there is `None` has no entry: as in SQL,
    /// `None`s do not collide.
    pub(crate) nullable: Vec<Option<Vec<(usize, bool)>>>,
    /// Whether an index or a `belongs_to` key holds a primary-key field: an
    /// auto-assigned key must then be put into the entity before they are encoded.
    pub(crate) key_in_index: bool,
    pub(crate) vtable: VTable,
}

/// A `belongs_to` of an entity known only from its stored descriptor: its rows are
/// counted by key prefix, never decoded.
#[derive(Debug, Clone)]
pub(crate) struct ForeignInbound {
    /// The unregistered entity.
    pub(crate) child: String,
    pub(crate) field: String,
    pub(crate) on_delete: OnDelete,
    /// The table whose keys lead with the foreign key (an index or the child's rows);
    /// when no such table exists, the child's row table, counted whole.
    pub(crate) table: TableId,
    /// Whether entries of `table` with the parent's key as prefix are exactly the
    /// children (otherwise any row counts).
    pub(crate) exact: bool,
    pub(crate) optional: bool,
}

/// Hashes a `TypeId`, already a hash of the type, by taking its bits as they are: a
/// lookup on every get must not pay for SipHash (it did: 142 instructions a get).
type TypeIdHash = std::hash::BuildHasherDefault<TypeIdHasher>;

#[derive(Default)]
pub(crate) struct TypeIdHasher(u64);

impl std::hash::Hasher for TypeIdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Whatever way `TypeId` feeds itself in: fold the bytes (FNV-1a).
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 ^= n;
    }
    fn write_u128(&mut self, n: u128) {
        self.0 ^= (n as u64) ^ ((n >> 64) as u64);
    }
}

/// What the descriptors stored in the file add to the registered entities: the
/// `belongs_to` relations of stored entities this process does not register, which a
/// delete must honour, and the tables they are counted in. On an engine that other
/// processes write (etcd) the stored descriptors can change while a `Db` is open: each
/// write transaction reads the stored schema generation and rebuilds these links when
/// it moved (see `Db::begin_write`).
#[derive(Debug)]
pub(crate) struct StoredLinks {
    /// The schema generation of the descriptors these links were built from.
    pub(crate) generation: u64,
    /// The catalog's table names followed by the tables of unregistered entities.
    pub(crate) names: Arc<[String]>,
    /// Per registered entity (by ordinal): the relations that point at it from stored
    /// entities that are not registered.
    pub(crate) inbound: Vec<Vec<ForeignInbound>>,
}

impl StoredLinks {
    /// The links that the descriptors `stored` (at schema generation `generation`)
    /// add to `catalog`.
    pub(crate) fn new(catalog: &Catalog, stored: &[EntityDescriptor], generation: u64) -> StoredLinks {
        let mut names: Vec<String> = catalog.names.to_vec();
        let mut inbound = vec![Vec::new(); catalog.entities.len()];
        for child in stored {
            if catalog.entities.iter().any(|e| e.schema.table == child.table) {
                continue;
            }
            for rel in child.relations.iter().filter(|r| r.kind == RelationKind::BelongsTo) {
                // Descriptors name a relation's target by its type name only. When the
                // file holds one entity of that name, it is the parent; when it holds
                // several, the relation is honoured on every registered one of them
                // (a delete may then be refused that a target table would allow).
                let target = rel.target.rsplit("::").next().unwrap_or("").trim();
                let (table_name, exact) = match prefix_source(child, &rel.key) {
                    Some(Source::Table) => (child.table.to_string(), true),
                    Some(Source::Index(i, _)) => (index_table(&child.table, &child.indexes[i].name), true),
                    None => (child.table.to_string(), false),
                };
                let table = names.iter().position(|n| *n == table_name).unwrap_or_else(|| {
                    names.push(table_name);
                    names.len() - 1
                });
                let link = ForeignInbound {
                    child: child.name.to_string(),
                    field: rel.key.join(", "),
                    on_delete: rel.on_delete,
                    table,
                    exact,
                    optional: optional_key(child, &rel.key),
                };
                for parent in catalog.entities.iter().filter(|e| e.schema.name == target) {
                    inbound[parent.ordinal].push(link.clone());
                }
            }
        }
        StoredLinks { generation, names: names.into(), inbound }
    }
}

/// The registered entities.
#[derive(Debug)]
pub(crate) struct Catalog {
    pub(crate) names: Arc<[String]>,
    pub(crate) entities: Vec<EntityInfo>,
    by_type: HashMap<TypeId, usize, TypeIdHash>,
}

/// The access path in `schema`'s tables that finds every row by its leading fields
/// `fields`: a primary-key prefix, or an index that leads with them and has an entry
/// for every row. A unique index with an `Option` field past `fields` does not: a row
/// with `None` there has no entry (`None`s do not collide).
pub(crate) fn prefix_source(schema: &EntityDescriptor, fields: &[crate::schema::Text]) -> Option<Source> {
    if schema.primary_key.starts_with(fields) {
        return Some(Source::Table);
    }
    schema
        .indexes
        .iter()
        .position(|i| {
            i.fields.starts_with(fields)
                && !(i.unique && i.fields[fields.len()..].iter().any(|f| schema.is_optional(f)))
        })
        .map(|i| Source::Index(i, schema.indexes[i].unique))
}

impl Catalog {
    /// The catalog of the `registered` entities. What the descriptors stored in the
    /// file add to it is in [`StoredLinks`].
    pub(crate) fn new(registered: &[Registered]) -> Result<Catalog> {
        let mut names = vec![crate::meta::META_TABLE.to_string()];
        let mut entities = Vec::new();
        let mut by_type = HashMap::with_hasher(TypeIdHash::default());
        for (ordinal, r) in registered.iter().enumerate() {
            let schema = r.schema;
            let table = names.len();
            names.push(schema.table.to_string());
            let mut indexes = Vec::new();
            for idx in schema.indexes.iter() {
                indexes.push(names.len());
                names.push(index_table(&schema.table, &idx.name));
            }
            by_type.insert(r.type_id, ordinal);
            let nullable = nullable_fields(schema);
            let in_key = |f: &crate::schema::Text| schema.primary_key.contains(f);
            let key_in_index = schema.indexes.iter().any(|i| i.fields.iter().any(in_key))
                || schema.relations.iter().any(|r| r.kind == RelationKind::BelongsTo && r.key.iter().any(in_key));
            entities.push(EntityInfo {
                schema,
                table,
                indexes,
                ordinal,
                relations: Vec::new(),
                inbound: Vec::new(),
                nullable,
                key_in_index,
                vtable: r.vtable,
            });
        }
        let mut catalog = Catalog { names: names.into(), entities, by_type };
        catalog.link()?;
        Ok(catalog)
    }

    fn missing(&self, from: usize, relation: &str, what: &str) -> Error {
        Error::Registration {
            entity: self.entities[from].schema.name.to_string(),
            reason: format!("relation `{relation}`: {what}"),
        }
    }

    fn ordinal_of(&self, from: usize, relation: &str, ty: Option<TypeId>, target: &str) -> Result<usize> {
        ty.and_then(|t| self.by_type.get(&t).copied()).ok_or_else(|| {
            self.missing(
                from,
                relation,
                &format!("{target} is not registered: add `.entity::<{target}>()` to `Db::builder()`"),
            )
        })
    }

    /// Resolves every relation to the entities and access paths it uses.
    fn link(&mut self) -> Result<()> {
        let mut all_inbound: Vec<(usize, Inbound)> = Vec::new();
        for e in 0..self.entities.len() {
            let schema = self.entities[e].schema;
            let vt = self.entities[e].vtable;
            let mut rels = Vec::new();
            for (ri, rel) in schema.relations.iter().enumerate() {
                let target = self.ordinal_of(e, &rel.name, (vt.target)(ri), &rel.target)?;
                let info = match rel.kind {
                    RelationKind::BelongsTo => {
                        let source = prefix_source(schema, &rel.key)
                            .ok_or_else(|| self.missing(e, &rel.name, "its key is served by no index"))?;
                        all_inbound.push((
                            target,
                            Inbound {
                                child: e,
                                rel: ri,
                                source,
                                on_delete: rel.on_delete,
                                field: rel.key.join(", "),
                                optional: optional_key(schema, &rel.key),
                            },
                        ));
                        RelInfo::BelongsTo { parent: target }
                    }
                    RelationKind::HasMany | RelationKind::HasOne => {
                        let child_schema = self.entities[target].schema;
                        let source = prefix_source(child_schema, &rel.key).ok_or_else(|| {
                            self.missing(
                                e,
                                &rel.name,
                                &format!("{} has no index on `{}`", rel.target, rel.key.join(", ")),
                            )
                        })?;
                        RelInfo::HasMany { child: target, source, optional: optional_key(child_schema, &rel.key) }
                    }
                    RelationKind::ManyToMany => {
                        let through = rel.through.as_deref().unwrap_or("the join entity");
                        let join = self.ordinal_of(e, &rel.name, (vt.through)(ri), through)?;
                        let jschema = self.entities[join].schema;
                        let jvt = self.entities[join].vtable;
                        let belongs: Vec<(usize, usize)> = jschema
                            .relations
                            .iter()
                            .enumerate()
                            .filter(|(_, r)| r.kind == RelationKind::BelongsTo)
                            .filter_map(|(i, _)| (jvt.target)(i).and_then(|t| self.by_type.get(&t)).map(|&o| (i, o)))
                            .collect();
                        let mine = belongs.iter().find(|(_, o)| *o == e).copied();
                        let other =
                            belongs.iter().find(|(i, o)| *o == target && Some(*i) != mine.map(|m| m.0)).copied();
                        let (Some((self_rel, _)), Some((other_rel, _))) = (mine, other) else {
                            return Err(self.missing(
                                e,
                                &rel.name,
                                &format!("{through} needs a `belongs_to` to each side"),
                            ));
                        };
                        let source = prefix_source(jschema, &jschema.relations[self_rel].key)
                            .ok_or_else(|| self.missing(e, &rel.name, &format!("{through} has no index on its key")))?;
                        RelInfo::ManyToMany { join, source, other_rel }
                    }
                };
                rels.push(info);
            }
            self.entities[e].relations = rels;
        }
        for (parent, inbound) in all_inbound {
            self.entities[parent].inbound.push(inbound);
        }
        Ok(())
    }

    pub(crate) fn get(&self, tid: TypeId) -> Option<&EntityInfo> {
        self.by_type.get(&tid).map(|&i| &self.entities[i])
    }
}
