//! One behaviour suite, run on every storage engine: redb (a file in a temp dir)
//! always, and etcd (a server this test starts on 127.0.0.1, in a temp dir) with the
//! `etcd` feature. Each case takes a [`Store`], which opens a database with the
//! given builder, the same one each time it is asked (so a case can reopen it, as
//! a migration does).
//!
//! ```sh
//! cargo test --test engines                   # redb only
//! cargo test --features etcd --test engines   # redb and etcd (needs `etcd` on PATH)
//! ```

#[path = "common/blog.rs"]
mod blog;
#[cfg(feature = "etcd")]
#[path = "common/etcd_server.rs"]
mod etcd_server;
#[cfg(feature = "etcd")]
#[path = "common/shelves.rs"]
mod later;

use blog::{Comment, Post, Profile, Tag, User, builder, post, user};
use drift::prelude::*;
use drift::{ErrorKind, count};

/// Where a case's database lives.
trait Store {
    /// Opens (or reopens) the case's database with `builder`.
    fn open(&self, builder: drift::DbBuilder) -> Db;
}

/// A redb file in a temp dir.
struct RedbStore(tempfile::TempDir);

impl RedbStore {
    fn new() -> RedbStore {
        RedbStore(tempfile::tempdir().unwrap())
    }
}

impl Store for RedbStore {
    fn open(&self, builder: drift::DbBuilder) -> Db {
        builder.open(self.0.path().join("suite.drift")).unwrap()
    }
}

fn crud_and_unique_values(store: &dyn Store) {
    let db = store.open(builder());
    let ann = db.write(|tx| tx.insert(&user("ann@x"))).unwrap();
    let bob = db.write(|tx| tx.insert(&user("bob@x"))).unwrap();
    assert_ne!(ann, bob, "auto-increment keys are distinct");
    db.read(|tx| {
        assert_eq!(tx.get::<User>(&ann)?.map(|u| u.email), Some("ann@x".into()));
        assert_eq!(tx.get_by::<User, _>(User::EMAIL, "bob@x")?.map(|u| u.id), Some(bob));
        Ok(())
    })
    .unwrap();
    // A unique violation fails the statement only; the transaction goes on.
    db.write(|tx| {
        let err = tx.insert(&user("ann@x")).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::UniqueViolation, "{err}");
        let mut b = tx.get::<User>(&bob)?.expect("bob");
        b.email = "robert@x".into();
        tx.update(&b)
    })
    .unwrap();
    db.read(|tx| {
        assert!(tx.get_by::<User, _>(User::EMAIL, "bob@x")?.is_none(), "the old unique value is gone");
        assert_eq!(tx.get_by::<User, _>(User::EMAIL, "robert@x")?.map(|u| u.id), Some(bob));
        assert_eq!(tx.query::<User>().count()?, 2);
        Ok(())
    })
    .unwrap();
    db.write(|tx| tx.delete::<User>(&ann).map(drop)).unwrap();
    db.read(|tx| {
        assert!(tx.get::<User>(&ann)?.is_none());
        assert!(tx.get_by::<User, _>(User::EMAIL, "ann@x")?.is_none());
        Ok(())
    })
    .unwrap();
    assert!(db.check().unwrap().is_ok());
}

