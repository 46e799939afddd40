//! The storage-engine contract: what drift-core needs from the key-value store under
//! it, and what it relies on. [`redb_engine`] implements it on redb (the one module
//! that names redb); everything above, from the undo log up, sees only this contract,
//! through the engine-neutral wrappers in [`crate::storage`].
//!
//! # Model
//! - **Tables**: named, each an ordered map from byte keys to byte values, ordered
//!   by unsigned bytewise comparison (`memcmp`). A transaction is given the names of
//!   the tables it may use ([`Engine::begin_read`]); a [`TableId`] is an index into
//!   that list. A table a write transaction opens is created when missing; a read of
//!   a table that does not exist is an error.
//! - **Read transactions** see one snapshot: the state after some commit, unchanged
//!   by later commits, for as long as they live. They never block a writer and a
//!   writer never blocks them.
//! - **Write transactions** see the last commit plus their own writes (read your
//!   writes, ranges included). [`EngineWrite::commit`] makes all of their writes
//!   visible at once, or none: it fails with [`Error::Conflict`] when the engine
//!   detects that another commit changed what the transaction read (an optimistic
//!   engine), and with [`Error::Storage`] on I/O failure. A dropped write
//!   transaction is rolled back. An engine may run one writer at a time (redb, by
//!   waiting in `begin_write`) or several that conflict at commit (etcd, TiKV); either
//!   way the outcome is serializable.
//! - **Durability** is chosen per commit ([`Durability`]).
//! - **Sizes**: [`EngineRead::len`] may answer `None` when counting a table is not
//!   cheap (a distributed engine); callers then count with a range.
//!
//! # What an implementor must guarantee
//! - `range(lo, hi)` yields exactly the keys within the bounds, in ascending order,
//!   and in descending order from the back (`DoubleEndedIterator`), each once.
//! - A value returned by `get` or `range` stays valid, unchanged, for as long as it
//!   is borrowed, even while the transaction writes more (write transactions hand out
//!   values only through `&self`, so the borrow rules ensure it).
//! - `put` and `remove` report the value they replaced, so that the undo log above
//!   can restore it; nothing else above depends on how a write is stored.
//! - No call panics on a damaged store: it returns [`Error::Storage`] (redb's adapter
//!   contains redb's panics, see [`redb_engine`]).
//!
//! # Keys of fixed width
//! The contract is over byte strings; an engine may store some tables with a fixed
//! key width (a `u64` key as 8 bytes compared as an integer) as long as the order is
//! the bytewise order of the encoded keys, which drift's key codec guarantees
//! (big-endian, sign bit flipped). The table list given to `begin_*` is where such a
//! per-table kind would be declared.
//!
//! [`Error::Conflict`]: crate::Error::Conflict
//! [`Error::Storage`]: crate::Error::Storage

#[cfg(feature = "etcd")]
pub(crate) mod etcd_engine;
pub(crate) mod redb_engine;

use std::ops::Bound;
use std::sync::Arc;

use crate::error::Result;

/// What [`EngineRead::scan`] calls with each entry (key, value); `false` stops.
pub(crate) type Visit<'f> = dyn FnMut(&[u8], &[u8]) -> Result<bool> + 'f;

/// The index of a table in the list a transaction was begun with.
pub(crate) type TableId = usize;

/// Durability of a write transaction's commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Durability {
    /// The commit is on disk when `commit` returns (fsync).
    #[default]
    Immediate,
    /// The commit is visible at once and consistent after a crash, but only
    /// persisted by a later immediate commit or [`Db::flush`](crate::Db::flush).
    None,
}

/// A store that starts transactions. Implemented by a cheap, shareable handle.
pub(crate) trait Engine {
    type Read: EngineRead;
    type Write: EngineWrite;

    /// A read transaction on the last commit, over the tables `names`.
    fn begin_read(&self, names: Arc<[String]>) -> Result<Self::Read>;

    /// A write transaction over the tables `names` (may wait for another writer).
    /// `prefetch` are keys it will read first: an engine whose reads are round trips
    /// may fetch them with its start.
    fn begin_write(&self, names: Arc<[String]>, prefetch: &[(TableId, &[u8])]) -> Result<Self::Write>;

    /// The names of all tables in the store.
    fn table_names(&self) -> Result<Vec<String>>;
}

/// Reads, on a snapshot or inside a write transaction.
pub(crate) trait EngineRead {
    /// A value (or key) borrowed from the transaction.
    type Value<'a>: AsRef<[u8]>
    where
        Self: 'a;
    /// The entries of a range, in order, reversible.
    type Range<'a>: DoubleEndedIterator<Item = Result<(Self::Value<'a>, Self::Value<'a>)>>
    where
        Self: 'a;

    fn get(&self, table: TableId, key: &[u8]) -> Result<Option<Self::Value<'_>>>;

    fn range<'a>(&'a self, table: TableId, lo: Bound<&[u8]>, hi: Bound<&[u8]>) -> Result<Self::Range<'a>>;

    /// The number of entries, when the engine knows it without counting.
    fn len(&self, table: TableId) -> Result<Option<u64>>;

    /// Calls `f` with each entry of a range, in ascending key order (descending when
    /// `reverse`), until `f` returns `false` or fails. The entries are borrowed for the
    /// call only, so an engine can hand them out without moving them through iterator
    /// layers; this is how queries read many rows. The default walks [`range`](Self::range).
    fn scan(&self, table: TableId, lo: Bound<&[u8]>, hi: Bound<&[u8]>, reverse: bool, f: &mut Visit<'_>) -> Result<()> {
        let mut range = self.range(table, lo, hi)?;
        loop {
            let entry = if reverse { range.next_back() } else { range.next() };
            let Some(entry) = entry else { return Ok(()) };
            let (k, v) = entry?;
            if !f(k.as_ref(), v.as_ref())? {
                return Ok(());
            }
        }
    }

    /// How many bytes the table takes, when the engine can tell.
    fn sizes(&self, table: TableId) -> Result<Option<TableSizes>> {
        let _ = table;
        Ok(None)
    }
}

/// How many bytes a table takes in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TableSizes {
    /// Keys and values.
    pub stored: u64,
    /// The engine's own structures (tree pages, headers).
    pub metadata: u64,
    /// Allocated but unused.
    pub fragmented: u64,
}

/// Writes, inside a write transaction.
pub(crate) trait EngineWrite: EngineRead + Sized {
    /// Writes `key -> value`; `replaced` is called once with the value it replaced
    /// (`None` when the key was new).
    fn put(&mut self, table: TableId, key: &[u8], value: &[u8], replaced: &mut dyn FnMut(Option<&[u8]>)) -> Result<()>;

    /// Removes `key`; `removed` is called once with its value when it was present.
    fn remove(&mut self, table: TableId, key: &[u8], removed: &mut dyn FnMut(&[u8])) -> Result<()>;

    /// Deletes table `table` and its entries; returns whether it existed. The table
    /// is created again, empty, if the transaction uses it afterwards.
    fn delete_table(&mut self, table: TableId) -> Result<bool>;

    /// Makes every write visible at once, persisted as `durability` says.
    fn commit(self, durability: Durability) -> Result<()>;
}
