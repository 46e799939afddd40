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
use std::sync::PoisonError;

// The epoch, the gate and the shard locks come from loom when the protocol is
// model-checked (`RUSTFLAGS="--cfg drift_loom"`, see `cache_loom.rs`).
#[cfg(drift_loom)]
use loom::sync::{
    RwLock,
    atomic::{AtomicU8, AtomicU64, Ordering},
};
#[cfg(not(drift_loom))]
use std::sync::{
    RwLock,
    atomic::{AtomicU8, AtomicU64, Ordering},
};

use quick_cache::Equivalent;

/// A cached row's key: its entity, its stored key bytes, and their hash, computed
/// once per look-up (the maps below hash it no further).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Key {
    hash: u64,
    entity: u32,
    key: Box<[u8]>,
}

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

struct KeyRef<'a> {
    hash: u64,
    entity: u32,
    key: &'a [u8],
}

impl<'a> KeyRef<'a> {
    fn new(entity: u32, key: &'a [u8]) -> Self {
        // One `write` of the key bytes, the entity folded into the seed: a look-up
        // hashes its key once, with no length prefix or tuple framing.
        let mut h = foldhash::fast::FixedState::with_seed(HASH_SEED ^ u64::from(entity)).build_hasher();
        h.write(key);
        KeyRef { hash: h.finish(), entity, key }
    }
}

impl Hash for KeyRef<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

impl Equivalent<Key> for KeyRef<'_> {
    fn equivalent(&self, k: &Key) -> bool {
        self.hash == k.hash && self.entity == k.entity && self.key == &*k.key
    }
}

const HASH_SEED: u64 = 0x5eed_d81f_0c0f_fee5;

/// The hasher of the maps: keys hash themselves ([`Key::hash`] writes one `u64`
/// computed with foldhash), so it only passes that value on.
#[derive(Clone, Default)]
struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
    fn write(&mut self, bytes: &[u8]) {
        // Not reached (both key types write one u64); folded in for completeness.
        self.0 = foldhash::fast::FixedState::with_seed(self.0).hash_one(bytes);
    }
}

#[derive(Clone, Default)]
struct BuildPrehashed;

