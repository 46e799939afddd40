//! `db.check()`: a sound file reports nothing; a file damaged on purpose through the
//! engine (redb directly) reports each kind of problem, naming entity, index or
//! relation and key.

#[path = "common/blog.rs"]
mod blog;

use blog::{Comment, PostTag, Tag, User, builder, post, user};
use drift::prelude::*;
use drift::{CheckReport, ProblemKind};
use redb::{ReadableTable, TableDefinition};

fn blog(dir: &tempfile::TempDir) -> std::path::PathBuf {
    let path = dir.path().join("blog.drift");
    let db = builder().open(&path).unwrap();
    db.write(|tx| {
        let ann = tx.insert(&user("ann@x.io"))?;
        let bob = tx.insert(&user("bob@x.io"))?;
        let p1 = tx.insert(&post(ann, "Hello", 3))?;
        let p2 = tx.insert(&post(bob, "World", 5))?;
        let rust = tx.insert(&Tag { name: "rust".into(), ..Default::default() })?;
        tx.insert(&PostTag { post_id: p1, tag_id: rust, ..Default::default() })?;
        tx.insert(&PostTag { post_id: p2, tag_id: rust, ..Default::default() })?;
        tx.insert(&Comment { post_id: p1, editor_id: Some(bob), body: "hi".into(), ..Default::default() })?;
        tx.insert(&Comment { post_id: p2, editor_id: None, body: "yo".into(), ..Default::default() })?;
        Ok(())
    })
    .unwrap();
    path
}

/// Runs `f` on the file's tables through redb, bypassing Drift.
fn damage(path: &std::path::Path, f: impl FnOnce(&redb::WriteTransaction)) {
    let db = redb::Database::open(path).unwrap();
    let tx = db.begin_write().unwrap();
    f(&tx);
    tx.commit().unwrap();
}

fn table(name: &str) -> TableDefinition<'_, &'static [u8], &'static [u8]> {
    TableDefinition::new(name)
}

fn report(path: &std::path::Path) -> CheckReport {
    let db = builder().open(path).unwrap();
    db.check().unwrap()
}

fn kinds(r: &CheckReport) -> Vec<ProblemKind> {
    r.problems.iter().map(|p| p.kind).collect()
}

#[test]
fn a_sound_file_has_no_problems() {
    let dir = tempfile::tempdir().unwrap();
    let path = blog(&dir);
    let r = report(&path);
    assert!(r.is_ok(), "{r}");
    assert_eq!((r.entities, r.rows), (6, 9));
    // users#email 2, post#author_id 2, post#likes 2, tag#name 1, profile#user_id 0,
    // and the foreign-key indexes the derive adds.
    assert!(r.index_entries >= 7, "{r}");
    assert!(r.to_string().starts_with("6 entities, 9 rows"), "{r}");
}

#[test]
fn a_stale_index_entry_is_reported_with_its_index_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = blog(&dir);
    // Post 1's likes entry says 99 instead of 3: the real entry is missing and the
    // changed one is stale.
    damage(&path, |tx| {
        let mut t = tx.open_table(table("post#likes")).unwrap();
        let entries: Vec<(Vec<u8>, Vec<u8>)> =
            t.iter().unwrap().map(|e| e.unwrap()).map(|(k, v)| (k.value().to_vec(), v.value().to_vec())).collect();
        let (k, v) = entries.iter().find(|(k, _)| k.ends_with(&1u64.to_be_bytes())).unwrap().clone();
        t.remove(k.as_slice()).unwrap();
        let mut changed = 99u32.to_be_bytes().to_vec();
        changed.extend_from_slice(&1u64.to_be_bytes());
        t.insert(changed.as_slice(), v.as_slice()).unwrap();
    });
    let r = report(&path);
    assert_eq!(kinds(&r), vec![ProblemKind::MissingIndexEntry, ProblemKind::StaleIndexEntry], "{r}");
    for p in &r.problems {
        assert_eq!((p.entity.as_str(), p.index.as_deref(), p.key.as_deref()), ("Post", Some("likes"), Some("1")));
    }
}

