//! `Db::compact` rewrites the file to reclaim free space, and refuses while any
//! transaction is open.

use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use drift::ErrorKind;
use drift::prelude::*;

#[derive(Entity, Debug, Clone, PartialEq, Default)]
pub struct Blob {
    #[drift(primary_key, auto_increment)]
    pub id: u64,
    #[drift(index)]
    pub group: u32,
    pub body: Vec<u8>,
}

fn open(path: &Path) -> Db {
    Db::builder().entity::<Blob>().open(path).unwrap()
}

fn fill(db: &Db, rows: u32) {
    db.write(|tx| {
        for i in 0..rows {
            tx.insert(&Blob { group: i % 10, body: vec![u8::try_from(i % 251).unwrap(); 2048], ..Default::default() })?;
        }
        Ok(())
    })
    .unwrap();
}

/// Runs `compact` on another thread and waits for it a bounded time, so that a
/// compaction that blocks fails the test instead of hanging it.
fn compact_elsewhere(db: &Db) -> drift::Result<bool> {
    let (send, recv) = mpsc::channel();
    let db = db.clone();
    std::thread::spawn(move || send.send(db.compact()));
    recv.recv_timeout(Duration::from_secs(60)).expect("compact blocked instead of returning")
}

#[test]
fn compact_after_deleting_most_rows_shrinks_the_file_and_keeps_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("compact.drift");
    let db = open(&path);
    fill(&db, 4000);
    let full = std::fs::metadata(&path).unwrap().len();
    let deleted = db.write(|tx| tx.delete_where::<Blob>(Blob::GROUP.ne(3))).unwrap();
    assert_eq!(deleted, 3600);
    let before = std::fs::metadata(&path).unwrap().len();
    assert!(db.compact().unwrap(), "compact reports that it moved pages");
    let after = std::fs::metadata(&path).unwrap().len();
    assert!(after < before / 2, "file of {full} bytes, {before} after the delete, {after} after compact");
    let left = db.read(|tx| tx.query::<Blob>().filter(Blob::GROUP.eq(3)).all()).unwrap();
    assert_eq!(left.len(), 400);
    assert!(left.iter().all(|b| b.body.len() == 2048 && b.group == 3));
    assert_eq!(db.read(|tx| tx.query::<Blob>().count()).unwrap(), 400);
    drop(db);
    // The compacted file reopens with its rows.
    let db = open(&path);
    assert_eq!(db.read(|tx| tx.query::<Blob>().count()).unwrap(), 400);
}

#[test]
fn compact_refuses_while_a_read_transaction_is_open() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(&dir.path().join("read.drift"));
    fill(&db, 50);
    let tx = db.begin_read().unwrap();
    let err = compact_elsewhere(&db).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Storage, "{err}");
    // The reader is unaffected and the database still works.
    assert_eq!(tx.query::<Blob>().count().unwrap(), 50);
    drop(tx);
    db.compact().unwrap();
    assert_eq!(db.read(|tx| tx.query::<Blob>().count()).unwrap(), 50);
}

#[test]
fn compact_refuses_while_a_write_transaction_is_open() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(&dir.path().join("write.drift"));
    fill(&db, 50);
    let mut tx = db.begin_write().unwrap();
    tx.insert(&Blob { group: 1, ..Default::default() }).unwrap();
    let err = compact_elsewhere(&db).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Storage, "{err}");
    // The writer is unaffected: it commits, and compact then runs.
    tx.commit().unwrap();
    db.compact().unwrap();
    assert_eq!(db.read(|tx| tx.query::<Blob>().count()).unwrap(), 51);
}
