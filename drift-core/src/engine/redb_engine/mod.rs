//! The redb engine: the one module that names redb. It implements the contract of
//! [`crate::engine`] on byte tables (`&[u8] -> &[u8]`), opens each table once per
//! transaction, and keeps redb's failures inside `Result`s.
//!
//! redb asserts on some damaged files (a corrupt allocator state, found by the
//! `open_file` fuzz target) instead of returning an error. Every call into it runs
//! under [`engine`], which turns such a panic into [`Error::Storage`] and marks the
//! database damaged: from then on every transaction of it fails at once, since
//! redb's in-memory state can no longer be trusted. Its values are dropped under
//! [`Quiet`], as their drops then panic too (on a lock poisoned by the first panic);
//! those of a damaged database are leaked instead, as redb's close can panic twice
//! on a damaged file, which aborts the process (the file then stays locked until the
//! process exits).

mod overlay;
mod releasable;

use std::cell::OnceCell;
use std::ops::Bound;
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use redb::{ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};

use super::{Durability, Engine, EngineRead, EngineWrite, TableId, Visit};
use releasable::Release;

use crate::error::{Error, Result, StorageError};
/// redb's storage trait and backends, re-exported at the crate root for
/// [`DbBuilder::open_backend`](crate::DbBuilder::open_backend).
pub use redb::StorageBackend;
pub use redb::backends;

type Raw = &'static [u8];
type Def<'a> = TableDefinition<'a, Raw, Raw>;

fn storage<E: std::error::Error + Send + Sync + 'static>(context: &'static str) -> impl FnOnce(E) -> Error {
    move |e| Error::Storage(StorageError::wrap(context, e))
}

/// Set once the storage engine panicked: the database is then refused.
type Damaged = Arc<AtomicBool>;

/// Runs a call into redb; a panic becomes an error and marks the database damaged.
fn engine<R>(damaged: &AtomicBool, what: &str, f: impl FnOnce() -> Result<R>) -> Result<R> {
    if damaged.load(Ordering::Acquire) {
        return Err(Error::Storage(StorageError::new(
            "the database file is damaged: the storage engine failed on it earlier, and this handle refuses further work",
        )));
    }
    match std::panic::catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(payload) => {
            damaged.store(true, Ordering::Release);
            let detail = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            Err(Error::Storage(StorageError::new(format!(
                "the storage engine failed while {what}, the file is damaged: {detail}"
            ))))
        }
    }
}

/// Owns a redb value and drops it under `catch_unwind`: after redb panicked once,
/// its drops panic on a poisoned lock.
struct Quiet<T>(Option<T>);

impl<T> Quiet<T> {
    fn new(value: T) -> Self {
        Quiet(Some(value))
    }

    fn get(&self) -> Result<&T> {
        self.0.as_ref().ok_or_else(|| Error::Storage(StorageError::new("the transaction has ended")))
    }

    fn get_mut(&mut self) -> Result<&mut T> {
        self.0.as_mut().ok_or_else(|| Error::Storage(StorageError::new("the transaction has ended")))
    }

    fn take(&mut self) -> Result<T> {
        self.0.take().ok_or_else(|| Error::Storage(StorageError::new("the transaction has ended")))
    }
}

impl<T> Drop for Quiet<T> {
    fn drop(&mut self) {
        if let Some(value) = self.0.take() {
            quiet_drop(value);
        }
    }
}

fn quiet_drop<T>(value: T) {
    let _ = std::panic::catch_unwind(AssertUnwindSafe(move || drop(value)));
}

impl Drop for RedbEngine {
    fn drop(&mut self) {
        if self.damaged.load(Ordering::Acquire) {
            std::mem::forget(self.db.take());
            // The leaked database never touches its backend again: let go of the file
            // (its locks and its descriptor) now rather than when the process exits.
            if let Some(release) = &self.release {
                release.release();
            }
        }
    }
}

/// Drops each opened table on its own: were one drop to panic while a `Vec` of them
/// is dropped, the next one's panic would abort the process.
fn close_tables<T>(tables: &mut [OnceCell<T>]) {
    for cell in tables {
        if let Some(table) = cell.take() {
            quiet_drop(table);
        }
    }
}

