//! The decoded-entity cache is exact: every read equals the uncached read at the
//! same snapshot.

mod common;

use std::cell::Cell;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use common::User;
use drift::prelude::*;
use proptest::prelude::*;
use proptest::test_runner::{TestCaseError, TestRunner};

fn db(capacity: usize) -> Db {
    Db::builder().entity::<User>().cache_capacity(capacity).in_memory().unwrap()
}

/// The same row read without the cache: a primary-key query reads the table.
fn uncached(tx: &ReadTx, id: u64) -> Option<User> {
    tx.query::<User>().filter(User::ID.eq(id)).first().unwrap()
}

fn user(id: u64, age: u32) -> User {
    User { id, email: format!("u{id}@x"), age, name: format!("v{age}") }
}

#[test]
fn repeated_gets_hit_the_cache_and_are_counted() {
    let db = db(100);
    db.write(|tx| tx.insert(&user(1, 10)).map(drop)).unwrap();
    for _ in 0..3 {
        assert_eq!(db.read(|tx| tx.get::<User>(&1)).unwrap(), Some(user(1, 10)));
    }
    let s = db.stats();
    assert_eq!((s.cache_misses, s.cache_hits), (1, 2));
    let tx = db.begin_read().unwrap();
    tx.get::<User>(&1).unwrap();
    assert_eq!(tx.stats().cache_hits, 1);
    assert_eq!(tx.stats().gets, 0, "a hit does no storage read");
}

#[test]
fn cache_capacity_zero_turns_the_cache_off() {
    let db = db(0);
    db.write(|tx| tx.insert(&user(1, 10)).map(drop)).unwrap();
    for _ in 0..3 {
        db.read(|tx| tx.get::<User>(&1)).unwrap();
    }
    assert_eq!((db.stats().cache_hits, db.stats().cache_misses), (0, 0));
}

#[test]
fn reader_keeps_its_snapshot_while_newer_readers_fill_the_cache() {
    let db = db(100);
    db.write(|tx| tx.insert(&user(1, 10)).map(drop)).unwrap();
    let old = db.begin_read().unwrap();
    db.write(|tx| tx.update(&user(1, 20))).unwrap();
    // A new reader caches the new row...
    assert_eq!(db.read(|tx| tx.get::<User>(&1)).unwrap().unwrap().age, 20);
    assert_eq!(db.read(|tx| tx.get::<User>(&1)).unwrap().unwrap().age, 20);
    // ...which the old reader must not see.
    assert_eq!(old.get::<User>(&1).unwrap().unwrap().age, 10);
    assert_eq!(old.get::<User>(&1).unwrap().unwrap().age, 10);
}

#[test]
fn old_reader_cannot_plant_a_stale_row_for_newer_readers() {
    let db = db(100);
    db.write(|tx| tx.insert(&user(1, 10)).map(drop)).unwrap();
    let old = db.begin_read().unwrap();
    db.write(|tx| tx.update(&user(1, 20))).unwrap();
    assert_eq!(old.get::<User>(&1).unwrap().unwrap().age, 10);
    assert_eq!(db.read(|tx| tx.get::<User>(&1)).unwrap().unwrap().age, 20);
}

#[test]
fn write_tx_sees_its_own_update_not_the_cached_row() {
    let db = db(100);
    db.write(|tx| tx.insert(&user(1, 10)).map(drop)).unwrap();
    db.read(|tx| tx.get::<User>(&1)).unwrap();
    db.write(|tx| {
        assert_eq!(tx.get::<User>(&1)?.unwrap().age, 10);
        tx.update(&user(1, 30))?;
        assert_eq!(tx.get::<User>(&1)?.unwrap().age, 30);
        tx.delete::<User>(&1)?;
        assert_eq!(tx.get::<User>(&1)?, None);
        Ok(())
    })
    .unwrap();
    assert_eq!(db.read(|tx| tx.get::<User>(&1)).unwrap(), None);
}