#[test]
fn an_entry_pointing_at_no_row_is_stale() {
    let dir = tempfile::tempdir().unwrap();
    let path = blog(&dir);
    damage(&path, |tx| {
        let mut t = tx.open_table(table("users#email")).unwrap();
        t.insert(&b"zed@x.io\0\0"[..], &7u64.to_be_bytes()[..]).unwrap();
    });
    let r = report(&path);
    assert_eq!(kinds(&r), vec![ProblemKind::StaleIndexEntry], "{r}");
    assert_eq!(r.problems[0].key.as_deref(), Some("7"));
    assert!(r.problems[0].to_string().contains("points at no row"), "{r}");
}

#[test]
fn a_duplicate_unique_value_names_both_keys() {
    let dir = tempfile::tempdir().unwrap();
    let path = blog(&dir);
    // Bob's row now holds Ann's email: the unique entry points at Ann.
    let db = builder().open(&path).unwrap();
    let ann_row = {
        let mut out = Vec::new();
        let ann = db.read(|tx| tx.get::<User>(&1)).unwrap().unwrap();
        drift::Entity::__encode_row(&ann, &mut out).unwrap();
        out
    };
    drop(db);
    damage(&path, |tx| {
        let mut t = tx.open_table(table("users")).unwrap();
        t.insert(&2u64.to_be_bytes()[..], ann_row.as_slice()).unwrap();
    });
    let r = report(&path);
    let dup = r.problems.iter().find(|p| p.kind == ProblemKind::DuplicateUnique).expect("duplicate reported");
    assert_eq!((dup.entity.as_str(), dup.index.as_deref(), dup.key.as_deref()), ("User", Some("email"), Some("2")));
    assert!(dup.detail.contains("key 1"), "{r}");
    // Bob's old entry now points at a row with another value.
    assert!(kinds(&r).contains(&ProblemKind::StaleIndexEntry), "{r}");
}

#[test]
fn a_dangling_foreign_key_names_the_relation_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = blog(&dir);
    damage(&path, |tx| {
        let mut t = tx.open_table(table("tag")).unwrap();
        t.remove(&1u64.to_be_bytes()[..]).unwrap();
        let mut t = tx.open_table(table("tag#name")).unwrap();
        t.remove(&b"rust\0\0"[..]).unwrap();
    });
    let r = report(&path);
    assert_eq!(kinds(&r), vec![ProblemKind::DanglingForeignKey; 2], "{r}");
    let p = &r.problems[0];
    assert_eq!((p.entity.as_str(), p.relation.as_deref(), p.key.as_deref()), ("PostTag", Some("tag"), Some("(1, 1)")));
    assert!(p.detail.contains("no Tag has key 1"), "{r}");
}

#[test]
fn an_undecodable_row_is_reported_and_the_rest_is_checked() {
    let dir = tempfile::tempdir().unwrap();
    let path = blog(&dir);
    damage(&path, |tx| {
        let mut t = tx.open_table(table("comment")).unwrap();
        t.insert(&2u64.to_be_bytes()[..], &[0xff, 0xff, 0xff][..]).unwrap();
    });
    let r = report(&path);
    assert!(kinds(&r).contains(&ProblemKind::Undecodable), "{r}");
    let p = r.problems.iter().find(|p| p.kind == ProblemKind::Undecodable).unwrap();
    assert_eq!((p.entity.as_str(), p.key.as_deref()), ("Comment", Some("2")));
    assert_eq!(r.rows, 9);
}

#[test]
fn an_auto_increment_mark_behind_the_keys_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let path = blog(&dir);
    damage(&path, |tx| {
        let mut t = tx.open_table(table("drift#meta")).unwrap();
        t.insert(&b"seq/users"[..], &1u64.to_be_bytes()[..]).unwrap();
    });
    let r = report(&path);
    assert_eq!(kinds(&r), vec![ProblemKind::SequenceBehind], "{r}");
    assert_eq!(r.problems[0].entity, "User");
}