/// The open database file (or memory region).
pub(crate) struct RedbEngine {
    db: Quiet<Arc<redb::Database>>,
    damaged: Damaged,
    /// Lets go of the file when the database is leaked (see [`releasable`]); `None`
    /// in memory.
    release: Option<Arc<dyn Release>>,
}

/// A share of the open database, to start a transaction with. Starting a write
/// transaction waits for the current writer: it does so through a handle, holding no
/// lock of the [`Db`](crate::Db), so that nothing (a compaction, a reader) ever
/// queues behind a waiting writer.
pub(crate) struct RedbHandle {
    db: Arc<redb::Database>,
    damaged: Damaged,
}

impl RedbEngine {
    /// Opens (or creates) the file at `path`; `cache` caps redb's page cache (read
    /// cache and write buffer) in bytes, redb's default when `None`.
    pub(crate) fn open(path: &Path, cache: Option<usize>) -> Result<RedbEngine> {
        let existed = path.metadata().map(|m| m.len() > 0).unwrap_or(false);
        let display = path.display().to_string();
        let file = std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path);
        let file = match file {
            Ok(file) => file,
            Err(io) if !existed => {
                return Err(Error::Storage(StorageError::wrap(&format!("cannot create {display}"), io)));
            }
            Err(io) => return Err(Error::Storage(StorageError::wrap(&format!("cannot open {display}"), io))),
        };
        let backend = redb::backends::FileBackend::new(file).map_err(storage("cannot open the database"))?;
        Self::create(backend, cache).map_err(|refusal| match refusal {
            Refusal::AlreadyOpen => {
                Error::Storage(StorageError::new(format!("{display} is already open in this process")))
            }
            Refusal::Io(io) if !existed => Error::Storage(StorageError::wrap(&format!("cannot create {display}"), io)),
            refusal if existed => Error::NotADatabase { path: display, reason: refusal.to_string() },
            refusal => Error::Storage(StorageError::new(format!("cannot open the database: {refusal}"))),
        })
    }

    /// Opens (or initialises) a database kept by `backend`, storage of the caller's
    /// (see [`DbBuilder::open_backend`](crate::DbBuilder::open_backend)). Storage that
    /// holds anything is first opened through an [`overlay::Overlay`] (writes kept in
    /// memory) and given to `check`: storage refused there, or by redb, is left as it
    /// was.
    pub(crate) fn open_backend(
        backend: impl StorageBackend,
        cache: Option<usize>,
        check: &dyn Fn(RedbInspector) -> Result<()>,
    ) -> Result<RedbEngine> {
        let refused = |refusal: Refusal| match refusal {
            Refusal::AlreadyOpen => Error::Storage(StorageError::new("the database is already open")),
            // redb reports storage that is not a redb database (a bad magic number) as
            // invalid data read; other I/O errors are the storage failing.
            Refusal::Io(io) if io.kind() != std::io::ErrorKind::InvalidData => {
                Error::Storage(StorageError::wrap("cannot open the database", io))
            }
            refusal => Error::NotADatabase { path: "(storage backend)".into(), reason: refusal.to_string() },
        };
        let (backend, release) = releasable::Releasable::new(backend);
        let holds_data = match redb::StorageBackend::len(&backend) {
            Ok(len) => len > 0,
            Err(io) => {
                release.release();
                return Err(Error::Storage(StorageError::wrap("cannot open the database", io)));
            }
        };
        if holds_data {
            let checked =
                overlay::Overlay::of_backend(backend.share()).map_err(|io| refused(Refusal::Io(io))).and_then(|view| {
                    let opened = std::panic::catch_unwind(AssertUnwindSafe(|| {
                        let mut builder = redb::Database::builder();
                        if let Some(bytes) = cache {
                            builder.set_cache_size(bytes);
                        }
                        builder.create_with_backend(view)
                    }));
                    match opened {
                        Ok(Ok(db)) => check(RedbInspector {
                            db: Quiet::new(Inspected::Repaired(db)),
                            damaged: Damaged::default(),
                        }),
                        Ok(Err(e)) => Err(refused(Refusal::from(e))),
                        Err(_) => Err(refused(Refusal::Panicked)),
                    }
                });
            match checked {
                Ok(()) => {}
                // Only zeros: storage sized by a creation that stopped before the header
                // was written. It holds nothing: start it again.
                Err(Error::NotADatabase { .. }) if blank(&backend) => {
                    if let Err(io) = redb::StorageBackend::set_len(&backend, 0) {
                        release.release();
                        return Err(Error::Storage(StorageError::wrap("cannot reset the storage", io)));
                    }
                }
                Err(e) => {
                    release.release();
                    return Err(e);
                }
            }
        }
        Self::create_from(backend, release, cache).map_err(refused)
    }

    /// Opens `backend` through the [`releasable`] switch. On failure the backend is
    /// released (redb's close is not run after a panic).
    fn create(backend: impl StorageBackend, cache: Option<usize>) -> std::result::Result<RedbEngine, Refusal> {
        let (backend, release) = releasable::Releasable::new(backend);
        Self::create_from(backend, release, cache)
    }

    fn create_from(
        backend: releasable::Releasable<impl StorageBackend>,
        release: Arc<dyn Release>,
        cache: Option<usize>,
    ) -> std::result::Result<RedbEngine, Refusal> {
        let opened = std::panic::catch_unwind(AssertUnwindSafe(|| {
            let mut builder = redb::Database::builder();
            if let Some(bytes) = cache {
                builder.set_cache_size(bytes);
            }
            builder.create_with_backend(backend)
        }));
        let refusal = match opened {
            Ok(Ok(db)) => {
                return Ok(RedbEngine {
                    db: Quiet::new(Arc::new(db)),
                    damaged: Damaged::default(),
                    release: Some(release),
                });
            }
            Ok(Err(e)) => Refusal::from(e),
            Err(_) => Refusal::Panicked,
        };
        release.release();
        Err(refusal)
    }

    /// Opens an existing file for checks that must not write to it: read-only, or,
    /// when redb must repair the file first, through an [`overlay::Overlay`] that
    /// keeps the repair in memory. `None` when there is nothing to check (no file, an
    /// empty one).
    pub(crate) fn inspect(path: &Path, cache: Option<usize>) -> Result<Option<RedbInspector>> {
        if path.metadata().map_or(true, |m| m.len() == 0) {
            return Ok(None);
        }
        let display = path.display().to_string();
        let refused = |reason: String| Error::NotADatabase { path: display.clone(), reason };
        let builder = || {
            let mut b = redb::Database::builder();
            if let Some(bytes) = cache {
                b.set_cache_size(bytes);
            }
            b
        };
        match std::panic::catch_unwind(|| builder().open_read_only(path)) {
            Ok(Ok(db)) => {
                Ok(Some(RedbInspector { db: Quiet::new(Inspected::ReadOnly(db)), damaged: Damaged::default() }))
            }
            Ok(Err(redb::DatabaseError::RepairAborted)) => {
                let view = overlay::Overlay::open(path)
                    .map_err(|e| Error::Storage(StorageError::wrap(&format!("cannot read {display}"), e)))?;
                match std::panic::catch_unwind(|| builder().create_with_backend(view)) {
                    Ok(Ok(db)) => {
                        Ok(Some(RedbInspector { db: Quiet::new(Inspected::Repaired(db)), damaged: Damaged::default() }))
                    }
                    Ok(Err(e)) => Err(refused(e.to_string())),
                    Err(_) => Err(refused("the storage engine could not repair the file".into())),
                }
            }
            Ok(Err(redb::DatabaseError::DatabaseAlreadyOpen)) => {
                Err(Error::Storage(StorageError::new(format!("{display} is already open in this process"))))
            }
            Ok(Err(other)) => Err(Error::NotADatabase { path: display, reason: other.to_string() }),
            Err(_) => {
                Err(Error::NotADatabase { path: display, reason: "the storage engine could not read the file".into() })
            }
        }
    }

    pub(crate) fn in_memory() -> Result<RedbEngine> {
        let db = redb::Database::builder()
            .create_with_backend(redb::backends::InMemoryBackend::new())
            .map_err(storage("cannot create an in-memory database"))?;
        Ok(RedbEngine { db: Quiet::new(Arc::new(db)), damaged: Damaged::default(), release: None })
    }

    /// A handle to start transactions with, once the caller has let go of its locks.
    pub(crate) fn handle(&self) -> Result<RedbHandle> {
        Ok(RedbHandle { db: Arc::clone(self.db.get()?), damaged: Arc::clone(&self.damaged) })
    }

    /// Leaks the storage engine's handle on drop instead of closing it, so that it
    /// writes nothing more to the file (which stays locked until the process exits).
    pub(crate) fn abandon(&self) {
        self.damaged.store(true, Ordering::Release);
    }

    /// Rewrites the file to reclaim free space. Never waits: fails at once while a
    /// transaction is open or starting.
    pub(crate) fn compact(&mut self) -> Result<bool> {
        let RedbEngine { db, damaged, .. } = self;
        engine(damaged, "compacting", || {
            let db = Arc::get_mut(db.get_mut()?).ok_or_else(|| {
                Error::Storage(StorageError::new("cannot compact while a transaction is starting; try again later"))
            })?;
            db.compact().map_err(storage("cannot compact the database"))
        })
    }
}