#[test]
fn aborted_write_leaves_no_trace_in_the_cache() {
    let db = db(100);
    db.write(|tx| tx.insert(&user(1, 10)).map(drop)).unwrap();
    db.read(|tx| tx.get::<User>(&1)).unwrap();
    let r: Result<()> = db.write(|tx| {
        tx.update(&user(1, 99))?;
        tx.get::<User>(&1)?;
        Err(Error::NotFound { entity: "User", key: "abort".into() })
    });
    assert!(r.is_err());
    assert_eq!(db.read(|tx| tx.get::<User>(&1)).unwrap().unwrap().age, 10);
}

struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// The stress test's duration in seconds, from `DRIFT_CACHE_STRESS_SECS` (unset: a
/// fixed 400 writer rounds).
fn stress_secs() -> Option<u64> {
    std::env::var("DRIFT_CACHE_STRESS_SECS").ok().and_then(|s| s.parse().ok())
}

#[test]
fn concurrent_cached_reads_equal_uncached_reads_at_the_same_snapshot() {
    let db = db(64);
    db.write(|tx| {
        for id in 1..=200 {
            tx.insert(&user(id, 0))?;
        }
        Ok(())
    })
    .unwrap();
    let start = db.stats();
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (db, stop) = (db.clone(), Arc::clone(&stop));
        std::thread::spawn(move || {
            // Stops the readers also when the writer panics.
            let _stop = StopOnDrop(stop);
            let mut rng = 0x9E37_79B9_7F4A_7C15u64;
            let mut next = || {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                rng
            };
            // What the committed rounds leave: id -> round of its last upsert.
            let mut model: BTreeMap<u64, u32> = (1..=200).map(|id| (id, 0)).collect();
            let (mut commits, mut aborts) = (0u64, 0u64);
            // 400 rounds, or as many as fit in DRIFT_CACHE_STRESS_SECS seconds (the
            // long mode runs 60).
            let until = stress_secs().map(|s| std::time::Instant::now() + std::time::Duration::from_secs(s));
            let more = |round: u32| match until {
                Some(t) => std::time::Instant::now() < t,
                None => round < 400,
            };
            let mut round = 0u32;
            while more(round) {
                round += 1;
                let mut pending = model.clone();
                let mut abort = false;
                let r: Result<()> = db.write(|tx| {
                    for _ in 0..5 {
                        let id = next() % 200 + 1;
                        match next() % 4 {
                            0 => {
                                let gone = tx.delete::<User>(&id)?;
                                assert_eq!(gone.map(|u| u.age), pending.remove(&id), "round {round}: deleted row");
                            }
                            _ => {
                                tx.upsert(&user(id, round))?;
                                pending.insert(id, round);
                            }
                        }
                    }
                    abort = next() % 5 == 0;
                    if abort { Err(Error::NotFound { entity: "User", key: "abort".into() }) } else { Ok(()) }
                });
                match r {
                    Ok(()) => {
                        commits += 1;
                        model = pending;
                    }
                    Err(Error::NotFound { key, .. }) if abort && key == "abort" => aborts += 1,
                    Err(e) => panic!("round {round}: the write failed: {e}"),
                }
            }
            (commits, aborts, model, round)
        })
    };
    let readers: Vec<_> = (0..3)
        .map(|seed| {
            let (db, stop) = (db.clone(), Arc::clone(&stop));
            std::thread::spawn(move || {
                let mut rng = 0x2545_F491_4F6C_DD1Du64 + seed;
                let (mut reads, mut found, mut hits) = (0u64, 0u64, 0u64);
                while !stop.load(Ordering::SeqCst) || reads < 2_000 {
                    let tx = db.begin_read().unwrap();
                    for _ in 0..20 {
                        rng ^= rng << 13;
                        rng ^= rng >> 7;
                        rng ^= rng << 17;
                        let id = rng % 200 + 1;
                        let cached = tx.get::<User>(&id).unwrap();
                        assert_eq!(cached, uncached(&tx, id), "key {id}");
                        found += u64::from(cached.is_some());
                        reads += 1;
                    }
                    hits += tx.stats().cache_hits;
                }
                (reads, found, hits)
            })
        })
        .collect();
    let (commits, aborts, model, rounds) = writer.join().unwrap();
    // The xorshift sequence is fixed, so are the rounds it aborts; every other one
    // must commit.
    assert_eq!(commits + aborts, u64::from(rounds));
    assert!(commits > 0 && aborts > 0, "{commits} commits, {aborts} aborts");
    let end = db.stats();
    assert_eq!(end.commits - start.commits, commits, "every round that did not abort committed");
    assert_eq!(end.rollbacks - start.rollbacks, aborts, "every abort rolled back");
    let mut hits = 0;
    for r in readers {
        let (reads, found, h) = r.join().unwrap();
        assert!(reads >= 2_000, "{reads} reads");
        assert!(found > 0, "the reader saw no row in {reads} reads");
        hits += h;
    }
    assert!(hits > 0, "the stress test must exercise cache hits");
    eprintln!("cache stress: {rounds} writer rounds ({commits} commits, {aborts} aborts), {hits} cache hits");
    // The committed rounds, and only those, are in the database, cached or not.
    let stored = db.read(|tx| tx.query::<User>().all()).unwrap();
    assert_eq!(stored.iter().map(|u| (u.id, u.age)).collect::<BTreeMap<_, _>>(), model);
    db.read(|tx| {
        for (&id, &age) in &model {
            assert_eq!(tx.get::<User>(&id)?, Some(user(id, age)));
        }
        Ok(())
    })
    .unwrap();
}

