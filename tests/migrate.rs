//! Schema migrations, change kind by change kind: the file before, the migration,
//! the file after (rows, index entries, stored descriptors); failures that leave
//! the file as it was; chains of versions through the schema history.

#[path = "common/file.rs"]
mod file;

use std::path::Path;
use std::sync::{Arc, Mutex};

use drift::migrate::{ChangeKind, Class, Migrations, Progress, Row, SchemaHistory, applied, diff};
use drift::prelude::*;
use drift::{EntityDescriptor, ErrorKind};
use file::contents;
use redb::{ReadableTable, TableDefinition};

/// The stored descriptor of `table`, as JSON.
fn stored_json(path: &Path, table: &str) -> serde_json::Value {
    let meta = &contents(path)["drift#meta"];
    serde_json::from_slice(&meta[format!("schema/{table}").as_bytes()]).unwrap()
}

fn json_of(d: &EntityDescriptor) -> serde_json::Value {
    serde_json::to_value(d).unwrap()
}

mod v1 {
    use drift::prelude::*;

    #[derive(Entity, Debug, Clone, PartialEq, Default)]
    pub struct Post {
        #[drift(primary_key, auto_increment)]
        pub id: u64,
        pub title: String,
        pub views: String,
        pub author_id: u64,
    }

    #[derive(Entity, Debug, Clone, PartialEq, Default)]
    pub struct Writer {
        #[drift(primary_key)]
        pub id: u64,
        pub name: String,
    }

    #[derive(Entity, Debug, Clone, PartialEq, Default)]
    pub struct Account {
        #[drift(primary_key)]
        pub id: u64,
        #[drift(index)]
        pub email: String,
        pub note: String,
    }
}

fn post(title: &str, views: &str, author_id: u64) -> v1::Post {
    v1::Post { id: 0, title: title.into(), views: views.into(), author_id }
}

/// A v1 file with `n` posts ("post 1".. with views "1"..) by writers 1 and 2.
fn v1_file(dir: &tempfile::TempDir, n: u64) -> std::path::PathBuf {
    let path = dir.path().join("blog.drift");
    let db = Db::builder().entity::<v1::Post>().entity::<v1::Writer>().open(&path).unwrap();
    db.write(|tx| {
        for w in 1..=2 {
            tx.insert(&v1::Writer { id: w, name: format!("writer {w}") })?;
        }
        for i in 1..=n {
            tx.insert(&post(&format!("post {i}"), &i.to_string(), 1 + i % 2))?;
        }
        Ok(())
    })
    .unwrap();
    drop(db);
    path
}

mod add_option {
    use drift::prelude::*;

    #[derive(Entity, Debug, Clone, PartialEq, Default)]
    #[drift(version = 2)]
    pub struct Post {
        #[drift(primary_key, auto_increment)]
        pub id: u64,
        #[drift(index)]
        pub title: String,
        pub views: String,
        pub author_id: u64,
        #[drift(index)]
        pub pinned: Option<bool>,
    }
}

#[test]
fn an_added_option_field_and_indexes_need_no_code() {
    let dir = tempfile::tempdir().unwrap();
    let path = v1_file(&dir, 20);
    let builder = || Db::builder().entity::<add_option::Post>().entity::<v1::Writer>();
    let err = builder().open(&path).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::SchemaMismatch);
    let db = builder().migrations(Migrations::new()).open(&path).unwrap();
    let posts: Vec<add_option::Post> = db.read(|tx| tx.query::<add_option::Post>().all()).unwrap();
    assert_eq!(posts.len(), 20);
    assert!(posts.iter().all(|p| p.pinned.is_none()));
    assert_eq!(posts[4].title, "post 5");
    // Both new indexes are built from the existing rows.
    let found =
        db.read(|tx| tx.query::<add_option::Post>().filter(add_option::Post::TITLE.eq("post 7")).all()).unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].id, 7);
    let none = db.read(|tx| tx.query::<add_option::Post>().filter(add_option::Post::PINNED.eq(None)).count()).unwrap();
    assert_eq!(none, 20);
    let report = db.check().unwrap();
    assert!(report.is_ok() && report.index_entries >= 40, "{report}");
    drop(db);
    let file = contents(&path);
    assert_eq!(file["post#title"].len(), 20);
    assert_eq!(file["post#pinned"].len(), 20);
    assert_eq!(stored_json(&path, "post"), json_of(<add_option::Post as Entity>::SCHEMA));
    // Reopens without migrations: the file is at version 2.
    builder().open(&path).unwrap();
}

#[test]
fn diff_classifies_each_change() {
    let stored = vec![<v1::Post as Entity>::SCHEMA.clone()];
    let changes = diff(&stored, &[<add_option::Post as Entity>::SCHEMA]);
    let kinds: Vec<String> = changes.iter().map(|c| c.to_string()).collect();
    assert!(changes.iter().all(|c| c.class == Class::Automatic), "{kinds:?}");
    assert!(
        changes
            .iter()
            .any(|c| matches!(&c.kind, ChangeKind::FieldAdded { field, optional: true, .. } if field == "pinned"))
    );
    assert!(
        changes.iter().any(|c| matches!(&c.kind, ChangeKind::IndexAdded { index, unique: false } if index == "title"))
    );
    assert!(changes.iter().any(|c| matches!(c.kind, ChangeKind::VersionChanged { from: 1, to: 2 })));
    assert!(kinds.iter().any(|k| k == "Post: field `pinned` of type `Option<bool>` added (automatic)"), "{kinds:?}");
    // The other way round, a removed field drops data and a removed entity too.
    let back = diff(std::slice::from_ref(<add_option::Post as Entity>::SCHEMA), &[<v1::Post as Entity>::SCHEMA]);
    assert!(
        back.iter().any(|c| matches!(&c.kind, ChangeKind::FieldRemoved { field } if field == "pinned")
            && c.class == Class::Acknowledge)
    );
    let gone = diff(std::slice::from_ref(<v1::Writer as Entity>::SCHEMA), &[]);
    assert_eq!(gone[0].kind, ChangeKind::EntityRemoved);
    assert_eq!(gone[0].class, Class::Acknowledge);
}

mod typed_views {
    use drift::prelude::*;

    #[derive(Entity, Debug, Clone, PartialEq, Default)]
    #[drift(version = 2)]
    pub struct Post {
        #[drift(primary_key, auto_increment)]
        pub id: u64,
        pub title: String,
        pub views: u64,
        pub author_id: u64,
    }
}

fn views_to_number(mut row: Row) -> Result<Row, drift::migrate::BoxError> {
    let views: String = row.get_as("views")?;
    let n: u64 = views.trim().parse().map_err(|e| format!("views {views:?} is not a number: {e}"))?;
    row.set("views", n);
    Ok(row)
}

#[test]
fn a_type_change_takes_a_transform_over_the_old_row() {
    let dir = tempfile::tempdir().unwrap();
    let path = v1_file(&dir, 10);
    let builder = || Db::builder().entity::<typed_views::Post>().entity::<v1::Writer>();
    // Without the transform, the open says which step needs one.
    let err = builder().migrations(Migrations::new()).open(&path).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Migration);
    let msg = err.to_string();
    assert!(msg.contains("field `views` changed type from `String` to `u64`"), "{msg}");
    assert!(msg.contains(".transform(\"Post\", 2"), "{msg}");
    let db = builder().migrations(Migrations::new().transform("Post", 2, views_to_number)).open(&path).unwrap();
    let p = db.read(|tx| tx.get::<typed_views::Post>(&7)).unwrap().unwrap();
    assert_eq!(p, typed_views::Post { id: 7, title: "post 7".into(), views: 7, author_id: 2 });
}