/// Whether `backend` holds only zero bytes.
fn blank(backend: &impl StorageBackend) -> bool {
    let Ok(len) = backend.len() else { return false };
    let mut buf = vec![0u8; 64 * 1024];
    let mut at = 0;
    while at < len {
        let n = usize::try_from((len - at).min(buf.len() as u64)).unwrap_or(buf.len());
        if backend.read(at, &mut buf[..n]).is_err() || buf[..n].iter().any(|&b| b != 0) {
            return false;
        }
        at += n as u64;
    }
    true
}

/// Why redb would not open a backend.
#[derive(Debug)]
enum Refusal {
    AlreadyOpen,
    Io(std::io::Error),
    Other(String),
    /// redb panicked on the file.
    Panicked,
}

impl From<redb::DatabaseError> for Refusal {
    fn from(e: redb::DatabaseError) -> Refusal {
        match e {
            redb::DatabaseError::DatabaseAlreadyOpen => Refusal::AlreadyOpen,
            redb::DatabaseError::Storage(redb::StorageError::Io(io)) => Refusal::Io(io),
            other => Refusal::Other(other.to_string()),
        }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::AlreadyOpen => f.write_str("the database is already open"),
            Refusal::Io(io) => write!(f, "{io}"),
            Refusal::Other(reason) => f.write_str(reason),
            Refusal::Panicked => f.write_str("the storage engine could not read the file"),
        }
    }
}