/// A small relation graph for the invalidation tests: deleting an author cascades to
/// its books and on to their chapters, and nulls the reviewer of its reviews.
mod library {
    use drift::prelude::*;

    #[derive(Entity, Debug, Clone, PartialEq, Default)]
    #[drift(table = "cache_authors")]
    pub struct Author {
        #[drift(primary_key)]
        pub id: u64,
        pub name: String,
    }

    #[derive(Entity, Debug, Clone, PartialEq, Default)]
    #[drift(table = "cache_books")]
    pub struct Book {
        #[drift(primary_key)]
        pub id: u64,
        #[drift(index)]
        pub author_id: u64,
        pub title: String,
        #[drift(belongs_to(Author, key = author_id, on_delete = cascade))]
        pub author: BelongsTo<Author>,
    }

    #[derive(Entity, Debug, Clone, PartialEq, Default)]
    #[drift(table = "cache_chapters")]
    pub struct Chapter {
        #[drift(primary_key)]
        pub id: u64,
        pub book_id: u64,
        pub text: String,
        #[drift(belongs_to(Book, key = book_id, on_delete = cascade))]
        pub book: BelongsTo<Book>,
    }

    #[derive(Entity, Debug, Clone, PartialEq, Default)]
    #[drift(table = "cache_reviews")]
    pub struct Review {
        #[drift(primary_key)]
        pub id: u64,
        pub reviewer_id: Option<u64>,
        pub text: String,
        #[drift(belongs_to(Author, key = reviewer_id, on_delete = set_null))]
        pub reviewer: BelongsTo<Author>,
    }

    pub fn db() -> Db {
        let db = Db::builder()
            .entity::<Author>()
            .entity::<Book>()
            .entity::<Chapter>()
            .entity::<Review>()
            .cache_capacity(100)
            .in_memory()
            .unwrap();
        db.write(|tx| {
            for id in 1..=2 {
                tx.insert(&Author { id, name: format!("author {id}") })?;
            }
            tx.insert(&Book { id: 10, author_id: 1, title: "one".into(), ..Default::default() })?;
            tx.insert(&Book { id: 20, author_id: 2, title: "two".into(), ..Default::default() })?;
            tx.insert(&Chapter { id: 100, book_id: 10, text: "c1".into(), ..Default::default() })?;
            tx.insert(&Review { id: 7, reviewer_id: Some(1), text: "good".into(), ..Default::default() })?;
            Ok(())
        })
        .unwrap();
        db
    }
}

/// Reads `T` with key `key` twice in one fresh reader and checks that the second
/// read is a cache hit: the row is then in the cache.
fn cache<T: drift::Entity + Clone + PartialEq + std::fmt::Debug>(db: &Db, key: &T::Key) -> T {
    let tx = db.begin_read().unwrap();
    let first = tx.get::<T>(key).unwrap().expect("the row exists");
    let hits = tx.stats().cache_hits;
    assert_eq!(tx.get::<T>(key).unwrap().as_ref(), Some(&first));
    assert_eq!(tx.stats().cache_hits, hits + 1, "the row is cached");
    first
}

