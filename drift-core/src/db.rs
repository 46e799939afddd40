//! [`Db`]: opening a database and starting transactions.

use std::any::TypeId;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use crate::cache::EntityCache;
use crate::catalog::VTable;
use crate::catalog::{Catalog, Registered, StoredLinks};
use crate::engine::redb_engine::StorageBackend;
use crate::entity::Entity;
use crate::error::{Error, Result};
use crate::meta;
use crate::raw::{CompiledEntity, Migrator, RawRead, RawWrite};
use crate::schema::EntityDescriptor;
use crate::shared::Shared;
use crate::stats::DbStats;
use crate::storage::Inspector;
use crate::storage::{Backend, Durability, ReadAccess, TableId};
use crate::transaction::{ReadTx, WriteOps, WriteTx};

/// A Drift database: a cheap handle (`Clone + Send + Sync`) on one file or memory region.
#[derive(Clone)]
pub struct Db {
    pub(crate) inner: Arc<Shared>,
    /// Per registered entity (by ordinal): the writes its cascades need.
    pub(crate) ops: Arc<[WriteOps]>,
    /// Per registered entity: its typed row checks (for `check`).
    compiled: Arc<[CompiledEntity]>,
}

// A panic cannot leave a `Db` half-updated: transactions roll back when dropped, and
// the cache holds immutable rows behind its own locks.
impl std::panic::UnwindSafe for Db {}
impl std::panic::RefUnwindSafe for Db {}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<_> = self.inner.catalog.entities.iter().map(|e| &e.schema.name).collect();
        f.debug_struct("Db").field("entities", &names).finish_non_exhaustive()
    }
}

/// Configures and opens a [`Db`].
#[must_use]
pub struct DbBuilder {
    entities: Vec<Registered>,
    ops: Vec<WriteOps>,
    compiled: Vec<CompiledEntity>,
    migrator: Option<Box<dyn Migrator>>,
    page_cache: Option<usize>,
    strict_loading: bool,
    durability: Durability,
    cache_capacity: usize,
    watch_history: crate::watch::HistoryLimits,
    query_stats: bool,
    slow_query: Option<std::time::Duration>,
}

/// Decoded entities kept by default.
pub const DEFAULT_CACHE_CAPACITY: usize = 10_000;

impl std::fmt::Debug for DbBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<_> = self.entities.iter().map(|r| &r.schema.name).collect();
        f.debug_struct("DbBuilder").field("entities", &names).finish_non_exhaustive()
    }
}

impl Default for DbBuilder {
    fn default() -> Self {
        DbBuilder {
            entities: Vec::new(),
            ops: Vec::new(),
            compiled: Vec::new(),
            migrator: None,
            page_cache: None,
            durability: Durability::default(),
            cache_capacity: DEFAULT_CACHE_CAPACITY,
            strict_loading: false,
            watch_history: crate::watch::HistoryLimits::default(),
            query_stats: true,
            slow_query: None,
        }
    }
}

impl DbBuilder {
    /// Registers an entity: its tables are created on open and its stored schema is
    /// checked against the compiled one.
    ///
    /// ```
    /// # use drift::prelude::*;
    /// # #[derive(Entity, Debug, Clone, PartialEq, Default)]
    /// # struct Task { #[drift(primary_key)] id: u64 }
    /// # #[derive(Entity, Debug, Clone, PartialEq, Default)]
    /// # struct Note { #[drift(primary_key)] id: u64 }
    /// let db = Db::builder().entity::<Task>().in_memory()?;
    /// assert_eq!(db.read(|tx| tx.get::<Task>(&1))?, None);
    /// // An entity that was not registered has no table.
    /// let err = db.read(|tx| tx.get::<Note>(&1)).unwrap_err();
    /// assert_eq!(err.kind(), drift::ErrorKind::UnknownEntity);
    /// # Ok::<(), drift::Error>(())
    /// ```
    pub fn entity<T: Entity>(mut self) -> Self {
        let id = TypeId::of::<T>();
        if !self.entities.iter().any(|r| r.type_id == id) {
            self.entities.push(Registered { type_id: id, schema: T::SCHEMA, vtable: VTable::of::<T>() });
            self.ops.push(WriteOps::of::<T>());
            self.compiled.push(CompiledEntity::of::<T>());
        }
        self
    }

    /// Migrates the file on open, when its stored schema differs from the compiled
    /// one, before anything else reads it: `drift_migrate::Migrations` is the
    /// migrator. Without one, a difference fails the open with
    /// [`Error::SchemaMismatch`].
    pub fn migrations(mut self, migrator: impl Migrator + 'static) -> Self {
        self.migrator = Some(Box::new(migrator));
        self
    }

    /// The registered entities, with their typed row checks.
    ///
    /// ```
    /// # use drift::prelude::*;
    /// # #[derive(Entity, Debug, Clone, PartialEq, Default)]
    /// # struct Task { #[drift(primary_key)] id: u64 }
    /// let builder = Db::builder().entity::<Task>().entity::<Task>();
    /// let names: Vec<&str> = builder.compiled().iter().map(|c| &*c.schema.name).collect();
    /// assert_eq!(names, ["Task"]); // registered once
    /// ```
    #[must_use]
    pub fn compiled(&self) -> &[CompiledEntity] {
        &self.compiled
    }