/// An existing file opened without the right to change it, to check it before
/// opening it for writing.
pub(crate) struct RedbInspector {
    db: Quiet<Inspected>,
    damaged: Damaged,
}

enum Inspected {
    ReadOnly(redb::ReadOnlyDatabase),
    /// Repaired in memory: see [`overlay`].
    Repaired(redb::Database),
}

impl Inspected {
    fn begin_read(&self) -> Result<redb::ReadTransaction> {
        match self {
            Inspected::ReadOnly(db) => db.begin_read(),
            Inspected::Repaired(db) => db.begin_read(),
        }
        .map_err(storage("cannot begin a read transaction"))
    }
}

impl RedbInspector {
    /// Names of all tables in the file.
    pub(crate) fn table_names(&self) -> Result<Vec<String>> {
        engine(&self.damaged, "listing tables", || {
            let txn = self.db.get()?.begin_read()?;
            let names = txn.list_tables().map_err(storage("cannot list tables"))?;
            Ok(names.map(|h| redb::TableHandle::name(&h).to_string()).collect())
        })
    }

    pub(crate) fn begin_read(&self, names: Arc<[String]>) -> Result<RedbRead> {
        let txn = engine(&self.damaged, "beginning a read transaction", || self.db.get()?.begin_read())?;
        let tables = (0..names.len()).map(|_| OnceCell::new()).collect();
        Ok(RedbRead { tables, txn: Quiet::new(txn), names, damaged: Arc::clone(&self.damaged) })
    }
}

type Tables<'a> = Vec<OnceCell<redb::Table<'a, Raw, Raw>>>;

self_cell::self_cell!(
    struct WriteCell {
        owner: redb::WriteTransaction,
        #[not_covariant]
        dependent: Tables,
    }
);