#[test]
fn rows_removed_by_a_cascade_are_not_served_from_the_cache() {
    use library::{Author, Book, Chapter};
    let db = library::db();
    cache::<Book>(&db, &10);
    cache::<Chapter>(&db, &100);
    cache::<Book>(&db, &20);
    let deleted = db.write(|tx| tx.delete::<Author>(&1)).unwrap();
    assert_eq!(deleted.map(|a| a.id), Some(1));
    let tx = db.begin_read().unwrap();
    assert_eq!(tx.get::<Book>(&10).unwrap(), None, "the cascaded book is gone");
    assert_eq!(tx.get::<Chapter>(&100).unwrap(), None, "the chapter two cascades down is gone");
    assert_eq!(tx.get::<Book>(&20).unwrap().map(|b| b.title), Some("two".to_string()), "the other book stays");
    assert_eq!(tx.query::<Book>().count().unwrap(), 1);
}

#[test]
fn rows_changed_by_set_null_are_not_served_from_the_cache() {
    use library::{Author, Review};
    let db = library::db();
    assert_eq!(cache::<Review>(&db, &7).reviewer_id, Some(1));
    db.write(|tx| tx.delete::<Author>(&1).map(drop)).unwrap();
    let tx = db.begin_read().unwrap();
    let review = tx.get::<Review>(&7).unwrap().expect("set_null keeps the row");
    assert_eq!((review.reviewer_id, review.text.as_str()), (None, "good"));
    assert_eq!(tx.query::<Review>().filter(Review::REVIEWER_ID.is_none()).count().unwrap(), 1);
}

#[test]
fn rows_removed_by_delete_where_are_not_served_from_the_cache() {
    use library::{Book, Chapter};
    let db = library::db();
    cache::<Book>(&db, &10);
    cache::<Book>(&db, &20);
    cache::<Chapter>(&db, &100);
    let n = db.write(|tx| tx.delete_where::<Book>(Book::TITLE.eq("one"))).unwrap();
    assert_eq!(n, 1);
    let tx = db.begin_read().unwrap();
    assert_eq!(tx.get::<Book>(&10).unwrap(), None, "the deleted book is gone");
    assert_eq!(tx.get::<Chapter>(&100).unwrap(), None, "its cascaded chapter is gone");
    assert_eq!(tx.get::<Book>(&20).unwrap().map(|b| b.id), Some(20), "the unmatched book stays");
}

#[derive(Debug, Clone)]
enum Op {
    BeginRead(usize),
    EndRead(usize),
    Read(usize, u64),
    Upsert(u64, u32, bool),
    Delete(u64, bool),
    WriterRead(u64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        1 => (0..3usize).prop_map(Op::BeginRead),
        1 => (0..3usize).prop_map(Op::EndRead),
        3 => (0..3usize, 1..7u64).prop_map(|(s, k)| Op::Read(s, k)),
        2 => (1..7u64, 0..100u32, any::<bool>()).prop_map(|(k, v, c)| Op::Upsert(k, v, c)),
        1 => (1..7u64, any::<bool>()).prop_map(|(k, c)| Op::Delete(k, c)),
        1 => (1..7u64).prop_map(Op::WriterRead),
    ]
}

/// Second reads of a row by a fresh reader, over a whole property run, and how many
/// of them the cache answered.
#[derive(Default)]
struct Repeats {
    reads: Cell<u64>,
    hits: Cell<u64>,
}

impl Repeats {
    /// Reads `k` twice in `tx` and checks both reads against `want`; counts the
    /// second read, and whether it was a hit, when the row exists.
    fn read_twice(&self, tx: &ReadTx, k: u64, want: Option<&User>) -> Result<(), TestCaseError> {
        prop_assert_eq!(tx.get::<User>(&k).unwrap(), want.cloned());
        let before = tx.stats().cache_hits;
        prop_assert_eq!(tx.get::<User>(&k).unwrap(), want.cloned());
        let hit = tx.stats().cache_hits - before;
        prop_assert!(hit <= 1);
        if want.is_some() {
            self.reads.set(self.reads.get() + 1);
            self.hits.set(self.hits.get() + hit);
        }
        Ok(())
    }
}

