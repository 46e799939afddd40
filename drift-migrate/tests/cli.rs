//! The `drift` binary, run for real on files the tests make: human output pinned by
//! insta snapshots, `--json` output parsed, exit codes, and files that are damaged,
//! not Drift databases, or open in another process (this test process).

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use drift::prelude::*;
use serde_json::Value as Json;

mod schema {
    use drift::prelude::*;

    #[derive(Entity, Debug, Clone, PartialEq, Default)]
    #[drift(table = "users")]
    pub struct User {
        #[drift(primary_key, auto_increment)]
        pub id: u64,
        #[drift(unique)]
        pub email: String,
        pub name: String,
        #[drift(has_many(Post, foreign_key = author_id))]
        pub posts: HasMany<Post>,
    }

    #[derive(Entity, Debug, Clone, PartialEq, Default)]
    pub struct Post {
        #[drift(primary_key, auto_increment)]
        pub id: u64,
        #[drift(index)]
        pub author_id: u64,
        pub title: String,
        pub likes: u32,
        #[drift(belongs_to(User, key = author_id, on_delete = cascade))]
        pub author: BelongsTo<User>,
    }

    #[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize, drift::Describe)]
    pub struct Point {
        pub x: i32,
        pub y: i32,
    }

    #[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize, drift::Describe)]
    pub enum Status {
        #[default]
        Draft,
        Moved {
            to: u64,
        },
        Pair(u8, u8),
        Named(String),
    }

    /// A field of every kind of shape, for the export/import round trip.
    #[derive(Entity, Debug, Clone, PartialEq, Default)]
    pub struct Everything {
        #[drift(primary_key)]
        pub id: i64,
        pub big: u128,
        pub small: i128,
        pub ratio: f32,
        pub precise: f64,
        pub letter: char,
        pub blob: Vec<u8>,
        pub maybe: Option<String>,
        pub nested: Option<Option<u8>>,
        pub tags: Vec<String>,
        pub scores: std::collections::BTreeMap<String, u32>,
        pub by_id: std::collections::HashMap<u16, bool>,
        pub point: Point,
        pub status: Status,
        pub pair: (u8, String),
        pub fixed: [u8; 3],
        #[drift(unique)]
        pub code: String,
        #[drift(index)]
        pub rank: Option<u32>,
    }

    /// Version 2 of `Post`, for the schema history only.
    pub mod v2 {
        use drift::prelude::*;

        /// `User` as version 2 of the program compiles it: unchanged, but its
        /// relation names version 2's `Post` type.
        #[derive(Entity, Debug, Clone, PartialEq, Default)]
        #[drift(table = "users")]
        pub struct User {
            #[drift(primary_key, auto_increment)]
            pub id: u64,
            #[drift(unique)]
            pub email: String,
            pub name: String,
            #[drift(has_many(Post, foreign_key = author_id))]
            pub posts: HasMany<Post>,
        }

        #[derive(Entity, Debug, Clone, PartialEq, Default)]
        #[drift(version = 2)]
        pub struct Post {
            #[drift(primary_key, auto_increment)]
            pub id: u64,
            #[drift(index)]
            pub author_id: u64,
            #[drift(renamed_from = "title")]
            pub headline: String,
            pub likes: u64,
            #[drift(index)]
            pub pinned: Option<bool>,
            pub slug: String,
            #[drift(belongs_to(User, key = author_id, on_delete = cascade))]
            pub author: BelongsTo<User>,
        }
    }
}

use schema::{Post, User};

fn drift() -> Command {
    let mut cmd = Command::cargo_bin("drift").unwrap();
    cmd.env("NO_COLOR", "1");
    cmd
}

/// Runs `drift args` in `dir`: (exit code, stdout, stderr).
fn run(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = drift().current_dir(dir).args(args).output().unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(!stderr.contains("panicked"), "drift {args:?} panicked: {stderr}");
    (out.status.code().unwrap_or(-1), stdout, stderr)
}