#[test]
fn a_transform_error_names_the_step_entity_key_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let path = v1_file(&dir, 3);
    let db = Db::builder().entity::<v1::Post>().entity::<v1::Writer>().open(&path).unwrap();
    db.write(|tx| tx.update(&v1::Post { id: 2, title: "x".into(), views: "many".into(), author_id: 1 })).unwrap();
    drop(db);
    let err = Db::builder()
        .entity::<typed_views::Post>()
        .entity::<v1::Writer>()
        .migrations(Migrations::new().transform("Post", 2, views_to_number))
        .open(&path)
        .unwrap_err();
    match &err {
        drift::Error::Migration { step, entity, key, reason, .. } => {
            assert_eq!(step, "Post v1 -> v2");
            assert_eq!(entity, "Post");
            assert_eq!(key.as_deref(), Some("2"));
            assert!(reason.contains("\"many\" is not a number"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    // A getter's error names the field.
    let err = Db::builder()
        .entity::<typed_views::Post>()
        .entity::<v1::Writer>()
        .migrations(Migrations::new().transform("Post", 2, |row| {
            let _: u64 = row.get_as("views")?;
            Ok(row)
        }))
        .open(&path)
        .unwrap_err();
    match &err {
        drift::Error::Migration { field, key, .. } => {
            assert_eq!(field.as_deref(), Some("views"));
            assert_eq!(key.as_deref(), Some("1"));
        }
        other => panic!("{other:?}"),
    }
}

/// Opens `path` with `typed_views::Post` and a transform that fails at key `at`,
/// by returning an error or by panicking.
fn fail_at(path: &Path, at: u64, panic: bool) -> drift::Error {
    Db::builder()
        .entity::<typed_views::Post>()
        .entity::<v1::Writer>()
        .migrations(Migrations::new().transform("Post", 2, move |row| {
            let id: u64 = row.get_as("id")?;
            if id == at {
                if panic {
                    panic!("transform bug at {id}");
                }
                return Err("refusing this row".into());
            }
            views_to_number(row)
        }))
        .open(path)
        .unwrap_err()
}

#[test]
fn a_migration_failing_at_row_5000_of_10000_leaves_the_file_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let path = v1_file(&dir, 10_000);
    let before = contents(&path);
    let mismatch = Db::builder().entity::<typed_views::Post>().entity::<v1::Writer>().open(&path).unwrap_err();
    for panic in [false, true] {
        let err = fail_at(&path, 5000, panic);
        match &err {
            drift::Error::Migration { step, entity, key, reason, .. } => {
                assert_eq!(step, "Post v1 -> v2");
                assert_eq!(entity, "Post");
                assert_eq!(key.as_deref(), Some("5000"));
                let want = if panic { "the transform panicked: transform bug at 5000" } else { "refusing this row" };
                assert!(reason.contains(want), "{reason}");
            }
            other => panic!("{other:?}"),
        }
        // Every row, index entry and descriptor as before.
        assert_eq!(contents(&path), before);
        // The next open reports the same pending change.
        let again = Db::builder().entity::<typed_views::Post>().entity::<v1::Writer>().open(&path).unwrap_err();
        assert_eq!(again.to_string(), mismatch.to_string());
    }
    // And the v1 program still opens its file.
    let db = Db::builder().entity::<v1::Post>().entity::<v1::Writer>().open(&path).unwrap();
    assert_eq!(db.read(|tx| tx.query::<v1::Post>().count()).unwrap(), 10_000);
}

mod validated {
    use drift::prelude::*;

    #[derive(Entity, Debug, Clone, PartialEq, Default)]
    #[drift(version = 2)]
    pub struct Post {
        #[drift(primary_key, auto_increment)]
        pub id: u64,
        #[drift(validate(length(max = 6)))]
        pub title: String,
        pub views: String,
        pub author_id: u64,
    }
}

#[test]
fn migrated_rows_are_checked_by_the_new_validation_rules() {
    let dir = tempfile::tempdir().unwrap();
    let path = v1_file(&dir, 12);
    let before = contents(&path);
    // Version 2 only adds a rule: "post 10" is 7 characters long.
    let err = Db::builder()
        .entity::<validated::Post>()
        .entity::<v1::Writer>()
        .migrations(Migrations::new())
        .open(&path)
        .unwrap_err();
    match &err {
        drift::Error::Migration { entity, key, reason, .. } => {
            assert_eq!(entity, "Post");
            assert_eq!(key.as_deref(), Some("10"));
            assert!(reason.contains("title"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(contents(&path), before);
}

mod unique_email {
    use drift::prelude::*;

    #[derive(Entity, Debug, Clone, PartialEq, Default)]
    #[drift(version = 2)]
    pub struct Account {
        #[drift(primary_key)]
        pub id: u64,
        #[drift(unique)]
        pub email: String,
        pub note: String,
    }
}

fn accounts(dir: &tempfile::TempDir, emails: &[&str]) -> std::path::PathBuf {
    let path = dir.path().join("accounts.drift");
    let db = Db::builder().entity::<v1::Account>().open(&path).unwrap();
    db.write(|tx| {
        for (i, e) in emails.iter().enumerate() {
            tx.insert(&v1::Account { id: i as u64 + 1, email: (*e).into(), note: String::new() })?;
        }
        Ok(())
    })
    .unwrap();
    path
}

#[test]
fn making_an_index_unique_reports_every_conflict_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = accounts(&dir, &["a@x", "b@x", "a@x", "c@x", "b@x", "a@x"]);
    let before = contents(&path);
    let err = Db::builder().entity::<unique_email::Account>().migrations(Migrations::new()).open(&path).unwrap_err();
    let msg = err.to_string();
    match &err {
        drift::Error::Migration { step, entity, field, reason, .. } => {
            assert!(step.contains("build unique index `email`"), "{step}");
            assert_eq!(entity, "Account");
            assert_eq!(field.as_deref(), Some("email"));
            assert!(reason.starts_with("3 conflict(s)"), "{reason}");
            assert!(reason.contains("keys 1 and 3"), "{reason}");
            assert!(reason.contains("keys 2 and 5"), "{reason}");
            assert!(reason.contains("keys 1 and 6"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    assert!(msg.contains("nothing changed"), "{msg}");
    assert_eq!(contents(&path), before);
}

#[test]
fn making_an_index_unique_without_conflicts_builds_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = accounts(&dir, &["a@x", "b@x", "c@x"]);
    let db = Db::builder().entity::<unique_email::Account>().migrations(Migrations::new()).open(&path).unwrap();
    let b = db.read(|tx| tx.get_by(unique_email::Account::EMAIL, "b@x")).unwrap();
    assert_eq!(b.map(|a| a.id), Some(2));
    let err = db
        .write(|tx| tx.insert(&unique_email::Account { id: 9, email: "a@x".into(), note: String::new() }))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UniqueViolation);
    drop(db);
    let file = contents(&path);
    // A unique index maps the value to the key: one entry per row, no key suffix.
    assert_eq!(file["account#email"].len(), 3);
    assert!(file["account#email"].values().all(|v| v.len() == 8));
}

mod with_author {
    use drift::prelude::*;

    use super::v1::Writer;

    #[derive(Entity, Debug, Clone, PartialEq, Default)]
    #[drift(version = 2)]
    pub struct Post {
        #[drift(primary_key, auto_increment)]
        pub id: u64,
        pub title: String,
        pub views: String,
        pub author_id: u64,
        #[drift(belongs_to(Writer, key = author_id))]
        pub author: BelongsTo<Writer>,
    }
}

#[test]
fn a_new_belongs_to_reports_every_dangling_key_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = v1_file(&dir, 6);
    let db = Db::builder().entity::<v1::Post>().entity::<v1::Writer>().open(&path).unwrap();
    db.write(|tx| {
        tx.update(&post("orphan a", "1", 77).with_id(2))?;
        tx.update(&post("orphan b", "1", 78).with_id(5))
    })
    .unwrap();
    drop(db);
    let before = contents(&path);
    let builder = || Db::builder().entity::<with_author::Post>().entity::<v1::Writer>();
    let err = builder().migrations(Migrations::new()).open(&path).unwrap_err();
    match &err {
        drift::Error::Migration { step, field, reason, .. } => {
            assert!(step.contains("check relation `author`"), "{step}");
            assert_eq!(field.as_deref(), Some("author_id"));
            assert!(reason.starts_with("2 row(s) point at no Writer"), "{reason}");
            assert!(reason.contains("2 -> 77") && reason.contains("5 -> 78"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(contents(&path), before);
    // Once the orphans point at writers, the relation is added.
    let db = Db::builder().entity::<v1::Post>().entity::<v1::Writer>().open(&path).unwrap();
    db.write(|tx| {
        tx.update(&post("fixed a", "1", 1).with_id(2))?;
        tx.update(&post("fixed b", "1", 2).with_id(5))
    })
    .unwrap();
    drop(db);
    let db = builder().migrations(Migrations::new()).open(&path).unwrap();
    let err = db.write(|tx| tx.delete::<v1::Writer>(&1)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Restrict);
}

impl v1::Post {
    fn with_id(mut self, id: u64) -> Self {
        self.id = id;
        self
    }
}

mod without_views {
    use drift::prelude::*;

    #[derive(Entity, Debug, Clone, PartialEq, Default)]
    #[drift(version = 2)]
    pub struct Post {
        #[drift(primary_key, auto_increment)]
        pub id: u64,
        pub title: String,
        pub author_id: u64,
    }
}

#[test]
fn a_removed_field_needs_an_acknowledgement_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = v1_file(&dir, 5);
    let before = contents(&path);
    let builder = || Db::builder().entity::<without_views::Post>().entity::<v1::Writer>();
    let err = builder().migrations(Migrations::new()).open(&path).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("field `views` was removed"), "{msg}");
    assert!(msg.contains(".drop_field(\"Post\", \"views\")"), "{msg}");
    assert_eq!(contents(&path), before);
    // Acknowledging another field is not enough.
    let err = builder().migrations(Migrations::new().drop_field("Post", "title")).open(&path).unwrap_err();
    assert!(err.to_string().contains("field `views` was removed"));
    let db = builder().migrations(Migrations::new().drop_field("Post", "views")).open(&path).unwrap();
    let p = db.read(|tx| tx.get::<without_views::Post>(&3)).unwrap().unwrap();
    assert_eq!(p, without_views::Post { id: 3, title: "post 3".into(), author_id: 2 });
    drop(db);
    let stored = stored_json(&path, "post");
    assert_eq!(stored, json_of(<without_views::Post as Entity>::SCHEMA));
    assert!(!stored.to_string().contains("views"));
}

#[test]
fn a_dry_run_returns_the_plan_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = v1_file(&dir, 40);
    let before = contents(&path);
    let builder = Db::builder().entity::<add_option::Post>().entity::<v1::Writer>();
    let plan = Migrations::new().dry_run(&builder, &path).unwrap();
    assert_eq!(plan.steps.len(), 1);
    let step = &plan.steps[0];
    assert_eq!((step.entity.as_str(), step.from_version, step.to_version, step.rows), ("Post", 1, 2, 40));
    let text = plan.to_string();
    assert!(text.starts_with("Post v1 -> v2: 40 rows\n"), "{text}");
    assert!(text.contains("  - field `pinned` of type `Option<bool>` added (automatic)"), "{text}");
    assert_eq!(contents(&path), before);
    // A plan that cannot run is an error listing why.
    let builder = Db::builder().entity::<typed_views::Post>().entity::<v1::Writer>();
    let err = Migrations::new().dry_run(&builder, &path).unwrap_err();
    assert!(err.to_string().contains("needs a transform"));
}

#[test]
fn progress_is_reported_and_applied_steps_are_recorded_in_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = v1_file(&dir, 1500);
    let seen: Arc<Mutex<Vec<Progress>>> = Arc::default();
    let log = Arc::clone(&seen);
    let db = Db::builder()
        .entity::<add_option::Post>()
        .entity::<v1::Writer>()
        .migrations(Migrations::new().on_progress(move |p| log.lock().unwrap().push(p.clone())))
        .open(&path)
        .unwrap();
    let seen = seen.lock().unwrap();
    assert_eq!(seen.first().map(|p| p.rows_done), Some(0));
    assert!(seen.iter().all(|p| p.rows_total == 1500 && p.entity == "Post"));
    assert_eq!(seen.last().map(|p| p.rows_done), Some(1500));
    assert!(seen.windows(2).all(|w| w[0].rows_done <= w[1].rows_done));
    let history = applied(&db).unwrap();
    assert_eq!(history.len(), 1);
    let step = &history[0].steps[0];
    assert_eq!((step.entity.as_str(), step.from_version, step.to_version, step.rows), ("Post", 1, 2, 1500));
    assert!(step.changes.iter().any(|c| c == "index `title` added"), "{:?}", step.changes);
    assert!(history[0].at_unix_ms > 1_700_000_000_000);
}

mod renamed {
    use drift::prelude::*;

    #[derive(Entity, Debug, Clone, PartialEq, Default)]
    #[drift(version = 2, renamed_from = "Post")]
    pub struct Article {
        #[drift(primary_key, auto_increment)]
        pub id: u64,
        #[drift(renamed_from = "title")]
        pub headline: String,
        pub views: String,
        pub author_id: u64,
        #[drift(default = String::from("en"))]
        pub lang: String,
    }
}

#[test]
fn a_renamed_entity_and_field_move_with_their_rows_and_sequence() {
    let dir = tempfile::tempdir().unwrap();
    let path = v1_file(&dir, 8);
    let builder = || Db::builder().entity::<renamed::Article>().entity::<v1::Writer>();
    // Without migrations the rename is a mismatch, not a new empty entity.
    let err = builder().open(&path).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::SchemaMismatch);
    assert!(err.to_string().contains("entity `Post` was renamed to `Article`"), "{err}");
    let db = builder().migrations(Migrations::new()).open(&path).unwrap();
    let a = db.read(|tx| tx.get::<renamed::Article>(&8)).unwrap().unwrap();
    assert_eq!(
        a,
        renamed::Article { id: 8, headline: "post 8".into(), views: "8".into(), author_id: 1, lang: "en".into() }
    );
    // The auto_increment sequence moved with the rows.
    let id = db.write(|tx| tx.insert(&renamed::Article { headline: "new".into(), ..Default::default() })).unwrap();
    assert_eq!(id, 9);
    drop(db);
    let file = contents(&path);
    assert!(!file.contains_key("post"));
    assert_eq!(file["article"].len(), 9);
    assert!(!file["drift#meta"].contains_key(b"schema/post".as_slice()));
}

#[test]
fn a_dropped_entity_needs_an_acknowledgement_and_its_tables_go() {
    let dir = tempfile::tempdir().unwrap();
    let path = v1_file(&dir, 3);
    // A program that does not register Writer leaves it as stored.
    let db = Db::builder().entity::<v1::Post>().migrations(Migrations::new()).open(&path).unwrap();
    drop(db);
    assert_eq!(contents(&path)["writer"].len(), 2);
    let db =
        Db::builder().entity::<v1::Post>().migrations(Migrations::new().drop_entity("Writer")).open(&path).unwrap();
    assert_eq!(applied(&db).unwrap()[0].dropped, vec!["Writer".to_string()]);
    drop(db);
    let file = contents(&path);
    assert!(!file.contains_key("writer"));
    assert!(!file["drift#meta"].contains_key(b"schema/writer".as_slice()));
    // Dropping what is still compiled is refused.
    let err =
        Db::builder().entity::<v1::Post>().migrations(Migrations::new().drop_entity("Post")).open(&path).unwrap_err();
    assert!(err.to_string().contains("still compiled"), "{err}");
}

mod v2 {
    use drift::prelude::*;

    /// Version 2: a slug made from the title by a transform.
    #[derive(Entity, Debug, Clone, PartialEq, Default)]
    #[drift(version = 2)]
    pub struct Post {
        #[drift(primary_key, auto_increment)]
        pub id: u64,
        pub title: String,
        pub views: String,
        pub author_id: u64,
        #[drift(unique)]
        pub slug: String,
    }
}

mod v3 {
    use drift::prelude::*;

    /// Version 3: views as a number (a transform), title renamed.
    #[derive(Entity, Debug, Clone, PartialEq, Default)]
    #[drift(version = 3)]
    pub struct Post {
        #[drift(primary_key, auto_increment)]
        pub id: u64,
        #[drift(renamed_from = "title")]
        pub headline: String,
        pub views: u64,
        pub author_id: u64,
        #[drift(unique)]
        pub slug: String,
    }
}

fn slug_step(mut row: Row) -> Result<Row, drift::migrate::BoxError> {
    let title: String = row.get_as("title")?;
    row.set("slug", title.replace(' ', "-"));
    Ok(row)
}

#[test]
fn a_v1_file_opened_by_v3_code_migrates_through_v2_in_one_go() {
    let dir = tempfile::tempdir().unwrap();
    let path = v1_file(&dir, 50);
    // The lock file holds every shipped version; no v1 or v2 struct is needed to
    // migrate (they are used here only to record the history).
    let mut history = SchemaHistory::default();
    history.record([<v1::Post as Entity>::SCHEMA, <v1::Writer as Entity>::SCHEMA]);
    history.record([<v2::Post as Entity>::SCHEMA]);
    history.record([<v3::Post as Entity>::SCHEMA]);
    let history = SchemaHistory::from_json(&history.to_json()).unwrap();
    assert_eq!(history.versions_of("Post"), vec![1, 2, 3]);
    let migrations =
        Migrations::new().history(history).transform("Post", 2, slug_step).transform("Post", 3, views_to_number);
    let builder = Db::builder().entity::<v3::Post>().entity::<v1::Writer>();
    let plan = migrations.dry_run(&builder, &path).unwrap();
    let versions: Vec<(u32, u32)> = plan.steps.iter().map(|s| (s.from_version, s.to_version)).collect();
    assert_eq!(versions, vec![(1, 2), (2, 3)]);
    let db = builder.migrations(migrations).open(&path).unwrap();
    let p = db.read(|tx| tx.get::<v3::Post>(&42)).unwrap().unwrap();
    assert_eq!(p, v3::Post { id: 42, headline: "post 42".into(), views: 42, author_id: 1, slug: "post-42".into() });
    let by_slug = db.read(|tx| tx.get_by(v3::Post::SLUG, "post-7")).unwrap();
    assert_eq!(by_slug.map(|p| p.id), Some(7));
    let report = db.check().unwrap();
    assert!(report.is_ok(), "{report}");
    let steps = &applied(&db).unwrap()[0].steps;
    assert_eq!(steps.iter().map(|s| (s.from_version, s.to_version)).collect::<Vec<_>>(), vec![(1, 2), (2, 3)]);
    drop(db);
    assert_eq!(stored_json(&path, "post"), json_of(<v3::Post as Entity>::SCHEMA));
    assert_eq!(contents(&path)["post#slug"].len(), 50);
}

#[test]
fn the_snapshot_guard_fails_on_an_unrecorded_schema_and_records_it_on_request() {
    let dir = tempfile::tempdir().unwrap();
    let lock = dir.path().join("drift-schema.json");
    let mut history = SchemaHistory::default();
    history.record([<v1::Post as Entity>::SCHEMA]);
    history.save(&lock).unwrap();
    let compiled = [<v2::Post as Entity>::SCHEMA];
    let missing = history.unrecorded(&compiled);
    assert_eq!(missing.len(), 1);
    assert!(missing[0].changes.iter().any(|c| c.contains("slug")), "{:?}", missing[0].changes);
    let panicked = std::panic::catch_unwind(|| SchemaHistory::assert_recorded(&lock, &compiled)).unwrap_err();
    let msg = panicked.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(msg.contains("Post version 2 is not recorded"), "{msg}");
    assert!(msg.contains("DRIFT_RECORD=1 cargo test"), "{msg}");
    // A recorded schema passes.
    history.record(compiled);
    history.save(&lock).unwrap();
    SchemaHistory::assert_recorded(&lock, &compiled);
    assert!(SchemaHistory::load(&lock).unwrap().unrecorded(&compiled).is_empty());
}

// Found in review: each of these failed before its fix.

#[test]
fn drop_entity_acknowledgement_does_not_brick_the_next_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = v1_file(&dir, 3);
    let migrations = || Migrations::new().drop_entity("Writer");
    let db = Db::builder().entity::<v1::Post>().migrations(migrations()).open(&path).unwrap();
    drop(db);
    let again = Db::builder().entity::<v1::Post>().migrations(migrations()).open(&path);
    assert!(again.is_ok(), "second open failed: {}", again.unwrap_err());
    let fresh = dir.path().join("fresh.drift");
    drop(Db::builder().entity::<v1::Post>().migrations(migrations()).open(&fresh).unwrap());
    let again = Db::builder().entity::<v1::Post>().migrations(migrations()).open(&fresh);
    assert!(again.is_ok(), "second open of a fresh file failed: {}", again.unwrap_err());
}

mod article_v2 {
    use drift::prelude::*;
    #[derive(Entity, Debug, Clone, PartialEq, Default)]
    #[drift(version = 2, renamed_from = "Post")]
    pub struct Article {
        #[drift(primary_key, auto_increment)]
        pub id: u64,
        pub title: String,
        pub views: String,
        pub author_id: u64,
    }
}

mod story_v3 {
    use drift::prelude::*;
    #[derive(Entity, Debug, Clone, PartialEq, Default)]
    #[drift(version = 3, renamed_from = "Article")]
    pub struct Story {
        #[drift(primary_key, auto_increment)]
        pub id: u64,
        pub title: String,
        pub views: String,
        pub author_id: u64,
    }
}

#[test]
fn an_entity_renamed_twice_keeps_its_rows_through_the_history() {
    let dir = tempfile::tempdir().unwrap();
    let path = v1_file(&dir, 8);
    let mut history = SchemaHistory::default();
    history.record([<v1::Post as Entity>::SCHEMA, <v1::Writer as Entity>::SCHEMA]);
    history.record([<article_v2::Article as Entity>::SCHEMA]);
    history.record([<story_v3::Story as Entity>::SCHEMA]);
    let db = Db::builder()
        .entity::<story_v3::Story>()
        .entity::<v1::Writer>()
        .migrations(Migrations::new().history(history))
        .open(&path)
        .expect("open");
    let n = db.read(|tx| tx.query::<story_v3::Story>().count()).unwrap();
    drop(db);
    let file = contents(&path);
    assert_eq!(
        n,
        8,
        "Story opened with {n} rows; table `post` still holds {}",
        file.get("post").map_or(0, |t| t.len())
    );
}

mod fam_v1 {
    use drift::prelude::*;
    #[derive(Entity, Debug, Clone, PartialEq, Default)]
    pub struct Owner {
        #[drift(primary_key)]
        pub id: u64,
        pub name: String,
    }
    #[derive(Entity, Debug, Clone, PartialEq, Default)]
    pub struct Pet {
        #[drift(primary_key)]
        pub id: u64,
        pub owner_id: u64,
        #[drift(belongs_to(Owner, key = owner_id))]
        pub owner: BelongsTo<Owner>,
    }
}

mod fam_v2 {
    use drift::prelude::*;
    #[derive(Entity, Debug, Clone, PartialEq, Default)]
    #[drift(version = 2, renamed_from = "Owner")]
    pub struct Keeper {
        #[drift(primary_key)]
        pub id: u64,
        pub name: String,
    }
}

fn fam_file(dir: &tempfile::TempDir) -> std::path::PathBuf {
    let path = dir.path().join("fam.drift");
    let db = Db::builder().entity::<fam_v1::Owner>().entity::<fam_v1::Pet>().open(&path).unwrap();
    db.write(|tx| {
        tx.insert(&fam_v1::Owner { id: 1, name: "o".into() })?;
        tx.insert(&fam_v1::Pet { id: 1, owner_id: 1, ..Default::default() })
    })
    .unwrap();
    path
}

#[test]
fn renaming_a_parent_keeps_the_restrict_of_unregistered_children() {
    let dir = tempfile::tempdir().unwrap();
    let path = fam_file(&dir);
    let db = Db::builder().entity::<fam_v1::Owner>().open(&path).unwrap();
    assert_eq!(db.write(|tx| tx.delete::<fam_v1::Owner>(&1)).unwrap_err().kind(), ErrorKind::Restrict);
    drop(db);
    let db = Db::builder().entity::<fam_v2::Keeper>().migrations(Migrations::new()).open(&path).unwrap();
    let r = db.write(|tx| tx.delete::<fam_v2::Keeper>(&1));
    drop(db);
    assert!(r.is_err(), "Keeper 1 deleted while {} stored Pet row(s) point at it", contents(&path)["pet"].len());
}

mod fk_v1 {
    use super::v1::Writer;
    use drift::prelude::*;
    #[derive(Entity, Debug, Clone, PartialEq, Default)]
    #[drift(table = "note")]
    pub struct Note {
        #[drift(primary_key)]
        pub id: u64,
        pub body: String,
        pub author_id: u64,
        #[drift(belongs_to(Writer, key = author_id))]
        pub author: BelongsTo<Writer>,
    }
}

mod fk_v2 {
    use super::v1::Writer;
    use drift::prelude::*;
    #[derive(Entity, Debug, Clone, PartialEq, Default)]
    #[drift(version = 2, table = "note")]
    pub struct Note {
        #[drift(primary_key)]
        pub id: u64,
        pub body: String,
        pub author_id: u64,
        #[drift(belongs_to(Writer, key = author_id))]
        pub author: BelongsTo<Writer>,
        pub words: u64,
    }
}

#[test]
fn a_transform_cannot_write_a_dangling_foreign_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fk.drift");
    let db = Db::builder().entity::<v1::Writer>().entity::<fk_v1::Note>().open(&path).unwrap();
    db.write(|tx| {
        tx.insert(&v1::Writer { id: 1, name: "w".into() })?;
        tx.insert(&fk_v1::Note { id: 1, body: "a b".into(), author_id: 1, ..Default::default() })
    })
    .unwrap();
    drop(db);
    let m = Migrations::new().transform("Note", 2, |mut row: Row| {
        let body: String = row.get_as("body")?;
        row.set("words", body.split(' ').count() as u64);
        row.set("author_id", 999u64); // a bug in the transform
        Ok(row)
    });
    let err = Db::builder().entity::<v1::Writer>().entity::<fk_v2::Note>().migrations(m).open(&path).unwrap_err();
    assert!(err.to_string().contains("1 -> 999"), "{err}");
}

mod auth {
    use drift::prelude::*;
    #[derive(Entity, Debug, Clone, PartialEq, Default)]
    #[drift(table = "auth_accounts")]
    pub struct Account {
        #[drift(primary_key)]
        pub id: u64,
        pub name: String,
    }
}

mod billing {
    use drift::prelude::*;
    #[derive(Entity, Debug, Clone, PartialEq, Default)]
    #[drift(table = "billing_accounts")]
    pub struct Account {
        #[drift(primary_key)]
        pub id: u64,
        pub name: String,
    }
}

fn auth_file(dir: &tempfile::TempDir) -> std::path::PathBuf {
    let path = dir.path().join("acc.drift");
    let db = Db::builder().entity::<auth::Account>().open(&path).unwrap();
    db.write(|tx| {
        for i in 1..=3 {
            tx.insert(&auth::Account { id: i, name: format!("a{i}") })?;
        }
        Ok(())
    })
    .unwrap();
    path
}

#[test]
fn a_new_entity_sharing_a_type_name_is_not_a_table_move() {
    let dir = tempfile::tempdir().unwrap();
    let path = auth_file(&dir);
    let r = Db::builder().entity::<auth::Account>().entity::<billing::Account>().open(&path);
    assert!(r.is_ok(), "{}", r.unwrap_err());
}

#[test]
fn a_new_entity_sharing_a_type_name_does_not_take_the_other_ones_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = auth_file(&dir);
    let before = contents(&path)["auth_accounts"].clone();
    let r =
        Db::builder().entity::<auth::Account>().entity::<billing::Account>().migrations(Migrations::new()).open(&path);
    let ok = r.as_ref().err().map(ToString::to_string);
    drop(r);
    let file = contents(&path);
    assert_eq!(file.get("auth_accounts"), Some(&before), "open: {ok:?}");
    assert!(ok.is_none(), "{ok:?}");
    // And the program that knows only the first still opens its file.
    let db = Db::builder().entity::<auth::Account>().open(&path).unwrap();
    assert_eq!(db.read(|tx| tx.query::<auth::Account>().count()).unwrap(), 3);
}

mod people_v1 {
    use drift::prelude::*;
    #[derive(Entity, Debug, Clone, PartialEq, Default)]
    #[drift(table = "users")]
    pub struct User {
        #[drift(primary_key)]
        pub id: u64,
        pub name: String,
    }
}

mod people_v2 {
    use drift::prelude::*;
    #[derive(Entity, Debug, Clone, PartialEq, Default)]
    #[drift(version = 2, renamed_from = "User", table = "users")]
    pub struct Member {
        #[drift(primary_key)]
        pub id: u64,
        pub name: String,
    }
    #[derive(Entity, Debug, Clone, PartialEq, Default)]
    #[drift(table = "login_users")]
    pub struct User {
        #[drift(primary_key)]
        pub id: u64,
        pub name: String,
    }
}

#[test]
fn a_rename_and_a_new_entity_of_the_old_name_do_not_both_claim_the_rows() {
    let (mut outcomes, mut ok) = (Vec::new(), true);
    for member_first in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("people.drift");
        let db = Db::builder().entity::<people_v1::User>().open(&path).unwrap();
        db.write(|tx| {
            for i in 1..=4 {
                tx.insert(&people_v1::User { id: i, name: format!("u{i}") })?;
            }
            Ok(())
        })
        .unwrap();
        drop(db);
        let b = if member_first {
            Db::builder().entity::<people_v2::Member>().entity::<people_v2::User>()
        } else {
            Db::builder().entity::<people_v2::User>().entity::<people_v2::Member>()
        };
        let r = b.migrations(Migrations::new()).open(&path);
        let err = r.as_ref().err().map(ToString::to_string);
        drop(r);
        let file = contents(&path);
        let users = file.get("users").map_or(0, |t| t.len());
        let login = file.get("login_users").map_or(0, |t| t.len());
        let stored = stored_json(&path, "users");
        outcomes.push(format!("member_first={member_first}: open {err:?}; users {users}, login_users {login}"));
        ok &= err.is_none() && users == 4 && login == 0 && stored["name"] == "Member";
    }
    assert!(ok, "{outcomes:#?}");
}

mod add_opt {
    use drift::prelude::*;
    #[derive(Entity, Debug, Clone, PartialEq, Default)]
    #[drift(version = 2)]
    pub struct Post {
        #[drift(primary_key, auto_increment)]
        pub id: u64,
        pub title: String,
        pub views: String,
        pub author_id: u64,
        pub pinned: Option<bool>,
    }
}

/// A file written before shapes existed: no `shape` in any stored field.
fn strip_shapes(path: &Path) {
    let db = redb::Database::open(path).unwrap();
    let tx = db.begin_write().unwrap();
    {
        let mut t = tx.open_table(TableDefinition::<&[u8], &[u8]>::new("drift#meta")).unwrap();
        let mut edits = Vec::new();
        for e in t.iter().unwrap() {
            let (k, v) = e.unwrap();
            if k.value().starts_with(b"schema/") {
                let mut j: serde_json::Value = serde_json::from_slice(v.value()).unwrap();
                for f in j["fields"].as_array_mut().unwrap() {
                    f.as_object_mut().unwrap().remove("shape");
                }
                edits.push((k.value().to_vec(), serde_json::to_vec(&j).unwrap()));
            }
        }
        for (k, v) in edits {
            t.insert(k.as_slice(), v.as_slice()).unwrap();
        }
    }
    tx.commit().unwrap();
}

#[test]
fn a_file_without_shapes_migrates_automatically_and_with_a_typed_transform() {
    let dir = tempfile::tempdir().unwrap();
    let path = v1_file(&dir, 5);
    strip_shapes(&path);
    let m = Migrations::new().typed::<v1::Post, add_opt::Post>(|old| {
        Ok(add_opt::Post {
            id: old.id,
            title: old.title,
            views: old.views,
            author_id: old.author_id,
            pinned: Some(true),
        })
    });
    let db = Db::builder().entity::<add_opt::Post>().entity::<v1::Writer>().migrations(m).open(&path).unwrap();
    assert_eq!(db.read(|tx| tx.get::<add_opt::Post>(&2)).unwrap().unwrap().pinned, Some(true));
    drop(db);
    let dir = tempfile::tempdir().unwrap();
    let path = v1_file(&dir, 5);
    strip_shapes(&path);
    let db = Db::builder()
        .entity::<add_opt::Post>()
        .entity::<v1::Writer>()
        .migrations(Migrations::new())
        .open(&path)
        .unwrap();
    assert_eq!(db.read(|tx| tx.get::<add_opt::Post>(&2)).unwrap().unwrap().title, "post 2");
}

mod mail_v1 {
    use drift::prelude::*;
    #[derive(Entity, Debug, Clone, PartialEq, Default)]
    #[drift(table = "mail")]
    pub struct Mail {
        #[drift(primary_key)]
        pub id: u64,
        #[drift(index)]
        pub subject: String,
    }
}

mod mail_v2 {
    use drift::prelude::*;
    #[derive(Entity, Debug, Clone, PartialEq, Default)]
    #[drift(version = 2, table = "mail")]
    pub struct Mail {
        #[drift(primary_key)]
        pub id: u64,
        #[drift(index)]
        pub subject: String,
        pub read: Option<bool>,
    }
}

#[test]
fn an_index_entry_an_insert_accepts_is_accepted_by_a_migration() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mail.drift");
    let db = Db::builder().entity::<mail_v1::Mail>().open(&path).unwrap();
    let mut len = 1100; // the longest subject an insert accepts
    while db.write(|tx| tx.insert(&mail_v1::Mail { id: 1, subject: "s".repeat(len) })).is_err() {
        len -= 1;
    }
    drop(db);
    let r = Db::builder().entity::<mail_v2::Mail>().migrations(Migrations::new()).open(&path);
    assert!(r.is_ok(), "subject of {len} bytes, inserted fine: {}", r.unwrap_err());
}