fn queries_order_limit_and_aggregates(store: &dyn Store) {
    let db = store.open(builder());
    let ann = db.write(|tx| tx.insert(&user("ann@x"))).unwrap();
    db.write(|tx| {
        for i in 0..40u32 {
            tx.insert(&post(ann, &format!("post {i:02}"), i % 10))?;
        }
        Ok(())
    })
    .unwrap();
    db.read(|tx| {
        let popular = tx.query::<Post>().filter(Post::LIKES.between(7, 9)).order_by(Post::LIKES.desc()).all()?;
        assert_eq!(popular.len(), 12);
        assert!(popular.windows(2).all(|w| w[0].likes >= w[1].likes), "ordered by likes, descending");
        let top = tx.query::<Post>().order_by(Post::TITLE.desc()).limit(3).all()?;
        assert_eq!(top.iter().map(|p| p.title.as_str()).collect::<Vec<_>>(), ["post 39", "post 38", "post 37"]);
        let first = tx.query::<Post>().filter(Post::LIKES.eq(3)).first()?.expect("a post with 3 likes");
        assert_eq!(first.likes, 3);
        let mut groups = tx.query::<Post>().group_by(Post::LIKES).aggregate((count(),)).all()?;
        groups.sort();
        assert_eq!(groups.len(), 10);
        assert!(groups.iter().all(|(_, (n,))| *n == 4), "{groups:?}");
        // Reverse iteration over an index range reads from the back.
        let last: Vec<u32> = tx
            .query::<Post>()
            .filter(Post::LIKES.gte(8))
            .order_by(Post::LIKES.desc())
            .iter()?
            .map(|p| p.map(|p| p.likes))
            .collect::<drift::Result<_>>()?;
        assert_eq!(last.len(), 8);
        assert_eq!(last.first(), Some(&9));
        Ok(())
    })
    .unwrap();
}

fn relations_follow_on_delete(store: &dyn Store) {
    let db = store.open(builder());
    let (ann, bob, p1) = db
        .write(|tx| {
            let ann = tx.insert(&user("ann@x"))?;
            let bob = tx.insert(&user("bob@x"))?;
            tx.insert(&Profile { user_id: ann, bio: "hi".into(), ..Default::default() })?;
            let p1 = tx.insert(&post(ann, "one", 1))?;
            tx.insert(&post(ann, "two", 2))?;
            tx.insert(&Comment { post_id: p1, editor_id: Some(bob), body: "nice".into(), ..Default::default() })?;
            Ok((ann, bob, p1))
        })
        .unwrap();
    // A post whose author does not exist is refused.
    let err = db.write(|tx| tx.insert(&post(999, "orphan", 0))).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ForeignKey, "{err}");
    // set_null: deleting bob clears the comment's editor.
    db.write(|tx| tx.delete::<User>(&bob).map(drop)).unwrap();
    db.read(|tx| {
        let c = tx.query::<Comment>().first()?.expect("the comment stays");
        assert_eq!(c.editor_id, None);
        Ok(())
    })
    .unwrap();
    // cascade: deleting ann takes her profile, posts and their comments.
    db.write(|tx| tx.delete::<User>(&ann).map(drop)).unwrap();
    db.read(|tx| {
        assert_eq!(tx.query::<Profile>().count()?, 0);
        assert_eq!(tx.query::<Post>().count()?, 0);
        assert_eq!(tx.query::<Comment>().count()?, 0);
        assert!(tx.get::<Post>(&p1)?.is_none());
        Ok(())
    })
    .unwrap();
    assert!(db.check().unwrap().is_ok());
}

fn savepoints_and_failed_statements_leave_nothing(store: &dyn Store) {
    let db = store.open(builder());
    db.write(|tx| {
        tx.insert(&Tag { name: "kept".into(), ..Default::default() })?;
        let undone = tx.savepoint(|tx| {
            tx.insert(&Tag { name: "undone".into(), ..Default::default() })?;
            tx.insert(&Tag { name: "kept".into(), ..Default::default() })
        });
        assert_eq!(undone.unwrap_err().kind(), ErrorKind::UniqueViolation);
        tx.insert(&Tag { name: "after".into(), ..Default::default() }).map(drop)
    })
    .unwrap();
    // A transaction that fails as a whole leaves nothing either.
    let failed: drift::Result<()> = db.write(|tx| {
        tx.insert(&Tag { name: "rolled back".into(), ..Default::default() })?;
        Err(drift::Error::NotFound { entity: "Tag", key: "on purpose".into() })
    });
    assert!(failed.is_err());
    let names: Vec<String> = db.read(|tx| tx.query::<Tag>().all()).unwrap().into_iter().map(|t| t.name).collect();
    assert_eq!(names, ["kept", "after"]);
    assert!(db.check().unwrap().is_ok());
}