#[test]
fn entities_this_process_did_not_register_are_checked_too() {
    let dir = tempfile::tempdir().unwrap();
    let path = blog(&dir);
    damage(&path, |tx| {
        let mut t = tx.open_table(table("post")).unwrap();
        let row = t.get(&1u64.to_be_bytes()[..]).unwrap().unwrap().value().to_vec();
        t.insert(&9u64.to_be_bytes()[..], row.as_slice()).unwrap();
    });
    // Only an unrelated entity is registered; the Post copied to key 9 has no index
    // entries.
    #[derive(Entity, Debug, Clone, PartialEq, Default)]
    struct Memo {
        #[drift(primary_key)]
        id: u64,
    }
    let db = Db::builder().entity::<Memo>().open(&path).unwrap();
    let r = db.check().unwrap();
    assert!(r.problems.iter().any(|p| p.entity == "Post" && p.kind == ProblemKind::MissingIndexEntry), "{r}");
}

mod two_auth {
    use drift::prelude::*;
    #[derive(Entity, Debug, Clone, PartialEq, Default)]
    #[drift(table = "auth_accounts")]
    pub struct Account {
        #[drift(primary_key)]
        pub id: u64,
    }
}

mod two_billing {
    use drift::prelude::*;
    #[derive(Entity, Debug, Clone, PartialEq, Default)]
    #[drift(table = "billing_accounts")]
    pub struct Account {
        #[drift(primary_key)]
        pub id: u64,
    }
    #[derive(Entity, Debug, Clone, PartialEq, Default)]
    pub struct Invoice {
        #[drift(primary_key)]
        pub id: u64,
        pub account_id: u64,
        #[drift(belongs_to(Account, key = account_id))]
        pub account: BelongsTo<Account>,
    }
}

#[test]
fn two_entities_of_one_name_do_not_make_false_dangling_keys() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("two.drift");
    let db = Db::builder()
        .entity::<two_auth::Account>()
        .entity::<two_billing::Account>()
        .entity::<two_billing::Invoice>()
        .open(&path)
        .unwrap();
    db.write(|tx| {
        tx.insert(&two_auth::Account { id: 1 })?;
        tx.insert(&two_billing::Account { id: 7 })?;
        tx.insert(&two_billing::Invoice { id: 1, account_id: 7, ..Default::default() })?;
        Ok(())
    })
    .unwrap();
    let r = db.check().unwrap();
    assert!(r.is_ok(), "{r}");
}

#[test]
fn a_duplicate_unique_value_is_reported_when_its_entries_are_missing() {
    let dir = tempfile::tempdir().unwrap();
    let path = blog(&dir);
    let db = builder().open(&path).unwrap();
    let ann_row = {
        let mut out = Vec::new();
        let ann = db.read(|tx| tx.get::<User>(&1)).unwrap().unwrap();
        drift::Entity::__encode_row(&ann, &mut out).unwrap();
        out
    };
    drop(db);
    damage(&path, |tx| {
        tx.open_table(table("users")).unwrap().insert(&2u64.to_be_bytes()[..], ann_row.as_slice()).unwrap();
        tx.delete_table(table("users#email")).unwrap();
    });
    let r = report(&path);
    assert!(kinds(&r).contains(&ProblemKind::DuplicateUnique), "{r}");
}

mod opaque {
    use drift::prelude::*;
    #[derive(serde::Serialize, serde::Deserialize, Debug, Clone, PartialEq, Default)]
    pub struct Blob {
        pub a: u32,
    }
    #[derive(Entity, Debug, Clone, PartialEq, Default)]
    pub struct Thing {
        #[drift(primary_key)]
        pub id: u64,
        #[drift(index)]
        pub n: u32,
        pub blob: Blob,
    }
}

#[test]
fn a_registered_entity_with_an_opaque_field_is_checked_through_its_struct() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("o.drift");
    let db = Db::builder().entity::<opaque::Thing>().open(&path).unwrap();
    db.write(|tx| tx.insert(&opaque::Thing { id: 1, n: 3, blob: opaque::Blob { a: 1 } }).map(|_| ())).unwrap();
    let r = db.check().unwrap();
    assert!(r.is_ok() && r.rows == 1 && r.index_entries == 1 && r.unchecked.is_empty(), "{r}");
    drop(db);
    // A program that does not compile it cannot read its rows: listed as not checked.
    let raw = drift::raw::open_read(&path).unwrap().unwrap();
    let r = drift::check::check(&raw).unwrap();
    assert_eq!((r.is_ok(), r.unchecked.clone()), (true, vec!["Thing".to_string()]), "{r}");
}
