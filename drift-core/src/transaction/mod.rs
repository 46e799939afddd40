//! Read and write transactions: snapshots, statements, savepoints and commit. The
//! write path is split by concern into the submodules.

mod changes;
mod checks;
mod on_delete;
mod sequence;
mod write;

use on_delete::RestrictCheck;
pub(crate) use on_delete::WriteOps;
use sequence::Sequence;
pub(crate) use write::has_none;
pub use write::{MAX_KEY_LEN, MAX_ROW_LEN};

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use crate::changes::{ChangeMark, ChangeSet};
use crate::codec::KeyCodec;
use crate::entity::{Entity, Field};
use crate::error::{Error, Result};
use crate::operand::IntoOperand;
use crate::read::Reader;
use crate::row::{entity_name, render_key};
use crate::shared::Shared;
use crate::stats::{Counters, TxStats};
use crate::storage::{Durability, ReadStore, WriteStore};

/// The reads that both kinds of transaction offer; `$begin` is the `Db` method that
/// starts this kind (for the examples).
macro_rules! read_methods {
    ($begin:literal) => {
        /// The row of `T` with primary key `key`, if any.
        ///
        /// ```
        /// # use drift::prelude::*;
        /// # #[derive(Entity, Debug, Clone, PartialEq, Default)]
        /// # struct Task { #[drift(primary_key)] id: u64, title: String }
        /// let db = Db::builder().entity::<Task>().in_memory()?;
        /// db.write(|tx| tx.insert(&Task { id: 1, title: "docs".into() }))?;
        #[doc = concat!("let tx = db.", $begin, "()?;")]
        /// assert_eq!(tx.get::<Task>(&1)?, Some(Task { id: 1, title: "docs".into() }));
        /// assert_eq!(tx.get::<Task>(&2)?, None);
        /// # Ok::<(), drift::Error>(())
        /// ```
        ///
        /// # Errors
        /// [`Error::UnknownEntity`] when `T` is not registered, [`Error::Decode`]
        /// when the stored row cannot be decoded, [`Error::Storage`].
        pub fn get<T: Entity>(&self, key: &T::Key) -> Result<Option<T>> {
            self.reader().get(key)
        }

        /// The row of `T` whose unique field `field` equals `value`, if any.
        ///
        /// ```
        /// # use drift::prelude::*;
        /// # #[derive(Entity, Debug, Clone, PartialEq, Default)]
        /// # struct User { #[drift(primary_key)] id: u64, #[drift(unique)] email: String }
        /// let db = Db::builder().entity::<User>().in_memory()?;
        /// db.write(|tx| tx.insert(&User { id: 1, email: "ann@x.io".into() }))?;
        #[doc = concat!("let tx = db.", $begin, "()?;")]
        /// let ann = tx.get_by::<User, _>(User::EMAIL, "ann@x.io")?;
        /// assert_eq!(ann.map(|u| u.id), Some(1));
        /// assert_eq!(tx.get_by::<User, _>(User::EMAIL, "bob@x.io")?, None);
        /// # Ok::<(), drift::Error>(())
        /// ```
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
        ///
        /// ```
        /// # use drift::prelude::*;
        /// # #[derive(Entity, Debug, Clone, PartialEq, Default)]
        /// # struct Task { #[drift(primary_key)] id: u64 }
        /// let db = Db::builder().entity::<Task>().cache_capacity(0).in_memory()?;
        /// db.write(|tx| tx.insert(&Task { id: 1 }))?;
        #[doc = concat!("let tx = db.", $begin, "()?;")]
        /// tx.get::<Task>(&1)?;
        /// tx.get::<Task>(&2)?;
        /// assert_eq!(tx.stats().gets, 2);
        /// assert_eq!(tx.stats().rows_decoded, 1);
        /// # Ok::<(), drift::Error>(())
        /// ```
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

    #[inline]
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
            workload: &self.shared.workload,
        }
    }

    read_methods!("begin_read");
}

/// A point in a write transaction to roll back to.
#[derive(Debug, Clone, Copy)]
struct TxMark {
    store: crate::storage::Mark,
    sequences: usize,
    changes: ChangeMark,
}

/// A write transaction. Commit with [`WriteTx::commit`]; dropping it rolls back.
pub struct WriteTx {
    shared: Arc<Shared>,
    ops: Arc<[WriteOps]>,
    /// What the stored descriptors this transaction saw add to the catalog.
    links: Arc<crate::catalog::StoredLinks>,
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
    /// Every row this transaction changed, in order.
    changes: ChangeSet,
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
    pub(crate) fn new(
        shared: Arc<Shared>,
        ops: Arc<[WriteOps]>,
        store: WriteStore,
        links: Arc<crate::catalog::StoredLinks>,
    ) -> Self {
        let n = shared.catalog.entities.len();
        let guard_inner = Arc::clone(&shared);
        let cache_epoch = shared.cache.as_ref().and_then(crate::cache::EntityCache::writer_epoch);
        let durability = shared.durability;
        WriteTx {
            shared,
            ops,
            links,
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
            changes: ChangeSet::default(),
            restricts: Vec::new(),
            bufs: Buffers {
                key: Vec::with_capacity(64),
                row: Vec::with_capacity(256),
                index: Vec::with_capacity(128),
                ends: Vec::with_capacity(8),
            },
        }
    }

