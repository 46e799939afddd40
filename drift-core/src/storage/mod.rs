//! Transactions over byte tables as the rest of drift-core sees them: the engine
//! chosen when the database was opened (see [`crate::engine`] for the contract), and,
//! above it, the undo log that makes each statement and savepoint all or nothing
//! without aborting the whole transaction. Nothing here depends on which engine runs.
//!
//! Every write made through [`WriteStore`] is recorded in the undo log: the table,
//! the key and the value it replaced. [`WriteStore::rollback_to`] writes the old
//! values back, newest first.

mod undo;

use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;

pub use crate::engine::Durability;
#[cfg(feature = "etcd")]
use crate::engine::etcd_engine::{EtcdEngine, EtcdRange, EtcdRead, EtcdWrite};
use crate::engine::redb_engine::{RedbEngine, RedbHandle, RedbInspector, RedbRange, RedbRead, RedbValue, RedbWrite};
use crate::engine::{Engine, EngineRead, EngineWrite};
pub(crate) use crate::engine::{TableId, Visit};
use crate::error::Result;
use undo::UndoLog;

/// The open store. One variant per engine.
pub(crate) enum Backend {
    Redb(RedbEngine),
    #[cfg(feature = "etcd")]
    Etcd(EtcdEngine),
}

/// A share of the open store, to start a transaction with (see
/// [`RedbHandle`] on why no lock is held while a writer waits).
pub(crate) enum Handle {
    Redb(RedbHandle),
    #[cfg(feature = "etcd")]
    Etcd(EtcdEngine),
}

/// An existing file opened without the right to change it, to check it first.
pub(crate) enum Inspector {
    Redb(RedbInspector),
}

impl Backend {
    /// Opens (or creates) a redb file, its page cache capped at `cache` bytes.
    pub(crate) fn open(path: &Path, cache: Option<usize>) -> Result<Backend> {
        RedbEngine::open(path, cache).map(Backend::Redb)
    }

    /// Opens (or initialises) the store kept by a redb storage backend, after `check`
    /// accepted a view of it that keeps writes in memory.
    pub(crate) fn open_backend(
        backend: impl crate::engine::redb_engine::StorageBackend,
        cache: Option<usize>,
        check: &dyn Fn(&Inspector) -> Result<()>,
    ) -> Result<Backend> {
        RedbEngine::open_backend(backend, cache, &|inspector| check(&Inspector::Redb(inspector))).map(Backend::Redb)
    }

    /// Connects to an etcd cluster and opens the database under `prefix`.
    #[cfg(feature = "etcd")]
    pub(crate) fn etcd(endpoints: &[String], prefix: &str) -> Result<Backend> {
        EtcdEngine::connect(endpoints, prefix).map(Backend::Etcd)
    }

    /// A fresh store in memory.
    pub(crate) fn in_memory() -> Result<Backend> {
        RedbEngine::in_memory().map(Backend::Redb)
    }

    /// Opens an existing file for checks that must not write to it; `None` when there
    /// is nothing to check.
    pub(crate) fn inspect(path: &Path, cache: Option<usize>) -> Result<Option<Inspector>> {
        Ok(RedbEngine::inspect(path, cache)?.map(Inspector::Redb))
    }

    pub(crate) fn handle(&self) -> Result<Handle> {
        match self {
            Backend::Redb(e) => e.handle().map(Handle::Redb),
            #[cfg(feature = "etcd")]
            Backend::Etcd(e) => Ok(Handle::Etcd(e.handle())),
        }
    }

    pub(crate) fn table_names(&self) -> Result<Vec<String>> {
        self.handle()?.table_names()
    }

    pub(crate) fn begin_read(&self, names: Arc<[String]>) -> Result<ReadStore> {
        self.handle()?.begin_read(names)
    }

    /// Leaves the file as it is when the store is dropped (no close, no write).
    pub(crate) fn abandon(&self) {
        match self {
            Backend::Redb(e) => e.abandon(),
            #[cfg(feature = "etcd")]
            Backend::Etcd(_) => {}
        }
    }

    /// Rewrites the file to reclaim free space; fails at once while a transaction is
    /// open or starting.
    pub(crate) fn compact(&mut self) -> Result<bool> {
        match self {
            Backend::Redb(e) => e.compact(),
            // etcd compacts its history and defragments on its own terms
            // (`etcdctl compact`, `etcdctl defrag`): nothing for Drift to rewrite.
            #[cfg(feature = "etcd")]
            Backend::Etcd(_) => Ok(false),
        }
    }
}