/// Runs one interleaving of snapshots, commits, aborts and reads against a cache of
/// `capacity` rows: every read equals the model's state at the reader's snapshot.
fn check_interleaving(capacity: usize, ops: Vec<Op>, repeats: &Repeats) -> Result<(), TestCaseError> {
    let db = db(capacity);
    let mut model: BTreeMap<u64, User> = BTreeMap::new();
    let mut readers: Vec<Option<(ReadTx, BTreeMap<u64, User>)>> = vec![None, None, None];
    for op in ops {
        match op {
            Op::BeginRead(s) => readers[s] = Some((db.begin_read().unwrap(), model.clone())),
            Op::EndRead(s) => readers[s] = None,
            Op::Read(s, k) => {
                if let Some((tx, snap)) = &readers[s] {
                    prop_assert_eq!(tx.get::<User>(&k).unwrap(), snap.get(&k).cloned());
                } else {
                    // A fresh reader, with no commit in flight, caches what it reads.
                    repeats.read_twice(&db.begin_read().unwrap(), k, model.get(&k))?;
                }
            }
            Op::Upsert(k, v, commit) => {
                let row = User { id: k, email: format!("e{k}"), age: v, name: String::new() };
                let mut tx = db.begin_write().unwrap();
                tx.upsert(&row).unwrap();
                prop_assert_eq!(tx.get::<User>(&k).unwrap(), Some(row.clone()));
                if commit {
                    tx.commit().unwrap();
                    model.insert(k, row);
                }
            }
            Op::Delete(k, commit) => {
                let mut tx = db.begin_write().unwrap();
                tx.delete::<User>(&k).unwrap();
                prop_assert_eq!(tx.get::<User>(&k).unwrap(), None);
                if commit {
                    tx.commit().unwrap();
                    model.remove(&k);
                }
            }
            Op::WriterRead(k) => {
                let got = db.write(|tx| tx.get::<User>(&k)).unwrap();
                prop_assert_eq!(got, model.get(&k).cloned());
            }
        }
    }
    // Each case ends with a committed row read twice by a fresh reader, and with every
    // reader still open reading its whole snapshot once more.
    let row = User { id: 1, email: "last".into(), age: 7, name: String::new() };
    db.write(|tx| tx.upsert(&row).map(drop)).unwrap();
    model.insert(1, row);
    repeats.read_twice(&db.begin_read().unwrap(), 1, model.get(&1))?;
    for (tx, snap) in readers.iter().flatten() {
        for k in 1..7u64 {
            prop_assert_eq!(tx.get::<User>(&k).unwrap(), snap.get(&k).cloned());
        }
    }
    Ok(())
}

/// Any interleaving, with a cache small enough to evict, reads exactly the model; and
/// the cache is used: at least 90% of second reads of a row are hits (a row evicted
/// between the two reads is a miss; about one in a thousand is).
#[test]
fn cached_reads_match_the_model_under_any_interleaving() {
    let repeats = Repeats::default();
    let config = ProptestConfig { failure_persistence: None, ..ProptestConfig::with_cases(256) };
    let ops = proptest::collection::vec(op(), 1..60);
    if let Err(e) = TestRunner::new(config).run(&ops, |ops| check_interleaving(3, ops, &repeats)) {
        panic!("{e}");
    }
    let (reads, hits) = (repeats.reads.get(), repeats.hits.get());
    assert!(reads >= 256, "every case reads a row twice");
    assert!(hits * 10 >= reads * 9, "only {hits} of {reads} second reads were cache hits");
}

/// A cache of 2,048 rows (16 shards) over 30,000 rows, each read once: every shard
/// has seen a miss-heavy phase. Returns the database and the number of rows.
fn after_a_miss_heavy_phase() -> (Db, u64) {
    let db = db(2048);
    let n = 30_000u64;
    db.write(|tx| {
        for id in 1..=n {
            tx.insert(&user(id, 20))?;
        }
        Ok(())
    })
    .unwrap();
    let seen = db
        .read(|tx| {
            let mut seen = 0u64;
            for id in 1..=n {
                seen += u64::from(tx.get::<User>(&id)?.is_some());
            }
            Ok(seen)
        })
        .unwrap();
    assert_eq!(seen, n);
    (db, n)
}

