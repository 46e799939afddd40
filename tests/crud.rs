mod common;

use common::{User, memory_db, user_count, user_count_in};
use drift::prelude::*;
use drift::{Access, ErrorKind};

#[test]
fn insert_assigns_increasing_keys_when_auto_increment_is_zero() {
    let db = memory_db();
    let (a, b) =
        db.write(|tx| Ok((tx.insert(&User::new("a@x", 1, "A"))?, tx.insert(&User::new("b@x", 2, "B"))?))).unwrap();
    assert_eq!((a, b), (1, 2));
    let got = db.read(|tx| tx.get::<User>(&2)).unwrap().unwrap();
    assert_eq!(got, User { id: 2, ..User::new("b@x", 2, "B") });
}

#[test]
fn explicit_auto_increment_key_is_kept_and_sequence_skips_past_it() {
    let db = memory_db();
    db.write(|tx| tx.insert(&User { id: 10, ..User::new("a@x", 1, "A") })).unwrap();
    let next = db.write(|tx| tx.insert(&User::new("b@x", 1, "B"))).unwrap();
    assert_eq!(next, 11);
}

#[test]
fn sequence_never_reuses_a_deleted_key_even_after_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = common::file_db(&dir);
        db.write(|tx| {
            tx.insert(&User::new("a@x", 1, "A"))?;
            tx.insert(&User::new("b@x", 1, "B"))?;
            Ok(())
        })
        .unwrap();
        db.write(|tx| tx.delete::<User>(&2).map(drop)).unwrap();
    }
    let db = common::file_db(&dir);
    let k = db.write(|tx| tx.insert(&User::new("c@x", 1, "C"))).unwrap();
    assert_eq!(k, 3);
}

#[test]
fn insert_of_existing_key_fails_with_already_exists_and_changes_nothing() {
    let db = memory_db();
    db.write(|tx| tx.insert(&User { id: 5, ..User::new("a@x", 1, "A") })).unwrap();
    db.write(|tx| {
        let err = tx.insert(&User { id: 5, ..User::new("z@x", 9, "Z") }).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AlreadyExists);
        let msg = err.to_string();
        assert!(msg.contains("User") && msg.contains('5'), "{msg}");
        // Inside the same transaction: the stored row and its entries are untouched,
        // and the failed row has neither a row nor an index entry.
        assert_eq!(tx.get::<User>(&5)?, Some(User { id: 5, ..User::new("a@x", 1, "A") }));
        assert_eq!(tx.get_by::<User, _>(User::EMAIL, "a@x")?.map(|u| u.id), Some(5));
        assert!(tx.get_by::<User, _>(User::EMAIL, "z@x")?.is_none());
        assert_eq!(tx.query::<User>().filter(User::AGE.eq(9)).count()?, 0);
        assert_eq!(user_count_in(tx), 1);
        // The transaction goes on and commits.
        tx.insert(&User { id: 6, ..User::new("b@x", 2, "B") })?;
        Ok(())
    })
    .unwrap();
    assert_eq!(user_count(&db), 2);
    db.read(|tx| {
        assert_eq!(tx.get::<User>(&5)?.map(|u| u.email), Some("a@x".to_string()));
        assert!(tx.get_by::<User, _>(User::EMAIL, "z@x")?.is_none());
        assert_eq!(tx.get_by::<User, _>(User::EMAIL, "b@x")?.map(|u| u.id), Some(6));
        Ok(())
    })
    .unwrap();
}

#[test]
fn unique_violation_leaves_no_row_and_no_index_entry_and_tx_stays_usable() {
    let db = memory_db();
    db.write(|tx| {
        tx.insert(&User::new("a@x", 30, "A"))?;
        let err = tx.insert(&User::new("a@x", 77, "Dup")).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::UniqueViolation);
        let msg = err.to_string();
        assert!(msg.contains("User") && msg.contains("email") && msg.contains("a@x"), "{msg}");
        // Nothing of the failed row: not in the age index, not in the table, and the
        // unique entry still points at the first row.
        assert_eq!(tx.query::<User>().filter(User::AGE.eq(77)).count()?, 0);
        assert_eq!(tx.get_by::<User, _>(User::EMAIL, "a@x")?.map(|u| (u.id, u.age)), Some((1, 30)));
        assert_eq!(tx.get::<User>(&2)?, None);
        assert_eq!(user_count_in(tx), 1);
        // The transaction goes on.
        tx.insert(&User::new("b@x", 31, "B"))?;
        Ok(())
    })
    .unwrap();
    assert_eq!(user_count(&db), 2);
    let ages: Vec<u32> =
        db.read(|tx| tx.query::<User>().filter(User::AGE.gte(0)).all()).unwrap().iter().map(|u| u.age).collect();
    assert_eq!(ages, vec![30, 31]);
    assert_eq!(db.read(|tx| tx.get_by::<User, _>(User::EMAIL, "a@x")).unwrap().map(|u| u.age), Some(30));
}

