//! Read and write transactions.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use crate::catalog::{self, EntityInfo, RelInfo};
use crate::codec::KeyCodec;
use crate::entity::{Entity, Field};
use crate::error::{Error, Result};
use crate::message::shorten;
use crate::operand::IntoOperand;
use crate::read::keys_with_prefix;
use crate::read::{self, Reader};
use crate::row::fk_error;
use crate::row::{entity_name, render_key};
use crate::schema::OnDelete;
use crate::shared::Shared;
use crate::stats::{Counters, TxStats};
use crate::storage::{Durability, ReadAccess, ReadStore, WriteStore};

/// The longest encoded primary key, and the longest encoded values of an index entry
/// (a non-unique entry adds the primary key), that a write accepts: 1 KiB. Longer
/// keys fail with [`Error::KeyTooLarge`]. Keys are compared on every B-tree step and
/// repeated in every index entry, so a long one costs on every read.
pub const MAX_KEY_LEN: usize = 1024;

/// The longest encoded row that a write accepts: 16 MiB. Longer rows fail with
/// [`Error::RowTooLarge`]. Rows are read whole, so larger values belong in a file
/// of their own.
pub const MAX_ROW_LEN: usize = 16 << 20;

/// The reads that both kinds of transaction offer.
macro_rules! read_methods {
    () => {
        /// The row of `T` with primary key `key`, if any.
        ///
        /// # Errors
        /// [`Error::UnknownEntity`] when `T` is not registered, [`Error::Decode`]
        /// when the stored row cannot be decoded, [`Error::Storage`].
        pub fn get<T: Entity>(&self, key: &T::Key) -> Result<Option<T>> {
            self.reader().get(key)
        }

        /// The row of `T` whose unique field `field` equals `value`, if any.
        ///
        /// # Errors
        /// [`Error::NoUniqueIndex`] when `field` has no unique index, and as
        /// [`get`](Self::get).
        pub fn get_by<T: Entity, V: KeyCodec>(
            &self,
            field: Field<T, V>,
            value: impl IntoOperand<V>,
        ) -> Result<Option<T>> {
            self.reader().get_by(field, value)
        }

        /// The storage work this transaction has done so far.
        #[must_use]
        pub fn stats(&self) -> TxStats {
            self.counters.snapshot()
        }
    };
}

/// A read-only transaction on a consistent snapshot. Never blocks the writer.
pub struct ReadTx {
    shared: Arc<Shared>,
    store: ReadStore,
    counters: Counters,
    cache_epoch: Option<u64>,
}

impl std::fmt::Debug for ReadTx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadTx").field("stats", &self.counters.snapshot()).finish_non_exhaustive()
    }
}

impl ReadTx {
    pub(crate) fn new(shared: Arc<Shared>, store: ReadStore, cache_epoch: Option<u64>) -> Self {
        ReadTx { shared, store, counters: Counters::default(), cache_epoch }
    }

    pub(crate) fn reader(&self) -> Reader<'_> {
        let cache = self.shared.cache.as_ref().zip(self.cache_epoch).map(|(c, e)| c.view(e, true));
        Reader {
            store: &self.store,
            catalog: &self.shared.catalog,
            counters: &self.counters,
            cache,
            dirty: &[],
            planner: &self.shared.planner,
            strict: self.shared.strict_loading,
        }
    }

    read_methods!();
}

/// The auto-increment state of one entity within a write transaction.
#[derive(Debug, Clone, Copy)]
struct Sequence {
    /// The highest key handed out or seen.
    high: u64,
    dirty: bool,
}

/// The writes a cascade makes in an entity it does not name, captured when the
/// entity is registered.
#[derive(Clone, Copy)]
pub(crate) struct WriteOps {
    /// Removes one row and its index entries; whether there was one.
    pub(crate) delete_row: fn(&mut WriteTx, &[u8]) -> Result<bool>,
    /// Sets the key of relation `rel` of one row to `None`.
    pub(crate) set_null: fn(&mut WriteTx, &[u8], usize) -> Result<()>,
}

impl WriteOps {
    pub(crate) fn of<T: Entity>() -> WriteOps {
        WriteOps { delete_row: WriteTx::delete_row_erased::<T>, set_null: WriteTx::set_null_erased::<T> }
    }
}

/// A point in a write transaction to roll back to.
#[derive(Debug, Clone, Copy)]
struct TxMark {
    store: crate::storage::Mark,
    sequences: usize,
}

