//! The meta table `drift#meta`, and the one module that reads or writes it: the format
//! marker, the stored entity descriptors, the auto_increment marks and the records of
//! applied migrations (see docs/format.md, "Meta table"). Keys are plain ASCII, not
//! key-encoded. Key prefixes not listed here are reserved for later formats and ignored
//! by this one.

use std::ops::Bound;

use crate::codec::prefix_successor;
use crate::error::{Error, Result, StorageError};
use crate::schema::EntityDescriptor;
use crate::storage::{ReadAccess, TableId, WriteStore};

/// The meta table's id: always the first table a database names.
pub(crate) const META: TableId = 0;
/// The meta table's name.
pub(crate) const META_TABLE: &str = "drift#meta";
const FORMAT_KEY: &[u8] = b"format";
/// The format this version reads and writes.
const FORMAT_VALUE: &[u8] = b"drift-kv/1";
const SCHEMA_PREFIX: &str = "schema/";
/// Counts the changes to the stored descriptors: a `Db` that other processes share
/// (etcd) compares it with the one its catalog was built from.
pub(crate) const GENERATION_KEY: &[u8] = b"schema-generation";
const SEQ_PREFIX: &str = "seq/";
const HISTORY_PREFIX: &str = "history/";

fn schema_key(table: &str) -> String {
    format!("{SCHEMA_PREFIX}{table}")
}

fn seq_key(table: &str) -> String {
    format!("{SEQ_PREFIX}{table}")
}

/// A file with tables holds the meta table among them.
pub(crate) fn check_tables(existing: &[String], display: &str) -> Result<()> {
    if existing.is_empty() || existing.iter().any(|n| n == META_TABLE) {
        return Ok(());
    }
    Err(Error::NotADatabase { path: display.to_string(), reason: "the file holds tables but no Drift metadata".into() })
}

/// Fails unless the format marker, where there is one, is this version's.
pub(crate) fn check_format(store: &dyn ReadAccess, display: &str) -> Result<()> {
    match store.get(META, FORMAT_KEY)? {
        Some(f) if f.bytes() != FORMAT_VALUE => Err(Error::NotADatabase {
            path: display.to_string(),
            reason: format!("unsupported format marker {:?}", String::from_utf8_lossy(f.bytes())),
        }),
        _ => Ok(()),
    }
}

/// The stored descriptor of `table`, if any (upgraded to this version's shape).
pub(crate) fn stored_schema(store: &dyn ReadAccess, table: &str, display: &str) -> Result<Option<EntityDescriptor>> {
    let Some(bytes) = store.get(META, schema_key(table).as_bytes())? else { return Ok(None) };
    parse_schema(bytes.bytes(), table, display).map(Some)
}

/// Every stored entity descriptor, in table order.
pub(crate) fn stored_schemas(store: &dyn ReadAccess, display: &str) -> Result<Vec<EntityDescriptor>> {
    let prefix = SCHEMA_PREFIX.as_bytes();
    let hi = prefix_successor(prefix);
    let hi = hi.as_deref().map_or(Bound::Unbounded, Bound::Excluded);
    let mut out = Vec::new();
    for e in store.range(META, Bound::Included(prefix), hi)? {
        let (k, v) = e?;
        let table = String::from_utf8_lossy(&k.bytes()[prefix.len()..]).into_owned();
        out.push(parse_schema(v.bytes(), &table, display)?);
    }
    Ok(out)
}

fn parse_schema(bytes: &[u8], table: &str, display: &str) -> Result<EntityDescriptor> {
    let mut stored: EntityDescriptor = serde_json::from_slice(bytes).map_err(|e| Error::NotADatabase {
        path: display.to_string(),
        reason: format!("stored schema of table `{table}` is unreadable: {e}"),
    })?;
    stored.upgrade();
    Ok(stored)
}

/// Writes the format marker when there is none.
pub(crate) fn mark_format(store: &mut WriteStore) -> Result<()> {
    if store.get(META, FORMAT_KEY)?.is_none() {
        store.put(META, FORMAT_KEY, FORMAT_VALUE)?;
    }
    Ok(())
}

