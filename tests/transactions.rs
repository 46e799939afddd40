mod common;

use std::path::Path;

use common::{User, memory_db, user_count, user_count_in};
use drift::ErrorKind;
use drift::prelude::*;

#[test]
fn write_closure_returning_err_leaves_nothing_behind() {
    let db = memory_db();
    let r: Result<()> = db.write(|tx| {
        tx.insert(&User::new("a@x", 1, "A"))?;
        tx.insert(&User::new("b@x", 2, "B"))?;
        Err(Error::NotFound { entity: "User", key: "test".into() })
    });
    assert!(r.is_err());
    assert_eq!(user_count(&db), 0);
    db.read(|tx| {
        assert!(tx.get_by::<User, _>(User::EMAIL, "a@x")?.is_none());
        assert_eq!(tx.query::<User>().filter(User::AGE.lte(100)).count()?, 0);
        Ok(())
    })
    .unwrap();
    assert!(db.stats().rollbacks >= 1);
}

#[test]
fn panic_inside_write_rolls_back_and_db_stays_usable() {
    let db = memory_db();
    let db2 = db.clone();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        let _ = db2.write(|tx| {
            tx.insert(&User::new("a@x", 1, "A"))?;
            panic!("boom");
            #[allow(unreachable_code)]
            Ok(())
        });
    }));
    assert!(result.is_err());
    assert_eq!(user_count(&db), 0);
    db.write(|tx| tx.insert(&User::new("a@x", 1, "A"))).unwrap();
    assert_eq!(user_count(&db), 1);
}

#[test]
fn reader_opened_before_a_commit_keeps_its_snapshot() {
    let db = memory_db();
    db.write(|tx| tx.insert(&User::new("a@x", 1, "A"))).unwrap();
    let reader = db.begin_read().unwrap();
    db.write(|tx| {
        tx.insert(&User::new("b@x", 2, "B"))?;
        tx.update(&User { id: 1, ..User::new("a@x", 1, "changed") })
    })
    .unwrap();
    assert_eq!(reader.query::<User>().count().unwrap(), 1);
    assert_eq!(reader.get::<User>(&1).unwrap().unwrap().name, "A");
    let fresh = db.begin_read().unwrap();
    assert_eq!(fresh.query::<User>().count().unwrap(), 2);
    assert_eq!(fresh.get::<User>(&1).unwrap().unwrap().name, "changed");
}

#[test]
fn open_reader_does_not_block_a_writer_on_another_thread() {
    let db = memory_db();
    let reader = db.begin_read().unwrap();
    let writer = {
        let db = db.clone();
        std::thread::spawn(move || db.write(|tx| tx.insert(&User::new("a@x", 1, "A"))))
    };
    assert_eq!(writer.join().unwrap().unwrap(), 1);
    assert_eq!(reader.query::<User>().count().unwrap(), 0);
    drop(reader);
}

#[test]
fn begin_write_commit_persists_and_drop_rolls_back() {
    let db = memory_db();
    let mut tx = db.begin_write().unwrap();
    tx.insert(&User::new("a@x", 1, "A")).unwrap();
    tx.commit().unwrap();
    let mut tx = db.begin_write().unwrap();
    tx.insert(&User::new("b@x", 2, "B")).unwrap();
    assert_eq!(tx.query::<User>().count().unwrap(), 2, "a write tx sees its own writes");
    drop(tx);
    assert_eq!(user_count(&db), 1);
    let tx = db.begin_write().unwrap();
    tx.rollback();
    assert_eq!(db.stats().commits, 2, "open's initialization plus one commit");
}

#[test]
fn savepoint_rollback_keeps_the_outer_writes() {
    let db = memory_db();
    db.write(|tx| {
        tx.insert(&User::new("outer@x", 1, "Outer"))?;
        let r: Result<()> = tx.savepoint(|tx| {
            tx.insert(&User::new("inner@x", 2, "Inner"))?;
            tx.update(&User { id: 1, ..User::new("outer@x", 50, "Renamed") })?;
            tx.delete::<User>(&1)?;
            Err(Error::NotFound { entity: "User", key: "abort".into() })
        });
        assert!(r.is_err());
        assert_eq!(tx.get::<User>(&1)?.unwrap().name, "Outer");
        assert!(tx.get_by::<User, _>(User::EMAIL, "inner@x")?.is_none());
        assert_eq!(tx.query::<User>().filter(User::AGE.eq(50)).count()?, 0);
        assert_eq!(tx.query::<User>().filter(User::AGE.eq(1)).count()?, 1);
        Ok(())
    })
    .unwrap();
    assert_eq!(user_count(&db), 1);
}

#[test]
fn nested_savepoints_roll_back_only_their_own_writes() {
    let db = memory_db();
    db.write(|tx| {
        tx.savepoint(|tx| {
            tx.insert(&User::new("a@x", 1, "A"))?;
            let inner: Result<()> = tx.savepoint(|tx| {
                tx.insert(&User::new("b@x", 2, "B"))?;
                Err(Error::NotFound { entity: "User", key: "inner".into() })
            });
            assert!(inner.is_err());
            tx.insert(&User::new("c@x", 3, "C"))?;
            Ok(())
        })
    })
    .unwrap();
    let emails: Vec<String> = db.read(|tx| tx.query::<User>().all()).unwrap().into_iter().map(|u| u.email).collect();
    assert_eq!(emails, vec!["a@x", "c@x"]);
}