/// A write transaction over byte tables.
pub(crate) struct RedbWrite {
    cell: Quiet<WriteCell>,
    names: Arc<[String]>,
    damaged: Damaged,
}

impl RedbWrite {
    fn with_table_mut<R>(
        &mut self,
        tid: TableId,
        f: impl FnOnce(&mut redb::Table<'_, Raw, Raw>) -> Result<R>,
    ) -> Result<R> {
        let names = &self.names;
        let cell = &mut self.cell;
        engine(&self.damaged, "writing", || {
            cell.get_mut()?.with_dependent_mut(|txn, tables| {
                let cell = tables.get_mut(tid).ok_or_else(|| Error::Storage(StorageError::new("unknown table id")))?;
                if cell.get().is_none() {
                    let t = txn.open_table(Def::new(&names[tid])).map_err(storage("cannot open table"))?;
                    let _ = cell.set(t);
                }
                match cell.get_mut() {
                    Some(t) => f(t),
                    None => Err(Error::Storage(StorageError::new("table did not open"))),
                }
            })
        })
    }

    fn with_table<'s, R>(
        &'s self,
        tid: TableId,
        f: impl FnOnce(&'s redb::Table<'_, Raw, Raw>) -> Result<R>,
    ) -> Result<R> {
        let names = &self.names;
        engine(&self.damaged, "reading", || {
            self.cell.get()?.with_dependent(|txn, tables| {
                let cell = tables.get(tid).ok_or_else(|| Error::Storage(StorageError::new("unknown table id")))?;
                if cell.get().is_none() {
                    let t = txn.open_table(Def::new(&names[tid])).map_err(storage("cannot open table"))?;
                    let _ = cell.set(t);
                }
                match cell.get() {
                    Some(t) => f(t),
                    None => Err(Error::Storage(StorageError::new("table did not open"))),
                }
            })
        })
    }
}

impl EngineWrite for RedbWrite {
    fn put(&mut self, tid: TableId, key: &[u8], value: &[u8], replaced: &mut dyn FnMut(Option<&[u8]>)) -> Result<()> {
        self.with_table_mut(tid, |t| {
            let old = t.insert(key, value).map_err(storage("write failed"))?;
            replaced(old.as_ref().map(|g| g.value()));
            Ok(())
        })
    }

    fn remove(&mut self, tid: TableId, key: &[u8], removed: &mut dyn FnMut(&[u8])) -> Result<()> {
        self.with_table_mut(tid, |t| {
            if let Some(g) = t.remove(key).map_err(storage("delete failed"))? {
                removed(g.value());
            }
            Ok(())
        })
    }

    fn delete_table(&mut self, tid: TableId) -> Result<bool> {
        let names = &self.names;
        let cell = &mut self.cell;
        engine(&self.damaged, "deleting a table", || {
            cell.get_mut()?.with_dependent_mut(|txn, tables| {
                // An open table must be closed before it can be deleted.
                if let Some(open) = tables.get_mut(tid) {
                    drop(open.take());
                }
                let name = names.get(tid).ok_or_else(|| Error::Storage(StorageError::new("unknown table id")))?;
                txn.delete_table(Def::new(name)).map_err(storage("cannot delete table"))
            })
        })
    }

    fn commit(mut self, durability: Durability) -> Result<()> {
        let RedbWrite { cell, damaged, .. } = &mut self;
        engine(damaged, "committing", || {
            let mut cell = cell.take()?;
            cell.with_dependent_mut(|_, tables| close_tables(tables));
            let mut txn = Quiet::new(cell.into_owner());
            let d = match durability {
                Durability::Immediate => redb::Durability::Immediate,
                Durability::None => redb::Durability::None,
            };
            txn.get_mut()?.set_durability(d).map_err(storage("cannot set durability"))?;
            txn.take()?.commit().map_err(storage("commit failed"))
        })
    }
}

impl Drop for RedbWrite {
    fn drop(&mut self) {
        if self.damaged.load(Ordering::Acquire) {
            std::mem::forget(self.cell.take());
        } else if let Ok(cell) = self.cell.get_mut() {
            cell.with_dependent_mut(|_, tables| close_tables(tables));
        }
    }
}