impl Handle {
    /// Whether other processes may write the same database meanwhile (etcd); a
    /// redb file is opened by one `Db` at a time.
    pub(crate) fn shared(&self) -> bool {
        match self {
            Handle::Redb(_) => false,
            #[cfg(feature = "etcd")]
            Handle::Etcd(_) => true,
        }
    }

    pub(crate) fn begin_read(&self, names: Arc<[String]>) -> Result<ReadStore> {
        match self {
            Handle::Redb(h) => Engine::begin_read(h, names).map(ReadStore::Redb),
            #[cfg(feature = "etcd")]
            Handle::Etcd(h) => Engine::begin_read(h, names).map(ReadStore::Etcd),
        }
    }

    /// A write transaction over the tables `names`; `prefetch` are keys it reads
    /// first (see [`Engine::begin_write`]).
    pub(crate) fn begin_write(&self, names: Arc<[String]>, prefetch: &[(TableId, &[u8])]) -> Result<WriteStore> {
        let txn = match self {
            Handle::Redb(h) => WriteTxn::Redb(Engine::begin_write(h, names, prefetch)?),
            #[cfg(feature = "etcd")]
            Handle::Etcd(h) => WriteTxn::Etcd(Box::new(Engine::begin_write(h, names, prefetch)?)),
        };
        Ok(WriteStore { txn, undo: UndoLog::default(), logging: true })
    }

    pub(crate) fn table_names(&self) -> Result<Vec<String>> {
        match self {
            Handle::Redb(h) => Engine::table_names(h),
            #[cfg(feature = "etcd")]
            Handle::Etcd(h) => Engine::table_names(h),
        }
    }
}

impl Inspector {
    pub(crate) fn table_names(&self) -> Result<Vec<String>> {
        match self {
            Inspector::Redb(i) => i.table_names(),
        }
    }

    pub(crate) fn begin_read(&self, names: Arc<[String]>) -> Result<ReadStore> {
        match self {
            Inspector::Redb(i) => i.begin_read(names).map(ReadStore::Redb),
        }
    }
}

/// A value (or key) read from a table, borrowed from its transaction.
pub(crate) enum Guard<'a> {
    Redb(RedbValue<'a>),
    #[cfg(feature = "etcd")]
    Owned(std::borrow::Cow<'a, [u8]>),
}

impl Guard<'_> {
    #[inline]
    pub(crate) fn bytes(&self) -> &[u8] {
        match self {
            Guard::Redb(v) => v.as_ref(),
            #[cfg(feature = "etcd")]
            Guard::Owned(v) => v,
        }
    }
}

/// The entries of a range of a table, in key order (reversible).
pub(crate) enum RawRange<'a> {
    Redb(RedbRange<'a>),
    #[cfg(feature = "etcd")]
    Etcd(EtcdRange<'a>),
}

fn pair<'a>(e: Result<(RedbValue<'a>, RedbValue<'a>)>) -> Result<(Guard<'a>, Guard<'a>)> {
    e.map(|(k, v)| (Guard::Redb(k), Guard::Redb(v)))
}

impl<'a> Iterator for RawRange<'a> {
    type Item = Result<(Guard<'a>, Guard<'a>)>;
    fn next(&mut self) -> Option<Self::Item> {
        match self {
            RawRange::Redb(r) => r.next().map(pair),
            #[cfg(feature = "etcd")]
            RawRange::Etcd(r) => r.next().map(owned_pair),
        }
    }
}

impl DoubleEndedIterator for RawRange<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        match self {
            RawRange::Redb(r) => r.next_back().map(pair),
            #[cfg(feature = "etcd")]
            RawRange::Etcd(r) => r.next_back().map(owned_pair),
        }
    }
}

#[cfg(feature = "etcd")]
type OwnedEntry<'a> = (std::borrow::Cow<'a, [u8]>, std::borrow::Cow<'a, [u8]>);

#[cfg(feature = "etcd")]
fn owned_pair(e: Result<OwnedEntry<'_>>) -> Result<(Guard<'_>, Guard<'_>)> {
    e.map(|(k, v)| (Guard::Owned(k), Guard::Owned(v)))
}

/// Writes back the values the undo log took, newest first.
fn restore<W: EngineWrite>(t: &mut W, entries: &undo::Taken) -> Result<()> {
    for (tid, key, old) in entries.iter().rev() {
        match old {
            Some(v) => t.put(*tid, key, v, &mut |_| {})?,
            None => t.remove(*tid, key, &mut |_| {})?,
        }
    }
    Ok(())
}