/// A write transaction. Commit with [`WriteTx::commit`]; dropping it rolls back.
pub struct WriteTx {
    shared: Arc<Shared>,
    ops: Arc<[WriteOps]>,
    pub(crate) store: WriteStore,
    counters: Counters,
    durability: Durability,
    sequences: Vec<Option<Sequence>>,
    /// For each change to `sequences` since the last statement that could be rolled
    /// back to: the entity and its sequence before the change.
    sequence_undo: Vec<(usize, Option<Sequence>)>,
    depth: u32,
    poisoned: bool,
    guard: RollbackGuard,
    /// The cache epoch of this transaction's snapshot, when it may use the cache.
    cache_epoch: Option<u64>,
    /// Per entity: whether this transaction updated or deleted one of its rows.
    dirty: Vec<bool>,
    /// Rows updated or deleted, to drop from the cache at commit.
    changed: Vec<(u32, Vec<u8>)>,
    /// `restrict` relations to check when the current delete statement ends.
    restricts: Vec<RestrictCheck>,
    /// Scratch buffers reused by every statement; `bufs.key` keeps the last
    /// statement's key for error messages.
    bufs: Buffers,
}

impl std::fmt::Debug for WriteTx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteTx").field("stats", &self.counters.snapshot()).finish_non_exhaustive()
    }
}

/// Scratch space of a write transaction: the encoded key, row, index entries, and
/// where each index entry ends in `index`.
#[derive(Default)]
struct Buffers {
    key: Vec<u8>,
    row: Vec<u8>,
    index: Vec<u8>,
    ends: Vec<usize>,
}

/// A deleted row that a `restrict` relation protected: its children must be gone by
/// the end of the delete statement.
struct RestrictCheck {
    entity: &'static str,
    key: String,
    child: usize,
    child_name: &'static str,
    source: crate::catalog::Source,
    prefix: Vec<u8>,
    field: String,
}

/// Counts a rollback when a write transaction ends without commit.
struct RollbackGuard {
    inner: Arc<Shared>,
    armed: bool,
}