    /// The durability of write transactions that do not set their own (default
    /// [`Durability::Immediate`]).
    ///
    /// ```
    /// # use drift::prelude::*;
    /// # #[derive(Entity, Debug, Clone, PartialEq, Default)]
    /// # struct Task { #[drift(primary_key)] id: u64 }
    /// let db = Db::builder().entity::<Task>().durability(Durability::None).in_memory()?;
    /// // Each commit is visible at once; `flush` makes them all durable.
    /// db.write(|tx| tx.insert(&Task { id: 1 }))?;
    /// db.write(|tx| tx.insert(&Task { id: 2 }))?;
    /// db.flush()?;
    /// assert_eq!(db.read(|tx| tx.query::<Task>().count())?, 2);
    /// # Ok::<(), drift::Error>(())
    /// ```
    pub fn durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }

    /// Turns every lazy relation load into [`Error::StrictLoading`], so that an
    /// N+1 pattern fails in tests instead of running slowly: load relations with
    /// `query.with(..)` instead.
    ///
    /// ```
    /// # use drift::prelude::*;
    /// # #[derive(Entity, Debug, Clone, PartialEq, Default)]
    /// # struct User { #[drift(primary_key)] id: u64, name: String }
    /// # #[derive(Entity, Debug, Clone, PartialEq, Default)]
    /// # struct Post {
    /// #     #[drift(primary_key)] id: u64,
    /// #     author_id: u64,
    /// #     #[drift(belongs_to(User, key = author_id, on_delete = cascade))] author: BelongsTo<User>,
    /// # }
    /// let db = Db::builder().entity::<User>().entity::<Post>().strict_loading(true).in_memory()?;
    /// db.write(|tx| {
    ///     tx.insert(&User { id: 1, name: "Ann".into() })?;
    ///     tx.insert(&Post { id: 1, author_id: 1, ..Default::default() })
    /// })?;
    /// let tx = db.begin_read()?;
    /// let lazy = tx.get::<Post>(&1)?.expect("inserted");
    /// assert_eq!(lazy.author(&tx).unwrap_err().kind(), drift::ErrorKind::StrictLoading);
    /// let eager = tx.query::<Post>().with(Post::AUTHOR).first()?.expect("inserted");
    /// assert_eq!(eager.author(&tx)?.name, "Ann");
    /// # Ok::<(), drift::Error>(())
    /// ```
    pub fn strict_loading(mut self, strict: bool) -> Self {
        self.strict_loading = strict;
        self
    }

    /// How many of the last commits the database holds for change subscriptions to
    /// resume from ([`Watch::resume_from`](crate::Watch::resume_from)): at most
    /// `commits` commits and `bytes` bytes of their keys and rows (default
    /// [`DEFAULT_HISTORY_COMMITS`](crate::DEFAULT_HISTORY_COMMITS) and
    /// [`DEFAULT_HISTORY_BYTES`](crate::DEFAULT_HISTORY_BYTES)). `commits = 0` holds
    /// none: a subscription then gets only commits made after it began.
    ///
    /// ```
    /// # use drift::prelude::*;
    /// # #[derive(Entity, Debug, Clone, PartialEq)]
    /// # struct Task { #[drift(primary_key)] id: u64 }
    /// let db = Db::builder().entity::<Task>().watch_history(10_000, 64 << 20).in_memory()?;
    /// let first = db.watch::<Task>()?.last_commit() + 1;
    /// db.write(|tx| tx.insert(&Task { id: 1 }).map(drop))?;
    /// // A subscription made later still gets the commit, from the history.
    /// let mut late = db.watch::<Task>()?.resume_from(first)?;
    /// assert_eq!(late.try_recv().expect("held")?.seq, first);
    /// # Ok::<(), drift::Error>(())
    /// ```
    pub fn watch_history(mut self, commits: usize, bytes: usize) -> Self {
        self.watch_history = crate::watch::HistoryLimits { commits, bytes };
        self
    }

    /// Whether the database counts the queries it runs by shape for
    /// [`Db::query_stats`] (default: on). Off, a query does no bookkeeping, unless a
    /// [`slow_query_threshold`](Self::slow_query_threshold) is set.
    ///
    /// ```
    /// # use drift::prelude::*;
    /// # #[derive(Entity, Debug, Clone, PartialEq, Default)]
    /// # struct Task { #[drift(primary_key)] id: u64 }
    /// let db = Db::builder().entity::<Task>().query_stats(false).in_memory()?;
    /// db.read(|tx| tx.query::<Task>().all())?;
    /// assert_eq!(db.query_stats().shapes.len(), 0);
    /// # Ok::<(), drift::Error>(())
    /// ```
    pub fn query_stats(mut self, on: bool) -> Self {
        self.query_stats = on;
        self
    }

    /// Counts a query that takes `threshold` or longer as slow in [`Db::query_stats`],
    /// and, with the `tracing` feature, logs it as a warning (target
    /// `drift::slow_query`) with its shape, time, rows examined and returned, and plan.
    ///
    /// ```
    /// let builder = drift_core::Db::builder().slow_query_threshold(std::time::Duration::from_millis(50));
    /// ```
    pub fn slow_query_threshold(mut self, threshold: std::time::Duration) -> Self {
        self.slow_query = Some(threshold);
        self
    }

    /// How many decoded entities the cache keeps (default
    /// [`DEFAULT_CACHE_CAPACITY`]); 0 turns the cache off. The cache is exact: a
    /// transaction never sees a cached row that differs from its own snapshot.
    ///
    /// ```
    /// # use drift::prelude::*;
    /// # #[derive(Entity, Debug, Clone, PartialEq, Default)]
    /// # struct Task { #[drift(primary_key)] id: u64 }
    /// let db = Db::builder().entity::<Task>().cache_capacity(0).in_memory()?;
    /// db.write(|tx| tx.insert(&Task { id: 1 }))?;
    /// for _ in 0..3 {
    ///     assert_eq!(db.read(|tx| tx.get::<Task>(&1))?, Some(Task { id: 1 }));
    /// }
    /// assert_eq!(db.stats().cache_hits, 0); // every read decoded the row
    /// # Ok::<(), drift::Error>(())
    /// ```
    pub fn cache_capacity(mut self, entities: usize) -> Self {
        self.cache_capacity = entities;
        self
    }

    /// Caps the storage engine's page cache (pages read and pages written but not
    /// yet committed) at `bytes`; the engine's default (1 GiB for redb) otherwise.
    /// Memory use then stays near this figure whatever the file's size, also while
    /// a migration rewrites every row.
    ///
    /// ```
    /// # use drift::prelude::*;
    /// # #[derive(Entity, Debug, Clone, PartialEq, Default)]
    /// # struct Task { #[drift(primary_key)] id: u64 }
    /// let db = Db::builder().entity::<Task>().page_cache(16 << 20).in_memory()?;
    /// db.write(|tx| (0..1_000).try_for_each(|id| tx.insert(&Task { id }).map(drop)))?;
    /// assert_eq!(db.read(|tx| tx.query::<Task>().count())?, 1_000);
    /// # Ok::<(), drift::Error>(())
    /// ```
    pub fn page_cache(mut self, bytes: usize) -> Self {
        self.page_cache = Some(bytes);
        self
    }

    /// Opens the database file at `path`, creating it when missing.
    ///
    /// ```
    /// # use drift::prelude::*;
    /// # #[derive(Entity, Debug, Clone, PartialEq, Default)]
    /// # struct Task { #[drift(primary_key)] id: u64 }
    /// # let dir = tempfile::tempdir().expect("temp dir");
    /// let path = dir.path().join("tasks.drift");
    /// let db = Db::builder().entity::<Task>().open(&path)?;
    /// db.write(|tx| tx.insert(&Task { id: 7 }))?;
    /// drop(db);
    /// // Opened again, the file holds what was committed.
    /// let db = Db::builder().entity::<Task>().open(&path)?;
    /// assert_eq!(db.read(|tx| tx.get::<Task>(&7))?, Some(Task { id: 7 }));
    /// # Ok::<(), drift::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::NotADatabase`] when the file is not a Drift database or is damaged,
    /// [`Error::SchemaMismatch`] when the stored schema differs from the compiled one,
    /// [`Error::Registration`] when the registered entities do not fit together,
    /// [`Error::Storage`] on I/O failure or when the file is open elsewhere.
    pub fn open(self, path: impl AsRef<Path>) -> Result<Db> {
        let path = path.as_ref();
        let display = path.display().to_string();
        // A file that is refused is refused read-only: opening it for writing would let
        // the engine write to it when it is closed again, which on a damaged file can panic
        // twice and abort the process.
        let inspected =
            match Backend::inspect(path, self.page_cache) {
                Err(Error::NotADatabase { .. }) if blank_file(path) => {
                    // Only zeros: the engine sized the file and the process that was
                    // creating it stopped before the header was written. It holds nothing:
                    // start it again.
                    std::fs::OpenOptions::new().write(true).open(path).and_then(|f| f.set_len(0)).map_err(|e| {
                        Error::Storage(crate::StorageError::wrap(&format!("cannot reset {display}"), e))
                    })?;
                    None
                }
                other => other?,
            };
        match inspected {
            Some(inspector) => self.check_before_writing(&inspector, &display)?,
            None => return self.create(path, &display),
        }
        let backend = Backend::open(path, self.page_cache)?;
        self.finish(backend, &display)
    }

    /// Creates the database at `path` (missing or empty) whole or not at all: it is
    /// built and committed under a temporary name beside `path`, then linked into
    /// place. A process killed while creating leaves no file at `path` (the engine
    /// sizes a new file before it writes its header, so a file cut short there would
    /// never open), only the temporary one, which the next creation replaces.
    fn create(self, path: &Path, display: &str) -> Result<Db> {
        let io =
            |what: &str, e: std::io::Error| Error::Storage(crate::StorageError::wrap(&format!("{what} {display}"), e));
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let temp = path.with_file_name(format!(".{name}.creating"));
        match std::fs::remove_file(&temp) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io("cannot prepare", e)),
        }
        let backend = Backend::open(&temp, self.page_cache)?;
        let db = self.finish(backend, display)?;
        // The open file follows its inode: the handle keeps working under the new name.
        let placed = if path.exists() {
            // An empty file: nothing to lose by replacing it.
            std::fs::rename(&temp, path)
        } else {
            // Never over a file another process created meanwhile.
            std::fs::hard_link(&temp, path).and_then(|()| std::fs::remove_file(&temp))
        };
        if let Err(e) = placed {
            drop(db);
            let _ = std::fs::remove_file(&temp);
            return Err(io("cannot create", e));
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            // The new name is durable with the directory entry.
            let _ = std::fs::File::open(dir).and_then(|d| d.sync_all());
        }
        Ok(db)
    }

    /// What `open` checks on a read-only view before it opens storage for writing:
    /// a database whose tables, stored schemas and descriptors this builder can open.
    fn check_before_writing(&self, inspector: &Inspector, display: &str) -> Result<()> {
        let existing = inspector.table_names()?;
        if existing.is_empty() {
            return Ok(());
        }
        meta::check_tables(&existing, display)?;
        let store = inspector.begin_read(Arc::from(vec![meta::META_TABLE.to_string()]))?;
        match check_meta(&store, self.entities.iter().map(|r| r.schema), display, false) {
            // A migration runs once the file is open for writing.
            Err(Error::SchemaMismatch { .. }) if self.migrator.is_some() => {}
            r => r?,
        }
        // Every stored descriptor is read on open (relations of unregistered
        // entities are honoured): one that cannot be is refused here, before
        // the file is opened for writing.
        meta::stored_schemas(&store, display)?;
        Ok(())
    }

    /// Opens the database kept by `backend`, initialising it when the storage is
    /// empty: storage of your own behind redb's [`StorageBackend`] trait (an encrypted
    /// volume, a test double that fails the k-th write). As [`open`](Self::open) does
    /// with a file, the storage is checked first on a view that keeps every write in
    /// memory, so storage that is refused is left as it was.
    ///
    /// ```
    /// use drift_core::{Db, redb_backends::InMemoryBackend};
    ///
    /// // Any `StorageBackend`: here redb's in-memory one.
    /// let db = Db::builder().open_backend(InMemoryBackend::new())?;
    /// assert!(db.check()?.is_ok());
    /// # Ok::<(), drift_core::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`open`](Self::open); an I/O error of the backend is [`Error::Storage`].
    pub fn open_backend(self, backend: impl StorageBackend) -> Result<Db> {
        let display = "(storage backend)";
        let backend = Backend::open_backend(backend, self.page_cache, &|inspector| {
            self.check_before_writing(inspector, display)
        })?;
        self.finish(backend, display)
    }

    /// Opens the database kept in an etcd v3 cluster under the key prefix `prefix`
    /// (feature `etcd`), creating it when no table is stored there yet. Tables,
    /// stored schemas, sequences and the migration history are key prefixes below
    /// `prefix`, so several databases can share one cluster.
    ///
    /// Reads see a snapshot (one etcd revision); a commit is one etcd transaction
    /// guarded by compares on everything the transaction read, and fails with
    /// [`Error::Conflict`] when another commit changed it ([`Db::write`] retries).
    /// The decoded-entity cache is off on etcd: other processes write the same keys.
    /// See `docs/engines.md` for the key layout and limits.
    ///
    /// # Errors
    /// [`Error::Storage`] when no endpoint answers, as [`open`](Self::open) otherwise.
    #[cfg(feature = "etcd")]
    pub fn etcd<S: Into<String>>(mut self, endpoints: impl IntoIterator<Item = S>, prefix: &str) -> Result<Db> {
        let endpoints: Vec<String> = endpoints.into_iter().map(Into::into).collect();
        let display = format!("etcd://{}/{prefix}", endpoints.join(","));
        self.cache_capacity = 0;
        let backend = Backend::etcd(&endpoints, prefix)?;
        self.finish(backend, &display)
    }

    /// Opens a fresh database that lives in memory only.
    ///
    /// ```
    /// # use drift::prelude::*;
    /// # #[derive(Entity, Debug, Clone, PartialEq, Default)]
    /// # struct Task { #[drift(primary_key)] id: u64 }
    /// let db = Db::builder().entity::<Task>().in_memory()?;
    /// db.write(|tx| tx.insert(&Task { id: 1 }))?;
    /// assert_eq!(db.read(|tx| tx.query::<Task>().count())?, 1);
    /// // Another in-memory database starts empty.
    /// let other = Db::builder().entity::<Task>().in_memory()?;
    /// assert_eq!(other.read(|tx| tx.query::<Task>().count())?, 0);
    /// # Ok::<(), drift::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Registration`] when two entities share a table name or a relation's
    /// entity is not registered.
    pub fn in_memory(self) -> Result<Db> {
        let backend = Backend::in_memory()?;
        self.finish(backend, ":memory:")
    }

    /// Runs `migrator` in one write transaction over the existing tables and those of
    /// the registered entities.
    fn migrate(&self, backend: &Backend, migrator: &dyn Migrator, existing: &[String], display: &str) -> Result<()> {
        let wanted: Vec<String> = self
            .entities
            .iter()
            .flat_map(|r| {
                let s = r.schema;
                std::iter::once(s.table.to_string())
                    .chain(s.indexes.iter().map(|i| crate::raw::index_table(&s.table, &i.name)))
            })
            .collect();
        let names = RawWrite::names(existing, wanted.iter().cloned());
        let store = backend.handle()?.begin_write(names, &[])?;
        let mut raw = RawWrite::new(store, existing.to_vec(), wanted, display.to_string());
        // A panic (in a transform, a progress callback, a validator) drops the
        // transaction normally, so nothing is written and the file needs no repair.
        let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| migrator.migrate(&mut raw, &self.compiled)));
        match run {
            Ok(r) => r?,
            Err(payload) => {
                let reason = payload
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_string())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "a panic without a message".into());
                return Err(Error::Migration {
                    step: "migrate".into(),
                    entity: String::new(),
                    key: None,
                    field: None,
                    reason: format!("the migration panicked: {reason}"),
                });
            }
        }
        // Never commit a migration after which the file would not open.
        check_meta(raw.store(), self.entities.iter().map(|r| r.schema), display, false).map_err(|e| {
            Error::Migration {
                step: "check".into(),
                entity: String::new(),
                key: None,
                field: None,
                reason: format!("the migrated file would not open, nothing changed: {e}"),
            }
        })?;
        raw.commit()
    }

    fn finish(self, backend: Backend, display: &str) -> Result<Db> {
        for (i, a) in self.entities.iter().map(|r| r.schema).enumerate() {
            if let Some(b) = self.entities[..i].iter().map(|r| r.schema).find(|b| b.table == a.table) {
                return Err(Error::Registration {
                    entity: a.name.to_string(),
                    reason: format!(
                        "table `{}` is also used by {}; give one a `#[drift(table = \"...\")]`",
                        a.table, b.name
                    ),
                });
            }
        }
        let mut existing = backend.table_names()?;
        if let Some(migrator) = &self.migrator {
            if meta::check_tables(&existing, display).is_ok() && !existing.is_empty() {
                self.migrate(&backend, migrator.as_ref(), &existing, display)?;
                existing = backend.table_names()?;
            }
        }
        let stored = match meta::check_tables(&existing, display) {
            Ok(()) if existing.is_empty() => Ok((Vec::new(), 0)),
            Ok(()) => {
                let store = backend.begin_read(Arc::from(vec![meta::META_TABLE.to_string()]))?;
                meta::stored_schemas(&store, display).and_then(|s| Ok((s, meta::schema_generation(&store)?)))
            }
            Err(e) => Err(e),
        };
        let (stored, generation) = match stored {
            Ok(stored) => stored,
            Err(e) => {
                if matches!(e, Error::NotADatabase { .. }) {
                    // Closing lets the engine write its allocator state into the file, which is
                    // not ours to write.
                    backend.abandon();
                }
                return Err(e);
            }
        };
        let catalog = Catalog::new(&self.entities)?;
        let links = Arc::new(StoredLinks::new(&catalog, &stored, generation));
        let db = Db {
            inner: Arc::new(Shared {
                backend: RwLock::new(backend),
                catalog,
                links: RwLock::new(links),
                initialized: std::sync::atomic::AtomicBool::new(false),
                durability: self.durability,
                commits: AtomicU64::new(0),
                rollbacks: AtomicU64::new(0),
                cache: EntityCache::new(self.cache_capacity),
                planner: crate::query::stats::PlannerStats::default(),
                strict_loading: self.strict_loading,
                display: display.to_string(),
                workload: crate::query::workload::Workload::new(self.query_stats, self.slow_query),
                watch: Arc::new(crate::watch::Hub::new(
                    self.entities.len(),
                    self.watch_history,
                    crate::watch::Hub::base_now(),
                )),
            }),
            ops: self.ops.into(),
            compiled: self.compiled.into(),
        };
        if let Err(e) = db.initialize(display) {
            if matches!(e, Error::NotADatabase { .. }) {
                // Closing lets the engine write its allocator state into the file, which is not
                // ours to write, and on a damaged one can panic twice and abort.
                db.inner.backend.read().unwrap_or_else(std::sync::PoisonError::into_inner).abandon();
            }
            return Err(e);
        }
        Ok(db)
    }
}