fn count_values(v: &drift::dynamic::Value) -> usize {
    use drift::dynamic::Value;
    1 + match v {
        Value::Seq(items) | Value::Tuple(items) => items.iter().map(count_values).sum(),
        Value::Option(Some(b)) => count_values(b),
        Value::Map(e) => e.iter().map(|(k, v)| count_values(k) + count_values(v)).sum(),
        Value::Struct(f) | Value::Enum { fields: f, .. } => f.iter().map(|(_, v)| count_values(v)).sum(),
        _ => 0,
    }
}

#[test]
fn nested_zero_width_sequences_stay_within_one_budget_per_value() {
    use drift::Shape;
    // Seq<Seq<()>>: 20 inner sequences of 32,768 units, each within a per-sequence budget.
    let shape = Shape::Seq(Box::new(Shape::Seq(Box::new(Shape::Unit))));
    let mut bytes = vec![20u8];
    for _ in 0..20 {
        bytes.extend_from_slice(&[0x80, 0x80, 0x02]);
    }
    if let Ok(v) = drift::dynamic::decode_value(&shape, &mut &bytes[..]) {
        let n = count_values(&v);
        assert!(n <= 1 << 16, "{} bytes decoded into {n} values", bytes.len());
    }
}

#[test]
fn a_panicking_progress_callback_leaves_the_file_clean() {
    let dir = tempfile::tempdir().unwrap();
    let path = v1_file(&dir, 600);
    let before = contents(&path);
    let r = Db::builder()
        .entity::<add_opt::Post>()
        .entity::<v1::Writer>()
        .migrations(Migrations::new().on_progress(|p| {
            if p.rows_done > 0 {
                panic!("progress bar bug");
            }
        }))
        .open(&path);
    let err = r.unwrap_err();
    assert!(err.to_string().contains("progress bar bug"), "{err}");
    // No repair needed: redb opens it read-only.
    redb::ReadOnlyDatabase::open(&path).map(drop).unwrap();
    assert_eq!(contents(&path), before);
    let db = Db::builder().entity::<v1::Post>().entity::<v1::Writer>().open(&path).unwrap();
    assert_eq!(db.read(|tx| tx.query::<v1::Post>().count()).unwrap(), 600);
}