#[test]
fn update_moves_index_entries_and_frees_the_old_unique_value() {
    let db = memory_db();
    let id = db.write(|tx| tx.insert(&User::new("a@x", 30, "A"))).unwrap();
    db.write(|tx| tx.update(&User { id, ..User::new("b@x", 40, "A2") })).unwrap();
    db.read(|tx| {
        assert!(tx.get_by::<User, _>(User::EMAIL, "a@x")?.is_none());
        assert_eq!(tx.get_by::<User, _>(User::EMAIL, "b@x")?.unwrap().name, "A2");
        assert_eq!(tx.query::<User>().filter(User::AGE.eq(30)).count()?, 0);
        assert_eq!(tx.query::<User>().filter(User::AGE.eq(40)).count()?, 1);
        Ok(())
    })
    .unwrap();
    // The old email can be taken by another row now.
    db.write(|tx| tx.insert(&User::new("a@x", 1, "New"))).unwrap();
}

#[test]
fn update_of_missing_row_fails_with_not_found_and_writes_nothing() {
    let db = memory_db();
    db.write(|tx| {
        let err = tx.update(&User { id: 42, ..User::new("a@x", 1, "A") }).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound);
        assert!(err.to_string().contains("User with key 42"), "{err}");
        assert_eq!(tx.get::<User>(&42)?, None);
        assert!(tx.get_by::<User, _>(User::EMAIL, "a@x")?.is_none());
        assert_eq!(tx.query::<User>().filter(User::AGE.eq(1)).count()?, 0);
        assert_eq!(user_count_in(tx), 0);
        // The email is free: the transaction goes on and takes it.
        tx.insert(&User::new("a@x", 2, "B"))?;
        Ok(())
    })
    .unwrap();
    assert_eq!(user_count(&db), 1);
    assert_eq!(db.read(|tx| tx.get::<User>(&42)).unwrap(), None);
    assert_eq!(db.read(|tx| tx.get_by::<User, _>(User::EMAIL, "a@x")).unwrap().map(|u| u.age), Some(2));
}

#[test]
fn update_to_a_taken_unique_value_fails_and_keeps_both_rows() {
    let db = memory_db();
    let (a, b) =
        db.write(|tx| Ok((tx.insert(&User::new("a@x", 1, "A"))?, tx.insert(&User::new("b@x", 2, "B"))?))).unwrap();
    db.write(|tx| {
        let err = tx.update(&User { id: a, ..User::new("b@x", 99, "A") }).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::UniqueViolation);
        // Inside the same transaction: both rows and all their entries as they were.
        assert_eq!(tx.get::<User>(&a)?, Some(User { id: a, ..User::new("a@x", 1, "A") }));
        assert_eq!(tx.get_by::<User, _>(User::EMAIL, "a@x")?.map(|u| u.id), Some(a));
        assert_eq!(tx.get_by::<User, _>(User::EMAIL, "b@x")?.map(|u| u.id), Some(b));
        assert_eq!(tx.query::<User>().filter(User::AGE.eq(99)).count()?, 0);
        assert_eq!(tx.query::<User>().filter(User::AGE.eq(1)).count()?, 1);
        assert_eq!(user_count_in(tx), 2);
        // The transaction goes on: a good update of the same row.
        tx.update(&User { id: a, ..User::new("c@x", 3, "A") })
    })
    .unwrap();
    assert_eq!(user_count(&db), 2);
    db.read(|tx| {
        assert_eq!(tx.get::<User>(&a)?.map(|u| u.email), Some("c@x".to_string()));
        assert_eq!(tx.get_by::<User, _>(User::EMAIL, "b@x")?.map(|u| u.id), Some(b));
        assert!(tx.get_by::<User, _>(User::EMAIL, "a@x")?.is_none());
        assert_eq!(tx.query::<User>().filter(User::AGE.eq(99)).count()?, 0);
        Ok(())
    })
    .unwrap();
}

#[test]
fn upsert_inserts_then_updates() {
    let db = memory_db();
    let id = db.write(|tx| tx.upsert(&User { id: 7, ..User::new("a@x", 1, "A") })).unwrap();
    assert_eq!(id, 7);
    db.write(|tx| tx.upsert(&User { id: 7, ..User::new("a@x", 2, "A2") })).unwrap();
    let u = db.read(|tx| tx.get::<User>(&7)).unwrap().unwrap();
    assert_eq!((u.age, u.name.as_str()), (2, "A2"));
    assert_eq!(user_count(&db), 1);
}