/// Whether the file at `path` holds only zero bytes (and at least one).
fn blank_file(path: &Path) -> bool {
    use std::io::Read;
    let Ok(mut file) = std::fs::File::open(path) else { return false };
    let mut buf = vec![0u8; 64 * 1024];
    let mut seen = 0u64;
    loop {
        match file.read(&mut buf) {
            Ok(0) => return seen > 0,
            Ok(n) if buf[..n].iter().all(|&b| b == 0) => seen += n as u64,
            _ => return false,
        }
    }
}

/// How many times [`Db::write`] runs a transaction that keeps losing races
/// ([`Error::Conflict`]) before it returns the conflict.
pub const WRITE_ATTEMPTS: u32 = 12;

/// The pause before attempt `attempt + 1` of a write that lost a race: a random
/// time up to 2^attempt ms (at most 256 ms), so that writers that collided spread out
/// ("full jitter").
fn backoff(attempt: u32) -> std::time::Duration {
    use std::hash::BuildHasher;
    let ceiling_us = 1000u64 << attempt.min(8);
    let seed = (std::time::Instant::now(), std::thread::current().id());
    let random = foldhash::fast::RandomState::default().hash_one(format!("{seed:?}"));
    std::time::Duration::from_micros(random % ceiling_us)
}

impl Db {
    /// Starts configuring a database.
    ///
    /// ```
    /// # use drift::prelude::*;
    /// # #[derive(Entity, Debug, Clone, PartialEq, Default)]
    /// # struct Task { #[drift(primary_key)] id: u64 }
    /// let db = Db::builder().entity::<Task>().in_memory()?;
    /// assert_eq!(db.schemas().next().map(|s| &*s.name), Some("Task"));
    /// # Ok::<(), drift::Error>(())
    /// ```
    pub fn builder() -> DbBuilder {
        DbBuilder::default()
    }