mod lang_v3 {
    use drift::prelude::*;
    #[derive(Entity, Debug, Clone, PartialEq, Default)]
    #[drift(version = 3)]
    pub struct Post {
        #[drift(primary_key, auto_increment)]
        pub id: u64,
        pub title: String,
        pub views: String,
        pub author_id: u64,
        #[drift(default = String::from("en"))]
        pub lang: String,
    }
}

#[test]
fn a_transform_that_never_runs_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let path = v1_file(&dir, 3);
    let m = Migrations::new().transform("Post", 2, |mut row: Row| {
        row.set("lang", "fr");
        Ok(row)
    });
    let err = Db::builder().entity::<lang_v3::Post>().entity::<v1::Writer>().migrations(m).open(&path).unwrap_err();
    assert!(err.to_string().contains("never runs"), "{err}");
}

mod draft_v1 {
    use drift::prelude::*;
    #[derive(Entity, Debug, Clone, PartialEq, Default)]
    pub struct Draft {
        #[drift(primary_key)]
        pub id: u64,
        pub text: String,
    }
}

mod into_draft {
    use drift::prelude::*;
    #[derive(Entity, Debug, Clone, PartialEq, Default)]
    #[drift(version = 2, renamed_from = "Post", table = "draft")]
    pub struct Article {
        #[drift(primary_key, auto_increment)]
        pub id: u64,
        pub title: String,
        pub views: String,
        pub author_id: u64,
    }
}