impl Drop for RollbackGuard {
    fn drop(&mut self) {
        if self.armed {
            self.inner.rollbacks.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl WriteTx {
    pub(crate) fn new(shared: Arc<Shared>, ops: Arc<[WriteOps]>, store: WriteStore) -> Self {
        let n = shared.catalog.entities.len();
        let guard_inner = Arc::clone(&shared);
        let cache_epoch = shared.cache.as_ref().and_then(crate::cache::EntityCache::writer_epoch);
        let durability = shared.durability;
        WriteTx {
            shared,
            ops,
            store,
            counters: Counters::default(),
            durability,
            sequences: vec![None; n],
            sequence_undo: Vec::new(),
            depth: 0,
            poisoned: false,
            guard: RollbackGuard { inner: guard_inner, armed: true },
            cache_epoch,
            dirty: vec![false; n],
            changed: Vec::new(),
            restricts: Vec::new(),
            bufs: Buffers {
                key: Vec::with_capacity(64),
                row: Vec::with_capacity(256),
                index: Vec::with_capacity(128),
                ends: Vec::with_capacity(8),
            },
        }
    }

    pub(crate) fn reader(&self) -> Reader<'_> {
        let cache = self.shared.cache.as_ref().zip(self.cache_epoch).map(|(c, e)| c.view(e, false));
        Reader {
            store: &self.store,
            catalog: &self.shared.catalog,
            counters: &self.counters,
            cache,
            dirty: &self.dirty,
            planner: &self.shared.planner,
            strict: self.shared.strict_loading,
        }
    }

    read_methods!();

    /// Sets how this transaction's commit is persisted.
    pub fn set_durability(&mut self, durability: Durability) {
        self.durability = durability;
    }

    /// Commits every write of the transaction atomically.
    ///
    /// # Errors
    /// [`Error::Poisoned`] after an unrecoverable failure, [`Error::Storage`] when
    /// the commit fails (nothing is then committed).
    pub fn commit(mut self) -> Result<()> {
        if self.poisoned {
            return Err(Error::Poisoned);
        }
        self.write_sequences()?;
        let wrote = self.counters.writes.get() > 0;
        let WriteTx { shared, store, durability, mut guard, changed, .. } = self;
        match shared.cache.as_ref().filter(|_| wrote) {
            Some(cache) => {
                cache.begin_commit();
                let r = store.commit(durability);
                cache.end_commit(&changed);
                r?;
            }
            None => store.commit(durability)?,
        }
        guard.armed = false;
        shared.commits.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Rolls the transaction back (the same as dropping it).
    pub fn rollback(self) {}

    /// Runs `f` as a nested unit: when it returns `Err`, exactly the writes made
    /// inside it are taken back and the error is returned; the transaction stays
    /// usable. Savepoints nest.
    ///
    /// # Errors
    /// The closure's error, or [`Error::Storage`] when the rollback fails.
    pub fn savepoint<R>(&mut self, f: impl FnOnce(&mut WriteTx) -> Result<R>) -> Result<R> {
        self.check_usable()?;
        self.depth += 1;
        let r = self.atomically(f);
        self.depth -= 1;
        if self.depth == 0 {
            self.forget_undo();
        }
        r
    }

    fn check_usable(&self) -> Result<()> {
        if self.poisoned { Err(Error::Poisoned) } else { Ok(()) }
    }

    /// A point to roll back to: the storage undo log and the sequence changes.
    fn mark(&self) -> TxMark {
        TxMark { store: self.store.mark(), sequences: self.sequence_undo.len() }
    }

    /// Takes back every write and sequence change made since `mark`.
    fn undo_to(&mut self, mark: TxMark) -> Result<()> {
        while self.sequence_undo.len() > mark.sequences {
            if let Some((ordinal, before)) = self.sequence_undo.pop() {
                self.sequences[ordinal] = before;
            }
        }
        if let Err(e) = self.store.rollback_to(mark.store) {
            self.poisoned = true;
            return Err(e);
        }
        Ok(())
    }

    /// Forgets what could be rolled back: no statement or savepoint is open.
    fn forget_undo(&mut self) {
        self.store.forget_undo();
        self.sequence_undo.clear();
    }

    /// Runs `f` so that it takes effect whole or not at all: on `Err` and on a panic
    /// (which then continues) everything it wrote is taken back first.
    fn atomically<R>(&mut self, f: impl FnOnce(&mut Self) -> Result<R>) -> Result<R> {
        let mark = self.mark();
        match std::panic::catch_unwind(AssertUnwindSafe(|| f(self))) {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => {
                self.undo_to(mark)?;
                Err(e)
            }
            Err(panic) => {
                // Were the undo itself to fail, the transaction is poisoned and
                // cannot commit: nothing half-done is ever committed.
                let _ = self.undo_to(mark);
                std::panic::resume_unwind(panic)
            }
        }
    }

    /// Runs one statement: all of it or, on error, none of it.
    fn statement<R>(&mut self, f: impl FnOnce(&mut Self) -> Result<R>) -> Result<R> {
        self.check_usable()?;
        let r = self.atomically(f);
        if self.depth == 0 {
            self.forget_undo();
        }
        r
    }

    fn inner(&self) -> Arc<Shared> {
        Arc::clone(&self.shared)
    }

    /// Inserts a new row and returns its key. When the entity has an
    /// `auto_increment` key and it is 0, the next key of the sequence is assigned.
    ///
    /// # Errors
    /// [`Error::Validation`] listing every broken `validate` rule,
    /// [`Error::AlreadyExists`] when the key is taken, [`Error::UniqueViolation`]
    /// when a unique index already holds one of the values, [`Error::Key`] for a
    /// value that cannot be a key (NaN), [`Error::KeyTooLarge`] and
    /// [`Error::RowTooLarge`] over [`MAX_KEY_LEN`] and [`MAX_ROW_LEN`]. On error
    /// nothing is written and the transaction stays usable.
    pub fn insert<T: Entity>(&mut self, entity: &T) -> Result<T::Key> {
        let inner = self.inner();
        let info = read::info::<T>(&inner.catalog)?;
        let r = self.statement(|tx| {
            validate(entity)?;
            tx.insert_in(info, entity)
        });
        self.with_context::<T, _>("insert", r)
    }

    /// Replaces the stored row that has the entity's key.
    ///
    /// # Errors
    /// [`Error::Validation`], [`Error::NotFound`] when there is no such row, and as
    /// [`insert`](Self::insert). On error nothing is written.
    pub fn update<T: Entity>(&mut self, entity: &T) -> Result<()> {
        let inner = self.inner();
        let info = read::info::<T>(&inner.catalog)?;
        let r = self.statement(|tx| {
            validate(entity)?;
            tx.update_in(info, entity, false).map(|_| ())
        });
        self.with_context::<T, _>("update", r)
    }

    /// Inserts the entity, or replaces the row with its key. Returns the key.
    ///
    /// # Errors
    /// As [`insert`](Self::insert) and [`update`](Self::update).
    pub fn upsert<T: Entity>(&mut self, entity: &T) -> Result<T::Key> {
        let inner = self.inner();
        let info = read::info::<T>(&inner.catalog)?;
        let r = self.statement(|tx| {
            validate(entity)?;
            if entity.__auto_key() == Some(0) {
                return tx.insert_in(info, entity);
            }
            match tx.update_in(info, entity, true)? {
                true => Ok(entity.key()),
                false => tx.insert_in(info, entity),
            }
        });
        self.with_context::<T, _>("upsert", r)
    }

    /// Deletes the rows of `T` with the encoded `keys`, with each row's `on_delete`
    /// rules, as one statement: all of them or, on error, none. Returns how many
    /// rows were deleted (a key with no row counts for nothing).
    pub(crate) fn delete_keys<T: Entity>(&mut self, keys: &[Vec<u8>]) -> Result<u64> {
        let inner = self.inner();
        let info = read::info::<T>(&inner.catalog)?;
        self.bufs.key.clear();
        let r = self.statement(|tx| {
            tx.restricts.clear();
            let mut n = 0;
            let r = (|| {
                for k in keys {
                    if tx.delete_in::<T>(info, k)?.is_some() {
                        n += 1;
                    }
                }
                tx.check_restricts()
            })();
            tx.restricts.clear();
            r.map(|()| n)
        });
        self.with_context::<T, _>("delete_where", r)
    }

    /// Deletes the row with `key` and returns it, or `None` when there was none.
    ///
    /// # Errors
    /// [`Error::Decode`] when the stored row cannot be decoded (its index entries
    /// could not be found), [`Error::Storage`].
    pub fn delete<T: Entity>(&mut self, key: &T::Key) -> Result<Option<T>> {
        let inner = self.inner();
        let info = read::info::<T>(&inner.catalog)?;
        let r = self.statement(|tx| {
            let mut kbuf = std::mem::take(&mut tx.bufs.key);
            kbuf.clear();
            tx.restricts.clear();
            let r = crate::row::encode_key::<T>(key, &mut kbuf)
                .and_then(|()| tx.delete_in::<T>(info, &kbuf))
                .and_then(|row| tx.check_restricts().map(|()| row));
            tx.restricts.clear();
            tx.bufs.key = kbuf;
            r
        });
        self.with_context::<T, _>("delete", r)
    }

    /// Names the statement, entity and key in a storage error (the statement has
    /// left its encoded key in `kbuf`, or nothing when it failed before encoding it).
    fn with_context<T: Entity, R>(&self, statement: &str, r: Result<R>) -> Result<R> {
        r.map_err(|e| match e {
            Error::Storage(e) => {
                let what = if self.bufs.key.is_empty() {
                    format!("{statement} of {}", entity_name::<T>())
                } else {
                    format!("{statement} of {} with key {}", entity_name::<T>(), render_key::<T>(&self.bufs.key))
                };
                Error::Storage(e.during(&what))
            }
            other => other,
        })
    }

    /// Runs `f` with the scratch buffers taken out of `self` (so that `f` can borrow
    /// both), then puts them back.
    fn with_buffers<R>(&mut self, f: impl FnOnce(&mut Self, &mut Buffers) -> R) -> R {
        let mut bufs = std::mem::take(&mut self.bufs);
        let r = f(self, &mut bufs);
        self.bufs = bufs;
        r
    }

    fn insert_in<T: Entity>(&mut self, info: &EntityInfo, entity: &T) -> Result<T::Key> {
        self.with_buffers(|tx, bufs| tx.insert_with(info, entity, bufs))
    }

    fn insert_with<T: Entity>(&mut self, info: &EntityInfo, entity: &T, bufs: &mut Buffers) -> Result<T::Key> {
        let Buffers { key: kbuf, row: rbuf, index: ibuf, ends: iends } = bufs;
        let name = entity_name::<T>();
        kbuf.clear();
        let mut assigned = None;
        let mut explicit = None;
        match entity.__auto_key() {
            Some(0) => {
                let next = self.next_sequence::<T>(info)?;
                next.encode_key(kbuf).map_err(|source| key_error(entity, &next, source))?;
                assigned = Some(next);
            }
            Some(k) => {
                entity.__encode_key(kbuf).map_err(|source| key_error(entity, &entity.key(), source))?;
                explicit = Some(k);
            }
            None => entity.__encode_key(kbuf).map_err(|source| key_error(entity, &entity.key(), source))?,
        }
        // An index or foreign key that holds the assigned key must see it, not the 0.
        let keyed;
        let entity = match assigned {
            Some(next) if info.key_in_index => {
                let mut e = entity.clone();
                e.__set_auto_key(next);
                keyed = e;
                &keyed
            }
            _ => entity,
        };
        check_key_len(entity, kbuf)?;
        Counters::bump(&self.counters.gets);
        if self.store.get(info.table, kbuf)?.is_some() {
            return Err(Error::AlreadyExists { entity: name, key: render_key::<T>(kbuf) });
        }
        encode_row(entity, kbuf, rbuf)?;
        self.encode_indexes(info, entity, kbuf, ibuf, iends)?;
        check_index_lens::<T>(info, kbuf, iends)?;
        self.check_unique(info, entity, kbuf, ibuf, iends, None)?;
        self.check_foreign_keys(info, entity, kbuf, None)?;
        self.store.put(info.table, kbuf, rbuf)?;
        let mut start = 0;
        for (i, &end) in iends.iter().enumerate() {
            let value: &[u8] = if info.schema.indexes[i].unique { kbuf } else { &[] };
            if end > start {
                self.store.put(info.indexes[i], &ibuf[start..end], value)?;
            }
            start = end;
        }
        self.counters.writes.set(self.counters.writes.get() + 1 + iends.len() as u64);
        // The sequence moves only once the row is written, so a failed insert neither
        // uses up a key nor raises the mark past a key that was never stored.
        if let Some(next) = assigned {
            self.set_sequence(info.ordinal, Sequence { high: next, dirty: true });
        }
        if let Some(k) = explicit {
            self.observe_sequence(info, k)?;
        }
        T::Key::from_key_bytes(kbuf).map_err(|e| Error::Decode {
            entity: name,
            key: crate::message::hex(kbuf),
            reason: e.to_string(),
        })
    }

    /// Encodes every index entry of `entity` into `ibuf`, entry `i` ending at
    /// `iends[i]`: the values for a unique index, values then key otherwise.
    fn encode_indexes<T: Entity>(
        &self,
        info: &EntityInfo,
        entity: &T,
        kbuf: &[u8],
        ibuf: &mut Vec<u8>,
        iends: &mut Vec<usize>,
    ) -> Result<()> {
        ibuf.clear();
        iends.clear();
        for (i, idx) in info.schema.indexes.iter().enumerate() {
            entity.__encode_index(i, ibuf).map_err(|source| Error::Key {
                entity: entity_name::<T>(),
                field: entity.__failing_key_field(Some(i)).unwrap_or_else(|| index_field::<T>(i)),
                key: render_key::<T>(kbuf),
                source,
            })?;
            if !idx.unique {
                ibuf.extend_from_slice(kbuf);
            }
            if let Some(fields) = &info.nullable[i] {
                let start = iends.last().copied().unwrap_or(0);
                if has_none::<T>(&ibuf[start..], fields) {
                    ibuf.truncate(start); // no entry: `None`s do not collide
                }
            }
            iends.push(ibuf.len());
        }
        Ok(())
    }

    /// Fails when a unique index entry of the new row is held by another row.
    /// `old` holds the row's previous entries: unchanged ones are not checked.
    fn check_unique<T: Entity>(
        &self,
        info: &EntityInfo,
        entity: &T,
        kbuf: &[u8],
        ibuf: &[u8],
        iends: &[usize],
        old: Option<(&[u8], &[usize])>,
    ) -> Result<()> {
        let mut start = 0;
        for (i, &end) in iends.iter().enumerate() {
            let entry = &ibuf[start..end];
            let old_entry = old.map(|(ob, oe)| &ob[if i == 0 { 0 } else { oe[i - 1] }..oe[i]]);
            start = end;
            if !info.schema.indexes[i].unique || old_entry == Some(entry) || entry.is_empty() {
                continue;
            }
            Counters::bump(&self.counters.gets);
            if let Some(holder) = self.store.get(info.indexes[i], entry)? {
                if holder.bytes() != kbuf {
                    return Err(Error::UniqueViolation {
                        entity: entity_name::<T>(),
                        index: index_name::<T>(i),
                        value: shorten(entity.__describe_index(i)),
                        key: render_key::<T>(kbuf),
                        existing_key: render_key::<T>(holder.bytes()),
                    });
                }
            }
        }
        Ok(())
    }

    /// Replaces the row; returns `false` (writing nothing) when it does not exist
    /// and `missing_ok`, else fails with `NotFound`.
    fn update_in<T: Entity>(&mut self, info: &EntityInfo, entity: &T, missing_ok: bool) -> Result<bool> {
        self.with_buffers(|tx, bufs| tx.update_with(info, entity, missing_ok, bufs))
    }

    fn update_with<T: Entity>(
        &mut self,
        info: &EntityInfo,
        entity: &T,
        missing_ok: bool,
        bufs: &mut Buffers,
    ) -> Result<bool> {
        let Buffers { key: kbuf, row: rbuf, index: ibuf, ends: iends } = bufs;
        let name = entity_name::<T>();
        kbuf.clear();
        entity.__encode_key(kbuf).map_err(|source| key_error(entity, &entity.key(), source))?;
        check_key_len(entity, kbuf)?;
        Counters::bump(&self.counters.gets);
        let old: Option<T> = match self.store.get(info.table, kbuf)? {
            None if missing_ok => return Ok(false),
            None => {
                return Err(Error::NotFound { entity: name, key: render_key::<T>(kbuf) });
            }
            Some(_) if info.indexes.is_empty() => None,
            Some(row) => Some(crate::row::decode(&self.counters, kbuf, row.bytes())?),
        };
        encode_row(entity, kbuf, rbuf)?;
        let (mut obuf, mut oends) = (Vec::new(), Vec::new());
        if let Some(old) = &old {
            self.encode_indexes(info, old, kbuf, &mut obuf, &mut oends)?;
        }
        self.encode_indexes(info, entity, kbuf, ibuf, iends)?;
        check_index_lens::<T>(info, kbuf, iends)?;
        self.check_unique(info, entity, kbuf, ibuf, iends, Some((&obuf, &oends)))?;
        self.check_foreign_keys(info, entity, kbuf, old.as_ref())?;
        self.store.put(info.table, kbuf, rbuf)?;
        self.note_changed(info, kbuf);
        let mut writes = 1;
        let mut start = 0;
        for (i, &end) in iends.iter().enumerate() {
            let entry = &ibuf[start..end];
            let old_entry = &obuf[if i == 0 { 0 } else { oends[i - 1] }..oends[i]];
            start = end;
            if old_entry == entry {
                continue;
            }
            if !old_entry.is_empty() {
                self.store.remove(info.indexes[i], old_entry)?;
            }
            let value: &[u8] = if info.schema.indexes[i].unique { kbuf } else { &[] };
            if !entry.is_empty() {
                self.store.put(info.indexes[i], entry, value)?;
            }
            writes += 2;
        }
        self.counters.writes.set(self.counters.writes.get() + writes);
        Ok(true)
    }

    /// Deletes the row with key `kbuf` and applies the `on_delete` rules of the rows
    /// that refer to it; returns the row, or `None` when there was none.
    fn delete_in<T: Entity>(&mut self, info: &EntityInfo, kbuf: &[u8]) -> Result<Option<T>> {
        let old = self.delete_row::<T>(info, kbuf)?;
        if old.is_some() && (!info.inbound.is_empty() || !info.foreign_inbound.is_empty()) {
            self.cascade_from(info.ordinal, kbuf)?;
        }
        Ok(old)
    }

    /// Removes the row with key `kbuf` and its index entries, and nothing else.
    fn delete_row<T: Entity>(&mut self, info: &EntityInfo, kbuf: &[u8]) -> Result<Option<T>> {
        Counters::bump(&self.counters.gets);
        let old: T = match self.store.get(info.table, kbuf)? {
            None => return Ok(None),
            Some(row) => crate::row::decode(&self.counters, kbuf, row.bytes())?,
        };
        let (mut obuf, mut oends) = (Vec::new(), Vec::new());
        self.encode_indexes(info, &old, kbuf, &mut obuf, &mut oends)?;
        let mut start = 0;
        for (i, &end) in oends.iter().enumerate() {
            if end > start {
                self.store.remove(info.indexes[i], &obuf[start..end])?;
            }
            start = end;
        }
        self.store.remove(info.table, kbuf)?;
        self.note_changed(info, kbuf);
        self.counters.writes.set(self.counters.writes.get() + 1 + oends.len() as u64);
        Ok(Some(old))
    }

    /// Applies the `on_delete` rules of every row that refers to the deleted row
    /// (entity `ordinal`, key `key`), and of the rows those delete in turn. A work
    /// list instead of recursion: a chain of any depth runs in constant stack, and
    /// each row is deleted, and its children looked up, once (a deleted row is no
    /// longer found). `restrict` relations are recorded and checked when the whole
    /// statement has run, so that a row its cascade removes does not restrict it.
    fn cascade_from(&mut self, ordinal: usize, key: &[u8]) -> Result<()> {
        let inner = self.inner();
        let catalog = &inner.catalog;
        let mut pending: Vec<(usize, Vec<u8>)> = vec![(ordinal, key.to_vec())];
        while let Some((ordinal, key)) = pending.pop() {
            let info = &catalog.entities[ordinal];
            self.refuse_unregistered(info, &key)?;
            for inb in &info.inbound {
                let child = &catalog.entities[inb.child];
                let prefix = crate::catalog::child_prefix(&key, inb.optional);
                let keys = keys_with_prefix(&self.reader(), child, inb.source, &prefix)?;
                if keys.is_empty() {
                    continue;
                }
                match inb.on_delete {
                    OnDelete::SetNull => {
                        for ck in keys {
                            (self.ops[inb.child].set_null)(self, &ck, inb.rel)?;
                        }
                    }
                    OnDelete::Cascade => {
                        for ck in keys {
                            if (self.ops[inb.child].delete_row)(self, &ck)? {
                                pending.push((inb.child, ck));
                            }
                        }
                    }
                    _ => {
                        let schema: &'static crate::schema::EntityDescriptor = child.schema;
                        let pschema: &'static crate::schema::EntityDescriptor = info.schema;
                        self.restricts.push(RestrictCheck {
                            entity: &pschema.name,
                            key: (info.vtable.render_key)(&key),
                            child: inb.child,
                            child_name: &schema.name,
                            source: inb.source,
                            prefix: prefix.to_vec(),
                            field: inb.field.clone(),
                        });
                    }
                }
            }
        }
        Ok(())
    }

    /// Fails when a row of an entity stored in the file but not registered in this
    /// process refers to the deleted row (entity `info`, key `key`): `restrict` fails
    /// as usual; `cascade` and `set_null` cannot be applied to rows this process cannot
    /// decode, so the delete is refused, naming the entity to register.
    fn refuse_unregistered(&self, info: &EntityInfo, key: &[u8]) -> Result<()> {
        for f in &info.foreign_inbound {
            let prefix = crate::catalog::child_prefix(key, f.optional);
            let count = crate::read::count_with_prefix(&self.store, f.table, &prefix)?;
            if count == 0 {
                continue;
            }
            let pschema: &'static crate::schema::EntityDescriptor = info.schema;
            let key = (info.vtable.render_key)(key);
            if f.on_delete == OnDelete::Restrict && f.exact {
                return Err(Error::Restrict {
                    entity: &pschema.name,
                    key,
                    child: crate::message::intern(&f.child),
                    field: f.field.clone(),
                    count,
                });
            }
            return Err(Error::Unregistered {
                entity: &pschema.name,
                key,
                child: f.child.clone(),
                field: f.field.clone(),
                on_delete: f.on_delete,
            });
        }
        Ok(())
    }

    /// Fails with `ForeignKey` when a `belongs_to` key of `entity` names no parent.
    /// Keys unchanged since `old` are not checked again.
    fn check_foreign_keys<T: Entity>(&self, info: &EntityInfo, entity: &T, kbuf: &[u8], old: Option<&T>) -> Result<()> {
        for (ri, rel) in info.relations.iter().enumerate() {
            let RelInfo::BelongsTo { parent } = rel else { continue };
            let mut fk = Vec::with_capacity(16);
            if !entity.__belongs_to_key(ri, &mut fk).map_err(|s| fk_error::<T>(ri, kbuf, s))? {
                continue;
            }
            if let Some(old) = old {
                let mut ofk = Vec::with_capacity(16);
                if old.__belongs_to_key(ri, &mut ofk).unwrap_or(false) && ofk == fk {
                    continue;
                }
            }
            let pinfo = &self.shared.catalog.entities[*parent];
            if pinfo.ordinal == info.ordinal && fk == kbuf {
                continue; // a row that is its own parent
            }
            Counters::bump(&self.counters.gets);
            if self.store.get(pinfo.table, &fk)?.is_none() {
                let schema: &'static crate::schema::EntityDescriptor = pinfo.schema;
                let rschema: &'static crate::schema::EntityDescriptor = T::SCHEMA;
                return Err(Error::ForeignKey {
                    entity: entity_name::<T>(),
                    field: rschema.relations[ri].key.join(", "),
                    key: render_key::<T>(kbuf),
                    parent: &schema.name,
                    parent_key: (pinfo.vtable.render_key)(&fk),
                });
            }
        }
        Ok(())
    }

    /// Fails with `Restrict` when a row that a `restrict` relation protects still has
    /// children now that the delete and its cascades have run.
    fn check_restricts(&mut self) -> Result<()> {
        let inner = self.inner();
        let checks = std::mem::take(&mut self.restricts);
        for c in &checks {
            let child = &inner.catalog.entities[c.child];
            let left = keys_with_prefix(&self.reader(), child, c.source, &c.prefix)?;
            if !left.is_empty() {
                return Err(Error::Restrict {
                    entity: c.entity,
                    key: c.key.clone(),
                    child: c.child_name,
                    field: c.field.clone(),
                    count: left.len() as u64,
                });
            }
        }
        Ok(())
    }

    /// Removes one row of `T` and its index entries (its own children are the
    /// caller's to visit); returns whether there was one.
    pub(crate) fn delete_row_erased<T: Entity>(tx: &mut WriteTx, key: &[u8]) -> Result<bool> {
        let inner = tx.inner();
        let info = read::info::<T>(&inner.catalog)?;
        tx.delete_row::<T>(info, key).map(|row| row.is_some())
    }

    pub(crate) fn set_null_erased<T: Entity>(tx: &mut WriteTx, key: &[u8], rel: usize) -> Result<()> {
        let inner = tx.inner();
        let info = read::info::<T>(&inner.catalog)?;
        Counters::bump(&tx.counters.gets);
        let row = match tx.store.get(info.table, key)? {
            Some(row) => row.bytes().to_vec(),
            None => return Ok(()),
        };
        let mut row: T = crate::row::decode(&tx.counters, key, &row)?;
        row.__set_null(rel);
        tx.update_in(info, &row, false).map(drop)
    }

    /// Records that a stored row changed, so that cached copies are dropped at commit
    /// and this transaction stops reading the entity through the cache.
    fn note_changed(&mut self, info: &EntityInfo, kbuf: &[u8]) {
        if self.shared.cache.is_some() {
            self.dirty[info.ordinal] = true;
            self.changed.push((u32::try_from(info.ordinal).unwrap_or(u32::MAX), kbuf.to_vec()));
        }
    }

    /// Sets the sequence of entity `ordinal`, remembering the old one so that a
    /// failed statement or savepoint restores it.
    fn set_sequence(&mut self, ordinal: usize, s: Sequence) {
        let before = self.sequences[ordinal].replace(s);
        self.sequence_undo.push((ordinal, before));
    }

    fn sequence(&mut self, info: &EntityInfo) -> Result<Sequence> {
        if let Some(s) = self.sequences[info.ordinal] {
            return Ok(s);
        }
        let key = format!("{}{}", catalog::SEQ_PREFIX, info.schema.table);
        let stored = match self.store.get(catalog::META, key.as_bytes())? {
            Some(g) => u64::from_key_bytes(g.bytes()).unwrap_or(0),
            None => 0,
        };
        let last = match self.store.last(info.table)? {
            Some((k, _)) => u64::from_key_bytes(k.bytes()).unwrap_or(0),
            None => 0,
        };
        let s = Sequence { high: stored.max(last), dirty: false };
        self.set_sequence(info.ordinal, s);
        Ok(s)
    }

    /// The key the next auto-increment insert gets (taken by the insert once written).
    fn next_sequence<T: Entity>(&mut self, info: &EntityInfo) -> Result<u64> {
        let s = self.sequence(info)?;
        let next = s.high.checked_add(1).ok_or_else(|| Error::Key {
            entity: entity_name::<T>(),
            field: key_fields::<T>().first().map_or("id", |f| &**f),
            key: "0 (to be assigned)".into(),
            source: crate::codec::KeyError::Invalid { ty: "u64", reason: "the auto_increment sequence is exhausted" },
        })?;
        Ok(next)
    }

    /// Raises the sequence to `key`, a key now written.
    fn observe_sequence(&mut self, info: &EntityInfo, key: u64) -> Result<()> {
        let s = self.sequence(info)?;
        if key > s.high {
            self.set_sequence(info.ordinal, Sequence { high: key, dirty: true });
        }
        Ok(())
    }

    fn write_sequences(&mut self) -> Result<()> {
        let inner = self.inner();
        for info in &inner.catalog.entities {
            if let Some(Sequence { high, dirty: true }) = self.sequences[info.ordinal] {
                let key = format!("{}{}", catalog::SEQ_PREFIX, info.schema.table);
                self.store.put(catalog::META, key.as_bytes(), &high.to_be_bytes())?;
                self.set_sequence(info.ordinal, Sequence { high, dirty: false });
            }
        }
        Ok(())
    }
}

fn index_name<T: Entity>(i: usize) -> &'static str {
    let schema: &'static crate::schema::EntityDescriptor = T::SCHEMA;
    &schema.indexes[i].name
}

fn index_field<T: Entity>(i: usize) -> &'static str {
    let schema: &'static crate::schema::EntityDescriptor = T::SCHEMA;
    schema.indexes[i].fields.first().map_or("index", |f| &**f)
}

fn key_fields<T: Entity>() -> &'static [crate::schema::Text] {
    let schema: &'static crate::schema::EntityDescriptor = T::SCHEMA;
    &schema.primary_key
}

