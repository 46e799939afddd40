//! Opening arbitrary bytes as a database file never panics: it fails with an error, or
//! opens a database that reads and writes without panicking.
#![no_main]

use std::path::PathBuf;
use std::sync::Once;

use drift::prelude::*;
use drift_fuzz::{Note, Sample};
use libfuzzer_sys::fuzz_target;

/// A file of this process in memory-backed storage when there is some.
fn path() -> PathBuf {
    let dir = if std::path::Path::new("/dev/shm").is_dir() { PathBuf::from("/dev/shm") } else { std::env::temp_dir() };
    dir.join(format!("drift-fuzz-open-{}.drift", std::process::id()))
}

fn exercise(db: &Db) -> drift::Result<()> {
    db.read(|tx| {
        let _ = tx.query::<Sample>().count();
        let _ = tx.query::<Sample>().filter(Sample::LEVEL.gt(0)).all();
        let _ = tx.query::<Note>().all();
        let _ = tx.query::<Note>().filter(Note::TITLE.starts_with("a")).count();
        let _ = tx.get::<Note>(&1);
        Ok(())
    })?;
    db.write(|tx| {
        let id = tx.insert(&Note { title: "a".into(), body: vec![1, 2, 3], ..Default::default() })?;
        tx.update(&Note { id, title: "b".into(), body: Vec::new() })?;
        tx.delete::<Note>(&id)?;
        tx.insert(&Sample { sensor: "s".into(), at: 1.5, level: 3, ..Default::default() })?;
        Ok(())
    })
}

fuzz_target!(|data: &[u8]| {
    // Drift catches the storage engine's panics on open; only a panic that escapes
    // Drift is a failure, and the harness's hook would abort on caught ones too.
    static QUIET: Once = Once::new();
    QUIET.call_once(|| std::panic::set_hook(Box::new(|_| {})));
    let path = path();
    std::fs::write(&path, data).expect("the fuzz file is writable");
    if let Ok(db) = Db::builder().entity::<Sample>().entity::<Note>().open(&path) {
        let _ = exercise(&db);
    }
    let _ = std::fs::remove_file(&path);
});