mod valid {
    use drift::prelude::*;

    #[derive(Entity, Debug, Clone, PartialEq, Default)]
    pub struct Room {
        #[drift(primary_key)]
        pub id: u64,
        #[drift(validate(range(min = 1, max = 8)))]
        pub beds: u32,
    }
}

fn validation_refuses_bad_rows(store: &dyn Store) {
    let db = store.open(Db::builder().entity::<valid::Room>());
    let err = db.write(|tx| tx.insert(&valid::Room { id: 1, beds: 9 })).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Validation, "{err}");
    db.write(|tx| tx.insert(&valid::Room { id: 1, beds: 2 })).unwrap();
    assert_eq!(db.read(|tx| tx.query::<valid::Room>().count()).unwrap(), 1);
}

mod v1 {
    use drift::prelude::*;

    #[derive(Entity, Debug, Clone, PartialEq, Default)]
    pub struct Note {
        #[drift(primary_key, auto_increment)]
        pub id: u64,
        pub text: String,
    }
}

mod v2 {
    use drift::prelude::*;

    #[derive(Entity, Debug, Clone, PartialEq, Default)]
    #[drift(version = 2)]
    pub struct Note {
        #[drift(primary_key, auto_increment)]
        pub id: u64,
        #[drift(index)]
        pub text: String,
        #[drift(index)]
        pub pinned: Option<bool>,
    }
}

fn migrations_rewrite_rows_and_indexes(store: &dyn Store) {
    let db = store.open(Db::builder().entity::<v1::Note>());
    db.write(|tx| {
        for i in 0..5 {
            tx.insert(&v1::Note { text: format!("note {i}"), ..Default::default() })?;
        }
        Ok(())
    })
    .unwrap();
    drop(db);
    let db = store.open(Db::builder().entity::<v2::Note>().migrations(drift::migrate::Migrations::new()));
    db.read(|tx| {
        assert_eq!(tx.query::<v2::Note>().count()?, 5);
        let n =
            tx.query::<v2::Note>().filter(v2::Note::TEXT.eq("note 3")).first()?.expect("found through the new index");
        assert_eq!(n.pinned, None);
        assert_eq!(tx.query::<v2::Note>().filter(v2::Note::PINNED.eq(None)).count()?, 5);
        Ok(())
    })
    .unwrap();
    let id =
        db.write(|tx| tx.insert(&v2::Note { text: "new".into(), pinned: Some(true), ..Default::default() })).unwrap();
    assert_eq!(id, 6, "the sequence carried over");
    assert!(db.check().unwrap().is_ok());
}

/// Every case of the suite, by name.
/// A case of the suite.
type Case = fn(&dyn Store);

const SUITE: &[(&str, Case)] = &[
    ("crud_and_unique_values", crud_and_unique_values),
    ("queries_order_limit_and_aggregates", queries_order_limit_and_aggregates),
    ("relations_follow_on_delete", relations_follow_on_delete),
    ("savepoints_and_failed_statements_leave_nothing", savepoints_and_failed_statements_leave_nothing),
    ("validation_refuses_bad_rows", validation_refuses_bad_rows),
    ("migrations_rewrite_rows_and_indexes", migrations_rewrite_rows_and_indexes),
];

#[test]
fn the_behaviour_suite_passes_on_redb() {
    for (name, case) in SUITE {
        eprintln!("redb: {name}");
        case(&RedbStore::new());
    }
}

