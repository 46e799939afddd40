mod common;

use common::{User, memory_db, user_count};
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

#[test]
fn durability_none_commits_are_visible_and_flush_persists_them() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("d.drift");
    {
        let db = Db::builder().entity::<User>().durability(Durability::None).open(&path).unwrap();
        db.write(|tx| tx.insert(&User::new("a@x", 1, "A"))).unwrap();
        let mut tx = db.begin_write().unwrap();
        tx.set_durability(Durability::None);
        tx.insert(&User::new("b@x", 2, "B")).unwrap();
        tx.commit().unwrap();
        assert_eq!(user_count(&db), 2);
        db.flush().unwrap();
    }
    let db = Db::builder().entity::<User>().open(&path).unwrap();
    assert_eq!(user_count(&db), 2);
}

#[test]
fn db_handle_is_clone_send_sync_and_read_tx_is_send() {
    fn assert_send_sync<T: Send + Sync + Clone>() {}
    fn assert_send<T: Send>() {}
    assert_send_sync::<Db>();
    assert_send::<ReadTx>();
}