fn json(stdout: &str) -> Json {
    serde_json::from_str(stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
}

/// The file size in `inspect`'s first line varies with the engine: blank it.
fn without_size(s: &str) -> String {
    s.lines()
        .map(|l| match (l.find(" ("), l.find(" bytes)")) {
            (Some(a), Some(b)) if l.starts_with("file") && a < b => {
                format!("{}(SIZE bytes){}", &l[..a + 1], &l[b + 7..])
            }
            _ => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn builder() -> drift::DbBuilder {
    Db::builder().entity::<User>().entity::<Post>()
}

/// `blog.drift` in `dir`: two users, three posts.
fn blog(dir: &Path) -> PathBuf {
    let path = dir.join("blog.drift");
    let db = builder().open(&path).unwrap();
    db.write(|tx| {
        let ann = tx.insert(&User { email: "ann@x.io".into(), name: "Ann".into(), ..Default::default() })?;
        let bob = tx.insert(&User { email: "bob@x.io".into(), name: "Bob".into(), ..Default::default() })?;
        tx.insert(&Post { author_id: ann, title: "Hello".into(), likes: 3, ..Default::default() })?;
        tx.insert(&Post { author_id: ann, title: "Again".into(), likes: 0, ..Default::default() })?;
        tx.insert(&Post { author_id: bob, title: "Drift".into(), likes: 7, ..Default::default() })?;
        Ok(())
    })
    .unwrap();
    path
}

/// Runs `f` on the file through redb, below Drift.
fn damage(path: &Path, f: impl FnOnce(&redb::WriteTransaction)) {
    let db = redb::Database::open(path).unwrap();
    let tx = db.begin_write().unwrap();
    f(&tx);
    tx.commit().unwrap();
}

fn table(name: &str) -> redb::TableDefinition<'_, &'static [u8], &'static [u8]> {
    redb::TableDefinition::new(name)
}

#[test]
fn inspect_shows_entities_fields_indexes_and_relations() {
    let dir = tempfile::tempdir().unwrap();
    blog(dir.path());
    let (code, stdout, stderr) = run(dir.path(), &["inspect", "blog.drift"]);
    assert_eq!(code, 0, "{stderr}");
    insta::assert_snapshot!("inspect", without_size(&stdout));
}

#[test]
fn inspect_json_is_stable_for_scripts() {
    let dir = tempfile::tempdir().unwrap();
    blog(dir.path());
    let (code, stdout, _) = run(dir.path(), &["inspect", "blog.drift", "--json"]);
    assert_eq!(code, 0);
    let j = json(&stdout);
    assert_eq!(j["format"], "drift-kv/1");
    assert_eq!(j["migrations"], 0);
    let entities = j["entities"].as_array().unwrap();
    let names: Vec<&str> = entities.iter().map(|e| e["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Post", "User"]);
    let post = &entities[0];
    assert_eq!(
        (post["table"].as_str(), post["version"].as_u64(), post["rows"].as_u64()),
        (Some("post"), Some(1), Some(3))
    );
    assert_eq!(post["key"], serde_json::json!(["id"]));
    assert_eq!(post["sequence"], 3);
    assert_eq!(post["indexes"][0]["name"], "author_id");
    assert_eq!(post["indexes"][0]["entries"], 3);
    assert_eq!(post["relations"][0]["on_delete"], "cascade");
    let likes = post["fields"].as_array().unwrap().iter().find(|f| f["name"] == "likes").unwrap();
    assert_eq!((likes["type"].as_str(), likes["stored"].as_str()), (Some("u32"), Some("data")));
    assert_eq!(entities[1]["indexes"][0]["unique"], true);
    assert_eq!(j["other_tables"], serde_json::json!([]));
}

#[test]
fn check_on_a_sound_file_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    blog(dir.path());
    let (code, stdout, _) = run(dir.path(), &["check", "blog.drift"]);
    assert_eq!(code, 0);
    insta::assert_snapshot!("check_sound", stdout);
    let (code, stdout, _) = run(dir.path(), &["check", "blog.drift", "--json"]);
    assert_eq!(code, 0);
    let j = json(&stdout);
    assert_eq!((j["ok"].as_bool(), j["rows"].as_u64(), j["problem_count"].as_u64()), (Some(true), Some(5), Some(0)));
}

#[test]
fn check_on_a_file_damaged_on_purpose_exits_one_naming_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let path = blog(dir.path());
    // Post 3's entry in `post#author_id` is removed, and a user's row points at a
    // missing parent is not possible here; a stale unique entry is added instead.
    damage(&path, |tx| {
        let mut t = tx.open_table(table("post#author_id")).unwrap();
        let mut entry = 2u64.to_be_bytes().to_vec();
        entry.extend_from_slice(&3u64.to_be_bytes());
        assert!(t.remove(entry.as_slice()).unwrap().is_some());
        let mut users = tx.open_table(table("users#email")).unwrap();
        users.insert(&b"zed@x.io\0\0"[..], &9u64.to_be_bytes()[..]).unwrap();
    });
    let (code, stdout, _) = run(dir.path(), &["check", "blog.drift"]);
    assert_eq!(code, 1, "{stdout}");
    insta::assert_snapshot!("check_damaged", stdout);
    let (code, stdout, _) = run(dir.path(), &["check", "blog.drift", "--json"]);
    assert_eq!(code, 1);
    let j = json(&stdout);
    assert_eq!(j["ok"], false);
    let kinds: Vec<(&str, &str, &str)> = j["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["kind"].as_str().unwrap(), p["entity"].as_str().unwrap(), p["key"].as_str().unwrap()))
        .collect();
    assert_eq!(kinds, [("missing_index_entry", "Post", "3"), ("stale_index_entry", "User", "9")]);
}

#[test]
fn history_lists_applied_migrations() {
    let dir = tempfile::tempdir().unwrap();
    blog(dir.path());
    let (code, stdout, _) = run(dir.path(), &["history", "blog.drift"]);
    assert_eq!(code, 0);
    assert_eq!(stdout, "blog.drift: no migrations applied\n");
    let (code, stdout, _) = run(dir.path(), &["history", "blog.drift", "--json"]);
    assert_eq!((code, json(&stdout)), (0, serde_json::json!([])));
}

#[test]
fn a_missing_file_is_a_file_error() {
    let dir = tempfile::tempdir().unwrap();
    for cmd in ["inspect", "check", "history"] {
        let (code, stdout, stderr) = run(dir.path(), &[cmd, "nothing.drift"]);
        assert_eq!((code, stdout.as_str()), (2, ""));
        assert_eq!(stderr, "drift: nothing.drift does not exist.\n");
    }
    // Nothing was created.
    assert!(!dir.path().join("nothing.drift").exists());
}

#[test]
fn random_bytes_are_not_a_drift_database() {
    let dir = tempfile::tempdir().unwrap();
    // A fixed xorshift stream: random-looking, the same on every run.
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let bytes: Vec<u8> = (0..20_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x.to_le_bytes()[0]
        })
        .collect();
    std::fs::write(dir.path().join("noise.bin"), &bytes).unwrap();
    for cmd in ["inspect", "check", "history"] {
        let (code, _, stderr) = run(dir.path(), &[cmd, "noise.bin"]);
        assert_eq!(code, 2, "{stderr}");
        assert!(stderr.starts_with("drift: noise.bin is not a Drift database, or is damaged:"), "{stderr}");
    }
    assert_eq!(std::fs::read(dir.path().join("noise.bin")).unwrap(), bytes, "a read-only command wrote");
}

#[test]
fn a_redb_file_without_drift_metadata_is_not_a_drift_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plain.redb");
    {
        let db = redb::Database::create(&path).unwrap();
        let tx = db.begin_write().unwrap();
        tx.open_table(table("things")).unwrap().insert(&b"k"[..], &b"v"[..]).unwrap();
        tx.commit().unwrap();
    }
    let before = std::fs::read(&path).unwrap();
    let (code, _, stderr) = run(dir.path(), &["inspect", "plain.redb"]);
    assert_eq!(code, 2);
    assert_eq!(
        stderr,
        "drift: plain.redb is not a Drift database, or is damaged: the file holds tables but no Drift metadata.\n"
    );
    assert_eq!(std::fs::read(&path).unwrap(), before, "a read-only command wrote");
}