    fn initialize(&self, display: &str) -> Result<()> {
        // Two processes opening a new database on etcd at once race to store its
        // descriptors: the loser sees them stored when it runs again.
        let mut attempt = 1;
        loop {
            match self.initialize_once(display) {
                Err(Error::Conflict { .. }) if attempt < WRITE_ATTEMPTS => {
                    std::thread::sleep(backoff(attempt));
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    fn initialize_once(&self, display: &str) -> Result<()> {
        let mut tx = self.begin_write()?;
        check_meta(&tx.store, self.inner.catalog.entities.iter().map(|e| e.schema), display, false)?;
        meta::initialize(&mut tx.store, self.inner.catalog.entities.iter().map(|e| e.schema))?;
        for info in &self.inner.catalog.entities {
            // Opening a table creates it, so read transactions always find it.
            tx.store.create_table(info.table)?;
            for &t in &info.indexes {
                tx.store.create_table(t)?;
            }
        }
        tx.store.forget_undo();
        tx.commit()?;
        // From now on every registered entity has its stored descriptor: one that goes
        // was dropped or renamed by another process.
        self.inner.initialized.store(true, std::sync::atomic::Ordering::Release);
        let handle = self.inner.backend.read().unwrap_or_else(std::sync::PoisonError::into_inner).handle()?;
        if handle.shared() {
            // The links were built before this open stored its descriptors.
            self.refresh_links(&handle)?;
        }
        Ok(())
    }

    /// Rebuilds what the stored descriptors add to the catalog, from a snapshot (a
    /// scan of the meta table inside a write transaction would put its sequences under
    /// that commit's guard), after checking that the descriptors of the registered
    /// entities still match the compiled ones. Installs the result unless newer links
    /// are installed already.
    fn refresh_links(&self, handle: &crate::storage::Handle) -> Result<()> {
        let snapshot = handle.begin_read(Arc::from(vec![meta::META_TABLE.to_string()]))?;
        let generation = meta::schema_generation(&snapshot)?;
        let display = &self.inner.display;
        let registered = self.inner.catalog.entities.iter().map(|e| e.schema);
        let initialized = self.inner.initialized.load(std::sync::atomic::Ordering::Acquire);
        check_meta(&snapshot, registered, display, initialized)?;
        let stored = meta::stored_schemas(&snapshot, display)?;
        let fresh = Arc::new(StoredLinks::new(&self.inner.catalog, &stored, generation));
        let mut current = self.inner.links.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        // Generations only grow: links of a later one are never replaced by older ones.
        if fresh.generation > current.generation {
            *current = fresh;
        }
        Ok(())
    }

    /// Starts a write transaction. Only one runs at a time: this waits for the
    /// current writer to finish. Dropping the transaction without
    /// [`WriteTx::commit`] rolls it back.
    ///
    /// ```
    /// # use drift::prelude::*;
    /// # #[derive(Entity, Debug, Clone, PartialEq, Default)]
    /// # struct Task { #[drift(primary_key)] id: u64 }
    /// let db = Db::builder().entity::<Task>().in_memory()?;
    /// let mut tx = db.begin_write()?;
    /// tx.insert(&Task { id: 1 })?;
    /// tx.commit()?;
    /// assert_eq!(db.read(|tx| tx.query::<Task>().count())?, 1);
    /// # Ok::<(), drift::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Storage`] when the store fails.
    pub fn begin_write(&self) -> Result<WriteTx> {
        // The lock is let go before waiting for the current writer: see `Handle`.
        let handle = self.inner.backend.read().unwrap_or_else(std::sync::PoisonError::into_inner).handle()?;
        let mut attempt = 0;
        loop {
            let links = self.inner.links();
            let prefetch: &[(TableId, &[u8])] =
                if handle.shared() { &[(meta::META, meta::GENERATION_KEY)] } else { &[] };
            let store = handle.begin_write(links.names.clone(), prefetch)?;
            if !handle.shared() {
                return Ok(WriteTx::new(Arc::clone(&self.inner), Arc::clone(&self.ops), store, links));
            }
            // Another process may have stored descriptors since `links` were built: a
            // relation from an entity it added must be honoured by this transaction's
            // deletes, and an entity it migrated or dropped must not be written with the
            // old layout. The read is compared again when the transaction commits.
            let generation = meta::schema_generation(&store)?;
            if generation == links.generation {
                return Ok(WriteTx::new(Arc::clone(&self.inner), Arc::clone(&self.ops), store, links));
            }
            attempt += 1;
            if attempt > 16 {
                return Err(Error::Conflict {
                    reason: "the stored schemas kept changing while the transaction began".into(),
                });
            }
            // Begin again on links of this generation (or a later one).
            drop(store);
            self.refresh_links(&handle)?;
        }
    }

    /// Starts a read transaction on a snapshot of the last commit. Readers never
    /// block the writer nor each other.
    ///
    /// ```
    /// # use drift::prelude::*;
    /// # #[derive(Entity, Debug, Clone, PartialEq, Default)]
    /// # struct Task { #[drift(primary_key)] id: u64 }
    /// let db = Db::builder().entity::<Task>().in_memory()?;
    /// let snapshot = db.begin_read()?;
    /// db.write(|tx| tx.insert(&Task { id: 1 }))?;
    /// // The snapshot still sees the database as it was when it began.
    /// assert_eq!(snapshot.get::<Task>(&1)?, None);
    /// assert_eq!(db.begin_read()?.get::<Task>(&1)?, Some(Task { id: 1 }));
    /// # Ok::<(), drift::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Storage`] when the store fails.
    pub fn begin_read(&self) -> Result<ReadTx> {
        let before = self.inner.cache.as_ref().map(EntityCache::epoch);
        let handle = self.inner.backend.read().unwrap_or_else(std::sync::PoisonError::into_inner).handle()?;
        let store = handle.begin_read(self.inner.catalog.names.clone())?;
        let after = self.inner.cache.as_ref().map(EntityCache::epoch);
        let epoch = before.zip(after).and_then(|(b, a)| EntityCache::reader_epoch(b, a));
        Ok(ReadTx::new(Arc::clone(&self.inner), store, epoch))
    }

    /// Runs `f` in a write transaction: commits when it returns `Ok`, rolls back when
    /// it returns `Err` or panics (the panic then continues).
    ///
    /// On an engine with optimistic commits (etcd), a transaction that lost a race
    /// ([`Error::Conflict`], from the commit or from `f`) is rolled back and `f` runs
    /// again in a new transaction, up to [`WRITE_ATTEMPTS`] times in all, with a
    /// growing pause between attempts; `f` is therefore `FnMut`, and should have no
    /// effects outside the transaction that a second run would repeat. redb runs one
    /// writer at a time and never conflicts, so there `f` runs once.
    ///
    /// ```
    /// # use drift::prelude::*;
    /// # #[derive(Entity, Debug, Clone, PartialEq, Default)]
    /// # struct Task { #[drift(primary_key)] id: u64 }
    /// let db = Db::builder().entity::<Task>().in_memory()?;
    /// db.write(|tx| tx.insert(&Task { id: 1 }))?;
    /// // An `Err` rolls the whole transaction back.
    /// let failed = db.write(|tx| {
    ///     tx.insert(&Task { id: 2 })?;
    ///     tx.insert(&Task { id: 1 }) // the key is taken
    /// });
    /// assert_eq!(failed.unwrap_err().kind(), drift::ErrorKind::AlreadyExists);
    /// assert_eq!(db.read(|tx| tx.query::<Task>().keys())?, [1]);
    /// # Ok::<(), drift::Error>(())
    /// ```
    ///
    /// # Errors
    /// The closure's error, or the commit's; [`Error::Conflict`] when every attempt
    /// lost its race.
    pub fn write<R>(&self, mut f: impl FnMut(&mut WriteTx) -> Result<R>) -> Result<R> {
        let mut attempt = 1;
        loop {
            // With the `tracing` feature, the attempt is a span: the queries it runs are
            // its children, and it ends with how the attempt went.
            #[cfg(feature = "tracing")]
            let span = tracing::debug_span!(
                "drift.write",
                db = %self.inner.display,
                attempt,
                outcome = tracing::field::Empty,
                micros = tracing::field::Empty
            );
            #[cfg(feature = "tracing")]
            let _entered = span.enter();
            #[cfg(feature = "tracing")]
            let start = std::time::Instant::now();
            let run = self.begin_write().and_then(|mut tx| {
                let r = f(&mut tx)?;
                tx.commit()?;
                Ok(r)
            });
            #[cfg(feature = "tracing")]
            {
                let outcome = match &run {
                    Ok(_) => "committed",
                    Err(Error::Conflict { .. }) => "conflict",
                    Err(_) => "rolled back",
                };
                span.record("outcome", outcome);
                span.record("micros", u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX));
            }
            match run {
                Err(Error::Conflict { .. }) if attempt < WRITE_ATTEMPTS => {
                    std::thread::sleep(backoff(attempt));
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    /// Runs `f` in a read transaction and returns its result.
    ///
    /// ```
    /// # use drift::prelude::*;
    /// # #[derive(Entity, Debug, Clone, PartialEq, Default)]
    /// # struct Task { #[drift(primary_key)] id: u64, title: String }
    /// let db = Db::builder().entity::<Task>().in_memory()?;
    /// db.write(|tx| tx.insert(&Task { id: 1, title: "write docs".into() }))?;
    /// let title = db.read(|tx| Ok(tx.get::<Task>(&1)?.map(|t| t.title)))?;
    /// assert_eq!(title.as_deref(), Some("write docs"));
    /// # Ok::<(), drift::Error>(())
    /// ```
    ///
    /// # Errors
    /// The closure's error, or [`Error::Storage`] when the transaction cannot start.
    pub fn read<R>(&self, f: impl FnOnce(&ReadTx) -> Result<R>) -> Result<R> {
        #[cfg(feature = "tracing")]
        let _span = tracing::debug_span!("drift.read", db = %self.inner.display).entered();
        let tx = self.begin_read()?;
        f(&tx)
    }

    /// Makes every commit so far durable, including those made with
    /// [`Durability::None`].
    ///
    /// ```
    /// # use drift::prelude::*;
    /// # #[derive(Entity, Debug, Clone, PartialEq, Default)]
    /// # struct Task { #[drift(primary_key)] id: u64 }
    /// let db = Db::builder().entity::<Task>().durability(Durability::None).in_memory()?;
    /// db.write(|tx| tx.insert(&Task { id: 1 }))?; // visible now, not yet synced
    /// db.flush()?;
    /// assert_eq!(db.read(|tx| tx.query::<Task>().count())?, 1);
    /// # Ok::<(), drift::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Storage`] when the sync fails.
    pub fn flush(&self) -> Result<()> {
        let mut tx = self.begin_write()?;
        tx.set_durability(Durability::Immediate);
        tx.commit()
    }

    /// Rewrites the file to reclaim free space. Fails at once, without waiting,
    /// while any transaction is open or starting; transactions that start while it
    /// runs wait for it to finish.
    ///
    /// ```
    /// # use drift::prelude::*;
    /// # #[derive(Entity, Debug, Clone, PartialEq, Default)]
    /// # struct Task { #[drift(primary_key)] id: u64 }
    /// let db = Db::builder().entity::<Task>().in_memory()?;
    /// db.write(|tx| (0..100).try_for_each(|id| tx.insert(&Task { id }).map(drop)))?;
    /// db.write(|tx| tx.delete_where(Task::ID.lt(90)))?;
    /// let reader = db.begin_read()?;
    /// assert_eq!(db.compact().unwrap_err().kind(), drift::ErrorKind::Storage); // never waits
    /// drop(reader);
    /// db.compact()?;
    /// assert_eq!(db.read(|tx| tx.query::<Task>().count())?, 10);
    /// # Ok::<(), drift::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Storage`] when a transaction is open or the store fails.
    pub fn compact(&self) -> Result<bool> {
        let mut backend = self.inner.backend.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        backend.compact()
    }

    /// Database-wide counters.
    ///
    /// ```
    /// # use drift::prelude::*;
    /// # #[derive(Entity, Debug, Clone, PartialEq, Default)]
    /// # struct Task { #[drift(primary_key)] id: u64 }
    /// let db = Db::builder().entity::<Task>().in_memory()?;
    /// let before = db.stats();
    /// db.write(|tx| tx.insert(&Task { id: 1 }))?;
    /// db.begin_write()?.rollback();
    /// assert_eq!(db.stats().commits, before.commits + 1);
    /// assert_eq!(db.stats().rollbacks, before.rollbacks + 1);
    /// # Ok::<(), drift::Error>(())
    /// ```
    #[must_use]
    pub fn stats(&self) -> DbStats {
        DbStats {
            commits: self.inner.commits.load(Ordering::Relaxed),
            rollbacks: self.inner.rollbacks.load(Ordering::Relaxed),
            cache_hits: self.inner.cache.as_ref().map_or(0, EntityCache::hits),
            cache_misses: self.inner.cache.as_ref().map_or(0, EntityCache::misses),
        }
    }

    /// A snapshot of every table of the file, by name, below entities (for tools).
    ///
    /// ```
    /// # use drift::prelude::*;
    /// # #[derive(Entity, Debug, Clone, PartialEq, Default)]
    /// # #[drift(table = "tasks")]
    /// # struct Task { #[drift(primary_key)] id: u64 }
    /// let db = Db::builder().entity::<Task>().in_memory()?;
    /// db.write(|tx| tx.insert(&Task { id: 1 }))?;
    /// let raw = db.raw_read()?;
    /// assert!(raw.has_table("tasks"));
    /// assert_eq!(raw.count("tasks")?, 1);
    /// # Ok::<(), drift::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Storage`] when the store fails.
    pub fn raw_read(&self) -> Result<RawRead> {
        let handle = self.inner.backend.read().unwrap_or_else(std::sync::PoisonError::into_inner).handle()?;
        let existing = handle.table_names()?;
        let store = handle.begin_read(RawRead::names(&existing))?;
        Ok(RawRead::new(store, existing, self.inner.display.clone()))
    }

    /// Verifies the file from its stored descriptors, on one snapshot: every row
    /// decodes, every index entry matches a row and every row has its entries,
    /// unique values are unique, no foreign key dangles (also of entities this
    /// process did not register), auto_increment marks are ahead of their keys. The
    /// report is empty on a sound file. Memory does not grow with the file.
    ///
    /// ```
    /// # use drift::prelude::*;
    /// # #[derive(Entity, Debug, Clone, PartialEq, Default)]
    /// # struct Task { #[drift(primary_key)] id: u64, #[drift(index)] done: bool }
    /// let db = Db::builder().entity::<Task>().in_memory()?;
    /// db.write(|tx| tx.insert(&Task { id: 1, done: true }))?;
    /// let report = db.check()?;
    /// assert!(report.is_ok());
    /// assert_eq!((report.rows, report.index_entries, report.problem_count), (1, 1, 0));
    /// # Ok::<(), drift::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Storage`] when the store fails; problems of the data are in the
    /// report.
    pub fn check(&self) -> Result<crate::check::CheckReport> {
        crate::check::check_with(&self.raw_read()?, &self.compiled)
    }

    /// Subscribes to the committed changes of rows of `T`: each commit that inserted,
    /// updated or deleted one comes as a [`Commit`](crate::Commit) after it is durable,
    /// in commit order, with its changes in the order they were made: those made by
    /// `cascade` and `set_null` included, those of failed statements, undone savepoints
    /// and rolled-back transactions never. Narrow it with
    /// [`range`](crate::Watch::range), [`filter`](crate::Watch::filter) and
    /// [`kinds`](crate::Watch::kinds).
    ///
    /// It sees the commits made through this `Db` (and its clones) after it began, or
    /// from [`resume_from`](crate::Watch::resume_from) on. Commit numbers go up by one
    /// per commit that changed rows; each open starts them above any number an earlier
    /// open could have used, so a number kept across a restart gives
    /// [`Error::HistoryGap`] instead of the wrong commits. Migrations and
    /// [raw writes](crate::raw::RawWrite) are not delivered. On etcd, commits by other
    /// processes are not delivered either.
    ///
    /// A subscriber that falls behind its buffer receives [`Error::Lagged`] instead of
    /// holding up the writer or growing without bound (see [`crate::watch`] for the
    /// bounds).
    ///
    /// ```
    /// use drift_core::{Change, Db, Entity, Result};
    ///
    /// /// Prints each change to rows of `T` as it is committed, until `db` closes.
    /// fn follow<T: Entity + std::fmt::Debug>(db: &Db) -> Result<()> {
    ///     let mut changes = db.watch::<T>()?;
    ///     while let Some(commit) = changes.recv() {
    ///         let commit = commit?;
    ///         for change in &commit.changes {
    ///             match change {
    ///                 Change::Insert { new } => println!("#{} + {new:?}", commit.seq),
    ///                 Change::Delete { old } => println!("#{} - {old:?}", commit.seq),
    ///                 other => println!("#{} ~ {:?}", commit.seq, other.new_row()),
    ///             }
    ///         }
    ///     }
    ///     Ok(())
    /// }
    /// ```
    ///
    /// The README's "Watching changes" runs a whole example.
    ///
    /// # Errors
    /// [`Error::UnknownEntity`] when `T` is not registered.
    pub fn watch<T: Entity>(&self) -> Result<crate::watch::Watch<T>> {
        let info = crate::read::info::<T>(&self.inner.catalog)?;
        Ok(crate::watch::Watch::new(Arc::clone(&self.inner.watch), info.ordinal))
    }

    /// What the queries run so far did, by shape (the entity, the filter's fields and
    /// operators without their values, the order, the limit, what was returned):
    /// calls, total and worst time, rows examined and returned, the plan of the
    /// slowest call; most total time first. With it, the indexes that would help the
    /// workload as a whole: for the shapes that examined many more rows than they
    /// returned, their equality fields then their range (or order) field, where no
    /// index leads with them, weighted by the rows they would have saved.
    ///
    /// ```
    /// /// Logs the query shapes that took the most time, and the indexes to add.
    /// fn report(db: &drift_core::Db) {
    ///     let stats = db.query_stats();
    ///     for shape in stats.shapes.iter().take(5) {
    ///         println!("{} calls, {:?} in all: {}", shape.calls, shape.total_time, shape.shape);
    ///     }
    ///     for advice in &stats.advice {
    ///         println!("{}: add {} (would avoid {} rows)", advice.entity, advice.attribute, advice.rows_avoided);
    ///     }
    /// }
    /// ```
    ///
    /// `tests/query_stats.rs` runs a workload whose best index is known; the README's
    /// "Workload analysis" shows its report.
    #[must_use]
    pub fn query_stats(&self) -> crate::query::workload::QueryStats {
        self.inner.workload.report()
    }

    /// Forgets the query shapes counted so far (see [`Db::query_stats`]).
    ///
    /// ```
    /// # use drift::prelude::*;
    /// # #[derive(Entity, Debug, Clone, PartialEq, Default)]
    /// # struct Task { #[drift(primary_key)] id: u64 }
    /// let db = Db::builder().entity::<Task>().in_memory()?;
    /// db.read(|tx| tx.query::<Task>().all())?;
    /// assert_eq!(db.query_stats().shapes.len(), 1);
    /// db.reset_query_stats();
    /// assert_eq!(db.query_stats().shapes.len(), 0);
    /// # Ok::<(), drift::Error>(())
    /// ```
    pub fn reset_query_stats(&self) {
        self.inner.workload.reset();
    }

    /// The schemas of the registered entities.
    ///
    /// ```
    /// # use drift::prelude::*;
    /// # #[derive(Entity, Debug, Clone, PartialEq, Default)]
    /// # #[drift(table = "tasks")]
    /// # struct Task { #[drift(primary_key)] id: u64 }
    /// let db = Db::builder().entity::<Task>().in_memory()?;
    /// let tables: Vec<&str> = db.schemas().map(|s| &*s.table).collect();
    /// assert_eq!(tables, ["tasks"]);
    /// # Ok::<(), drift::Error>(())
    /// ```
    pub fn schemas(&self) -> impl Iterator<Item = &'static EntityDescriptor> + '_ {
        self.inner.catalog.entities.iter().map(|e| e.schema)
    }
}

/// The schemas stored in the meta table, where there are ones, match the compiled
/// ones, and the format marker is this version's.
/// Fails unless the format is this version's and each of `schemas` matches its stored
/// descriptor. A registered entity without one is new, unless `require_stored` (the
/// database stored them all when it opened: another process dropped or renamed it).
fn check_meta<'s>(
    store: &dyn ReadAccess,
    schemas: impl Iterator<Item = &'s EntityDescriptor>,
    display: &str,
    require_stored: bool,
) -> Result<()> {
    meta::check_format(store, display)?;
    let schemas: Vec<&EntityDescriptor> = schemas.collect();
    let mut all_stored = None;
    for &schema in &schemas {
        let Some(stored) = meta::stored_schema(store, &schema.table, display)? else {
            if require_stored {
                return Err(Error::SchemaMismatch {
                    entity: schema.name.to_string(),
                    changes: vec![format!(
                        "the database no longer stores table `{}`: another process dropped or renamed the entity",
                        schema.table
                    )],
                });
            }
            // A new table: the entity is new, unless the file holds it under another
            // table (renamed, or its table changed).
            let all = match &mut all_stored {
                Some(all) => all,
                None => all_stored.insert(meta::stored_schemas(store, display)?),
            };
            // A stored entity in a table a registered entity uses is that one's.
            let old = all.iter().find(|s: &&EntityDescriptor| {
                (s.name == schema.name || schema.renamed_from.as_deref() == Some(&*s.name))
                    && !schemas.iter().any(|r| r.table == s.table)
            });
            if let Some(old) = old {
                let change = if old.name == schema.name {
                    format!("table `{}` became `{}`", old.table, schema.table)
                } else {
                    format!("entity `{}` was renamed to `{}`", old.name, schema.name)
                };
                return Err(Error::SchemaMismatch { entity: schema.name.to_string(), changes: vec![change] });
            }
            continue;
        };
        let changes = stored.differences(schema);
        if !changes.is_empty() {
            return Err(Error::SchemaMismatch { entity: schema.name.to_string(), changes });
        }
    }
    Ok(())
}
