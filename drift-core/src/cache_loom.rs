//! The cache's epoch protocol, model-checked with loom: every interleaving of a small
//! model (within loom's preemption bound) of writers committing, commits failing,
//! readers opening snapshots, and a write transaction reading through the cache.
//!
//! ```sh
//! RUSTFLAGS="--cfg drift_loom" cargo test -p drift-core --release --lib loom
//! ```
//!
//! The storage is modelled by one number, the last committed version: a snapshot is
//! that number read once, and a commit publishes the next one (what redb's commit does
//! with its root). One row, `ROW` of entity 0, holds in version `v` the value `v`,
//! and is absent in version 0 (the first commit inserts it, later ones update it).
//! The only assertion: a row served from the cache equals the row in the snapshot of
//! the transaction it is served to.

use loom::sync::atomic::{AtomicU64, Ordering};
use loom::sync::{Arc, Mutex};
use loom::thread;

use super::EntityCache;
use crate::changes::{ChangeKind, ChangeSet};

const ROW: &[u8] = b"row";

/// The row in version `v` of the store.
fn row_at(v: u64) -> Option<u64> {
    (v > 0).then_some(v)
}

struct Store {
    version: AtomicU64,
    /// redb's single-writer lock: a write transaction holds it until its commit has
    /// been published or failed (the cache is invalidated after, without it).
    writer: Mutex<()>,
}

fn model(threads: impl Fn(&Arc<EntityCache>, &Arc<Store>) -> Vec<thread::JoinHandle<()>> + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(3);
    builder.check(move || {
        let cache = Arc::new(EntityCache::new(16).expect("a cache of 16 rows"));
        let store = Arc::new(Store { version: AtomicU64::new(0), writer: Mutex::new(()) });
        for t in threads(&cache, &store) {
            t.join().expect("a model thread panicked");
        }
    });
}

/// A read transaction reading the row, as `Db::begin_read` and `Reader::get` do.
fn read(cache: &EntityCache, store: &Store) {
    let before = cache.epoch();
    let snapshot = store.version.load(Ordering::SeqCst);
    let after = cache.epoch();
    let Some(epoch) = EntityCache::reader_epoch(before, after) else { return };
    let view = cache.view(epoch, true);
    match view.get::<u64>(0, ROW) {
        Ok(hit) => {
            assert_eq!(Some(hit), row_at(snapshot), "a reader at version {snapshot} got a cached row of another")
        }
        Err(miss) => {
            if let Some(row) = row_at(snapshot) {
                view.offer(0, ROW, miss, &row);
            }
        }
    }
}

/// A write transaction that changes the row: `WriteTx::commit` with the cache on.
/// `fails`: the storage commit fails (nothing is published).
fn commit(cache: &EntityCache, store: &Store, fails: bool) {
    let guard = store.writer.lock().expect("the writer lock");
    let next = store.version.load(Ordering::SeqCst) + 1;
    let mut changes = ChangeSet::default();
    changes.record(0, if next == 1 { ChangeKind::Insert } else { ChangeKind::Update }, ROW, b"", b"");
    cache.begin_commit();
    if !fails {
        store.version.store(next, Ordering::SeqCst);
    }
    // redb lets the next writer in once its commit returns.
    drop(guard);
    cache.end_commit(&changes);
}

/// A write transaction that only reads the row through the cache (an entity it has
/// not changed), as `Db::begin_write` and its reader do, and then aborts.
fn read_in_write_transaction(cache: &EntityCache, store: &Store) {
    let _guard = store.writer.lock().expect("the writer lock");
    let Some(epoch) = cache.writer_epoch() else { return };
    let snapshot = store.version.load(Ordering::SeqCst);
    let view = cache.view(epoch, false);
    match view.get::<u64>(0, ROW) {
        Ok(hit) => {
            assert_eq!(Some(hit), row_at(snapshot), "a writer at version {snapshot} got a cached row of another")
        }
        // Never inserted: `fill` is off for write transactions.
        Err(miss) => view.offer(0, ROW, miss, &row_at(snapshot).unwrap_or(0)),
    }
}

#[test]
fn loom_readers_racing_an_insert_and_an_update_get_only_their_snapshots_row() {
    model(|cache, store| {
        let (c, s) = (cache.clone(), store.clone());
        let writer = thread::spawn(move || {
            commit(&c, &s, false);
            commit(&c, &s, false);
        });
        let readers = (0..2).map(|_| {
            let (c, s) = (cache.clone(), store.clone());
            thread::spawn(move || {
                read(&c, &s);
                read(&c, &s);
            })
        });
        std::iter::once(writer).chain(readers).collect()
    });
}

#[test]
fn loom_a_failed_commit_leaves_no_row_a_reader_should_not_see() {
    model(|cache, store| {
        let (c, s) = (cache.clone(), store.clone());
        let writer = thread::spawn(move || {
            commit(&c, &s, false);
            commit(&c, &s, true);
            commit(&c, &s, false);
        });
        let (c, s) = (cache.clone(), store.clone());
        let reader = thread::spawn(move || {
            read(&c, &s);
            read(&c, &s);
            read(&c, &s);
        });
        vec![writer, reader]
    });
}

#[test]
fn loom_a_write_transaction_reads_through_the_cache_without_filling_it() {
    model(|cache, store| {
        let (c, s) = (cache.clone(), store.clone());
        let writer = thread::spawn(move || {
            commit(&c, &s, false);
            commit(&c, &s, false);
        });
        let (c, s) = (cache.clone(), store.clone());
        let reading_writer = thread::spawn(move || {
            read_in_write_transaction(&c, &s);
            read_in_write_transaction(&c, &s);
        });
        let (c, s) = (cache.clone(), store.clone());
        let reader = thread::spawn(move || {
            read(&c, &s);
            read(&c, &s);
        });
        vec![writer, reading_writer, reader]
    });
}