#[test]
fn a_file_with_its_header_overwritten_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = blog(dir.path());
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[..8].copy_from_slice(b"garbage!");
    std::fs::write(&path, &bytes).unwrap();
    for cmd in ["inspect", "check"] {
        let (code, _, stderr) = run(dir.path(), &[cmd, "blog.drift"]);
        assert_eq!(code, 2, "{stderr}");
        assert!(stderr.starts_with("drift: blog.drift is not a Drift database, or is damaged:"), "{stderr}");
    }
    assert_eq!(std::fs::read(&path).unwrap(), bytes, "a read-only command wrote");
}

#[test]
fn a_file_with_bytes_overwritten_inside_never_panics() {
    // Whatever the overwritten page held, drift reports a problem (1) or refuses
    // the file (2), and never panics or writes.
    let dir = tempfile::tempdir().unwrap();
    let path = blog(dir.path());
    let clean = std::fs::read(&path).unwrap();
    for at in (4096..clean.len()).step_by(4096).take(16) {
        let mut bytes = clean.clone();
        for b in &mut bytes[at + 64..at + 96] {
            *b = !*b;
        }
        std::fs::write(&path, &bytes).unwrap();
        for cmd in ["check", "inspect"] {
            let (code, stdout, stderr) = run(dir.path(), &[cmd, "blog.drift"]);
            assert!(code == 0 || code == 1 || code == 2, "{cmd} at {at}: {code} {stdout} {stderr}");
            if code == 2 {
                assert!(stderr.starts_with("drift: blog.drift"), "{stderr}");
            }
        }
        assert_eq!(std::fs::read(&path).unwrap(), bytes, "a read-only command wrote");
    }
}

#[test]
fn a_file_open_in_another_process_is_refused_with_advice() {
    // redb 4 locks the whole file for the process that has it open (here this test
    // process), and refuses a read-only open from another process (drift).
    let dir = tempfile::tempdir().unwrap();
    let path = blog(dir.path());
    let db = builder().open(&path).unwrap();
    for cmd in ["inspect", "check", "history"] {
        let (code, _, stderr) = run(dir.path(), &[cmd, "blog.drift"]);
        assert_eq!(code, 2, "{stderr}");
        assert!(stderr.starts_with("drift: blog.drift is open in another process"), "{stderr}");
        assert!(stderr.contains("db.check()"), "{stderr}");
    }
    drop(db);
    assert_eq!(run(dir.path(), &["check", "blog.drift"]).0, 0);
}

#[test]
fn usage_errors_exit_two_and_help_documents_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, stderr) = run(dir.path(), &["inspect"]);
    assert_eq!(code, 2, "{stderr}");
    let (code, _, _) = run(dir.path(), &["frobnicate"]);
    assert_eq!(code, 2);
    let (code, stdout, _) = run(dir.path(), &["--help"]);
    assert_eq!(code, 0);
    assert!(stdout.contains("Exit codes:"), "{stdout}");
    assert!(stdout.contains("1  check found problems"), "{stdout}");
    assert!(stdout.contains("read-only ones included"), "{stdout}");
    for cmd in
        ["inspect", "check", "history", "diff", "migrate", "export", "import", "backup", "compact", "completions"]
    {
        let (code, stdout, _) = run(dir.path(), &[cmd, "--help"]);
        assert_eq!(code, 0, "{cmd} --help");
        assert!(stdout.contains("Usage: drift"), "{stdout}");
    }
}

#[test]
fn completions_are_printed_for_each_shell() {
    let dir = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish"] {
        let (code, stdout, _) = run(dir.path(), &["completions", shell]);
        assert_eq!(code, 0);
        assert!(stdout.contains("inspect") && stdout.contains("export"), "{shell}: {stdout}");
    }
}

/// `history.json` in `dir`: User v1, Post v1 and v2.
fn history(dir: &Path) -> PathBuf {
    let path = dir.join("history.json");
    let mut h = drift_migrate::SchemaHistory::default();
    h.record([<User as Entity>::SCHEMA, <Post as Entity>::SCHEMA, <schema::v2::Post as Entity>::SCHEMA]);
    h.save(&path).unwrap();
    path
}

