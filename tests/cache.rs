//! The decoded-entity cache is exact: every read equals the uncached read at the
//! same snapshot.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use common::User;
use drift::prelude::*;
use proptest::prelude::*;

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
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (db, stop) = (db.clone(), Arc::clone(&stop));
        std::thread::spawn(move || {
            let mut rng = 0x9E37_79B9_7F4A_7C15u64;
            let mut next = || {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                rng
            };
            for round in 0..400u32 {
                let r: Result<()> = db.write(|tx| {
                    for _ in 0..5 {
                        let id = next() % 200 + 1;
                        match next() % 4 {
                            0 => drop(tx.delete::<User>(&id)?),
                            _ => drop(tx.upsert(&user(id, round))?),
                        }
                    }
                    if next() % 5 == 0 { Err(Error::NotFound { entity: "User", key: "abort".into() }) } else { Ok(()) }
                });
                let _ = r;
            }
            stop.store(true, Ordering::SeqCst);
        })
    };
    let readers: Vec<_> = (0..3)
        .map(|seed| {
            let (db, stop) = (db.clone(), Arc::clone(&stop));
            std::thread::spawn(move || {
                let mut rng = 0x2545_F491_4F6C_DD1Du64 + seed;
                let (mut reads, mut hits) = (0u64, 0u64);
                while !stop.load(Ordering::SeqCst) || reads < 2_000 {
                    let tx = db.begin_read().unwrap();
                    for _ in 0..20 {
                        rng ^= rng << 13;
                        rng ^= rng >> 7;
                        rng ^= rng << 17;
                        let id = rng % 200 + 1;
                        let cached = tx.get::<User>(&id).unwrap();
                        assert_eq!(cached, uncached(&tx, id), "key {id}");
                        reads += 1;
                    }
                    hits += tx.stats().cache_hits;
                }
                (reads, hits)
            })
        })
        .collect();
    writer.join().unwrap();
    let mut hits = 0;
    for r in readers {
        hits += r.join().unwrap().1;
    }
    assert!(hits > 0, "the stress test must exercise cache hits");
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

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any interleaving of snapshots, commits, aborts and reads, with a cache small
    /// enough to evict: every read equals the model's state at the reader's snapshot.
    #[test]
    fn cached_reads_match_the_model_under_any_interleaving(ops in proptest::collection::vec(op(), 1..60)) {
        let db = db(3);
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
                        prop_assert_eq!(db.read(|tx| tx.get::<User>(&k)).unwrap(), model.get(&k).cloned());
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
    }
}