/// Reads shared by both kinds of transaction.
pub(crate) trait ReadAccess {
    fn get(&self, tid: TableId, key: &[u8]) -> Result<Option<Guard<'_>>>;
    fn range(&self, tid: TableId, lo: Bound<&[u8]>, hi: Bound<&[u8]>) -> Result<RawRange<'_>>;
    /// The number of entries of a table: from the engine when it knows, else counted.
    fn len(&self, tid: TableId) -> Result<u64>;
    /// Calls `f` with each entry of a range, borrowed, in key order (descending when
    /// `reverse`), until it returns `false` (see [`EngineRead::scan`]).
    fn scan(&self, tid: TableId, lo: Bound<&[u8]>, hi: Bound<&[u8]>, reverse: bool, f: &mut Visit<'_>) -> Result<()>;
    /// The entry with the greatest key.
    fn last(&self, tid: TableId) -> Result<Option<(Guard<'_>, Guard<'_>)>> {
        self.range(tid, Bound::Unbounded, Bound::Unbounded)?.next_back().transpose()
    }
}

/// The engine's answer to `len`, or a count of the table's entries.
fn len_of<E: EngineRead>(txn: &E, tid: TableId) -> Result<u64> {
    match txn.len(tid)? {
        Some(n) => Ok(n),
        None => {
            let mut n = 0;
            for e in txn.range(tid, Bound::Unbounded, Bound::Unbounded)? {
                e?;
                n += 1;
            }
            Ok(n)
        }
    }
}

/// A read transaction over byte tables.
pub(crate) enum ReadStore {
    Redb(RedbRead),
    #[cfg(feature = "etcd")]
    Etcd(EtcdRead),
}

impl ReadStore {
    /// How many bytes table `tid` takes, when the engine can tell.
    pub(crate) fn sizes(&self, tid: TableId) -> Result<Option<crate::engine::TableSizes>> {
        match self {
            ReadStore::Redb(t) => t.sizes(tid),
            #[cfg(feature = "etcd")]
            ReadStore::Etcd(t) => t.sizes(tid),
        }
    }
}

impl ReadAccess for ReadStore {
    fn get(&self, tid: TableId, key: &[u8]) -> Result<Option<Guard<'_>>> {
        match self {
            ReadStore::Redb(t) => Ok(t.get(tid, key)?.map(Guard::Redb)),
            #[cfg(feature = "etcd")]
            ReadStore::Etcd(t) => Ok(t.get(tid, key)?.map(Guard::Owned)),
        }
    }
    fn range(&self, tid: TableId, lo: Bound<&[u8]>, hi: Bound<&[u8]>) -> Result<RawRange<'_>> {
        match self {
            ReadStore::Redb(t) => t.range(tid, lo, hi).map(RawRange::Redb),
            #[cfg(feature = "etcd")]
            ReadStore::Etcd(t) => t.range(tid, lo, hi).map(RawRange::Etcd),
        }
    }
    fn len(&self, tid: TableId) -> Result<u64> {
        match self {
            ReadStore::Redb(t) => len_of(t, tid),
            #[cfg(feature = "etcd")]
            ReadStore::Etcd(t) => len_of(t, tid),
        }
    }
    fn scan(&self, tid: TableId, lo: Bound<&[u8]>, hi: Bound<&[u8]>, reverse: bool, f: &mut Visit<'_>) -> Result<()> {
        match self {
            ReadStore::Redb(t) => t.scan(tid, lo, hi, reverse, f),
            #[cfg(feature = "etcd")]
            ReadStore::Etcd(t) => t.scan(tid, lo, hi, reverse, f),
        }
    }
}

enum WriteTxn {
    Redb(RedbWrite),
    #[cfg(feature = "etcd")]
    Etcd(Box<EtcdWrite>),
}

/// A write transaction over byte tables, with an undo log.
pub(crate) struct WriteStore {
    txn: WriteTxn,
    undo: UndoLog,
    /// Whether writes are recorded; off for work that is all or nothing as a whole
    /// transaction (a migration), whose undo log would grow with the file.
    logging: bool,
}

/// A point in the undo log to roll back to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Mark(undo::Mark);

impl WriteStore {
    /// Writes `key -> value`, returning whether the key was present before.
    pub(crate) fn put(&mut self, tid: TableId, key: &[u8], value: &[u8]) -> Result<bool> {
        let WriteStore { txn, undo, logging } = self;
        let mut existed = false;
        let mut log = |old: Option<&[u8]>| {
            existed = old.is_some();
            if *logging {
                undo.record(tid, key, old);
            }
        };
        match txn {
            WriteTxn::Redb(t) => t.put(tid, key, value, &mut log)?,
            #[cfg(feature = "etcd")]
            WriteTxn::Etcd(t) => t.put(tid, key, value, &mut log)?,
        }
        Ok(existed)
    }