    #[inline]
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
            workload: &self.shared.workload,
        }
    }

    read_methods!("begin_write");

    /// Sets how this transaction's commit is persisted.
    ///
    /// ```
    /// # use drift::prelude::*;
    /// # #[derive(Entity, Debug, Clone, PartialEq, Default)]
    /// # struct Task { #[drift(primary_key)] id: u64 }
    /// let db = Db::builder().entity::<Task>().in_memory()?;
    /// let mut tx = db.begin_write()?;
    /// tx.set_durability(Durability::None); // no fsync for this commit
    /// tx.insert(&Task { id: 1 })?;
    /// tx.commit()?;
    /// assert_eq!(db.read(|tx| tx.get::<Task>(&1))?, Some(Task { id: 1 }));
    /// # Ok::<(), drift::Error>(())
    /// ```
    pub fn set_durability(&mut self, durability: Durability) {
        self.durability = durability;
    }

    /// Commits every write of the transaction atomically.
    ///
    /// ```
    /// # use drift::prelude::*;
    /// # #[derive(Entity, Debug, Clone, PartialEq, Default)]
    /// # struct Task { #[drift(primary_key)] id: u64 }
    /// let db = Db::builder().entity::<Task>().in_memory()?;
    /// let mut tx = db.begin_write()?;
    /// tx.insert(&Task { id: 1 })?;
    /// tx.insert(&Task { id: 2 })?;
    /// assert_eq!(db.read(|r| r.query::<Task>().count())?, 0); // not yet visible
    /// tx.commit()?;
    /// assert_eq!(db.read(|r| r.query::<Task>().count())?, 2);
    /// # Ok::<(), drift::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Poisoned`] after an unrecoverable failure, [`Error::Storage`] when
    /// the commit fails (nothing is then committed).
    pub fn commit(mut self) -> Result<()> {
        if self.poisoned {
            return Err(Error::Poisoned);
        }
        self.write_sequences()?;
        // Only a commit that changed rows can make a cached row stale.
        let wrote = !self.changes.is_empty();
        let WriteTx { shared, store, durability, mut guard, changes, .. } = self;
        // Commits that changed rows are published in the order they were made.
        let order = wrote.then(|| shared.watch.commit_order());
        match shared.cache.as_ref().filter(|_| wrote) {
            Some(cache) => {
                cache.begin_commit();
                let r = store.commit(durability);
                cache.end_commit(&changes);
                r?;
            }
            None => store.commit(durability)?,
        }
        guard.armed = false;
        shared.commits.fetch_add(1, Ordering::Relaxed);
        #[cfg(feature = "tracing")]
        tracing::debug!(target: "drift::commit", changes = changes.len(), "commit");
        let wakes = wrote.then(|| shared.watch.publish(changes));
        drop(order);
        if let Some(w) = wakes {
            w.run();
        }
        Ok(())
    }

    /// Rolls the transaction back (the same as dropping it).
    ///
    /// ```
    /// # use drift::prelude::*;
    /// # #[derive(Entity, Debug, Clone, PartialEq, Default)]
    /// # struct Task { #[drift(primary_key)] id: u64 }
    /// let db = Db::builder().entity::<Task>().in_memory()?;
    /// let mut tx = db.begin_write()?;
    /// tx.insert(&Task { id: 1 })?;
    /// tx.rollback();
    /// assert_eq!(db.read(|tx| tx.get::<Task>(&1))?, None);
    /// # Ok::<(), drift::Error>(())
    /// ```
    pub fn rollback(self) {}

    /// Runs `f` as a nested unit: when it returns `Err`, exactly the writes made
    /// inside it are taken back and the error is returned; the transaction stays
    /// usable. Savepoints nest.
    ///
    /// ```
    /// # use drift::prelude::*;
    /// # #[derive(Entity, Debug, Clone, PartialEq, Default)]
    /// # struct Task { #[drift(primary_key)] id: u64 }
    /// let db = Db::builder().entity::<Task>().in_memory()?;
    /// db.write(|tx| {
    ///     tx.insert(&Task { id: 1 })?;
    ///     let undone = tx.savepoint(|tx| {
    ///         tx.insert(&Task { id: 2 })?;
    ///         tx.insert(&Task { id: 1 }) // fails: the key is taken
    ///     });
    ///     assert_eq!(undone.unwrap_err().kind(), drift::ErrorKind::AlreadyExists);
    ///     tx.insert(&Task { id: 3 })
    /// })?;
    /// assert_eq!(db.read(|tx| tx.query::<Task>().keys())?, [1, 3]);
    /// # Ok::<(), drift::Error>(())
    /// ```
    ///
    /// # Errors
    /// The closure's error, or [`Error::Storage`] when the rollback fails.
    pub fn savepoint<R>(&mut self, f: impl FnOnce(&mut WriteTx) -> Result<R>) -> Result<R> {
        self.check_usable()?;
        self.depth += 1;
        // The depth comes down on a panic too: a caller that catches it keeps a
        // transaction whose undo log is cleared after each statement again.
        let r = std::panic::catch_unwind(AssertUnwindSafe(|| self.atomically(f)));
        self.depth -= 1;
        if self.depth == 0 {
            self.forget_undo();
        }
        r.unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    }

    fn check_usable(&self) -> Result<()> {
        if self.poisoned { Err(Error::Poisoned) } else { Ok(()) }
    }

    /// A point to roll back to: the storage undo log and the sequence changes.
    fn mark(&self) -> TxMark {
        TxMark { store: self.store.mark(), sequences: self.sequence_undo.len(), changes: self.changes.mark() }
    }

    /// Takes back every write and sequence change made since `mark`.
    fn undo_to(&mut self, mark: TxMark) -> Result<()> {
        self.changes.undo_to(mark.changes);
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
}
