//! Reads shared by read and write transactions.

use std::any::TypeId;
use std::ops::Bound;

use crate::cache::CacheView;
use crate::catalog::{Catalog, EntityInfo, Source};
use crate::codec::{KeyCodec, prefix_successor};
use crate::entity::{Entity, Field};
use crate::error::{Error, Result};
use crate::message::hex;
use crate::operand::IntoOperand;
use crate::row::{decode, encode_key, entity_name, render_key};
use crate::stats::Counters;
use crate::storage::{ReadAccess, TableId};

/// What a read needs from its transaction (opaque outside the crate).
#[doc(hidden)]
#[derive(Clone, Copy)]
pub struct Reader<'a> {
    pub(crate) store: &'a dyn ReadAccess,
    pub(crate) catalog: &'a Catalog,
    pub(crate) counters: &'a Counters,
    /// The cache, when this transaction may use it.
    pub(crate) cache: Option<CacheView<'a>>,
    /// Entities this (write) transaction has changed: their cached rows may be stale.
    pub(crate) dirty: &'a [bool],
    /// Planner statistics of the database.
    pub(crate) planner: &'a crate::query::stats::PlannerStats,
    /// Lazy loads are refused (`Db::builder().strict_loading(true)`).
    pub(crate) strict: bool,
    /// The record of query shapes of the database.
    pub(crate) workload: &'a crate::query::workload::Workload,
}

impl std::fmt::Debug for Reader<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reader")
            .field("cached", &self.cache.is_some())
            .field("strict", &self.strict)
            .finish_non_exhaustive()
    }
}

std::thread_local! {
    /// A buffer to encode a looked-up key into, per thread.
    static KEY_BUF: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
}

/// The largest key buffer kept for the next get.
const KEY_BUF_KEEP: usize = 1024;

/// This thread's key buffer, taken out while in use (a get nested inside starts a
/// fresh one). A new buffer once the thread-local is destroyed: a get may run from
/// another thread-local's destructor, after this one's.
fn take_key_buf() -> Vec<u8> {
    KEY_BUF.try_with(std::cell::Cell::take).unwrap_or_default()
}

/// Puts a key buffer back for the next get, unless it grew large.
fn keep_key_buf(buf: Vec<u8>) {
    if buf.capacity() <= KEY_BUF_KEEP {
        let _ = KEY_BUF.try_with(|cell| cell.set(buf));
    }
}

pub(crate) fn info<T: Entity>(catalog: &Catalog) -> Result<&EntityInfo> {
    catalog.get(TypeId::of::<T>()).ok_or_else(|| Error::UnknownEntity { entity: entity_name::<T>() })
}

