//! Tables by name, below entities: what migrations (`drift-migrate`) and tools (the
//! `drift` CLI) use to read and rewrite a file whose stored schema differs from the
//! compiled one.
//!
//! [`RawRead`] is a snapshot; [`RawWrite`] is one write transaction that is all or
//! nothing as a whole (it keeps no undo log: dropping it without
//! [`RawWrite::commit`] takes every write back). Neither checks rows against a schema:
//! [`CompiledEntity`] does that for the entities compiled into the program.
//!
//! A [`RawWrite`] exists only while a file is opened with migrations, before the
//! [`Db`] and its decoded-entity cache exist, so no cached row can go stale.
//!
//! [`Db`]: crate::Db

use std::collections::HashMap;
use std::ops::Bound;
use std::sync::Arc;

use crate::catalog::nullable_fields;
use crate::entity::Entity;
use crate::error::{Error, Result, StorageError};
use crate::meta;
use crate::schema::EntityDescriptor;
use crate::stats::Counters;
use crate::storage::{ReadAccess, ReadStore, TableId, WriteStore};
use crate::transaction::has_none;

pub use crate::catalog::index_table;
pub use crate::engine::TableSizes;

/// The engine's page cache of a file opened by [`open_read`] or [`open_write`]: tools
/// read whole files, and memory stays near this figure whatever the file's size.
pub const TOOL_PAGE_CACHE: usize = 64 << 20;

/// Entries read by one [`RawRead::chunk`] call: (key, value) pairs in key order.
pub type Entries = Vec<(Vec<u8>, Vec<u8>)>;

/// Table names to ids, for a transaction begun over a fixed list of names.
#[derive(Debug, Clone)]
struct Tables {
    names: Arc<[String]>,
    ids: HashMap<String, TableId>,
    /// The tables that existed when the transaction began.
    existing: Vec<String>,
}

impl Tables {
    fn new(existing: Vec<String>, wanted: impl IntoIterator<Item = String>) -> Tables {
        let mut names = vec![meta::META_TABLE.to_string()];
        for n in existing.iter().cloned().chain(wanted) {
            if !names.contains(&n) {
                names.push(n);
            }
        }
        let ids = names.iter().enumerate().map(|(i, n)| (n.clone(), i)).collect();
        Tables { names: names.into(), ids, existing }
    }

    fn id(&self, table: &str) -> Result<TableId> {
        self.ids.get(table).copied().ok_or_else(|| {
            Error::Storage(StorageError::new(format!("table `{table}` was not named when the transaction began")))
        })
    }

    fn exists(&self, table: &str) -> bool {
        self.existing.iter().any(|t| t == table)
    }
}

fn chunk_of(
    store: &dyn ReadAccess,
    tables: &Tables,
    table: &str,
    after: Option<&[u8]>,
    limit: usize,
    out: &mut Entries,
) -> Result<()> {
    out.clear();
    if !tables.exists(table) && table != meta::META_TABLE {
        return Ok(());
    }
    let tid = tables.id(table)?;
    let lo = after.map_or(Bound::Unbounded, Bound::Excluded);
    for e in store.range(tid, lo, Bound::Unbounded)?.take(limit) {
        let (k, v) = e?;
        out.push((k.bytes().to_vec(), v.bytes().to_vec()));
    }
    Ok(())
}

fn count_of(store: &dyn ReadAccess, tables: &Tables, table: &str) -> Result<u64> {
    if !tables.exists(table) {
        return Ok(0);
    }
    store.len(tables.id(table)?)
}

/// Reads of a snapshot of a file, by table name.
pub struct RawRead {
    store: ReadStore,
    tables: Tables,
    display: String,
    /// The read-only engine of a file opened by [`open_read`]: it must outlive the
    /// snapshot (fields drop in order), above all for a file that needed recovery,
    /// whose engine runs over an in-memory overlay.
    inspector: Option<crate::storage::Inspector>,
}

impl std::fmt::Debug for RawRead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawRead").field("file", &self.display).field("tables", &self.tables.existing).finish()
    }
}

