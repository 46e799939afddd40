//! Opening storage that is not (yet) a database: refused without a write, and a
//! creation cut short that never leaves an unopenable file.

use std::sync::{Arc, Mutex};

use drift::ErrorKind;
use drift::prelude::*;

#[derive(Entity, Debug, Clone, PartialEq, Default)]
pub struct Note {
    #[drift(primary_key, auto_increment)]
    pub id: u64,
    #[drift(index)]
    pub title: String,
    pub body: Vec<u8>,
}

fn file_backend(dir: &tempfile::TempDir, bytes: &[u8]) -> (std::path::PathBuf, drift::redb_backends::FileBackend) {
    let path = dir.path().join("refused.drift");
    std::fs::write(&path, bytes).unwrap();
    let file = std::fs::OpenOptions::new().read(true).write(true).open(&path).unwrap();
    (path.clone(), drift::redb_backends::FileBackend::new(file).unwrap())
}

/// A healthy redb file of another program (one table of its own): `open` refuses it
/// read-only and leaves it as it was; `open_backend` opens it for writing first, then
/// refuses it (check_tables) and leaks the handle: the refused file is left changed
/// (one header byte, redb's open-for-writing state, never closed).
#[test]
fn open_backend_refuses_a_foreign_redb_file_without_writing_to_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("foreign.redb");
    {
        const T: redb::TableDefinition<&str, u64> = redb::TableDefinition::new("their_table");
        let db = redb::Database::create(&path).unwrap();
        let tx = db.begin_write().unwrap();
        tx.open_table(T).unwrap().insert("k", 1).unwrap();
        tx.commit().unwrap();
    }
    let bytes = std::fs::read(&path).unwrap();
    // The path API: refused, and the file left alone.
    let err = Db::builder().entity::<Note>().open(&path).map(drop).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotADatabase, "{err}");
    assert!(std::fs::read(&path).unwrap() == bytes, "open changed the refused file");
    // The backend API, on the same file.
    let file = std::fs::OpenOptions::new().read(true).write(true).open(&path).unwrap();
    let backend = drift::redb_backends::FileBackend::new(file).unwrap();
    let err = Db::builder().entity::<Note>().open_backend(backend).map(drop).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotADatabase, "{err}");
    let after = std::fs::read(&path).unwrap();
    let changed = after.iter().zip(&bytes).filter(|(a, b)| a != b).count();
    // What the file's owner meets on its next open.
    let repaired = std::rc::Rc::new(std::cell::Cell::new(false));
    let seen = repaired.clone();
    drop(redb::Database::builder().set_repair_callback(move |_| seen.set(true)).open(&path).unwrap());
    assert!(
        after == bytes,
        "open_backend wrote to a storage it refused: {changed} bytes differ ({} bytes, was {}); \
         the owner's next open repairs the file: {}",
        after.len(),
        bytes.len(),
        repaired.get()
    );
}

/// `open_backend` is documented with the errors of `open`, which refuses a storage that
/// is not a redb database with `Error::NotADatabase`. `RedbEngine::open_backend` maps
/// every `Refusal::Io` to `Error::Storage`, and redb reports a bad magic number as an
/// I/O error: a garbage storage comes back as a storage failure (retryable-looking),
/// not as "not a Drift database".
#[test]
fn open_backend_refuses_garbage_as_not_a_database_like_open() {
    let bytes = b"not a database at all, just some bytes";
    let dir = tempfile::tempdir().unwrap();
    let (path, backend) = file_backend(&dir, bytes);
    let by_backend = Db::builder().entity::<Note>().open_backend(backend).map(drop).unwrap_err();
    std::fs::write(&path, bytes).unwrap();
    let by_path = Db::builder().entity::<Note>().open(&path).map(drop).unwrap_err();
    assert_eq!(by_path.kind(), ErrorKind::NotADatabase, "{by_path}");
    assert_eq!(by_backend.kind(), ErrorKind::NotADatabase, "open_backend: {by_backend}");
}

/// The current bytes, and the bytes before each call.
type Recorded = (Vec<u8>, Vec<Vec<u8>>);

/// Storage that records its bytes at each call: the file a process killed at that call
/// leaves (a kill loses nothing written).
#[derive(Debug, Clone, Default)]
struct Recorder(Arc<Mutex<Recorded>>);

impl drift::StorageBackend for Recorder {
    fn len(&self) -> std::io::Result<u64> {
        Ok(self.0.lock().unwrap().0.len() as u64)
    }
    fn read(&self, offset: u64, out: &mut [u8]) -> std::io::Result<()> {
        let mut s = self.0.lock().unwrap();
        let snap = s.0.clone();
        s.1.push(snap);
        let at = offset as usize;
        if at + out.len() > s.0.len() {
            return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "eof"));
        }
        out.copy_from_slice(&s.0[at..at + out.len()]);
        Ok(())
    }
    fn set_len(&self, len: u64) -> std::io::Result<()> {
        let mut s = self.0.lock().unwrap();
        let snap = s.0.clone();
        s.1.push(snap);
        s.0.resize(len as usize, 0);
        Ok(())
    }
    fn sync_data(&self) -> std::io::Result<()> {
        let mut s = self.0.lock().unwrap();
        let snap = s.0.clone();
        s.1.push(snap);
        Ok(())
    }
    fn write(&self, offset: u64, data: &[u8]) -> std::io::Result<()> {
        let mut s = self.0.lock().unwrap();
        let snap = s.0.clone();
        s.1.push(snap);
        let at = offset as usize;
        if s.0.len() < at + data.len() {
            s.0.resize(at + data.len(), 0);
        }
        s.0[at..at + data.len()].copy_from_slice(data);
        Ok(())
    }
}

/// A new database is built under a temporary name beside its path and linked into
/// place once committed, because redb sizes a new file before it writes its header:
/// a process killed in between used to leave a file at the path that never opened
/// (`magic number mismatch`; seen in tests/crash.rs when round 1 killed the writer while
/// it created the file). Each storage call of a creation is a moment a process can be
/// killed: what it leaves is that temporary file and no file at the path, and the next
/// open creates the database.
#[test]
fn a_creation_cut_short_leaves_nothing_at_the_path_and_the_next_open_creates_the_database() {
    let rec = Recorder::default();
    drop(Db::builder().entity::<Note>().open_backend(rec.clone()).unwrap());
    let snapshots = rec.0.lock().unwrap().1.clone();
    assert!(snapshots.len() > 10, "a creation makes {} storage calls", snapshots.len());
    let dir = tempfile::tempdir().unwrap();
    for (call, bytes) in snapshots.iter().enumerate() {
        let path = dir.path().join(format!("killed-at-{call}.drift"));
        let temp = dir.path().join(format!(".killed-at-{call}.drift.creating"));
        std::fs::write(&temp, bytes).unwrap();
        assert!(!path.exists());
        let db = Db::builder().entity::<Note>().open(&path).unwrap_or_else(|e| panic!("killed at call {call}: {e}"));
        db.write(|tx| tx.insert(&Note { title: "after".into(), ..Default::default() })).unwrap();
        assert!(db.check().unwrap().is_ok());
        drop(db);
        assert!(!temp.exists(), "killed at call {call}: the temporary file is left behind");
        assert!(path.exists());
    }
    // The file a successful creation leaves is complete, and a second open finds it.
    let path = dir.path().join("fresh.drift");
    drop(Db::builder().entity::<Note>().open(&path).unwrap());
    assert_eq!(Db::builder().entity::<Note>().open(&path).unwrap().read(|tx| tx.query::<Note>().count()).unwrap(), 0);
}
