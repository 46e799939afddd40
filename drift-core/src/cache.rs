//! The decoded-entity cache, exact for every snapshot.
//!
//! Protocol (an epoch counter, even when no commit is in flight):
//! - A commit that wrote anything makes the epoch odd, commits, removes the rows it
//!   updated or deleted from the cache, then makes the epoch even again — the removal
//!   and the second step happen under the exclusive side of `gate`. (Inserted rows
//!   have no entry to remove, but the epoch still moves, so that a row cached by a
//!   newer reader is never used by a reader whose snapshot predates the insert.)
//! - A reader records the epoch before and after opening its snapshot. When both are
//!   the same even number `r`, its snapshot holds exactly the commits up to `r`;
//!   otherwise it does not use the cache at all.
//! - A reader at `r` inserts a row it read only when the epoch is still `r`, checked
//!   under the shared side of `gate`; the entry records `from = r`.
//! - A reader at `r` uses an entry only when `from <= r`. Any commit that changed the
//!   row after `from` removed the entry before its epoch became visible, so an entry
//!   that is still there was not changed between `from` and `r`.
//!
//! Write transactions read through the cache only for entities they have not changed, and
//! never insert, so an aborted write leaves no trace.

use std::any::Any;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{PoisonError, RwLock};

use quick_cache::Equivalent;

#[derive(Debug, Clone, PartialEq, Eq)]
struct Key {
    entity: u32,
    key: Box<[u8]>,
}

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        KeyRef { entity: self.entity, key: &self.key }.hash(state);
    }
}

struct KeyRef<'a> {
    entity: u32,
    key: &'a [u8],
}

impl Hash for KeyRef<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u32(self.entity);
        state.write(self.key);
    }
}

impl Equivalent<Key> for KeyRef<'_> {
    fn equivalent(&self, k: &Key) -> bool {
        self.entity == k.entity && self.key == &*k.key
    }
}

struct Entry {
    from: u64,
    /// The decoded row, cloned out under the shard's read lock (no reference count
    /// shared between readers of a hot row).
    value: Box<dyn Any + Send + Sync>,
}

type Map = quick_cache::unsync::Cache<
    Key,
    Entry,
    quick_cache::UnitWeighter,
    foldhash::fast::FixedState,
    quick_cache::unsync::DefaultLifecycle<Key, Entry>,
>;

/// Shards of the map, each under its own lock: readers of different shards never
/// touch the same lock word.
const SHARDS: usize = 16;

/// The shared cache of a database.
pub(crate) struct EntityCache {
    shards: Box<[RwLock<Map>]>,
    hasher: foldhash::fast::FixedState,
    epoch: AtomicU64,
    gate: RwLock<()>,
    hits: AtomicU64,
    misses: AtomicU64,
}

/// How one transaction may use the cache.
#[derive(Clone, Copy)]
pub(crate) struct CacheView<'a> {
    cache: &'a EntityCache,
    /// The epoch of the snapshot.
    epoch: u64,
    /// Whether rows read may be inserted (readers only).
    fill: bool,
}

impl EntityCache {
    pub(crate) fn new(capacity: usize) -> Option<EntityCache> {
        // Small caches get one shard, so that their capacity is exact.
        let shards = if capacity >= SHARDS * 64 { SHARDS } else { 1 };
        let per_shard = capacity.div_ceil(shards);
        let hasher = foldhash::fast::FixedState::with_seed(0x5eed_d81f);
        (capacity > 0).then(|| EntityCache {
            shards: (0..shards)
                .map(|_| {
                    RwLock::new(Map::with(
                        per_shard,
                        per_shard as u64,
                        quick_cache::UnitWeighter,
                        hasher.clone(),
                        quick_cache::unsync::DefaultLifecycle::default(),
                    ))
                })
                .collect(),
            hasher,
            epoch: AtomicU64::new(0),
            gate: RwLock::new(()),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        })
    }

