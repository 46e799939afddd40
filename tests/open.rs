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

/// The file at `path` holds exactly `before` (reported by length and first
/// differing offset, not byte by byte).
#[track_caller]
fn assert_unchanged(path: &std::path::Path, before: &[u8], what: &str) {
    let after = std::fs::read(path).unwrap();
    if after != before {
        let at = after.iter().zip(before).position(|(a, b)| a != b).unwrap_or(after.len().min(before.len()));
        panic!("{what}: the file changed ({} bytes, was {}; first difference at byte {at})", after.len(), before.len());
    }
}

/// A file cut short is damaged: redb finds it shorter than its stored layout, and
/// Drift refuses it (`Error::NotADatabase`, as `Db::open` documents for a damaged
/// file) without writing to it.
#[test]
fn truncated_database_is_refused_unchanged_never_a_panic() {
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
    for cut in [1usize, 100, 512, 4096, full.len() / 3, full.len() / 2, full.len() - 4096, full.len() - 1] {
        std::fs::write(&path, &full[..cut]).unwrap();
        let before = std::fs::read(&path).unwrap();
        let opened = std::panic::catch_unwind(|| Db::builder().entity::<User>().open(&path).map(drop));
        let opened = opened.unwrap_or_else(|_| panic!("open panicked on a file cut at {cut} bytes"));
        let err = opened.expect_err(&format!("a file cut at {cut} of {} bytes is refused", full.len()));
        assert_eq!(err.kind(), ErrorKind::NotADatabase, "cut {cut}: {err}");
        assert!(err.to_string().contains("t.drift"), "cut {cut}: {err}");
        assert_unchanged(&path, &before, &format!("cut {cut}: a refused file is left unchanged"));
    }
}

#[test]
fn empty_file_opens_as_a_new_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.drift");
    std::fs::write(&path, b"").unwrap();
    let db = Db::builder().entity::<User>().open(&path).unwrap();
    assert_eq!(db.read(|tx| tx.query::<User>().count()).unwrap(), 0);
    db.write(|tx| tx.insert(&User::new("a@x", 1, "A"))).unwrap();
    assert_eq!(db.read(|tx| tx.query::<User>().count()).unwrap(), 1);
}

/// Writes `table` of a plain redb file, with redb itself.
fn redb_put(path: &std::path::Path, table: &str, key: &[u8], value: &[u8]) {
    let db = redb::Database::create(path).unwrap();
    let tx = db.begin_write().unwrap();
    {
        let mut t = tx.open_table(redb::TableDefinition::<&[u8], &[u8]>::new(table)).unwrap();
        t.insert(key, value).unwrap();
    }
    tx.commit().unwrap();
}

#[test]
fn plain_redb_file_without_drift_metadata_is_refused_and_left_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plain.redb");
    // A table that an entity would use: Drift must not adopt it.
    redb_put(&path, "users", b"\x00\x00\x00\x00\x00\x00\x00\x01", b"someone else's row");
    redb_put(&path, "other", b"k", b"v");
    let before = std::fs::read(&path).unwrap();
    let err = Db::builder().entity::<User>().open(&path).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotADatabase, "{err}");
    assert!(matches!(err, Error::NotADatabase { .. }), "{err:?}");
    assert!(err.to_string().contains("plain.redb"), "{err}");
    assert_unchanged(&path, &before, "a refused file is left byte for byte unchanged");
    // Refused again on a second try: nothing was added by the first.
    let again = Db::builder().entity::<User>().open(&path).unwrap_err();
    assert_eq!(again.kind(), ErrorKind::NotADatabase, "{again}");
    assert_unchanged(&path, &before, "a second refusal");
}

#[test]
fn drift_file_with_another_format_marker_is_refused_and_left_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("future.drift");
    {
        let db = Db::builder().entity::<User>().open(&path).unwrap();
        db.write(|tx| tx.insert(&User::new("a@x", 1, "A"))).unwrap();
    }
    redb_put(&path, "drift#meta", b"format", b"drift-kv/2");
    let before = std::fs::read(&path).unwrap();
    let err = Db::builder().entity::<User>().open(&path).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotADatabase, "{err}");
    assert!(matches!(err, Error::NotADatabase { .. }), "{err:?}");
    assert!(err.to_string().contains("drift-kv/2"), "the message names the marker found: {err}");
    assert_unchanged(&path, &before, "a refused file is left byte for byte unchanged");
    // With its marker restored, the same file opens with its row.
    redb_put(&path, "drift#meta", b"format", b"drift-kv/1");
    let db = Db::builder().entity::<User>().open(&path).unwrap();
    assert_eq!(db.read(|tx| tx.query::<User>().count()).unwrap(), 1);
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
    assert_eq!(err.kind(), ErrorKind::Registration, "{err}");
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
    assert_unchanged(&path, &before, "a refused open writes nothing");
    let db = Db::builder().entity::<User>().open(&path).unwrap();
    assert_eq!(db.read(|tx| tx.query::<User>().count()).unwrap(), 1);
}