macro_rules! reads {
    () => {
        /// The tables of the file, in name order.
        #[must_use]
        pub fn table_names(&self) -> &[String] {
            &self.tables.existing
        }

        /// Whether table `table` exists.
        #[must_use]
        pub fn has_table(&self, table: &str) -> bool {
            self.tables.exists(table)
        }

        /// The descriptors stored in the file, in table order.
        ///
        /// # Errors
        /// [`Error::NotADatabase`] when one cannot be read.
        pub fn stored_schemas(&self) -> Result<Vec<EntityDescriptor>> {
            if !self.tables.exists(meta::META_TABLE) {
                return Ok(Vec::new());
            }
            meta::stored_schemas(&self.store, &self.display)
        }

        /// The value of `key` in `table` (`None` when either is missing).
        ///
        /// # Errors
        /// [`Error::Storage`] when the store fails.
        pub fn get(&self, table: &str, key: &[u8]) -> Result<Option<Vec<u8>>> {
            if !self.tables.exists(table) {
                return Ok(None);
            }
            Ok(self.store.get(self.tables.id(table)?, key)?.map(|g| g.bytes().to_vec()))
        }

        /// Up to `limit` entries of `table` after key `after` (from the first when
        /// `None`), in key order, into `out` (cleared first). Reading a table chunk by
        /// chunk keeps memory independent of its size.
        ///
        /// # Errors
        /// [`Error::Storage`] when the store fails.
        pub fn chunk(&self, table: &str, after: Option<&[u8]>, limit: usize, out: &mut Entries) -> Result<()> {
            chunk_of(&self.store, &self.tables, table, after, limit, out)
        }

        /// The number of entries of `table` (0 when it does not exist).
        ///
        /// # Errors
        /// [`Error::Storage`] when the store fails.
        pub fn count(&self, table: &str) -> Result<u64> {
            count_of(&self.store, &self.tables, table)
        }

        /// The auto_increment mark of `table` (0 when none is stored).
        ///
        /// # Errors
        /// [`Error::Storage`] when the store fails.
        pub fn sequence(&self, table: &str) -> Result<u64> {
            if !self.tables.exists(meta::META_TABLE) {
                return Ok(0);
            }
            meta::sequence(&self.store, table)
        }

        /// The records of applied migrations, oldest first, as stored (JSON written by
        /// `drift-migrate`).
        ///
        /// # Errors
        /// [`Error::Storage`] when the store fails.
        pub fn history(&self) -> Result<Vec<Vec<u8>>> {
            if !self.tables.exists(meta::META_TABLE) {
                return Ok(Vec::new());
            }
            meta::history(&self.store)
        }
    };
}

/// A snapshot of the file at `path`, opened read-only, or `None` when there is no
/// file (or an empty one). The file is never written, not even repaired.
///
/// # Errors
/// [`Error::NotADatabase`] when the file is not a Drift database, [`Error::Storage`]
/// when it cannot be read or is open in this process.
pub fn open_read(path: impl AsRef<std::path::Path>) -> Result<Option<RawRead>> {
    let path = path.as_ref();
    let display = path.display().to_string();
    let Some(inspector) = crate::storage::Backend::inspect(path, Some(TOOL_PAGE_CACHE))? else { return Ok(None) };
    let existing = inspector.table_names()?;
    meta::check_tables(&existing, &display)?;
    let store = inspector.begin_read(RawRead::names(&existing))?;
    if existing.iter().any(|t| t == meta::META_TABLE) {
        meta::check_format(&store, &display)?;
    }
    let mut raw = RawRead::new(store, existing, display);
    raw.inspector = Some(inspector);
    Ok(Some(raw))
}

/// One write transaction over the file at `path` (created when missing), by table
/// name: its existing tables and the `wanted` ones. For tools (import, restore); it
/// checks nothing, writes no format marker, and nothing of it is visible until
/// [`RawWrite::commit`]. Fails when the file is open elsewhere.
///
/// # Errors
/// [`Error::NotADatabase`] when the file holds tables but no Drift metadata or a
/// foreign format marker, [`Error::Storage`] when it cannot be opened.
pub fn open_write(path: impl AsRef<std::path::Path>, wanted: &[String]) -> Result<RawWrite> {
    let path = path.as_ref();
    let display = path.display().to_string();
    if let Some(inspector) = crate::storage::Backend::inspect(path, Some(TOOL_PAGE_CACHE))? {
        let existing = inspector.table_names()?;
        meta::check_tables(&existing, &display)?;
        if existing.iter().any(|t| t == meta::META_TABLE) {
            let store = inspector.begin_read(RawRead::names(&existing))?;
            meta::check_format(&store, &display)?;
        }
    }
    let backend = crate::storage::Backend::open(path, Some(TOOL_PAGE_CACHE))?;
    let existing = backend.table_names()?;
    let names = RawWrite::names(&existing, wanted.iter().cloned());
    let store = backend.handle()?.begin_write(names, &[])?;
    let mut raw = RawWrite::new(store, existing, wanted.to_vec(), display);
    raw.backend = Some(backend);
    Ok(raw)
}