#[test]
fn delete_returns_the_row_and_removes_its_index_entries() {
    let db = memory_db();
    let id = db.write(|tx| tx.insert(&User::new("a@x", 30, "A"))).unwrap();
    let removed = db.write(|tx| tx.delete::<User>(&id)).unwrap();
    assert_eq!(removed.map(|u| u.email), Some("a@x".to_string()));
    assert_eq!(db.write(|tx| tx.delete::<User>(&id)).unwrap(), None);
    db.read(|tx| {
        assert!(tx.get_by::<User, _>(User::EMAIL, "a@x")?.is_none());
        assert_eq!(tx.query::<User>().filter(User::AGE.eq(30)).count()?, 0);
        Ok(())
    })
    .unwrap();
}

#[test]
fn get_by_on_a_field_without_unique_index_is_an_error_naming_the_field() {
    let db = memory_db();
    let err = db.read(|tx| tx.get_by::<User, _>(User::NAME, "A")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NoUniqueIndex);
    assert!(err.to_string().contains("`name`") && err.to_string().contains("User"), "{err}");
}

#[test]
fn unregistered_entity_is_an_error_that_says_how_to_register_it() {
    let db = Db::builder().entity::<common::Reading>().in_memory().unwrap();
    let err = db.read(|tx| tx.get::<User>(&1)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UnknownEntity);
    assert!(err.to_string().contains(".entity::<User>()"), "{err}");
}

#[test]
fn get_by_unique_uses_a_unique_lookup() {
    let db = memory_db();
    db.write(|tx| tx.insert(&User::new("a@x", 30, "A"))).unwrap();
    let plan = db.read(|tx| tx.query::<User>().filter(User::EMAIL.eq("a@x")).explain()).unwrap();
    assert_eq!(plan.access, Access::UniqueLookup { index: "email".into() });
}

#[test]
fn failed_auto_increment_insert_does_not_use_up_a_key() {
    let db = memory_db();
    db.write(|tx| {
        tx.insert(&User::new("a@x", 1, "A"))?;
        let err = tx.insert(&User::new("a@x", 2, "dup")).unwrap_err();
        assert!(err.to_string().contains("key 2"), "the message names the key the row would have had: {err}");
        assert_eq!(tx.insert(&User::new("b@x", 2, "B"))?, 2);
        Ok(())
    })
    .unwrap();
}

mod nullable {
    use drift::prelude::*;

    #[derive(Entity, Debug, Clone, PartialEq, Default)]
    pub struct Badge {
        #[drift(primary_key)]
        pub id: u64,
        #[drift(unique)]
        pub code: Option<u32>,
    }

    #[test]
    fn none_values_do_not_collide_in_a_unique_index_and_queries_still_find_them() {
        let db = Db::builder().entity::<Badge>().in_memory().unwrap();
        db.write(|tx| {
            tx.insert(&Badge { id: 1, code: None })?;
            tx.insert(&Badge { id: 2, code: None })?;
            tx.insert(&Badge { id: 3, code: Some(7) })?;
            let dup = tx.insert(&Badge { id: 4, code: Some(7) }).unwrap_err();
            assert_eq!(dup.kind(), drift::ErrorKind::UniqueViolation);
            // Update a None to a value and back: the index follows.
            tx.update(&Badge { id: 1, code: Some(9) })?;
            tx.update(&Badge { id: 1, code: None })?;
            Ok(())
        })
        .unwrap();
        db.read(|tx| {
            let none: Vec<u64> = tx.query::<Badge>().filter(Badge::CODE.is_none()).keys()?;
            assert_eq!(none, vec![1, 2]);
            let below: Vec<u64> = tx.query::<Badge>().filter(Badge::CODE.lt(Some(8))).keys()?;
            assert_eq!(below, vec![1, 2, 3], "None sorts below Some");
            assert_eq!(tx.get_by::<Badge, _>(Badge::CODE, Some(7))?.map(|b| b.id), Some(3));
            assert_eq!(tx.get_by::<Badge, _>(Badge::CODE, Some(9))?, None);
            let plan = tx.query::<Badge>().filter(Badge::CODE.eq(Some(7))).explain()?;
            assert_eq!(plan.access, drift::Access::UniqueLookup { index: "code".into() });
            assert_eq!(tx.query::<Badge>().filter(Badge::CODE.is_some()).count()?, 1);
            Ok(())
        })
        .unwrap();
        db.write(|tx| tx.delete::<Badge>(&2).map(drop)).unwrap();
        assert_eq!(db.read(|tx| tx.query::<Badge>().count()).unwrap(), 2);
    }
}