#[test]
fn an_entity_moved_into_a_dropped_entitys_table_keeps_its_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = v1_file(&dir, 8);
    drop(Db::builder().entity::<v1::Post>().entity::<v1::Writer>().entity::<draft_v1::Draft>().open(&path).unwrap());
    let db = Db::builder()
        .entity::<into_draft::Article>()
        .entity::<v1::Writer>()
        .migrations(Migrations::new().drop_entity("Draft"))
        .open(&path)
        .expect("open");
    let n = db.read(|tx| tx.query::<into_draft::Article>().count()).unwrap();
    assert_eq!(n, 8, "the 8 Post rows were moved to `draft`, then deleted with the dropped Draft");
}

mod tags_v1 {
    use drift::prelude::*;
    #[derive(Entity, Debug, Clone, PartialEq, Default)]
    #[drift(table = "tagged")]
    pub struct Tagged {
        #[drift(primary_key)]
        pub id: u64,
        pub tags: Vec<u32>,
    }
}

mod tags_v2 {
    use drift::prelude::*;
    use std::collections::BTreeSet;
    #[derive(Entity, Debug, Clone, PartialEq, Default)]
    #[drift(version = 2, table = "tagged")]
    pub struct Tagged {
        #[drift(primary_key)]
        pub id: u64,
        pub tags: BTreeSet<u32>,
    }
}