impl RawRead {
    /// How many bytes `table` takes in the file (keys and values, the engine's own
    /// structures, allocated but unused), when the engine can tell; `None` too when
    /// the table does not exist.
    ///
    /// # Errors
    /// [`Error::Storage`] when the store fails.
    pub fn sizes(&self, table: &str) -> Result<Option<TableSizes>> {
        if !self.tables.exists(table) {
            return Ok(None);
        }
        self.store.sizes(self.tables.id(table)?)
    }

    pub(crate) fn new(store: ReadStore, existing: Vec<String>, display: String) -> RawRead {
        let tables = Tables::new(existing, []);
        RawRead { store, tables, display, inspector: None }
    }

    pub(crate) fn names(existing: &[String]) -> Arc<[String]> {
        Tables::new(existing.to_vec(), []).names
    }

    reads!();
}

/// One write transaction over a file's tables by name, all or nothing.
pub struct RawWrite {
    store: WriteStore,
    tables: Tables,
    display: String,
    /// The engine of a file opened by [`open_write`], closed after the transaction
    /// (fields drop in order).
    backend: Option<crate::storage::Backend>,
}

impl std::fmt::Debug for RawWrite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawWrite").field("file", &self.display).field("tables", &self.tables.existing).finish()
    }
}

impl RawWrite {
    /// The names a write transaction over `existing` tables and `wanted` ones needs.
    pub(crate) fn names(existing: &[String], wanted: impl IntoIterator<Item = String>) -> Arc<[String]> {
        Tables::new(existing.to_vec(), wanted).names
    }

    /// Wraps `store`, begun over [`RawWrite::names`] of the same arguments.
    pub(crate) fn new(
        mut store: WriteStore,
        existing: Vec<String>,
        wanted: impl IntoIterator<Item = String>,
        display: String,
    ) -> RawWrite {
        store.stop_logging();
        RawWrite { store, tables: Tables::new(existing, wanted), display, backend: None }
    }

    reads!();

    /// The transaction, for checks inside drift-core.
    pub(crate) fn store(&self) -> &WriteStore {
        &self.store
    }

    /// The file's name, for messages.
    #[must_use]
    pub fn display(&self) -> &str {
        &self.display
    }

    /// Writes `key -> value` into `table`; returns whether the key was present.
    ///
    /// # Errors
    /// [`Error::Storage`] when the store fails or `table` is neither an existing
    /// table nor one of the compiled entities' tables.
    pub fn put(&mut self, table: &str, key: &[u8], value: &[u8]) -> Result<bool> {
        let tid = self.tables.id(table)?;
        if !self.tables.exists(table) {
            self.tables.existing.push(table.to_string());
        }
        self.store.put(tid, key, value)
    }

    /// Removes `key` from `table`; returns whether it was present.
    ///
    /// # Errors
    /// [`Error::Storage`] when the store fails.
    pub fn remove(&mut self, table: &str, key: &[u8]) -> Result<bool> {
        if !self.tables.exists(table) && !self.tables.ids.contains_key(table) {
            return Ok(false);
        }
        let tid = self.tables.id(table)?;
        self.store.remove(tid, key)
    }

    /// Deletes `table` and its entries; returns whether it existed.
    ///
    /// # Errors
    /// [`Error::Storage`] when the store fails.
    pub fn delete_table(&mut self, table: &str) -> Result<bool> {
        let Ok(tid) = self.tables.id(table) else { return Ok(false) };
        if table == meta::META_TABLE {
            return Err(Error::Storage(StorageError::new("the meta table cannot be deleted")));
        }
        let existed = self.store.delete_table(tid)?;
        self.tables.existing.retain(|t| t != table);
        Ok(existed)
    }

    /// Stores `schema` as the descriptor of its table.
    ///
    /// # Errors
    /// [`Error::Storage`] when the store fails.
    pub fn put_schema(&mut self, schema: &EntityDescriptor) -> Result<()> {
        self.note_meta();
        meta::put_schema(&mut self.store, schema)
    }

    /// Removes the stored descriptor of `table`.
    ///
    /// # Errors
    /// [`Error::Storage`] when the store fails.
    pub fn remove_schema(&mut self, table: &str) -> Result<()> {
        meta::remove_schema(&mut self.store, table)
    }