impl Reader<'_> {
    pub(crate) fn get<T: Entity>(&self, key: &T::Key) -> Result<Option<T>> {
        let info = info::<T>(self.catalog)?;
        // The key is encoded into this thread's buffer, taken out while in use (a get
        // nested inside would start a fresh one): no allocation per get.
        let mut kbuf = take_key_buf();
        kbuf.clear();
        let found = match encode_key::<T>(key, &mut kbuf) {
            Ok(()) => self.get_raw(info, &kbuf),
            Err(e) => Err(e),
        };
        keep_key_buf(kbuf);
        found
    }

    /// The cache view usable for rows of `info`, if any.
    fn cache_for(&self, info: &EntityInfo) -> Option<CacheView<'_>> {
        self.cache.filter(|_| !self.dirty.get(info.ordinal).copied().unwrap_or(false))
    }

    /// The row with stored key `kbuf`, from the cache when it holds a row valid for
    /// this snapshot, else from storage (and offered to the cache).
    pub(crate) fn get_raw<T: Entity>(&self, info: &EntityInfo, kbuf: &[u8]) -> Result<Option<T>> {
        self.get_raw_with(info, kbuf, true)
    }

    /// [`get_raw`](Self::get_raw) for a row met by a scan (an index range of a query,
    /// the children of an eager load): served from the cache when there, never
    /// put in it, so that a scan does not evict the rows that gets keep hot.
    pub(crate) fn get_scanned<T: Entity>(&self, info: &EntityInfo, kbuf: &[u8]) -> Result<Option<T>> {
        self.get_raw_with(info, kbuf, false)
    }

    fn get_raw_with<T: Entity>(&self, info: &EntityInfo, kbuf: &[u8], fill: bool) -> Result<Option<T>> {
        let cache = self.cache_for(info);
        let ordinal = u32::try_from(info.ordinal).unwrap_or(u32::MAX);
        let miss = match cache.map(|c| c.get::<T>(ordinal, kbuf)) {
            Some(Ok(hit)) => {
                Counters::bump(&self.counters.cache_hits);
                return Ok(Some(hit));
            }
            Some(Err(miss)) => Some(miss),
            None => None,
        };
        Counters::bump(&self.counters.gets);
        match self.store.get(info.table, kbuf)? {
            Some(row) => {
                let row: T = decode(self.counters, kbuf, row.bytes())?;
                if let (Some(c), Some(miss), true) = (cache, miss, fill) {
                    c.offer(ordinal, kbuf, miss, &row);
                }
                Ok(Some(row))
            }
            None => Ok(None),
        }
    }

    pub(crate) fn get_by<T: Entity, V: KeyCodec>(
        &self,
        field: Field<T, V>,
        value: impl IntoOperand<V>,
    ) -> Result<Option<T>> {
        let info = info::<T>(self.catalog)?;
        let schema = info.schema;
        let Some(i) =
            schema.indexes.iter().position(|idx| idx.unique && idx.fields.len() == 1 && idx.fields[0] == field.name)
        else {
            return Err(Error::NoUniqueIndex { entity: entity_name::<T>(), field: field.name });
        };
        let value = value.into_operand();
        // The looked-up value is encoded into this thread's key buffer (as in `get`),
        // and the primary key is used where the index entry holds it: no allocation.
        let mut ibuf = take_key_buf();
        ibuf.clear();
        let found = self.get_by_encoded::<T, V>(info, i, field, &value, &mut ibuf);
        keep_key_buf(ibuf);
        found
    }

    fn get_by_encoded<T: Entity, V: KeyCodec>(
        &self,
        info: &EntityInfo,
        i: usize,
        field: Field<T, V>,
        value: &V,
        ibuf: &mut Vec<u8>,
    ) -> Result<Option<T>> {
        value.encode_key(ibuf).map_err(|source| Error::Key {
            entity: entity_name::<T>(),
            field: field.name,
            key: "(lookup operand)".into(),
            source,
        })?;
        Counters::bump(&self.counters.gets);
        let Some(pk) = self.store.get(info.indexes[i], ibuf)? else {
            return Ok(None);
        };
        match self.get_raw(info, pk.bytes())? {
            Some(e) => Ok(Some(e)),
            None => Err(Error::Decode {
                entity: entity_name::<T>(),
                key: render_key::<T>(pk.bytes()),
                reason: format!("unique index `{}` points at a missing row", field.name),
            }),
        }
    }
}

/// Primary keys of the rows of entity `target` whose leading fields on `source`
/// equal the encoded `prefix`.
pub(crate) fn keys_with_prefix(
    reader: &Reader<'_>,
    target: &EntityInfo,
    source: Source,
    prefix: &[u8],
) -> Result<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    for_each_key_with_prefix(reader, target, source, prefix, &mut |pk| {
        out.push(pk.to_vec());
        Ok(())
    })?;
    Ok(out)
}

/// Calls `f` with the primary key (borrowed) of each row of entity `target` whose
/// leading fields on `source` equal the encoded `prefix`, in the order of `source`.
pub(crate) fn for_each_key_with_prefix(
    reader: &Reader<'_>,
    target: &EntityInfo,
    source: Source,
    prefix: &[u8],
    f: &mut dyn FnMut(&[u8]) -> Result<()>,
) -> Result<()> {
    Counters::bump(&reader.counters.index_scans);
    let hi = prefix_successor(prefix);
    let lo = Bound::Included(prefix);
    let hi = hi.as_deref().map_or(Bound::Unbounded, Bound::Excluded);
    let (tid, unique, index) = match source {
        Source::Table => (target.table, false, None),
        Source::Index(i, u) => (target.indexes[i], u, Some(i)),
    };
    reader.store.scan(tid, lo, hi, false, &mut |k, v| {
        let pk = match (index, unique) {
            (None, _) => k,
            (Some(_), true) => v,
            (Some(i), false) => {
                let mut rest = k;
                (target.vtable.skip_index)(i, &mut rest).map_err(|err| Error::Decode {
                    entity: "index",
                    key: hex(k),
                    reason: format!("index entry of {}: {err}", target.schema.name),
                })?;
                rest
            }
        };
        f(pk)?;
        Ok(true)
    })
}

/// How many keys of table `tid` start with `prefix`.
pub(crate) fn count_with_prefix(store: &dyn ReadAccess, tid: TableId, prefix: &[u8]) -> Result<u64> {
    let hi = prefix_successor(prefix);
    let hi = hi.as_deref().map_or(Bound::Unbounded, Bound::Excluded);
    let mut n = 0;
    for e in store.range(tid, Bound::Included(prefix), hi)? {
        e?;
        n += 1;
    }
    Ok(n)
}