impl BuildHasher for BuildPrehashed {
    type Hasher = Prehashed;
    fn build_hasher(&self) -> Prehashed {
        Prehashed(0)
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
    BuildPrehashed,
    quick_cache::unsync::DefaultLifecycle<Key, Entry>,
>;

/// Shards of the map, each under its own lock with its own counters, on its own
/// cache line: readers of different shards share no written memory.
const SHARDS: usize = 16;

#[repr(align(128))]
struct Shard {
    map: RwLock<Map>,
    hits: AtomicU64,
    misses: AtomicU64,
    /// `hits` and `misses` at the last decision on the regime.
    window_hits: AtomicU64,
    window_misses: AtomicU64,
    /// The [`Regime`], as its `u8`.
    regime: AtomicU8,
}

/// The shared cache of a database.
pub(crate) struct EntityCache {
    shards: Box<[Shard]>,
    epoch: AtomicU64,
    gate: RwLock<()>,
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
        (capacity > 0).then(|| EntityCache {
            shards: (0..shards)
                .map(|_| Shard {
                    map: RwLock::new(Map::with(
                        per_shard,
                        per_shard as u64,
                        quick_cache::UnitWeighter,
                        BuildPrehashed,
                        quick_cache::unsync::DefaultLifecycle::default(),
                    )),
                    hits: AtomicU64::new(0),
                    misses: AtomicU64::new(0),
                    window_hits: AtomicU64::new(0),
                    window_misses: AtomicU64::new(0),
                    regime: AtomicU8::new(Regime::Fill as u8),
                })
                .collect(),
            epoch: AtomicU64::new(0),
            gate: RwLock::new(()),
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

    /// The shard that holds `key`, chosen by bits 32..36 of its hash: the map inside
    /// indexes its buckets with the low bits and tags them with the top seven, so
    /// neither is constant within a shard.
    fn shard(&self, key: &KeyRef<'_>) -> &Shard {
        &self.shards[(key.hash >> 32) as usize % self.shards.len()]
    }

    /// Removes the changed rows and ends the commit.
    pub(crate) fn end_commit(&self, changes: &crate::changes::ChangeSet) {
        let _gate = self.gate.write().unwrap_or_else(PoisonError::into_inner);
        for (entity, kind, key) in changes.iter() {
            // An insert makes no cached row stale: only present rows are cached, and a
            // key inserted after its delete in one transaction is dropped for the delete.
            if kind != crate::changes::ChangeKind::Insert {
                let k = KeyRef::new(entity, key);
                self.shard(&k).map.write().unwrap_or_else(PoisonError::into_inner).remove(&k);
            }
        }
        self.epoch.fetch_add(1, Ordering::SeqCst);
    }

    pub(crate) fn hits(&self) -> u64 {
        self.shards.iter().map(|s| s.hits.load(Ordering::Relaxed)).sum()
    }

    pub(crate) fn misses(&self) -> u64 {
        self.shards.iter().map(|s| s.misses.load(Ordering::Relaxed)).sum()
    }
}

/// How a shard treats a look-up, from the hit rate of its last window of look-ups.
#[derive(Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Regime {
    /// At least one look-up in eight hits (and at the start): every key is looked
    /// up and every miss is cached.
    Fill = 0,
    /// One look-up in 16 to one in 8 hits: every key is looked up, one miss in 32
    /// is cached (copies that would mostly be evicted unused are not made).
    Sample = 1,
    /// Fewer than one look-up in 16 hits (a working set much larger than the
    /// cache, or no reuse): a look-up would cost more than its hits save, so a
    /// thread looks up one get in eight, chosen at random, and caches one of those misses in
    /// 32. The sampled look-ups keep measuring the hit rate, so a hot set that
    /// appears is seen, cached, and the shard returns to `Fill`.
    Skip = 2,
}

/// A shard decides its regime again after every `HIT_WINDOW` hits and every
/// `MISS_WINDOW` misses, from the look-ups since its last decision.
const HIT_WINDOW: u64 = 64;
const MISS_WINDOW: u64 = 64;

std::thread_local! {
    /// This thread's sampler of look-ups in shards that skip them: a xorshift
    /// generator, so that no fixed pattern of gets can always fall between samples
    /// (as it could between the ticks of a counter modulo 8).
    static SAMPLER: std::cell::Cell<u64> = const { std::cell::Cell::new(0x9e37_79b9_7f4a_7c15) };
}

/// One get in eight, at random.
fn sampled() -> bool {
    let mut x = SAMPLER.get();
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    SAMPLER.set(x);
    x >> 61 == 0
}

impl Shard {
    fn regime(&self) -> Regime {
        match self.regime.load(Ordering::Relaxed) {
            0 => Regime::Fill,
            1 => Regime::Sample,
            _ => Regime::Skip,
        }
    }

    /// Counts a hit.
    fn count_hit(&self) {
        if (self.hits.fetch_add(1, Ordering::Relaxed) + 1) % HIT_WINDOW == 0 {
            self.decide();
        }
    }

    /// Counts a miss; returns the number of misses before this one.
    fn count_miss(&self) -> u64 {
        let misses = self.misses.fetch_add(1, Ordering::Relaxed);
        if (misses + 1) % MISS_WINDOW == 0 {
            self.decide();
        }
        misses
    }

    /// Sets the regime from the hit rate of the look-ups since the last decision.
    /// (Concurrent look-ups may land in either window: the rate is an estimate.)
    fn decide(&self) {
        let hits = self.hits.load(Ordering::Relaxed);
        let misses = self.misses.load(Ordering::Relaxed);
        let h = hits.saturating_sub(self.window_hits.swap(hits, Ordering::Relaxed));
        let m = misses.saturating_sub(self.window_misses.swap(misses, Ordering::Relaxed));
        let lookups = h.saturating_add(m);
        let regime = if h.saturating_mul(8) >= lookups {
            Regime::Fill
        } else if h.saturating_mul(16) >= lookups {
            Regime::Sample
        } else {
            Regime::Skip
        };
        self.regime.store(regime as u8, Ordering::Relaxed);
    }
}

/// A cache miss: the hash of the key that was not found, and whether the row may
/// be cached once read.
#[derive(Clone, Copy)]
pub(crate) struct Miss {
    hash: u64,
    admit: bool,
}

impl CacheView<'_> {
    /// The cached row, when one is valid for this snapshot; on a miss, what
    /// [`offer`](Self::offer) needs once the row is read. A miss costs a hash and,
    /// unless the shard skips look-ups (see [`Regime`]), one probe of the map.
    pub(crate) fn get<T: Clone + 'static>(&self, entity: u32, key: &[u8]) -> Result<T, Miss> {
        let k = KeyRef::new(entity, key);
        let shard = self.cache.shard(&k);
        let regime = shard.regime();
        if regime == Regime::Skip && !sampled() {
            return Err(Miss { hash: k.hash, admit: false });
        }
        let hit = {
            let map = shard.map.read().unwrap_or_else(PoisonError::into_inner);
            // The row is cloned under the shard's read lock. An entity's `Clone` must
            // therefore not use the database itself (a `Clone` that reads or writes
            // through the same `Db` could wait for this shard's lock while holding it);
            // derived and ordinary `Clone`s never do.
            map.get(&k).filter(|e| e.from <= self.epoch).and_then(|e| e.value.downcast_ref::<T>().cloned())
        };
        if hit.is_some() {
            shard.count_hit();
        } else {
            let misses = shard.count_miss();
            let admit = match regime {
                Regime::Fill => true,
                Regime::Sample => misses % 32 == 0,
                Regime::Skip => misses % 32 == 0,
            };
            return Err(Miss { hash: k.hash, admit });
        }
        hit.ok_or(Miss { hash: k.hash, admit: false })
    }

    /// Offers a row read at this snapshot to the cache, after the [`get`](Self::get)
    /// of its key missed.
    pub(crate) fn offer<T: Clone + Send + Sync + 'static>(&self, entity: u32, key: &[u8], miss: Miss, row: &T) {
        if self.fill && miss.admit {
            let k = KeyRef { hash: miss.hash, entity, key };
            self.insert(self.cache.shard(&k), k, row);
        }
    }

    /// Inserts a row read at this snapshot, unless a commit came since; out of line,
    /// so that the common path of [`offer`](Self::offer) (not admitted) stays small.
    #[cold]
    #[inline(never)]
    fn insert<T: Clone + Send + Sync + 'static>(&self, shard: &Shard, k: KeyRef<'_>, row: &T) {
        let _gate = self.cache.gate.read().unwrap_or_else(PoisonError::into_inner);
        if self.cache.epoch.load(Ordering::SeqCst) != self.epoch {
            return;
        }
        let entry = Entry { from: self.epoch, value: Box::new(row.clone()) };
        let mut map = shard.map.write().unwrap_or_else(PoisonError::into_inner);
        map.insert(Key { hash: k.hash, entity: k.entity, key: k.key.into() }, entry);
    }
}

#[cfg(all(test, drift_loom))]
#[path = "cache_loom.rs"]
mod loom_model;