    /// Stores the auto_increment mark of `table` (removes it when 0).
    ///
    /// # Errors
    /// [`Error::Storage`] when the store fails.
    pub fn set_sequence(&mut self, table: &str, high: u64) -> Result<()> {
        self.note_meta();
        if high == 0 {
            meta::remove_sequence(&mut self.store, table)
        } else {
            meta::set_sequence(&mut self.store, table, high)
        }
    }

    /// Appends a record of an applied migration.
    ///
    /// # Errors
    /// [`Error::Storage`] when the store fails.
    pub fn push_history(&mut self, record: &[u8]) -> Result<()> {
        self.note_meta();
        meta::push_history(&mut self.store, record)
    }

    fn note_meta(&mut self) {
        if !self.tables.exists(meta::META_TABLE) {
            self.tables.existing.push(meta::META_TABLE.to_string());
        }
    }

    /// Commits every write at once, durably.
    ///
    /// # Errors
    /// [`Error::Storage`] when the commit fails.
    pub fn commit(self) -> Result<()> {
        let RawWrite { store, backend, .. } = self;
        let r = store.commit(crate::storage::Durability::Immediate);
        drop(backend);
        r
    }

    /// Writes the format marker when the file has none (a file made by
    /// [`open_write`]).
    ///
    /// # Errors
    /// [`Error::Storage`] when the store fails.
    pub fn mark_format(&mut self) -> Result<()> {
        self.note_meta();
        meta::mark_format(&mut self.store)
    }
}

/// One index entry of a row: (index position in the descriptor, entry key, entry value).
pub type IndexEntry = (usize, Vec<u8>, Vec<u8>);

type IndexEntriesFn = fn(&[u8], &[u8], &mut Vec<IndexEntry>) -> Result<()>;

/// Reads of a stored row of one compiled entity type, captured by
/// [`CompiledEntity::of`].
#[derive(Clone, Copy)]
struct RowOps {
    check: fn(&[u8], &[u8]) -> Result<()>,
    check_with_entries: IndexEntriesFn,
    index_entries: IndexEntriesFn,
    belongs_to_key: crate::catalog::FkOfStoredRow,
    render_key: fn(&[u8]) -> String,
}

/// An entity compiled into this program: its descriptor, and the typed checks a
/// migration runs on each row it writes.
#[derive(Clone, Copy)]
pub struct CompiledEntity {
    /// The compiled descriptor.
    pub schema: &'static EntityDescriptor,
    type_id: std::any::TypeId,
    target: fn(usize) -> Option<std::any::TypeId>,
    ops: RowOps,
}

impl std::fmt::Debug for CompiledEntity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompiledEntity").field("entity", &self.schema.name).finish_non_exhaustive()
    }
}

impl CompiledEntity {
    /// The compiled entity `T`.
    #[must_use]
    pub fn of<T: Entity>() -> CompiledEntity {
        CompiledEntity {
            schema: T::SCHEMA,
            type_id: std::any::TypeId::of::<T>(),
            target: T::__relation_target,
            ops: RowOps {
                check: check_row::<T>,
                check_with_entries: check_with_entries::<T>,
                index_entries: index_entries::<T>,
                belongs_to_key: belongs_to_key::<T>,
                render_key: crate::row::render_key::<T>,
            },
        }
    }

    /// Checks a row as `T` would store it: the key and row decode as `T`, the row is
    /// within the size limits, and `T`'s validation rules pass.
    ///
    /// # Errors
    /// [`Error::Decode`] or [`Error::Validation`], naming the entity and key.
    pub fn check(&self, key: &[u8], row: &[u8]) -> Result<()> {
        (self.ops.check)(key, row)
    }

    /// [`CompiledEntity::check`] and [`CompiledEntity::index_entries`] with one
    /// decode of the row.
    ///
    /// # Errors
    /// As both.
    pub fn check_with_entries(&self, key: &[u8], row: &[u8], out: &mut Vec<IndexEntry>) -> Result<()> {
        out.clear();
        (self.ops.check_with_entries)(key, row, out)
    }

    /// The index entries of a row: (index position in the descriptor, entry key,
    /// entry value), as `T`'s inserts write them. A unique index with an `Option`
    /// field holding `None` has no entry.
    ///
    /// # Errors
    /// [`Error::Decode`] or [`Error::Key`] naming the entity, key and field.
    pub fn index_entries(&self, key: &[u8], row: &[u8], out: &mut Vec<IndexEntry>) -> Result<()> {
        out.clear();
        (self.ops.index_entries)(key, row, out)
    }