#[cfg(feature = "etcd")]
mod etcd {
    //! The suite on etcd, and what only a distributed engine has: several handles
    //! writing the same rows.

    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Barrier};

    use super::*;
    use crate::etcd_server::Server;

    /// `db.write`, called again while it returns a conflict (every one of its
    /// `WRITE_ATTEMPTS` runs lost a race: possible on one hot key of a loaded machine).
    fn write_through_conflicts<R>(db: &Db, mut f: impl FnMut(&mut WriteTx) -> drift::Result<R>) -> drift::Result<R> {
        loop {
            match db.write(&mut f) {
                Err(e) if e.kind() == ErrorKind::Conflict => {}
                other => return other,
            }
        }
    }

    /// A database under a prefix of its own on a shared server.
    struct EtcdStore<'a> {
        server: &'a Server,
        prefix: String,
    }

    impl Store for EtcdStore<'_> {
        fn open(&self, builder: drift::DbBuilder) -> Db {
            builder.etcd([self.server.endpoint.clone()], &self.prefix).unwrap()
        }
    }

    /// Generous limits for the suite: a cascade or a migration is one transaction.
    const ROOMY: &[&str] = &["--max-txn-ops", "100000", "--max-request-bytes", "33554432"];

    #[test]
    fn the_behaviour_suite_passes_on_etcd() {
        let server = Server::start(ROOMY);
        for (name, case) in SUITE {
            eprintln!("etcd: {name}");
            case(&EtcdStore { server: &server, prefix: format!("suite/{name}/") });
        }
    }

    /// A write transaction's reads merge its own writes (inserts, updates, deletes)
    /// with what etcd stores, fetched page by page from either end: forward, reverse,
    /// and within a range, across more than one page.
    #[test]
    fn a_write_transaction_reads_its_own_writes_merged_with_stored_pages() {
        use std::collections::BTreeMap;
        use valid::Room;
        let server = Server::start(ROOMY);
        let db = Db::builder().entity::<Room>().etcd([server.endpoint.clone()], "merge/").unwrap();
        let mut model: BTreeMap<u64, u32> = BTreeMap::new();
        let stored: Vec<u64> = (1..=1300).step_by(2).collect();
        for chunk in stored.chunks(300) {
            db.write(|tx| {
                for &id in chunk {
                    tx.insert(&Room { id, beds: 1 })?;
                }
                Ok(())
            })
            .unwrap();
            model.extend(chunk.iter().map(|&id| (id, 1)));
        }
        db.write(|tx| {
            let mut mine = model.clone();
            for id in (2..=1300).step_by(6) {
                tx.insert(&Room { id, beds: 2 })?;
                mine.insert(id, 2);
            }
            for id in (1..=1300).step_by(10) {
                tx.delete::<Room>(&id)?;
                mine.remove(&id);
            }
            for id in (3..=1300).step_by(14) {
                if let Some(beds) = mine.get_mut(&id) {
                    tx.update(&Room { id, beds: 3 })?;
                    *beds = 3;
                }
            }
            let pairs = |rooms: Vec<Room>| rooms.into_iter().map(|r| (r.id, r.beds)).collect::<Vec<_>>();
            let forward: Vec<_> = mine.iter().map(|(&k, &v)| (k, v)).collect();
            assert_eq!(pairs(tx.query::<Room>().all()?), forward);
            let reverse: Vec<_> = forward.iter().rev().copied().collect();
            assert_eq!(pairs(tx.query::<Room>().order_by(Room::ID.desc()).all()?), reverse);
            let within: Vec<_> = mine.range(500..=700).map(|(&k, &v)| (k, v)).collect();
            assert_eq!(pairs(tx.query::<Room>().filter(Room::ID.between(500, 700)).all()?), within);
            assert_eq!(tx.query::<Room>().count()?, mine.len() as u64);
            Ok(())
        })
        .unwrap();
    }

    #[test]
    fn two_handles_conflict_and_no_update_is_lost() {
        let server = Server::start(ROOMY);
        let open = || builder().etcd([server.endpoint.clone()], "counter/").unwrap();
        let db = open();
        let id = db
            .write(|tx| {
                let owner = tx.insert(&user("owner@x"))?;
                tx.insert(&post(owner, "counter", 0))
            })
            .unwrap();
        // Two transactions read the same row; the second to commit loses.
        let (a, b) = (open(), open());
        let mut ta = a.begin_write().unwrap();
        let mut tb = b.begin_write().unwrap();
        let mut pa = ta.get::<Post>(&id).unwrap().unwrap();
        let mut pb = tb.get::<Post>(&id).unwrap().unwrap();
        pa.likes += 1;
        pb.likes += 10;
        ta.update(&pa).unwrap();
        tb.update(&pb).unwrap();
        ta.commit().unwrap();
        let lost = tb.commit().unwrap_err();
        assert_eq!(lost.kind(), ErrorKind::Conflict, "{lost}");
        assert_eq!(db.read(|tx| tx.get::<Post>(&id)).unwrap().unwrap().likes, 1, "the loser applied nothing");

        // Four threads with handles of their own add 1 twenty times each through
        // `db.write`, which retries lost races. On one hot row a writer can still lose
        // `WRITE_ATTEMPTS` races in a row on a loaded machine: `db.write` then returns
        // the conflict, having applied nothing, and the thread calls it again. Every
        // increment lands exactly once.
        let threads = 4;
        let per = 20;
        let retried = Arc::new(AtomicUsize::new(0));
        let gave_up = Arc::new(AtomicUsize::new(0));
        let barrier = Arc::new(Barrier::new(threads));
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let db = open();
                let (retried, gave_up, barrier) = (Arc::clone(&retried), Arc::clone(&gave_up), Arc::clone(&barrier));
                std::thread::spawn(move || {
                    barrier.wait();
                    for _ in 0..per {
                        loop {
                            let mut runs = 0;
                            let r = db.write(|tx| {
                                runs += 1;
                                let mut p = tx.get::<Post>(&id)?.expect("the counter");
                                p.likes += 1;
                                tx.update(&p)
                            });
                            retried.fetch_add(runs - 1, Ordering::Relaxed);
                            match r {
                                Ok(()) => break,
                                Err(e) if e.kind() == ErrorKind::Conflict => {
                                    assert_eq!(runs, drift::WRITE_ATTEMPTS as usize, "gave up early");
                                    gave_up.fetch_add(1, Ordering::Relaxed);
                                }
                                Err(e) => panic!("{e}"),
                            }
                        }
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        let likes = db.read(|tx| tx.get::<Post>(&id)).unwrap().unwrap().likes;
        assert_eq!(likes as usize, 1 + threads * per, "no update was lost, none applied twice");
        eprintln!(
            "{} increments, {} runs retried after a conflict, {} calls of db.write returned a conflict",
            threads * per,
            retried.load(Ordering::Relaxed),
            gave_up.load(Ordering::Relaxed)
        );
    }

    #[test]
    fn a_unique_value_stays_unique_across_handles() {
        let server = Server::start(ROOMY);
        let threads = 4;
        let barrier = Arc::new(Barrier::new(threads));
        let handles: Vec<_> = (0..threads)
            .map(|i| {
                let db = builder().etcd([server.endpoint.clone()], "unique/").unwrap();
                let barrier = Arc::clone(&barrier);
                std::thread::spawn(move || {
                    barrier.wait();
                    let mut u = user("same@x");
                    u.name = format!("writer {i}");
                    write_through_conflicts(&db, |tx| tx.insert(&u))
                })
            })
            .collect();
        let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        let won = results.iter().filter(|r| r.is_ok()).count();
        assert_eq!(won, 1, "exactly one insert of the value wins: {results:?}");
        for r in results.iter().filter_map(|r| r.as_ref().err()) {
            assert_eq!(r.kind(), ErrorKind::UniqueViolation, "{r}");
        }
        let db = builder().etcd([server.endpoint.clone()], "unique/").unwrap();
        assert_eq!(db.read(|tx| tx.query::<User>().count()).unwrap(), 1);
        // Auto-increment keys stay distinct across handles.
        let ids: Vec<u64> = (0..threads)
            .map(|i| {
                let db = builder().etcd([server.endpoint.clone()], "unique/").unwrap();
                std::thread::spawn(move || {
                    (0..5)
                        .map(|j| write_through_conflicts(&db, |tx| tx.insert(&user(&format!("{i}-{j}@x")))).unwrap())
                        .collect::<Vec<_>>()
                })
            })
            .flat_map(|h| h.join().unwrap())
            .collect();
        let distinct: std::collections::BTreeSet<_> = ids.iter().collect();
        assert_eq!(distinct.len(), ids.len(), "{ids:?}");
        assert!(db.check().unwrap().is_ok());
    }

    use crate::later;

    #[test]
    fn a_relation_another_handle_stores_later_is_enforced_at_once() {
        let server = Server::start(ROOMY);
        let first = Db::builder().entity::<later::Shelf>().etcd([server.endpoint.clone()], "later/").unwrap();
        first.write(|tx| tx.insert(&later::Shelf { id: 1 })).unwrap();
        // A second program, opened after the first, stores `Book` and its relation.
        let second = Db::builder()
            .entity::<later::Shelf>()
            .entity::<later::Book>()
            .etcd([server.endpoint.clone()], "later/")
            .unwrap();
        second.write(|tx| tx.insert(&later::Book { id: 7, shelf_id: 1, ..Default::default() })).unwrap();
        // The first program's handle refuses the delete, as one opened now would.
        let err = first.write(|tx| tx.delete::<later::Shelf>(&1)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Restrict, "{err}");
        assert!(err.to_string().contains("Book"), "{err}");
        assert!(first.read(|tx| tx.get::<later::Shelf>(&1)).unwrap().is_some(), "the shelf is kept");
        // Once the book is gone, the delete goes through.
        second.write(|tx| tx.delete::<later::Book>(&7)).unwrap();
        assert!(first.write(|tx| tx.delete::<later::Shelf>(&1)).unwrap().is_some());
    }

    #[test]
    fn an_entity_another_handle_migrates_is_not_written_with_the_old_layout() {
        let server = Server::start(ROOMY);
        let old = Db::builder().entity::<v1::Note>().etcd([server.endpoint.clone()], "migrated/").unwrap();
        old.write(|tx| tx.insert(&v1::Note { text: "before".into(), ..Default::default() })).unwrap();
        let new = Db::builder()
            .entity::<v2::Note>()
            .migrations(drift::migrate::Migrations::new())
            .etcd([server.endpoint.clone()], "migrated/")
            .unwrap();
        // A row the old program wrote now would lack the new indexes' entries.
        let err = old.write(|tx| tx.insert(&v1::Note { text: "stale".into(), ..Default::default() })).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::SchemaMismatch, "{err}");
        assert!(err.to_string().contains("Note"), "{err}");
        new.write(|tx| tx.insert(&v2::Note { text: "after".into(), ..Default::default() })).unwrap();
        assert_eq!(new.read(|tx| tx.query::<v2::Note>().count()).unwrap(), 2);
        assert!(new.check().unwrap().is_ok());
    }

    #[test]
    fn a_transaction_over_the_servers_limit_names_the_flag() {
        // etcd's defaults: at most 128 operations in a transaction.
        let server = Server::start(&[]);
        let db = builder().etcd([server.endpoint.clone()], "limits/").unwrap();
        let err = db
            .write(|tx| {
                for i in 0..200 {
                    tx.insert(&Tag { name: format!("tag {i}"), ..Default::default() })?;
                }
                Ok(())
            })
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Storage, "{err}");
        assert!(err.to_string().contains("--max-txn-ops"), "{err}");
        assert_eq!(db.read(|tx| tx.query::<Tag>().count()).unwrap(), 0, "nothing was applied");
        // In batches under the limit, the same rows go in.
        for chunk in (0..200).collect::<Vec<_>>().chunks(30) {
            db.write(|tx| {
                for i in chunk {
                    tx.insert(&Tag { name: format!("tag {i}"), ..Default::default() })?;
                }
                Ok(())
            })
            .unwrap();
        }
        assert_eq!(db.read(|tx| tx.query::<Tag>().count()).unwrap(), 200);
    }
}