/// Writes the format marker and the descriptors of `schemas` that are not stored yet.
pub(crate) fn initialize<'s>(
    store: &mut WriteStore,
    schemas: impl Iterator<Item = &'s EntityDescriptor>,
) -> Result<()> {
    if store.get(META, FORMAT_KEY)?.is_none() {
        store.put(META, FORMAT_KEY, FORMAT_VALUE)?;
    }
    for schema in schemas {
        match stored_schema(store, &schema.table, "")? {
            None => put_schema(store, schema)?,
            // Descriptors stored before shapes existed get the shapes of the fields
            // whose type is unchanged.
            Some(mut stored) => {
                if stored.upgrade_shapes(schema) {
                    put_schema(store, &stored)?;
                }
            }
        }
    }
    Ok(())
}

/// Stores `schema` as the descriptor of its table.
pub(crate) fn put_schema(store: &mut WriteStore, schema: &EntityDescriptor) -> Result<()> {
    let json =
        serde_json::to_vec(schema).map_err(|e| Error::Storage(StorageError::wrap("cannot serialize a schema", e)))?;
    store.put(META, schema_key(&schema.table).as_bytes(), &json)?;
    bump_generation(store)
}

/// Removes the stored descriptor of `table`.
pub(crate) fn remove_schema(store: &mut WriteStore, table: &str) -> Result<()> {
    if store.remove(META, schema_key(table).as_bytes())? {
        bump_generation(store)?;
    }
    Ok(())
}

/// The schema generation: how many times the stored descriptors changed (0 in a file
/// written before it was counted, or with none).
pub(crate) fn schema_generation(store: &dyn ReadAccess) -> Result<u64> {
    Ok(match store.get(META, GENERATION_KEY)? {
        Some(g) => g.bytes().try_into().map(u64::from_be_bytes).unwrap_or(0),
        None => 0,
    })
}

fn bump_generation(store: &mut WriteStore) -> Result<()> {
    let next = schema_generation(store)?.wrapping_add(1);
    store.put(META, GENERATION_KEY, &next.to_be_bytes()).map(drop)
}

/// Removes the auto_increment mark of `table`.
pub(crate) fn remove_sequence(store: &mut WriteStore, table: &str) -> Result<()> {
    store.remove(META, seq_key(table).as_bytes()).map(drop)
}

/// Records of applied migrations, oldest first.
pub(crate) fn history(store: &dyn ReadAccess) -> Result<Vec<Vec<u8>>> {
    let prefix = HISTORY_PREFIX.as_bytes();
    let hi = prefix_successor(prefix);
    let hi = hi.as_deref().map_or(Bound::Unbounded, Bound::Excluded);
    let mut out = Vec::new();
    for e in store.range(META, Bound::Included(prefix), hi)? {
        out.push(e?.1.bytes().to_vec());
    }
    Ok(out)
}

/// Appends a record of an applied migration under `history/<20-digit number>`.
pub(crate) fn push_history(store: &mut WriteStore, record: &[u8]) -> Result<()> {
    let n = history(store)?.len();
    store.put(META, format!("{HISTORY_PREFIX}{n:020}").as_bytes(), record).map(drop)
}

/// The stored auto_increment mark of `table` (0 when there is none).
pub(crate) fn sequence(store: &dyn ReadAccess, table: &str) -> Result<u64> {
    Ok(match store.get(META, seq_key(table).as_bytes())? {
        Some(g) => g.bytes().try_into().map(u64::from_be_bytes).unwrap_or(0),
        None => 0,
    })
}

/// Stores the auto_increment mark of `table`: 8 bytes big-endian.
pub(crate) fn set_sequence(store: &mut WriteStore, table: &str, high: u64) -> Result<()> {
    store.put(META, seq_key(table).as_bytes(), &high.to_be_bytes()).map(drop)
}