    /// The encoded parent key that relation `relation` (a `belongs_to`) of a row
    /// holds; `None` when its key is an `Option` holding `None`.
    ///
    /// # Errors
    /// [`Error::Decode`] or [`Error::Key`].
    pub fn belongs_to_key(&self, key: &[u8], row: &[u8], relation: usize) -> Result<Option<Vec<u8>>> {
        (self.ops.belongs_to_key)(key, row, relation)
    }

    /// The entity type's id.
    #[must_use]
    pub fn type_id(&self) -> std::any::TypeId {
        self.type_id
    }

    /// The type id of the entity relation `relation` points at.
    #[must_use]
    pub fn relation_target(&self, relation: usize) -> Option<std::any::TypeId> {
        (self.target)(relation)
    }

    /// A key of this entity, rendered for a message.
    #[must_use]
    pub fn render_key(&self, key: &[u8]) -> String {
        (self.ops.render_key)(key)
    }
}

fn check_row<T: Entity>(key: &[u8], row: &[u8]) -> Result<()> {
    let entity: T = crate::row::decode(&Counters::default(), key, row)?;
    check_entity(&entity, key, row)
}

fn check_entity<T: Entity>(entity: &T, key: &[u8], row: &[u8]) -> Result<()> {
    if key.len() > crate::transaction::MAX_KEY_LEN || row.len() > crate::transaction::MAX_ROW_LEN {
        let name = crate::row::entity_name::<T>();
        let rendered = crate::row::render_key::<T>(key);
        return Err(if key.len() > crate::transaction::MAX_KEY_LEN {
            Error::KeyTooLarge {
                entity: name,
                index: None,
                field: "primary key".to_string(),
                key: rendered,
                len: key.len(),
                max: crate::transaction::MAX_KEY_LEN,
            }
        } else {
            Error::RowTooLarge { entity: name, key: rendered, len: row.len(), max: crate::transaction::MAX_ROW_LEN }
        });
    }
    entity.validate().map_err(Error::Validation)
}

fn check_with_entries<T: Entity>(key: &[u8], row: &[u8], out: &mut Vec<IndexEntry>) -> Result<()> {
    let entity: T = crate::row::decode(&Counters::default(), key, row)?;
    check_entity(&entity, key, row)?;
    entries_of(&entity, key, out)
}

fn index_entries<T: Entity>(key: &[u8], row: &[u8], out: &mut Vec<IndexEntry>) -> Result<()> {
    let entity: T = crate::row::decode(&Counters::default(), key, row)?;
    entries_of(&entity, key, out)
}

fn entries_of<T: Entity>(entity: &T, key: &[u8], out: &mut Vec<IndexEntry>) -> Result<()> {
    let schema: &'static EntityDescriptor = T::SCHEMA;
    let nullable = nullable_fields(schema);
    for (i, idx) in schema.indexes.iter().enumerate() {
        let mut entry = Vec::new();
        entity.__encode_index(i, &mut entry).map_err(|source| Error::Key {
            entity: crate::row::entity_name::<T>(),
            field: entity.__failing_key_field(Some(i)).unwrap_or("index"),
            key: crate::row::render_key::<T>(key),
            source,
        })?;
        if nullable[i].as_ref().is_some_and(|fields| has_none::<T>(&entry, fields)) {
            continue;
        }
        let value = if idx.unique {
            key.to_vec()
        } else {
            entry.extend_from_slice(key);
            Vec::new()
        };
        out.push((i, entry, value));
    }
    Ok(())
}

fn belongs_to_key<T: Entity>(key: &[u8], row: &[u8], relation: usize) -> Result<Option<Vec<u8>>> {
    crate::row::fk_of_row::<T>(&Counters::default(), key, row, relation)
}

/// Runs on open, before the stored schemas are checked, in one write transaction
/// over the file: what `DbBuilder::migrations` is given. `drift-migrate` implements
/// it; an error leaves the file as it was and fails the open.
pub trait Migrator: Send + Sync {
    /// Brings the file's rows and stored descriptors to the `compiled` entities.
    ///
    /// # Errors
    /// Whatever stops the migration; nothing is written then.
    fn migrate(&self, raw: &mut RawWrite, compiled: &[CompiledEntity]) -> Result<()>;
}