#[test]
fn a_vec_becoming_a_set_takes_a_transform() {
    let changes =
        diff(std::slice::from_ref(<tags_v1::Tagged as Entity>::SCHEMA), &[<tags_v2::Tagged as Entity>::SCHEMA]);
    assert!(
        changes.iter().any(|c| matches!(&c.kind, ChangeKind::TypeChanged { field, .. } if field == "tags")
            && c.class == Class::Transform),
        "{changes:?}"
    );
}

#[test]
fn dropping_a_parent_of_stored_children_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = fam_file(&dir);
    let err = Db::builder()
        .entity::<auth::Account>()
        .migrations(Migrations::new().drop_entity("Owner"))
        .open(&path)
        .unwrap_err();
    assert!(err.to_string().contains("Pet"), "{err}");
    assert_eq!(contents(&path)["owner"].len(), 1);
}

mod lang_v2 {
    use drift::prelude::*;
    #[derive(Entity, Debug, Clone, PartialEq, Default)]
    #[drift(version = 2)]
    pub struct Post {
        #[drift(primary_key, auto_increment)]
        pub id: u64,
        pub title: String,
        pub views: String,
        pub author_id: u64,
        #[drift(default = String::from("en"))]
        pub lang: String,
    }
}

mod pinned_v3 {
    use drift::prelude::*;
    #[derive(Entity, Debug, Clone, PartialEq, Default)]
    #[drift(version = 3)]
    pub struct Post {
        #[drift(primary_key, auto_increment)]
        pub id: u64,
        pub title: String,
        pub views: String,
        pub author_id: u64,
        #[drift(default = String::from("en"))]
        pub lang: String,
        pub pinned: Option<bool>,
    }
}