#[test]
fn failed_statement_inside_savepoint_is_undone_and_savepoint_can_succeed() {
    let db = memory_db();
    db.write(|tx| {
        tx.insert(&User::new("a@x", 1, "A"))?;
        tx.savepoint(|tx| {
            assert_eq!(tx.insert(&User::new("a@x", 9, "dup")).unwrap_err().kind(), ErrorKind::UniqueViolation);
            tx.insert(&User::new("b@x", 2, "B"))
        })
    })
    .unwrap();
    assert_eq!(user_count(&db), 2);
    assert_eq!(db.read(|tx| tx.query::<User>().filter(User::AGE.eq(9)).count()).unwrap(), 0);
}

/// Opens a byte copy of the database file at `path`, taken while the `Db` that has
/// it open is still running: the copy holds what a crash at this moment would leave
/// on disk, not what the `Db` would write when it is closed.
fn copy_of_live_file(path: &Path) -> Db {
    let copy = path.with_extension("copy");
    std::fs::copy(path, &copy).unwrap();
    let db = Db::builder().entity::<User>().open(&copy).unwrap();
    // What a crash leaves is a sound file: every row, index entry and mark agree.
    let report = db.check().unwrap();
    assert!(report.is_ok(), "{report}");
    db
}

#[test]
fn flush_persists_durability_none_commits_while_the_db_stays_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("d.drift");
    let db = Db::builder().entity::<User>().durability(Durability::None).open(&path).unwrap();
    db.write(|tx| tx.insert(&User::new("a@x", 1, "A"))).unwrap();
    let mut tx = db.begin_write().unwrap();
    tx.set_durability(Durability::None);
    tx.insert(&User::new("b@x", 2, "B")).unwrap();
    tx.commit().unwrap();
    assert_eq!(user_count(&db), 2, "a durability-none commit is visible at once");
    db.flush().unwrap();
    let copy = copy_of_live_file(&path);
    assert_eq!(user_count(&copy), 2, "after flush the file holds both commits");
    copy.read(|tx| {
        assert_eq!(tx.get_by::<User, _>(User::EMAIL, "a@x")?.map(|u| u.id), Some(1));
        assert_eq!(tx.get_by::<User, _>(User::EMAIL, "b@x")?.map(|u| u.id), Some(2));
        Ok(())
    })
    .unwrap();
    drop(db); // open until the copy was read
}

#[test]
fn an_immediate_commit_persists_itself_and_the_durability_none_commits_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("d.drift");
    let none_db = Db::builder().entity::<User>().durability(Durability::None).open(&path).unwrap();
    none_db.write(|tx| tx.insert(&User::new("a@x", 1, "A"))).unwrap();
    let mut tx = none_db.begin_write().unwrap();
    tx.set_durability(Durability::Immediate);
    tx.insert(&User::new("b@x", 2, "B")).unwrap();
    tx.commit().unwrap();
    let copy = copy_of_live_file(&path);
    assert_eq!(user_count(&copy), 2, "the immediate commit and the none commit before it are in the file");

    // The default durability is immediate: each commit is in the file when it returns.
    let path = dir.path().join("default.drift");
    let default_db = Db::builder().entity::<User>().open(&path).unwrap();
    default_db.write(|tx| tx.insert(&User::new("c@x", 3, "C"))).unwrap();
    let copy = copy_of_live_file(&path);
    assert_eq!(copy.read(|tx| tx.get_by::<User, _>(User::EMAIL, "c@x")).unwrap().map(|u| u.age), Some(3));
    assert_eq!(user_count(&copy), 1);
    drop((none_db, default_db));
}

fn users_db(path: &Path) -> Db {
    Db::builder().entity::<User>().open(path).unwrap()
}

/// Commits users 1 and 2 to a new file, then runs `roll_back` (which inserts
/// auto-increment users and rolls them back) twice: once before closing and
/// reopening the file, once before the next insert in the same process. Each time
/// the next insert must take the first key the rolled-back inserts had taken.
fn rolled_back_inserts_leave_no_sequence_mark(roll_back: impl Fn(&Db)) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("seq.drift");
    let db = users_db(&path);
    let keys = db.write(|tx| Ok((tx.insert(&User::new("a@x", 1, "A"))?, tx.insert(&User::new("b@x", 2, "B"))?)));
    assert_eq!(keys.unwrap(), (1, 2));

    roll_back(&db);
    assert_eq!(user_count(&db), 2, "the rolled-back rows are gone");
    drop(db);
    let db = users_db(&path);
    assert_eq!(db.write(|tx| tx.insert(&User::new("c@x", 3, "C"))).unwrap(), 3, "after reopening, key 3 is free");

    roll_back(&db);
    assert_eq!(db.write(|tx| tx.insert(&User::new("d@x", 4, "D"))).unwrap(), 4, "in the same process, key 4 is free");
    drop(db);
    let db = users_db(&path);
    assert_eq!(db.write(|tx| tx.insert(&User::new("e@x", 5, "E"))).unwrap(), 5, "committed keys stay taken");
    assert_eq!(user_count(&db), 5);
}