    /// Removes `key`, returning whether it was present.
    pub(crate) fn remove(&mut self, tid: TableId, key: &[u8]) -> Result<bool> {
        let WriteStore { txn, undo, logging } = self;
        let mut existed = false;
        let mut log = |old: &[u8]| {
            existed = true;
            if *logging {
                undo.record(tid, key, Some(old));
            }
        };
        match txn {
            WriteTxn::Redb(t) => t.remove(tid, key, &mut log)?,
            #[cfg(feature = "etcd")]
            WriteTxn::Etcd(t) => t.remove(tid, key, &mut log)?,
        }
        Ok(existed)
    }

    pub(crate) fn mark(&self) -> Mark {
        Mark(self.undo.mark())
    }

    /// Takes back every write made since `mark`, newest first.
    pub(crate) fn rollback_to(&mut self, mark: Mark) -> Result<()> {
        let entries = self.undo.split_off(mark.0);
        match &mut self.txn {
            WriteTxn::Redb(t) => restore(t, &entries),
            #[cfg(feature = "etcd")]
            WriteTxn::Etcd(t) => restore(&mut **t, &entries),
        }
    }

    /// Stops recording writes: from here on the transaction can only be taken back
    /// whole, by dropping it. No savepoint or statement rollback may follow.
    pub(crate) fn stop_logging(&mut self) {
        self.undo.clear();
        self.logging = false;
    }

    /// Deletes table `tid` with its entries (not undoable: call after
    /// [`WriteStore::stop_logging`]). Returns whether it existed.
    pub(crate) fn delete_table(&mut self, tid: TableId) -> Result<bool> {
        match &mut self.txn {
            WriteTxn::Redb(t) => t.delete_table(tid),
            #[cfg(feature = "etcd")]
            WriteTxn::Etcd(t) => t.delete_table(tid),
        }
    }

    /// Creates table `tid` when it is missing, so that read transactions find it.
    pub(crate) fn create_table(&mut self, tid: TableId) -> Result<()> {
        match &mut self.txn {
            // Opening a table in a write transaction creates it.
            WriteTxn::Redb(t) => t.len(tid).map(drop),
            #[cfg(feature = "etcd")]
            WriteTxn::Etcd(t) => t.touch(tid),
        }
    }

    /// Forgets the undo log (no savepoint can reach back past this point).
    pub(crate) fn forget_undo(&mut self) {
        self.undo.clear();
    }

    pub(crate) fn commit(self, durability: Durability) -> Result<()> {
        match self.txn {
            WriteTxn::Redb(t) => t.commit(durability),
            #[cfg(feature = "etcd")]
            WriteTxn::Etcd(t) => (*t).commit(durability),
        }
    }
}

impl ReadAccess for WriteStore {
    fn get(&self, tid: TableId, key: &[u8]) -> Result<Option<Guard<'_>>> {
        match &self.txn {
            WriteTxn::Redb(t) => Ok(t.get(tid, key)?.map(Guard::Redb)),
            #[cfg(feature = "etcd")]
            WriteTxn::Etcd(t) => Ok(t.get(tid, key)?.map(Guard::Owned)),
        }
    }
    fn range(&self, tid: TableId, lo: Bound<&[u8]>, hi: Bound<&[u8]>) -> Result<RawRange<'_>> {
        match &self.txn {
            WriteTxn::Redb(t) => t.range(tid, lo, hi).map(RawRange::Redb),
            #[cfg(feature = "etcd")]
            WriteTxn::Etcd(t) => t.range(tid, lo, hi).map(RawRange::Etcd),
        }
    }
    fn len(&self, tid: TableId) -> Result<u64> {
        match &self.txn {
            WriteTxn::Redb(t) => len_of(t, tid),
            #[cfg(feature = "etcd")]
            WriteTxn::Etcd(t) => len_of(&**t, tid),
        }
    }
    fn scan(&self, tid: TableId, lo: Bound<&[u8]>, hi: Bound<&[u8]>, reverse: bool, f: &mut Visit<'_>) -> Result<()> {
        match &self.txn {
            WriteTxn::Redb(t) => t.scan(tid, lo, hi, reverse, f),
            #[cfg(feature = "etcd")]
            WriteTxn::Etcd(t) => t.scan(tid, lo, hi, reverse, f),
        }
    }
}