#[test]
fn a_defaulted_field_added_in_an_intermediate_version_needs_no_transform() {
    let dir = tempfile::tempdir().unwrap();
    let path = v1_file(&dir, 3);
    let mut history = SchemaHistory::default();
    history.record([<v1::Post as Entity>::SCHEMA, <v1::Writer as Entity>::SCHEMA]);
    history.record([<lang_v2::Post as Entity>::SCHEMA]);
    history.record([<pinned_v3::Post as Entity>::SCHEMA]);
    let db = Db::builder()
        .entity::<pinned_v3::Post>()
        .entity::<v1::Writer>()
        .migrations(Migrations::new().history(history))
        .open(&path)
        .unwrap();
    assert_eq!(db.read(|tx| tx.get::<pinned_v3::Post>(&1)).unwrap().unwrap().lang, "en");
}

mod rt_v1 {
    use drift::prelude::*;
    #[derive(Entity, Debug, Clone, PartialEq, Default)]
    #[drift(table = "note")]
    pub struct Note {
        #[drift(primary_key)]
        pub id: u64,
    }
    #[derive(Entity, Debug, Clone, PartialEq, Default)]
    #[drift(table = "article")]
    pub struct Article {
        #[drift(primary_key)]
        pub id: u64,
    }
    #[derive(Entity, Debug, Clone, PartialEq, Default)]
    pub struct Tag {
        #[drift(primary_key)]
        pub id: u64,
        pub note_id: u64,
        #[drift(belongs_to(Note, key = note_id, on_delete = restrict))]
        pub note: BelongsTo<Note>,
    }
    #[derive(Entity, Debug, Clone, PartialEq, Default)]
    pub struct Comment {
        #[drift(primary_key)]
        pub id: u64,
        pub article_id: u64,
        #[drift(belongs_to(Article, key = article_id, on_delete = restrict))]
        pub article: BelongsTo<Article>,
    }
}

mod rt_v2 {
    use drift::prelude::*;
    #[derive(Entity, Debug, Clone, PartialEq, Default)]
    #[drift(version = 2, renamed_from = "Note", table = "note")]
    pub struct Article {
        #[drift(primary_key)]
        pub id: u64,
    }
    #[derive(Entity, Debug, Clone, PartialEq, Default)]
    #[drift(version = 2, renamed_from = "Article", table = "article")]
    pub struct Post {
        #[drift(primary_key)]
        pub id: u64,
    }
}