/// A read transaction over byte tables.
pub(crate) struct RedbRead {
    txn: Quiet<redb::ReadTransaction>,
    tables: Vec<OnceCell<redb::ReadOnlyTable<Raw, Raw>>>,
    names: Arc<[String]>,
    damaged: Damaged,
}

impl Drop for RedbRead {
    fn drop(&mut self) {
        if self.damaged.load(Ordering::Acquire) {
            std::mem::forget(std::mem::take(&mut self.tables));
            std::mem::forget(self.txn.take());
        } else {
            close_tables(&mut self.tables);
        }
    }
}

impl RedbRead {
    /// Runs `f` on table `tid`, opened on first use, under [`engine`].
    fn with_table<'s, R>(
        &'s self,
        tid: TableId,
        f: impl FnOnce(&'s redb::ReadOnlyTable<Raw, Raw>) -> Result<R>,
    ) -> Result<R> {
        engine(&self.damaged, "reading", || {
            let cell = self.tables.get(tid).ok_or_else(|| Error::Storage(StorageError::new("unknown table id")))?;
            if cell.get().is_none() {
                let t = self.txn.get()?.open_table(Def::new(&self.names[tid])).map_err(storage("cannot open table"))?;
                let _ = cell.set(t);
            }
            f(cell.get().ok_or_else(|| Error::Storage(StorageError::new("table did not open")))?)
        })
    }
}

/// A value read from a table, borrowed from the transaction.
pub(crate) struct RedbValue<'a>(redb::AccessGuard<'a, Raw>);

/// Wraps a guard after reading its value once: on a damaged page that read panics,
/// and it must do so inside [`engine`]. The value of a guard never changes, so later
/// reads through [`AsRef::as_ref`] cannot panic.
fn checked(guard: redb::AccessGuard<'_, Raw>) -> RedbValue<'_> {
    let _ = guard.value();
    RedbValue(guard)
}

impl AsRef<[u8]> for RedbValue<'_> {
    #[inline]
    fn as_ref(&self) -> &[u8] {
        self.0.value()
    }
}

/// A range over a table, in key order (reversible).
pub(crate) struct RedbRange<'a>(redb::Range<'a, Raw, Raw>, &'a AtomicBool);

impl<'a> Iterator for RedbRange<'a> {
    type Item = Result<(RedbValue<'a>, RedbValue<'a>)>;
    fn next(&mut self) -> Option<Self::Item> {
        let RedbRange(range, damaged) = self;
        engine(damaged, "reading", || {
            range.next().transpose().map(|e| e.map(|(k, v)| (checked(k), checked(v)))).map_err(storage("read failed"))
        })
        .transpose()
    }
}

impl DoubleEndedIterator for RedbRange<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        let RedbRange(range, damaged) = self;
        engine(damaged, "reading", || {
            range
                .next_back()
                .transpose()
                .map(|e| e.map(|(k, v)| (checked(k), checked(v))))
                .map_err(storage("read failed"))
        })
        .transpose()
    }
}

/// Walks `range`, calling `f` with borrowed entries (see [`EngineRead::scan`]). Each
/// step into redb, and the first read of the entry's bytes, runs under [`engine`].
fn scan_range(
    mut range: redb::Range<'_, Raw, Raw>,
    damaged: &AtomicBool,
    reverse: bool,
    f: &mut Visit<'_>,
) -> Result<()> {
    loop {
        let entry = engine(damaged, "reading", || {
            let e = if reverse { range.next_back() } else { range.next() };
            match e {
                None => Ok(None),
                Some(Ok((k, v))) => Ok(Some((checked(k), checked(v)))),
                Some(Err(e)) => Err(storage("read failed")(e)),
            }
        })?;
        let Some((k, v)) = entry else { return Ok(()) };
        if !f(k.as_ref(), v.as_ref())? {
            return Ok(());
        }
    }
}

impl EngineRead for RedbRead {
    type Value<'a> = RedbValue<'a>;
    type Range<'a> = RedbRange<'a>;

    fn scan(&self, tid: TableId, lo: Bound<&[u8]>, hi: Bound<&[u8]>, reverse: bool, f: &mut Visit<'_>) -> Result<()> {
        let range = self.with_table(tid, |t| t.range::<&[u8]>((lo, hi)).map_err(storage("range read failed")))?;
        scan_range(range, &self.damaged, reverse, f)
    }

