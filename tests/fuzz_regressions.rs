//! Inputs the fuzz targets in `fuzz/` found failing, kept as regression tests. The
//! entities repeat `fuzz/src/lib.rs`, whose schema the stored files carry.

use drift::ErrorKind;
use drift::prelude::*;

#[derive(Entity, Debug, Clone, PartialEq, Default)]
#[drift(index(fields(city, score)))]
pub struct Sample {
    #[drift(primary_key)]
    pub sensor: String,
    #[drift(primary_key)]
    pub at: f64,
    #[drift(index)]
    pub level: i32,
    #[drift(unique)]
    pub tag: Option<Vec<u8>>,
    pub city: String,
    pub score: i16,
    pub flags: Vec<bool>,
    pub note: Option<String>,
    pub letter: char,
    pub pairs: Vec<(u8, String)>,
    pub ratio: f32,
    pub big: u128,
}

#[derive(Entity, Debug, Clone, PartialEq, Default)]
pub struct Note {
    #[drift(primary_key, auto_increment)]
    pub id: u64,
    #[drift(index)]
    pub title: String,
    pub body: Vec<u8>,
}

fn open_copy(bytes: &[u8]) -> (tempfile::TempDir, drift::Result<Db>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("damaged.drift");
    std::fs::write(&path, bytes).unwrap();
    let db = Db::builder().entity::<Sample>().entity::<Note>().open(&path);
    (dir, db)
}

/// Opens a copy of `bytes` that the open must refuse, and returns the error and the
/// copy's bytes once the attempt is over (the `Db`, had there been one, dropped).
fn refused_copy(bytes: &[u8]) -> (drift::Error, Vec<u8>) {
    let (dir, db) = open_copy(bytes);
    let err = db.map(drop).expect_err("the damaged file is refused");
    let after = std::fs::read(dir.path().join("damaged.drift")).unwrap();
    (err, after)
}

/// `open_file` crash 3191cbdd: the file opens and reads, but its allocator state is
/// corrupt and redb asserted (`bit < self.len`) on the first page allocation, which
/// panicked. It never panics now (see the match below for the two outcomes).
#[test]
fn damaged_allocator_fails_the_write_with_an_error_not_a_panic() {
    let (_dir, db) = open_copy(include_bytes!("data/fuzz-open_file-damaged-allocator.bin"));
    let db = db.expect("the damaged file passes redb's checks on open");
    assert_eq!(db.read(|tx| tx.query::<Note>().count()).unwrap(), 0);
    let written = db.write(|tx| {
        let id = tx.insert(&Note { title: "a".into(), body: vec![1, 2, 3], ..Default::default() })?;
        tx.update(&Note { id, title: "b".into(), body: Vec::new() })?;
        tx.insert(&Sample { sensor: "s".into(), at: 1.5, level: 3, ..Default::default() })?;
        Ok(id)
    });
    // Since opening stores field shapes into descriptors written before them (a write
    // of its own), where the first allocation lands depends on that write: either the
    // write meets the damaged allocator state and fails, after which the database
    // refuses further work, or it lands clear of it and what it wrote reads back. Never
    // a panic.
    match written {
        Err(err) => {
            assert_eq!(err.kind(), ErrorKind::Storage, "{err}");
            assert!(err.to_string().contains("damaged"), "{err}");
            let again = db.write(|tx| tx.insert(&Note::default())).unwrap_err();
            assert_eq!(again.kind(), ErrorKind::Storage, "{again}");
            let read = db.read(|tx| tx.query::<Note>().count()).unwrap_err();
            assert!(read.to_string().contains("damaged"), "{read}");
        }
        Ok(id) => {
            let note = db.read(|tx| tx.get::<Note>(&id)).unwrap().unwrap();
            assert_eq!((note.title.as_str(), note.body.len()), ("b", 0));
            assert_eq!(db.read(|tx| tx.query::<Sample>().count()).unwrap(), 1);
        }
    }
}

/// `open_file` crash 74e8d730: a leaf page holds a value offset past the page end, and
/// redb panics on reading the value (`range start index 4294901804 out of range`), here
/// in the unique-index check of an insert. The read fails with a storage error.
#[test]
fn value_offset_past_the_page_fails_the_read_with_an_error_not_a_panic() {
    let (_dir, db) = open_copy(include_bytes!("data/fuzz-open_file-bad-value-offset.bin"));
    let db = db.expect("the damaged file passes redb's checks on open");
    assert_eq!(db.read(|tx| tx.query::<Sample>().count()).unwrap(), 3);
    let err = db
        .write(|tx| {
            tx.insert(&Sample { sensor: "s".into(), at: 1.5, level: 3, tag: Some(Vec::new()), ..Default::default() })
        })
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Storage, "{err}");
    assert!(err.to_string().contains("damaged"), "{err}");
}