/// The primary key of `entity`, shown as `key`, could not be encoded.
fn key_error<T: Entity>(entity: &T, key: &dyn std::fmt::Debug, source: crate::codec::KeyError) -> Error {
    let field = entity.__failing_key_field(None).or_else(|| key_fields::<T>().first().map(|f| &**f));
    Error::Key { entity: entity_name::<T>(), field: field.unwrap_or("id"), key: shorten(format!("{key:?}")), source }
}

/// Runs the entity's validation rules.
fn validate<T: Entity>(entity: &T) -> Result<()> {
    entity.validate().map_err(Error::Validation)
}

fn check_key_len<T: Entity>(entity: &T, kbuf: &[u8]) -> Result<()> {
    if kbuf.len() <= MAX_KEY_LEN {
        return Ok(());
    }
    Err(Error::KeyTooLarge {
        entity: entity_name::<T>(),
        index: None,
        field: key_fields::<T>().join(", "),
        key: shorten(format!("{:?}", entity.key())),
        len: kbuf.len(),
        max: MAX_KEY_LEN,
    })
}

/// Checks the indexed values of each entry (without the primary key that a
/// non-unique entry ends with) against [`MAX_KEY_LEN`].
fn check_index_lens<T: Entity>(info: &EntityInfo, kbuf: &[u8], iends: &[usize]) -> Result<()> {
    let mut start = 0;
    for (i, &end) in iends.iter().enumerate() {
        let idx = &info.schema.indexes[i];
        // A unique entry with a `None` is empty (not written), hence the saturation.
        let len = (end - start).saturating_sub(if idx.unique { 0 } else { kbuf.len() });
        start = end;
        if len > MAX_KEY_LEN {
            return Err(Error::KeyTooLarge {
                entity: entity_name::<T>(),
                index: Some(index_name::<T>(i)),
                field: idx.fields.join(", "),
                key: render_key::<T>(kbuf),
                len,
                max: MAX_KEY_LEN,
            });
        }
    }
    Ok(())
}