/// Inserts two auto-increment users (the caller rolls them back).
fn insert_two(tx: &mut WriteTx) -> Result<()> {
    let before = user_count_in(tx);
    tx.insert(&User::new("r@x", 90, "R1"))?;
    tx.insert(&User::new("s@x", 91, "R2"))?;
    assert_eq!(user_count_in(tx), before + 2, "the transaction sees its own inserts");
    Ok(())
}

#[test]
fn a_write_closure_returning_err_leaves_no_sequence_mark() {
    rolled_back_inserts_leave_no_sequence_mark(|db| {
        let r: Result<()> = db.write(|tx| {
            insert_two(tx)?;
            Err(Error::NotFound { entity: "User", key: "abort".into() })
        });
        assert!(r.is_err());
    });
}

#[test]
fn a_write_closure_that_panics_leaves_no_sequence_mark() {
    rolled_back_inserts_leave_no_sequence_mark(|db| {
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            db.write(|tx| {
                insert_two(tx)?;
                panic!("boom");
                #[allow(unreachable_code)]
                Ok(())
            })
        }));
        assert!(r.is_err());
    });
}

#[test]
fn an_explicit_rollback_leaves_no_sequence_mark() {
    rolled_back_inserts_leave_no_sequence_mark(|db| {
        let mut tx = db.begin_write().unwrap();
        insert_two(&mut tx).unwrap();
        tx.rollback();
    });
}

#[test]
fn dropping_a_write_tx_leaves_no_sequence_mark() {
    rolled_back_inserts_leave_no_sequence_mark(|db| {
        let mut tx = db.begin_write().unwrap();
        insert_two(&mut tx).unwrap();
        drop(tx);
    });
}

#[test]
fn a_savepoint_returning_err_leaves_no_sequence_mark() {
    rolled_back_inserts_leave_no_sequence_mark(|db| {
        db.write(|tx| {
            let r: Result<()> = tx.savepoint(|tx| {
                insert_two(tx)?;
                Err(Error::NotFound { entity: "User", key: "abort".into() })
            });
            assert!(r.is_err());
            Ok(())
        })
        .unwrap();
    });
}

#[test]
fn after_a_savepoint_returns_err_the_same_transaction_reuses_its_keys() {
    let db = memory_db();
    db.write(|tx| {
        tx.insert(&User::new("a@x", 1, "A"))?;
        let r: Result<()> = tx.savepoint(|tx| {
            assert_eq!(tx.insert(&User::new("b@x", 2, "B"))?, 2);
            assert_eq!(tx.insert(&User::new("c@x", 3, "C"))?, 3);
            Err(Error::NotFound { entity: "User", key: "abort".into() })
        });
        assert!(r.is_err());
        assert_eq!(tx.insert(&User::new("d@x", 4, "D"))?, 2);
        Ok(())
    })
    .unwrap();
    assert_eq!(db.write(|tx| tx.insert(&User::new("e@x", 5, "E"))).unwrap(), 3);
}

#[test]
fn a_failed_insert_with_an_explicit_key_leaves_no_sequence_mark() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("seq.drift");
    let db = users_db(&path);
    db.write(|tx| {
        tx.insert(&User::new("a@x", 1, "A"))?;
        tx.insert(&User::new("b@x", 2, "B"))?;
        // Key 40 with a taken email: the insert fails, and key 40 was never written.
        let dup = User { id: 40, ..User::new("a@x", 40, "dup") };
        assert_eq!(tx.insert(&dup).unwrap_err().kind(), ErrorKind::UniqueViolation);
        assert_eq!(tx.insert(&User::new("c@x", 3, "C"))?, 3, "the same transaction goes on from key 2");
        Ok(())
    })
    .unwrap();
    // A transaction whose only insert failed commits no mark either.
    db.write(|tx| {
        let dup = User { id: 50, ..User::new("a@x", 50, "dup") };
        assert_eq!(tx.insert(&dup).unwrap_err().kind(), ErrorKind::UniqueViolation);
        Ok(())
    })
    .unwrap();
    assert_eq!(db.write(|tx| tx.insert(&User::new("d@x", 4, "D"))).unwrap(), 4);
    drop(db);
    let db = users_db(&path);
    assert_eq!(db.write(|tx| tx.insert(&User::new("e@x", 5, "E"))).unwrap(), 5, "also after reopening");
    assert_eq!(user_count(&db), 5);
}

#[test]
fn db_handle_is_clone_send_sync_and_read_tx_is_send() {
    fn assert_send_sync<T: Send + Sync + Clone>() {}
    fn assert_send<T: Send>() {}
    assert_send_sync::<Db>();
    assert_send::<ReadTx>();
}