    /// The epoch before a reader opens its snapshot.
    pub(crate) fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::SeqCst)
    }

    /// A reader's snapshot epoch, given the epochs read before and after opening the
    /// snapshot; `None` when a commit was in flight (the reader then skips the cache).
    pub(crate) fn reader_epoch(before: u64, after: u64) -> Option<u64> {
        (before == after && before % 2 == 0).then_some(before)
    }

    /// A writer's snapshot epoch: the latest commit, unless the previous writer has
    /// not finished invalidating (then the writer skips the cache).
    pub(crate) fn writer_epoch(&self) -> Option<u64> {
        let e = self.epoch();
        (e % 2 == 0).then_some(e)
    }

    /// The view of a transaction at `epoch`; `fill` lets it insert what it reads.
    pub(crate) fn view(&self, epoch: u64, fill: bool) -> CacheView<'_> {
        CacheView { cache: self, epoch, fill }
    }

    /// Marks a commit that changes cached rows as in flight.
    pub(crate) fn begin_commit(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
    }

    /// The shard that holds `key`.
    fn shard(&self, key: &KeyRef<'_>) -> &RwLock<Map> {
        let i = if self.shards.len() == 1 { 0 } else { (self.hasher.hash_one(key) >> 60) as usize % self.shards.len() };
        &self.shards[i]
    }

    /// Removes the changed rows and ends the commit.
    pub(crate) fn end_commit(&self, changes: &crate::changes::ChangeSet) {
        let _gate = self.gate.write().unwrap_or_else(PoisonError::into_inner);
        for (entity, kind, key) in changes.iter() {
            // An insert makes no cached row stale: only present rows are cached, and a
            // key inserted after its delete in one transaction is dropped for the delete.
            if kind != crate::changes::ChangeKind::Insert {
                let k = KeyRef { entity, key };
                self.shard(&k).write().unwrap_or_else(PoisonError::into_inner).remove(&k);
            }
        }
        self.epoch.fetch_add(1, Ordering::SeqCst);
    }

    /// Admission: for the first 1,024 misses, and while at least one look-up in
    /// eight hits, every miss is cached;
    /// below that (a working set larger than the cache, or no reuse) only one miss in
    /// eight is, so that misses do not pay for copies that are evicted unused.
    fn admit(&self) -> bool {
        let hits = self.hits.load(Ordering::Relaxed);
        let misses = self.misses.load(Ordering::Relaxed);
        misses < 1024 || hits.saturating_mul(8) >= misses || misses % 8 == 0
    }

    pub(crate) fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    pub(crate) fn misses(&self) -> u64 {
        self.misses.load(Ordering::Relaxed)
    }
}

impl CacheView<'_> {
    /// The cached row, when one is valid for this snapshot.
    pub(crate) fn get<T: Clone + 'static>(&self, entity: u32, key: &[u8]) -> Option<T> {
        let k = KeyRef { entity, key };
        let hit = {
            let shard = self.cache.shard(&k).read().unwrap_or_else(PoisonError::into_inner);
            shard.get(&k).filter(|e| e.from <= self.epoch).and_then(|e| e.value.downcast_ref::<T>().cloned())
        };
        let counter = if hit.is_some() { &self.cache.hits } else { &self.cache.misses };
        counter.fetch_add(1, Ordering::Relaxed);
        hit
    }

    /// Offers a row read at this snapshot to the cache.
    pub(crate) fn offer<T: Clone + Send + Sync + 'static>(&self, entity: u32, key: &[u8], row: &T) {
        if !self.fill || !self.cache.admit() {
            return;
        }
        let _gate = self.cache.gate.read().unwrap_or_else(PoisonError::into_inner);
        if self.cache.epoch.load(Ordering::SeqCst) != self.epoch {
            return;
        }
        let entry = Entry { from: self.epoch, value: Box::new(row.clone()) };
        let k = KeyRef { entity, key };
        let mut shard = self.cache.shard(&k).write().unwrap_or_else(PoisonError::into_inner);
        shard.insert(Key { entity, key: key.into() }, entry);
    }
}