    #[inline]
    fn get(&self, tid: TableId, key: &[u8]) -> Result<Option<RedbValue<'_>>> {
        self.with_table(tid, |t| Ok(t.get(key).map_err(storage("read failed"))?.map(checked)))
    }
    fn range<'a>(&'a self, tid: TableId, lo: Bound<&[u8]>, hi: Bound<&[u8]>) -> Result<RedbRange<'a>> {
        self.with_table(tid, |t| {
            Ok(RedbRange(t.range::<&[u8]>((lo, hi)).map_err(storage("range read failed"))?, &self.damaged))
        })
    }
    fn sizes(&self, tid: TableId) -> Result<Option<crate::engine::TableSizes>> {
        self.with_table(tid, |t| {
            let stats = redb::ReadableTableMetadata::stats(t).map_err(storage("cannot read table sizes"))?;
            Ok(Some(crate::engine::TableSizes {
                stored: stats.stored_bytes(),
                metadata: stats.metadata_bytes(),
                fragmented: stats.fragmented_bytes(),
            }))
        })
    }
    fn len(&self, tid: TableId) -> Result<Option<u64>> {
        self.with_table(tid, |t| t.len().map(Some).map_err(storage("read failed")))
    }
}

impl EngineRead for RedbWrite {
    type Value<'a> = RedbValue<'a>;
    type Range<'a> = RedbRange<'a>;

    fn scan(&self, tid: TableId, lo: Bound<&[u8]>, hi: Bound<&[u8]>, reverse: bool, f: &mut Visit<'_>) -> Result<()> {
        let range = self.with_table(tid, |t| t.range::<&[u8]>((lo, hi)).map_err(storage("range read failed")))?;
        scan_range(range, &self.damaged, reverse, f)
    }

    #[inline]
    fn get(&self, tid: TableId, key: &[u8]) -> Result<Option<RedbValue<'_>>> {
        self.with_table(tid, |t| Ok(t.get(key).map_err(storage("read failed"))?.map(checked)))
    }
    fn range<'a>(&'a self, tid: TableId, lo: Bound<&[u8]>, hi: Bound<&[u8]>) -> Result<RedbRange<'a>> {
        self.with_table(tid, |t| {
            Ok(RedbRange(t.range::<&[u8]>((lo, hi)).map_err(storage("range read failed"))?, &self.damaged))
        })
    }
    fn len(&self, tid: TableId) -> Result<Option<u64>> {
        self.with_table(tid, |t| t.len().map(Some).map_err(storage("read failed")))
    }
}

impl Engine for RedbHandle {
    type Read = RedbRead;
    type Write = RedbWrite;

    fn begin_write(&self, names: Arc<[String]>, _prefetch: &[(TableId, &[u8])]) -> Result<RedbWrite> {
        let txn = engine(&self.damaged, "beginning a write transaction", || {
            self.db.begin_write().map_err(storage("cannot begin a write transaction"))
        })?;
        let n = names.len();
        Ok(RedbWrite {
            cell: Quiet::new(WriteCell::new(txn, |_| (0..n).map(|_| OnceCell::new()).collect())),
            names,
            damaged: Arc::clone(&self.damaged),
        })
    }

    fn begin_read(&self, names: Arc<[String]>) -> Result<RedbRead> {
        let txn = engine(&self.damaged, "beginning a read transaction", || {
            self.db.begin_read().map_err(storage("cannot begin a read transaction"))
        })?;
        let tables = (0..names.len()).map(|_| OnceCell::new()).collect();
        Ok(RedbRead { tables, txn: Quiet::new(txn), names, damaged: Arc::clone(&self.damaged) })
    }

    /// Names of all tables in the file.
    fn table_names(&self) -> Result<Vec<String>> {
        engine(&self.damaged, "listing tables", || {
            let txn = self.db.begin_read().map_err(storage("cannot begin a read transaction"))?;
            let names = txn.list_tables().map_err(storage("cannot list tables"))?;
            Ok(names.map(|h| redb::TableHandle::name(&h).to_string()).collect())
        })
    }
}