/// A miss-heavy phase (every row read once) makes the cache stop paying for most
/// look-ups; a hot set read afterwards is still found, cached and served from the
/// cache (the shards measure their hit rate on sampled look-ups and return to
/// caching every miss).
#[test]
fn a_hot_set_after_a_miss_heavy_phase_is_cached_again() {
    let (db, n) = after_a_miss_heavy_phase();
    let s = db.stats();
    assert!(
        s.cache_hits + s.cache_misses < n / 2,
        "a miss-heavy phase looks up only a sample of its keys: {} look-ups for {n} gets",
        s.cache_hits + s.cache_misses
    );
    let (hits_before, reads) = (s.cache_hits, 32_000u64);
    db.read(|tx| {
        for i in 0..reads {
            let id = 1 + (i % 32) * 911;
            assert_eq!(tx.get::<User>(&id)?, Some(user(id, 20)));
        }
        Ok(())
    })
    .unwrap();
    let hot_hits = db.stats().cache_hits - hits_before;
    assert!(hot_hits * 2 >= reads, "only {hot_hits} of {reads} reads of a 32-row hot set were cache hits");
}

/// Rows met by an index range of a query are served from the cache when there but
/// never put in it: a scan does not evict the rows that gets keep hot.
#[test]
fn index_range_queries_read_through_the_cache_without_filling_it() {
    let db = db(100);
    db.write(|tx| {
        for id in 1..=10 {
            tx.insert(&user(id, if id <= 5 { 30 } else { 40 }))?;
        }
        Ok(())
    })
    .unwrap();
    let q = |db: &Db| db.read(|tx| tx.query::<User>().filter(User::AGE.eq(30)).all()).unwrap();
    assert_eq!(q(&db).len(), 5);
    let s = db.stats();
    assert_eq!((s.cache_hits, s.cache_misses), (0, 5), "the range looked its rows up");
    // A get of a row the range read misses: the range did not cache it.
    assert_eq!(db.read(|tx| tx.get::<User>(&1)).unwrap(), Some(user(1, 30)));
    assert_eq!(db.stats().cache_misses, 6);
    // Now cached by the get, the row is served to the next range from the cache.
    assert_eq!(q(&db).len(), 5);
    assert_eq!(db.stats().cache_hits, 1);
}

/// A hot key read in a fixed pattern with cold keys (one hot get, one cold get, over
/// and over) is looked up and cached in a shard that skips most look-ups, whatever
/// the phase of the pattern: the sampling of look-ups has no period a pattern can
/// fall between.
#[test]
fn a_hot_key_between_cold_keys_is_cached_whatever_the_pattern() {
    let (db, _) = after_a_miss_heavy_phase();
    for shift in 0..4u64 {
        let hot_hits = std::thread::scope(|s| {
            s.spawn(|| {
                db.read(|tx| {
                    for i in 0..shift {
                        tx.get::<User>(&(100 + i))?;
                    }
                    let mut hot_hits = 0;
                    for i in 0..40_000u64 {
                        let before = tx.stats().cache_hits;
                        assert!(tx.get::<User>(&7)?.is_some());
                        hot_hits += tx.stats().cache_hits - before;
                        tx.get::<User>(&(1_000 + i % 20_000))?;
                    }
                    Ok(hot_hits)
                })
                .unwrap()
            })
            .join()
            .unwrap()
        });
        assert!(hot_hits >= 20_000, "shift {shift}: the hot row was served from the cache {hot_hits} of 40000 times");
    }
}

/// `limit(0)` reads no row, whichever way the results are taken.
#[test]
fn limit_zero_reads_no_row_through_all_or_iter() {
    let db = db(100);
    db.write(|tx| {
        for id in 1..=5 {
            tx.insert(&user(id, 20))?;
        }
        Ok(())
    })
    .unwrap();
    db.read(|tx| {
        let q = tx.query::<User>().order_by(User::NAME.asc()).limit(0);
        assert!(q.all()?.is_empty());
        assert!(q.iter()?.next().is_none());
        assert_eq!(tx.stats().rows_decoded, 0);
        Ok(())
    })
    .unwrap();
}