/// `open_file` crash b242ed0d: redb asserts while shrinking the file in the commit that
/// opening makes, then panics again dropping each table (on a poisoned lock); a second
/// panic while the first unwound aborted the process. Opening fails with an error.
#[test]
fn failing_commit_on_open_is_an_error_and_every_drop_is_contained() {
    let (_dir, db) = open_copy(include_bytes!("data/fuzz-open_file-bad-region-size.bin"));
    let err = db.map(drop).unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::Storage | ErrorKind::NotADatabase), "{err}");
}

/// `open_file` crash 81a517fe: the stored schema is not JSON (so Drift refuses the
/// file) and the freed-page tree is damaged, so the commit redb makes when the refused
/// database is closed panicked twice and aborted. Drift now refuses a file on a
/// read-only open, and one refused only after a writable open (when redb had to repair
/// it first) is left unclosed: redb writes nothing to a refused file.
#[test]
fn refused_file_is_not_closed_through_redb() {
    let bytes = include_bytes!("data/fuzz-open_file-foreign-meta-damaged-freed-tree.bin");
    let (err, after) = refused_copy(bytes);
    assert_eq!(err.kind(), ErrorKind::NotADatabase, "{err}");
    assert!(matches!(err, Error::NotADatabase { .. }), "{err:?}");
    assert!(err.to_string().contains("damaged.drift"), "{err}");
    assert!(err.to_string().contains("stored schema of table `sample` is unreadable"), "{err}");
    assert!(after == bytes, "the refused file changed ({} bytes, was {})", after.len(), bytes.len());
}

/// `open_file` crash f675250f: as 81a517fe, with a stored schema that parses but
/// differs. Drift now checks the stored schemas on a read-only open, so a refused file
/// is never opened for writing, and redb never runs its closing commit on it.
#[test]
fn schema_mismatch_is_found_without_opening_the_file_for_writing() {
    let bytes = include_bytes!("data/fuzz-open_file-schema-mismatch-damaged-freed-tree.bin");
    let (err, after) = refused_copy(bytes);
    // The stored Sample has the primary key (letter, at); the compiled one (sensor, at).
    assert_eq!(err.kind(), ErrorKind::SchemaMismatch, "{err}");
    assert!(err.to_string().contains("primary key (letter, at) became (sensor, at)"), "{err}");
    assert!(after == bytes, "the refused file changed ({} bytes, was {})", after.len(), bytes.len());
}

/// A database redb failed on is leaked rather than closed (redb's close can panic twice
/// on a damaged file, which aborts). The leaked handle used to keep the file open and
/// locked until the process exited, so the same process could not open it again.
/// Dropping the damaged `Db` now lets go of the file: its locks and its descriptor.
#[test]
fn a_damaged_database_lets_go_of_its_file_when_dropped() {
    let (dir, db) = open_copy(include_bytes!("data/fuzz-open_file-bad-value-offset.bin"));
    let db = db.expect("the damaged file passes redb's checks on open");
    let err = db
        .write(|tx| {
            tx.insert(&Sample { sensor: "s".into(), at: 1.5, level: 3, tag: Some(Vec::new()), ..Default::default() })
        })
        .unwrap_err();
    assert!(err.to_string().contains("damaged"), "{err}");
    drop(db);
    let path = dir.path().join("damaged.drift");
    match Db::builder().entity::<Sample>().entity::<Note>().open(&path) {
        Ok(again) => drop(again),
        Err(e) => assert!(!e.to_string().contains("already open"), "the file is still held: {e}"),
    }
}

/// `fuzz/known/redb-close-double-panic-ee6ffe82.bin`: redb's closing commit panics
/// twice on this file's damaged allocator state, which aborted the process when Drift
/// opened it for writing and closed it. Its stored schema is unreadable, so Drift now
/// refuses it on the read-only open that comes first: it is never opened for writing,
/// redb never runs its close on it, and the file is left as it was.
#[test]
fn file_whose_close_panics_twice_is_refused_before_it_is_opened_for_writing() {
    let bytes = include_bytes!("../fuzz/known/redb-close-double-panic-ee6ffe82.bin");
    let (err, after) = refused_copy(bytes);
    assert_eq!(err.kind(), ErrorKind::NotADatabase, "{err}");
    assert!(after == bytes, "the refused file changed");
}