/// Encodes the row into `rbuf`, within [`MAX_ROW_LEN`].
fn encode_row<T: Entity>(entity: &T, kbuf: &[u8], rbuf: &mut Vec<u8>) -> Result<()> {
    rbuf.clear();
    let r = entity.__encode_row(rbuf);
    let len = rbuf.len();
    if len > MAX_ROW_LEN {
        // Do not keep a huge buffer around for the next statement.
        *rbuf = Vec::with_capacity(256);
    }
    r.map_err(|reason| Error::Encode { entity: entity_name::<T>(), key: render_key::<T>(kbuf), reason })?;
    if len > MAX_ROW_LEN {
        return Err(Error::RowTooLarge {
            entity: entity_name::<T>(),
            key: render_key::<T>(kbuf),
            len,
            max: MAX_ROW_LEN,
        });
    }
    Ok(())
}

/// Whether an encoded unique-index entry holds a `None` in one of its `Option`
/// fields (`fields`: position, is an `Option`, in index order).
fn has_none<T: Entity>(mut entry: &[u8], fields: &[(usize, bool)]) -> bool {
    for &(pos, optional) in fields {
        if optional && entry.first() == Some(&0) {
            return true;
        }
        if T::__skip_field(pos, &mut entry).is_err() {
            return false;
        }
    }
    false
}
