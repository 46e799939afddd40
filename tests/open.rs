mod common;

use common::{User, file_db};
use drift::ErrorKind;
use drift::prelude::*;

#[test]
fn file_that_is_not_a_database_is_rejected_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.txt");
    std::fs::write(&path, b"these are not the bytes you are looking for".repeat(200)).unwrap();
    let err = Db::builder().entity::<User>().open(&path).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotADatabase, "{err}");
    assert!(err.to_string().contains("notes.txt"), "{err}");
}

#[test]
fn truncated_database_gives_an_error_or_a_consistent_db_never_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.drift");
    {
        let db = file_db(&dir);
        db.write(|tx| {
            for i in 0..2000u32 {
                tx.insert(&User::new(&format!("u{i}@x"), i % 50, "name"))?;
            }
            Ok(())
        })
        .unwrap();
    }
    let full = std::fs::read(dir.path().join("test.drift")).unwrap();
    for cut in [0usize, 1, 100, 512, 4096, full.len() / 3, full.len() / 2, full.len() - 1] {
        std::fs::write(&path, &full[..cut.min(full.len())]).unwrap();
        let opened = std::panic::catch_unwind(|| Db::builder().entity::<User>().open(&path));
        let opened = opened.unwrap_or_else(|_| panic!("open panicked on a file cut at {cut} bytes"));
        match opened {
            // An empty file is a new database; a repaired file must still read.
            Ok(db) => {
                let n = std::panic::catch_unwind(|| db.read(|tx| tx.query::<User>().count()))
                    .unwrap_or_else(|_| panic!("read panicked on a file cut at {cut} bytes"));
                if cut == 0 {
                    assert_eq!(n.unwrap(), 0);
                }
            }
            Err(e) => {
                assert!(matches!(e.kind(), ErrorKind::NotADatabase | ErrorKind::Storage), "cut {cut}: unexpected {e}")
            }
        }
    }
}

#[test]
fn changed_schema_fails_with_schema_mismatch_listing_the_changes() {
    mod v2 {
        use drift::prelude::*;
        #[derive(Entity, Debug, Clone, PartialEq, Default)]
        #[drift(table = "users", version = 2)]
        pub struct User {
            #[drift(primary_key, auto_increment)]
            pub id: u64,
            #[drift(unique)]
            pub email: String,
            pub age: u32,
            pub nickname: Option<String>,
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.drift");
    Db::builder().entity::<User>().open(&path).unwrap();
    let err = Db::builder().entity::<v2::User>().open(&path).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::SchemaMismatch);
    let msg = err.to_string();
    for part in ["version 1 became 2", "field `name` was removed", "field `nickname`", "index `age` was removed"] {
        assert!(msg.contains(part), "missing {part:?} in {msg}");
    }
}

#[test]
fn reopening_with_the_same_schema_keeps_the_data() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = file_db(&dir);
        db.write(|tx| tx.insert(&User::new("a@x", 1, "A"))).unwrap();
    }
    let db = file_db(&dir);
    assert_eq!(db.read(|tx| tx.get_by::<User, _>(User::EMAIL, "a@x")).unwrap().unwrap().name, "A");
}

#[test]
fn two_entities_on_one_table_are_rejected() {
    mod other {
        use drift::prelude::*;
        #[derive(Entity, Debug, Clone, PartialEq, Default)]
        #[drift(table = "users")]
        pub struct Account {
            #[drift(primary_key)]
            pub id: u64,
        }
    }
    let err = Db::builder().entity::<User>().entity::<other::Account>().in_memory().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::SchemaMismatch);
    assert!(err.to_string().contains("users"), "{err}");
}

#[test]
fn schema_descriptor_serializes_to_json_with_fields_keys_and_indexes() {
    let json = serde_json::to_value(<User as drift::Entity>::SCHEMA).unwrap();
    assert_eq!(json["table"], "users");
    assert_eq!(json["primary_key"][0], "id");
    assert_eq!(json["auto_increment"], true);
    assert_eq!(json["fields"][1]["name"], "email");
    assert_eq!(json["fields"][1]["ty"], "String");
    assert_eq!(json["indexes"][0]["unique"], true);
    let back: drift::EntityDescriptor = serde_json::from_value(json).unwrap();
    assert_eq!(&back, <User as drift::Entity>::SCHEMA);
}

#[test]
fn a_refused_open_leaves_the_file_unchanged_and_reopenable() {
    mod v2 {
        use drift::prelude::*;
        #[derive(Entity, Debug, Clone, PartialEq, Default)]
        #[drift(table = "users", version = 2)]
        pub struct User {
            #[drift(primary_key, auto_increment)]
            pub id: u64,
            pub email: String,
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keep.drift");
    {
        let db = Db::builder().entity::<User>().open(&path).unwrap();
        db.write(|tx| tx.insert(&User::new("a@x", 1, "A"))).unwrap();
    }
    let before = std::fs::read(&path).unwrap();
    let err = Db::builder().entity::<v2::User>().open(&path).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::SchemaMismatch);
    assert_eq!(std::fs::read(&path).unwrap(), before, "a refused open writes nothing");
    let db = Db::builder().entity::<User>().open(&path).unwrap();
    assert_eq!(db.read(|tx| tx.query::<User>().count()).unwrap(), 1);
}