#[test]
fn a_rename_chain_retargets_each_left_relation_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rt.drift");
    let db = Db::builder()
        .entity::<rt_v1::Note>()
        .entity::<rt_v1::Article>()
        .entity::<rt_v1::Tag>()
        .entity::<rt_v1::Comment>()
        .open(&path)
        .unwrap();
    db.write(|tx| {
        tx.insert(&rt_v1::Note { id: 10 })?;
        tx.insert(&rt_v1::Article { id: 20 })?;
        tx.insert(&rt_v1::Tag { id: 1, note_id: 10, ..Default::default() })?;
        tx.insert(&rt_v1::Comment { id: 1, article_id: 20, ..Default::default() })?;
        Ok(())
    })
    .unwrap();
    drop(db);
    let db = Db::builder()
        .entity::<rt_v2::Article>()
        .entity::<rt_v2::Post>()
        .migrations(Migrations::new())
        .open(&path)
        .unwrap();
    let report = db.check().unwrap();
    let del = db.write(|tx| tx.delete::<rt_v2::Article>(&10));
    drop(db);
    assert!(report.is_ok(), "{report}");
    assert_eq!(stored_json(&path, "tag")["relations"][0]["target"], "Article");
    assert_eq!(stored_json(&path, "comment")["relations"][0]["target"], "Post");
    assert!(del.is_err(), "Tag 1 restricts Article 10");
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
}

mod inv_v1 {
    use drift::prelude::*;
    #[derive(Entity, Debug, Clone, PartialEq, Default)]
    #[drift(table = "invoice")]
    pub struct Invoice {
        #[drift(primary_key)]
        pub id: u64,
        pub account_id: u64,
    }
}

mod inv_v2 {
    use drift::prelude::*;
    #[derive(Entity, Debug, Clone, PartialEq, Default)]
    #[drift(version = 2, table = "invoice")]
    pub struct Invoice {
        #[drift(primary_key)]
        pub id: u64,
        pub account_id: u64,
        #[drift(belongs_to(super::two_billing::Account, key = account_id))]
        pub account: BelongsTo<super::two_billing::Account>,
    }
}

#[test]
fn a_new_belongs_to_is_checked_against_its_own_parent_not_a_namesake() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("two.drift");
    let db = Db::builder()
        .entity::<two_auth::Account>()
        .entity::<two_billing::Account>()
        .entity::<inv_v1::Invoice>()
        .open(&path)
        .unwrap();
    db.write(|tx| {
        tx.insert(&two_auth::Account { id: 1 })?;
        tx.insert(&two_billing::Account { id: 7 })?;
        tx.insert(&inv_v1::Invoice { id: 1, account_id: 7 })?;
        Ok(())
    })
    .unwrap();
    drop(db);
    let db = Db::builder()
        .entity::<two_auth::Account>()
        .entity::<two_billing::Account>()
        .entity::<inv_v2::Invoice>()
        .migrations(Migrations::new())
        .open(&path)
        .unwrap();
    let report = db.check().unwrap();
    assert!(report.is_ok(), "{report}");
}

mod ai_v1 {
    use drift::prelude::*;
    #[derive(Entity, Debug, Clone, PartialEq, Default)]
    #[drift(table = "seqd")]
    pub struct Item {
        #[drift(primary_key)]
        pub id: u64,
        pub name: String,
    }
}

mod ai_v2 {
    use drift::prelude::*;
    #[derive(Entity, Debug, Clone, PartialEq, Default)]
    #[drift(version = 2, table = "seqd")]
    pub struct Item {
        #[drift(primary_key, auto_increment)]
        pub id: u64,
        pub name: String,
    }
}

#[test]
fn turning_on_auto_increment_sets_the_mark_past_the_keys() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ai.drift");
    let db = Db::builder().entity::<ai_v1::Item>().open(&path).unwrap();
    db.write(|tx| {
        for i in 1..=5 {
            tx.insert(&ai_v1::Item { id: i, name: i.to_string() })?;
        }
        Ok(())
    })
    .unwrap();
    drop(db);
    let db = Db::builder().entity::<ai_v2::Item>().migrations(Migrations::new()).open(&path).unwrap();
    let report = db.check().unwrap();
    assert!(report.is_ok(), "{report}");
    db.write(|tx| tx.delete::<ai_v2::Item>(&5).map(|_| ())).unwrap();
    let k = db.write(|tx| tx.insert(&ai_v2::Item { id: 0, name: "new".into() })).unwrap();
    assert_eq!(k, 6);
}

mod pp_v1 {
    use drift::prelude::*;
    #[derive(Entity, Debug, Clone, PartialEq, Default)]
    pub struct User {
        #[drift(primary_key)]
        pub id: u64,
        pub name: String,
    }
}

mod pp_v2 {
    use drift::prelude::*;
    #[derive(Entity, Debug, Clone, PartialEq, Default)]
    #[drift(version = 2, renamed_from = "User")]
    pub struct Member {
        #[drift(primary_key)]
        pub id: u64,
        pub name: String,
    }
    #[derive(Entity, Debug, Clone, PartialEq, Default)]
    #[drift(table = "login_users")]
    pub struct User {
        #[drift(primary_key)]
        pub id: u64,
        pub name: String,
    }
}

#[test]
fn a_declared_rename_continues_stored_rows_whatever_the_registration_order() {
    for member_first in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("people.drift");
        let db = Db::builder().entity::<pp_v1::User>().open(&path).unwrap();
        db.write(|tx| {
            for i in 1..=4 {
                tx.insert(&pp_v1::User { id: i, name: format!("u{i}") })?;
            }
            Ok(())
        })
        .unwrap();
        drop(db);
        let b = if member_first {
            Db::builder().entity::<pp_v2::Member>().entity::<pp_v2::User>()
        } else {
            Db::builder().entity::<pp_v2::User>().entity::<pp_v2::Member>()
        };
        let db = b.migrations(Migrations::new()).open(&path).unwrap();
        let members = db.read(|tx| tx.query::<pp_v2::Member>().count()).unwrap();
        let users = db.read(|tx| tx.query::<pp_v2::User>().count()).unwrap();
        assert_eq!((members, users), (4, 0), "member_first = {member_first}");
    }
}

mod ov_v1 {
    use drift::prelude::*;
    #[derive(Entity, Debug, Clone, PartialEq, Default)]
    #[drift(table = "articles")]
    pub struct Article {
        #[drift(primary_key)]
        pub id: u64,
    }
    #[derive(Entity, Debug, Clone, PartialEq, Default)]
    #[drift(table = "posts")]
    pub struct Other {
        #[drift(primary_key, auto_increment)]
        pub id: u64,
        #[drift(index)]
        pub x: u32,
    }
}

mod ov_v2 {
    use drift::prelude::*;
    #[derive(Entity, Debug, Clone, PartialEq, Default)]
    #[drift(version = 2, renamed_from = "Article", table = "posts")]
    pub struct Post {
        #[drift(primary_key)]
        pub id: u64,
    }
}

#[test]
fn moving_into_a_left_entitys_table_needs_it_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ov.drift");
    let db = Db::builder().entity::<ov_v1::Article>().entity::<ov_v1::Other>().open(&path).unwrap();
    db.write(|tx| {
        tx.insert(&ov_v1::Article { id: 1 })?;
        let k = tx.insert(&ov_v1::Other { id: 0, x: 1 })?;
        tx.delete::<ov_v1::Other>(&k).map(|_| ())
    })
    .unwrap();
    drop(db);
    let err = Db::builder().entity::<ov_v2::Post>().migrations(Migrations::new()).open(&path).unwrap_err();
    assert!(err.to_string().contains(".drop_entity(\"Other\")"), "{err}");
    let db =
        Db::builder().entity::<ov_v2::Post>().migrations(Migrations::new().drop_entity("Other")).open(&path).unwrap();
    assert_eq!(db.read(|tx| tx.query::<ov_v2::Post>().count()).unwrap(), 1);
}