#[test]
fn diff_lists_changes_against_the_latest_recorded_versions_with_their_class() {
    let dir = tempfile::tempdir().unwrap();
    blog(dir.path());
    history(dir.path());
    let (code, stdout, stderr) = run(dir.path(), &["diff", "blog.drift", "history.json"]);
    assert_eq!(code, 0, "{stderr}");
    insta::assert_snapshot!("diff", stdout);
    let (code, stdout, _) = run(dir.path(), &["diff", "blog.drift", "history.json", "--json"]);
    assert_eq!(code, 0);
    let j = json(&stdout);
    assert_eq!(j["up_to_date"], false);
    let changes: Vec<(&str, &str)> = j["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["kind"].as_str().unwrap(), c["class"].as_str().unwrap()))
        .collect();
    assert!(changes.contains(&("field_renamed", "automatic")), "{changes:?}");
    assert!(changes.contains(&("field_added", "transform")), "{changes:?}");
    assert!(changes.contains(&("index_added", "automatic")), "{changes:?}");
}

#[test]
fn migrate_dry_run_prints_the_plan_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = blog(dir.path());
    history(dir.path());
    let before = std::fs::read(&path).unwrap();
    let (code, stdout, stderr) = run(dir.path(), &["migrate", "blog.drift", "--history", "history.json", "--dry-run"]);
    assert_eq!(code, 0, "{stderr}");
    insta::assert_snapshot!("migrate_dry_run", stdout);
    let (code, stdout, _) =
        run(dir.path(), &["migrate", "blog.drift", "--history", "history.json", "--dry-run", "--json"]);
    assert_eq!(code, 0);
    let j = json(&stdout);
    assert_eq!(j["steps"].as_array().unwrap().len(), 1);
    assert_eq!((j["steps"][0]["entity"].as_str(), j["steps"][0]["rows"].as_u64()), (Some("Post"), Some(3)));
    assert_eq!(j["needs_transform"], true);
    assert_eq!(std::fs::read(&path).unwrap(), before, "a dry run wrote");
    // Without --dry-run it says where migrations run.
    let (code, _, stderr) = run(dir.path(), &["migrate", "blog.drift", "--history", "history.json"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("Db::builder()") && stderr.contains("migrations("), "{stderr}");
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

#[test]
fn diff_of_a_file_matching_its_history_says_so() {
    let dir = tempfile::tempdir().unwrap();
    blog(dir.path());
    let mut h = drift_migrate::SchemaHistory::default();
    h.record([<User as Entity>::SCHEMA, <Post as Entity>::SCHEMA]);
    h.save(dir.path().join("history.json")).unwrap();
    let (code, stdout, _) = run(dir.path(), &["diff", "blog.drift", "history.json"]);
    assert_eq!((code, stdout.as_str()), (0, "blog.drift matches the latest versions in history.json\n"));
    let (code, stdout, _) = run(dir.path(), &["migrate", "blog.drift", "--history", "history.json", "--dry-run"]);
    assert_eq!(code, 0);
    assert!(stdout.contains("nothing to migrate"), "{stdout}");
    let (code, _, stderr) = run(dir.path(), &["diff", "blog.drift", "missing.json"]);
    assert_eq!((code, stderr.as_str()), (2, "drift: missing.json does not exist.\n"));
}

/// `all.drift` in `dir`: the blog's rows and `Everything` rows of every shape.
fn everything(dir: &Path) -> PathBuf {
    use schema::{Everything, Point, Status};
    let path = dir.join("all.drift");
    let db = builder().entity::<Everything>().open(&path).unwrap();
    db.write(|tx| {
        let ann =
            tx.insert(&User { email: "ann@x.io".into(), name: "Ann, \"the\" first".into(), ..Default::default() })?;
        tx.insert(&Post { author_id: ann, title: "Hello\nworld".into(), likes: 3, ..Default::default() })?;
        // A deleted row leaves the auto_increment mark above the largest key.
        let gone = tx.insert(&User { email: "gone@x.io".into(), ..Default::default() })?;
        tx.delete::<User>(&gone)?;
        tx.insert(&Everything {
            id: -7,
            big: u128::MAX,
            small: i128::MIN,
            ratio: 1.1,
            precise: f64::NAN,
            letter: 'é',
            blob: vec![0, 1, 255],
            maybe: Some(String::new()),
            nested: Some(None),
            tags: vec!["a".into(), "b".into()],
            scores: [("z".to_string(), 1), ("a".to_string(), 2)].into(),
            by_id: (0..20).map(|i| (i * 7, i % 2 == 0)).collect(),
            point: Point { x: -1, y: 2 },
            status: Status::Moved { to: 9 },
            pair: (4, "four".into()),
            fixed: [1, 2, 3],
            code: "E1".into(),
            rank: Some(1),
        })?;
        tx.insert(&Everything {
            id: 3,
            precise: f64::NEG_INFINITY,
            nested: Some(Some(5)),
            status: Status::Pair(1, 2),
            code: "E2".into(),
            ..Default::default()
        })?;
        tx.insert(&Everything { id: 4, status: Status::Named("x".into()), code: "E3".into(), ..Default::default() })?;
        Ok(())
    })
    .unwrap();
    path
}

/// A table's name and its entries.
type Table = (String, drift::raw::Entries);

/// Every table of a file with every entry (the meta table included).
fn contents(path: &Path) -> Vec<Table> {
    let raw = drift::raw::open_read(path).unwrap().unwrap();
    let mut out = Vec::new();
    let mut names: Vec<String> = raw.table_names().to_vec();
    names.sort();
    for t in names {
        let mut entries = Vec::new();
        let mut chunk = Vec::new();
        let mut last: Option<Vec<u8>> = None;
        loop {
            raw.chunk(&t, last.as_deref(), 100, &mut chunk).unwrap();
            let Some((k, _)) = chunk.last() else { break };
            last = Some(k.clone());
            entries.append(&mut chunk);
        }
        out.push((t, entries));
    }
    out
}

#[test]
fn export_then_import_into_a_new_file_gives_identical_tables() {
    let dir = tempfile::tempdir().unwrap();
    let path = everything(dir.path());
    let (code, _, stderr) = run(dir.path(), &["export", "all.drift", "-o", "all.jsonl"]);
    assert_eq!(code, 0, "{stderr}");
    let (code, stdout, stderr) = run(dir.path(), &["import", "copy.drift", "--input", "all.jsonl"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        stdout,
        "imported 5 rows of 3 entities into copy.drift; check: no problems (validation rules are the application's: not run)\n"
    );
    assert_eq!(contents(&dir.path().join("copy.drift")), contents(&path));
    // And the copy exports the same lines.
    let (_, again, _) = run(dir.path(), &["export", "copy.drift"]);
    assert_eq!(again, std::fs::read_to_string(dir.path().join("all.jsonl")).unwrap());
    let db = builder().entity::<schema::Everything>().open(dir.path().join("copy.drift")).unwrap();
    let e = db.read(|tx| tx.get::<schema::Everything>(&-7)).unwrap().unwrap();
    assert_eq!((e.big, e.small, e.nested, e.by_id.len()), (u128::MAX, i128::MIN, Some(None), 20));
    assert!(e.precise.is_nan());
}

#[test]
fn exported_rows_are_json_lines_after_a_header_of_descriptors() {
    let dir = tempfile::tempdir().unwrap();
    everything(dir.path());
    let (code, stdout, _) = run(dir.path(), &["export", "all.drift", "--entity", "Everything"]);
    assert_eq!(code, 0);
    let lines: Vec<Json> = stdout.lines().map(json).collect();
    assert_eq!(lines.len(), 5);
    assert_eq!(lines[4], serde_json::json!({"drift_export_end": {"rows": {"Everything": 3}}}));
    assert_eq!(lines[0]["drift_export"], 1);
    assert_eq!(lines[0]["schemas"][0]["name"], "Everything");
    assert_eq!(lines[0]["schemas"].as_array().unwrap().len(), 1);
    let row = &lines[1]["row"];
    assert_eq!(lines[1]["entity"], "Everything");
    assert_eq!(row["id"], -7);
    assert_eq!(row["big"], "340282366920938463463374607431768211455");
    assert_eq!(row["ratio"], 1.1);
    assert_eq!(row["precise"], "NaN");
    assert_eq!(row["blob"], "AAH/");
    assert_eq!(row["maybe"], "");
    assert_eq!(row["nested"], serde_json::json!({"Some": null}));
    assert_eq!(row["scores"], serde_json::json!({"a": 2, "z": 1}));
    assert!(row["by_id"].is_array());
    assert_eq!(row["point"], serde_json::json!({"x": -1, "y": 2}));
    assert_eq!(row["status"], serde_json::json!({"Moved": {"to": 9}}));
    assert_eq!(row["pair"], serde_json::json!([4, "four"]));
    assert_eq!(lines[2]["row"]["status"], serde_json::json!({"Pair": [1, 2]}));
    assert_eq!(lines[2]["row"]["nested"], serde_json::json!({"Some": 5}));
    assert_eq!(lines[3]["row"]["status"], serde_json::json!({"Named": "x"}));
    assert_eq!(lines[3]["row"]["maybe"], Json::Null);
    let (code, _, stderr) = run(dir.path(), &["export", "all.drift", "--entity", "Nope"]);
    assert_eq!(code, 2);
    assert_eq!(stderr, "drift: all.drift holds no entity `Nope`; it holds: Everything, Post, User.\n");
}

#[test]
fn csv_export_takes_one_flat_entity() {
    let dir = tempfile::tempdir().unwrap();
    everything(dir.path());
    let (code, stdout, stderr) = run(dir.path(), &["export", "all.drift", "--entity", "User", "--format", "csv"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout, "id,email,name\n1,ann@x.io,\"Ann, \"\"the\"\" first\"\n");
    let (code, stdout, _) = run(dir.path(), &["export", "all.drift", "--entity", "Post", "--format", "csv"]);
    assert_eq!((code, stdout.as_str()), (0, "id,author_id,title,likes\n1,1,\"Hello\nworld\",3\n"));
    let (code, _, stderr) = run(dir.path(), &["export", "all.drift", "--entity", "Everything", "--format", "csv"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("Everything is not flat: field `nested` is a option<option<u8>>"), "{stderr}");
    let (code, _, stderr) = run(dir.path(), &["export", "all.drift", "--format", "csv"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("CSV holds one entity"), "{stderr}");
}

#[test]
fn import_refuses_a_file_that_holds_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = blog(dir.path());
    run(dir.path(), &["export", "blog.drift", "-o", "blog.jsonl"]);
    let before = contents(&path);
    let (code, _, stderr) = run(dir.path(), &["import", "blog.drift", "--input", "blog.jsonl"]);
    assert_eq!(code, 2);
    assert_eq!(stderr, "drift: blog.drift already holds data; import writes into a new or empty file only.\n");
    assert_eq!(contents(&path), before);
}

#[test]
fn import_of_a_bad_row_names_the_line_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    blog(dir.path());
    run(dir.path(), &["export", "blog.drift", "-o", "blog.jsonl"]);
    let text = std::fs::read_to_string(dir.path().join("blog.jsonl")).unwrap();
    let cases = [
        ("\"likes\":3", "\"likes\":-3", "blog.jsonl:2: Post: field `likes`: -3 does not fit in u32"),
        ("\"likes\":3", "\"likes\":3,\"extra\":1", "blog.jsonl:2: Post: `extra` is not a stored field of Post"),
        ("\"email\":\"bob@x.io\"", "\"email\":\"ann@x.io\"", "unique index `email` already holds its value"),
        ("{\"entity\":\"Post\"", "{\"entity\":\"Page\"", "blog.jsonl:2: entity `Page` is not in the header"),
        (",\"title\":\"Hello\"", "", "blog.jsonl:2: Post: field `title`: has no value"),
    ];
    for (from, to, message) in cases {
        std::fs::write(dir.path().join("bad.jsonl"), text.replacen(from, to, 1)).unwrap();
        let (code, _, stderr) = run(dir.path(), &["import", "new.drift", "--input", "bad.jsonl"]);
        assert_eq!(code, 2, "{stderr}");
        assert!(stderr.contains(&message.replace("blog.jsonl", "bad.jsonl")), "{message}: {stderr}");
        assert!(!dir.path().join("new.drift").exists());
    }
    let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(leftovers.len(), 3, "a temporary file was left: {leftovers:?}");
}

#[test]
fn import_with_a_dangling_foreign_key_exits_one_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    blog(dir.path());
    // Posts without their users.
    run(dir.path(), &["export", "blog.drift", "--entity", "Post", "-o", "posts.jsonl"]);
    let (code, stdout, stderr) = run(dir.path(), &["import", "new.drift", "--input", "posts.jsonl"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stdout.contains("dangling foreign key"), "{stdout}");
    assert!(stderr.contains("new.drift was left as it was"), "{stderr}");
    assert!(!dir.path().join("new.drift").exists());
}

#[test]
fn backup_copies_every_table_from_one_snapshot_and_checks_the_copy() {
    let dir = tempfile::tempdir().unwrap();
    let path = everything(dir.path());
    let (code, stdout, stderr) = run(dir.path(), &["backup", "all.drift", "copy.drift"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.ends_with("copy.drift: 3 entities, 5 rows, 8 index entries: no problems\n"), "{stdout}");
    assert_eq!(contents(&dir.path().join("copy.drift")), contents(&path));
    let (code, _, stderr) = run(dir.path(), &["backup", "all.drift", "copy.drift"]);
    assert_eq!((code, stderr.as_str()), (2, "drift: copy.drift already exists; backup writes a new file.\n"));
}

#[test]
fn backup_of_a_damaged_file_exits_one_with_the_problems() {
    let dir = tempfile::tempdir().unwrap();
    let path = blog(dir.path());
    damage(&path, |tx| {
        let mut t = tx.open_table(table("users#email")).unwrap();
        t.remove(&b"bob@x.io\0\0"[..]).unwrap().unwrap();
    });
    let (code, stdout, stderr) = run(dir.path(), &["backup", "blog.drift", "copy.drift"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stdout.contains("User: missing index entry in index `email` at key 2"), "{stdout}");
    assert!(stderr.contains("they are in blog.drift too"), "{stderr}");
    assert_eq!(contents(&dir.path().join("copy.drift")), contents(&path));
}

#[test]
fn compact_keeps_every_entry() {
    let dir = tempfile::tempdir().unwrap();
    let path = everything(dir.path());
    // Free pages to give back.
    let db = builder().entity::<schema::Everything>().open(&path).unwrap();
    db.write(|tx| {
        for i in 0..200 {
            let id = tx.insert(&Post { author_id: 1, title: "x".repeat(500), likes: i, ..Default::default() })?;
            tx.delete::<Post>(&id)?;
        }
        Ok(())
    })
    .unwrap();
    drop(db);
    let before = contents(&path);
    let (code, stdout, stderr) = run(dir.path(), &["compact", "all.drift"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.starts_with("compacted all.drift: ") || stdout.starts_with("all.drift: nothing to compact"),
        "{stdout}"
    );
    assert_eq!(contents(&path), before);
    assert_eq!(run(dir.path(), &["check", "all.drift"]).0, 0);
    let (code, _, stderr) = run(dir.path(), &["compact", "missing.drift"]);
    assert_eq!((code, stderr.as_str()), (2, "drift: missing.drift does not exist.\n"));
    assert!(!dir.path().join("missing.drift").exists());
}

#[test]
fn writing_commands_on_a_file_open_in_another_process_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = blog(dir.path());
    let db = builder().open(&path).unwrap();
    for args in [&["backup", "blog.drift", "copy.drift"][..], &["compact", "blog.drift"], &["export", "blog.drift"]] {
        let (code, _, stderr) = run(dir.path(), args);
        assert_eq!(code, 2, "{stderr}");
        assert!(stderr.starts_with("drift: blog.drift is open in another process"), "{stderr}");
    }
    assert!(!dir.path().join("copy.drift").exists());
    drop(db);
}

#[test]
fn history_after_a_migration_lists_its_steps() {
    let dir = tempfile::tempdir().unwrap();
    let path = blog(dir.path());
    let history = history(dir.path());
    let migrations =
        drift_migrate::Migrations::new().history_file(&history).unwrap().transform("Post", 2, |mut row| {
            row.set("slug", "s");
            Ok(row)
        });
    let db = Db::builder()
        .entity::<schema::v2::User>()
        .entity::<schema::v2::Post>()
        .migrations(migrations)
        .open(&path)
        .unwrap();
    drop(db);
    let (code, stdout, stderr) = run(dir.path(), &["history", "blog.drift"]);
    assert_eq!(code, 0, "{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[0], "blog.drift: 1 migration applied");
    assert!(lines[2].starts_with("1. 20") && lines[2].contains(" UTC, took "), "{stdout}");
    assert_eq!(lines[3], "   Post v1 -> v2: 3 rows");
    assert!(lines.contains(&"     - field `title` renamed to `headline`"), "{stdout}");
    let (code, stdout, _) = run(dir.path(), &["history", "blog.drift", "--json"]);
    assert_eq!(code, 0);
    let j = json(&stdout);
    assert_eq!(j[0]["steps"][0]["entity"], "Post");
    assert_eq!(
        (j[0]["steps"][0]["from_version"].as_u64(), j[0]["steps"][0]["to_version"].as_u64()),
        (Some(1), Some(2))
    );
    // The migrated file now matches its history, and inspect counts the migration.
    let (_, stdout, _) = run(dir.path(), &["diff", "blog.drift", "history.json"]);
    assert_eq!(stdout, "blog.drift matches the latest versions in history.json\n");
    let (_, stdout, _) = run(dir.path(), &["inspect", "blog.drift", "--json"]);
    assert_eq!(json(&stdout)["migrations"], 1);
}

// Found in review: each failed before its fix.

#[test]
fn export_onto_its_own_file_is_refused_and_leaves_it_intact() {
    let dir = tempfile::tempdir().unwrap();
    let path = blog(dir.path());
    let before = std::fs::read(&path).unwrap();
    let (code, _, _) = run(dir.path(), &["export", "blog.drift", "-o", "blog.drift"]);
    assert_eq!(code, 2);
    assert!(std::fs::read(&path).unwrap() == before, "a read-only command destroyed its file");
}

#[test]
fn read_only_commands_read_a_file_left_by_a_crash_without_writing_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = blog(dir.path());
    let db = builder().open(&path).unwrap();
    std::fs::copy(&path, dir.path().join("crashed.drift")).unwrap(); // what a crash leaves
    drop(db);
    let before = std::fs::read(dir.path().join("crashed.drift")).unwrap();
    for cmd in ["inspect", "check", "history", "export"] {
        let (code, _, stderr) = run(dir.path(), &[cmd, "crashed.drift"]);
        assert_eq!(code, 0, "{cmd}: {stderr}");
        assert!(std::fs::read(dir.path().join("crashed.drift")).unwrap() == before, "{cmd} wrote");
    }
    let (code, _, stderr) = run(dir.path(), &["backup", "crashed.drift", "copy.drift"]);
    assert_eq!(code, 0, "backup: {stderr}");
}

#[test]
fn import_refuses_an_index_entry_an_insert_would_refuse() {
    let dir = tempfile::tempdir().unwrap();
    blog(dir.path());
    run(dir.path(), &["export", "blog.drift", "-o", "blog.jsonl"]);
    let text = std::fs::read_to_string(dir.path().join("blog.jsonl")).unwrap();
    std::fs::write(dir.path().join("big.jsonl"), text.replacen("ann@x.io", &"x".repeat(2000), 1)).unwrap();
    let (code, _, stderr) = run(dir.path(), &["import", "new.drift", "--input", "big.jsonl"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("over the limit of 1024"), "{stderr}");
    assert!(!dir.path().join("new.drift").exists());
}

mod review {
    use drift::prelude::*;
    #[derive(Entity, Debug, Clone, PartialEq, Default)]
    pub struct Floats {
        #[drift(primary_key)]
        pub id: u32,
        pub a: f64,
    }
    #[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
    pub struct NotDescribed {
        pub x: u8,
    }
    #[derive(Entity, Debug, Clone, PartialEq, Default)]
    pub struct Opaque {
        #[drift(primary_key)]
        pub id: u32,
        pub o: NotDescribed,
    }
}

#[test]
fn floats_round_trip_bit_for_bit() {
    let dir = tempfile::tempdir().unwrap();
    let values = [1.0715660391465826e-75, -1.81996730402717e-179, -1.603964615428183e143, -0.0];
    let db = Db::builder().entity::<review::Floats>().open(dir.path().join("f.drift")).unwrap();
    db.write(|tx| {
        for (i, a) in values.iter().enumerate() {
            tx.insert(&review::Floats { id: i as u32, a: *a })?;
        }
        Ok(())
    })
    .unwrap();
    drop(db);
    assert_eq!(run(dir.path(), &["export", "f.drift", "-o", "f.jsonl"]).0, 0);
    assert_eq!(run(dir.path(), &["import", "copy.drift", "--input", "f.jsonl"]).0, 0);
    let db = Db::builder().entity::<review::Floats>().open(dir.path().join("copy.drift")).unwrap();
    for (i, a) in values.iter().enumerate() {
        let back = db.read(|tx| tx.get::<review::Floats>(&(i as u32))).unwrap().unwrap().a;
        assert_eq!(back.to_bits(), a.to_bits(), "{a:e} came back as {back:e}");
    }
}

#[test]
fn import_says_validation_rules_are_not_checked() {
    let (code, stdout, _) = run(tempfile::tempdir().unwrap().path(), &["import", "--help"]);
    assert_eq!(code, 0);
    assert!(stdout.contains("validate"), "{stdout}");
}

#[test]
fn check_json_names_the_entities_it_could_not_check() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::builder().entity::<review::Opaque>().open(dir.path().join("o.drift")).unwrap();
    db.write(|tx| tx.insert(&review::Opaque { id: 1, o: review::NotDescribed { x: 1 } }).map(|_| ())).unwrap();
    drop(db);
    let (code, stdout, _) = run(dir.path(), &["check", "o.drift", "--json"]);
    assert_eq!(code, 0);
    assert_eq!(json(&stdout)["unchecked"], serde_json::json!(["Opaque"]), "{stdout}");
}

#[test]
fn a_header_with_a_huge_array_is_refused_without_aborting() {
    let dir = tempfile::tempdir().unwrap();
    let header = r#"{"drift_export":1,"schemas":[{"name":"A","table":"a","version":1,"fields":[{"name":"id","ty":"u8","kind":"Key","optional":false,"shape":"U8"},{"name":"v","ty":"x","kind":"Data","optional":false,"shape":{"Array":["U8",1000000000000]}}],"primary_key":["id"],"auto_increment":false,"indexes":[],"relations":[]}]}"#;
    std::fs::write(
        dir.path().join("a.jsonl"),
        format!("{header}\n{{\"entity\":\"A\",\"row\":{{\"id\":1,\"v\":[1]}}}}\n"),
    )
    .unwrap();
    assert_eq!(run(dir.path(), &["import", "a.drift", "--input", "a.jsonl"]).0, 2);
}

#[test]
fn import_refuses_history_records_that_are_not_migrations() {
    let dir = tempfile::tempdir().unwrap();
    blog(dir.path());
    run(dir.path(), &["export", "blog.drift", "-o", "blog.jsonl"]);
    let text = std::fs::read_to_string(dir.path().join("blog.jsonl")).unwrap();
    assert!(text.contains("\"history\":[]"), "{text}");
    std::fs::write(dir.path().join("h.jsonl"), text.replacen("\"history\":[]", "\"history\":[1]", 1)).unwrap();
    assert_ne!(run(dir.path(), &["import", "new.drift", "--input", "h.jsonl"]).0, 0);
}

#[test]
fn an_export_missing_a_line_is_not_imported() {
    let dir = tempfile::tempdir().unwrap();
    blog(dir.path());
    run(dir.path(), &["export", "blog.drift", "-o", "blog.jsonl"]);
    let text = std::fs::read_to_string(dir.path().join("blog.jsonl")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.last().unwrap().starts_with("{\"drift_export_end\""), "{text}");
    // A row line lost in the middle, and the end cut off.
    let cut: Vec<&str> = lines.iter().enumerate().filter(|(i, _)| *i != 2).map(|(_, l)| *l).collect();
    std::fs::write(dir.path().join("cut.jsonl"), cut.join("\n") + "\n").unwrap();
    let (code, _, stderr) = run(dir.path(), &["import", "new.drift", "--input", "cut.jsonl"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("lines are missing"), "{stderr}");
    let short = &lines[..lines.len() - 1];
    std::fs::write(dir.path().join("short.jsonl"), short.join("\n") + "\n").unwrap();
    let (code, _, stderr) = run(dir.path(), &["import", "new.drift", "--input", "short.jsonl"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("cut short"), "{stderr}");
    assert!(!dir.path().join("new.drift").exists());
}

mod newtype {
    use drift::prelude::*;
    #[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize, drift::Describe)]
    pub struct Maybe(pub Option<u8>);
    #[derive(Entity, Debug, Clone, PartialEq, Default)]
    pub struct Wrapped {
        #[drift(primary_key)]
        pub id: u32,
        pub w: Option<Maybe>,
    }
}

#[test]
fn some_of_a_newtype_over_none_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::builder().entity::<newtype::Wrapped>().open(dir.path().join("w.drift")).unwrap();
    db.write(|tx| {
        tx.insert(&newtype::Wrapped { id: 1, w: Some(newtype::Maybe(None)) })?;
        tx.insert(&newtype::Wrapped { id: 2, w: None })?;
        tx.insert(&newtype::Wrapped { id: 3, w: Some(newtype::Maybe(Some(4))) })?;
        Ok(())
    })
    .unwrap();
    drop(db);
    assert_eq!(run(dir.path(), &["export", "w.drift", "-o", "w.jsonl"]).0, 0);
    let (code, _, stderr) = run(dir.path(), &["import", "copy.drift", "--input", "w.jsonl"]);
    assert_eq!(code, 0, "{stderr}");
    let db = Db::builder().entity::<newtype::Wrapped>().open(dir.path().join("copy.drift")).unwrap();
    let all = db.read(|tx| tx.query::<newtype::Wrapped>().all()).unwrap();
    let ws: Vec<_> = all.into_iter().map(|w| w.w).collect();
    assert_eq!(ws, vec![Some(newtype::Maybe(None)), None, Some(newtype::Maybe(Some(4)))]);
}

#[test]
fn import_refuses_a_header_whose_descriptors_do_not_hold_together() {
    let dir = tempfile::tempdir().unwrap();
    blog(dir.path());
    run(dir.path(), &["export", "blog.drift", "-o", "blog.jsonl"]);
    let text = std::fs::read_to_string(dir.path().join("blog.jsonl")).unwrap();
    let mut lines = text.lines();
    let mut header: Json = serde_json::from_str(lines.next().unwrap()).unwrap();
    let rest: Vec<&str> = lines.collect();
    // A field named twice in the first entity.
    let fields = header["schemas"][0]["fields"].as_array_mut().unwrap();
    let copy = fields[1].clone();
    fields.push(copy);
    let bad = format!("{}\n{}\n", header, rest.join("\n"));
    std::fs::write(dir.path().join("bad.jsonl"), bad).unwrap();
    let (code, _, stderr) = run(dir.path(), &["import", "new.drift", "--input", "bad.jsonl"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("appears twice"), "{stderr}");
    assert!(!dir.path().join("new.drift").exists());
}
