//! Fault injection through the storage backend: the disk fails under a running
//! database at every call of a workload, and what is left on it is a committed state.
//!
//! [`Disk`] is a redb [`StorageBackend`] over bytes in memory that counts its calls
//! (`len` excepted) and fails the k-th one: an I/O error, a full disk (`ENOSPC`), or a
//! write that lands only its first half and then fails; the fault is transient (the
//! next calls succeed) or permanent (every call from the k-th on fails). The workload
//! opens a database, inserts, updates, deletes with cascades, rolls back to a
//! savepoint, fails a statement, compacts, closes, reopens with a migration and writes
//! again. It first runs without faults to record the committed state after each step
//! (every table's raw entries), then once per fault point and kind, stopping at the
//! first step that fails. Each run then checks that
//! - the step failed with an error (a panic fails the test; an abort kills it),
//! - the same `Db`, asked to read everything, returns an error or the last
//!   acknowledged state: never anything else,
//! - each image of the disk reopened on a healthy backend is a committed state, the
//!   last acknowledged one or, when the fault struck a commit, possibly the one in
//!   flight, and `db.check()` finds nothing wrong. The images: the bytes as they were
//!   at the fault (a process killed there), the bytes synced by then (a machine that
//!   lost power there), and the bytes after the `Db` was dropped.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use drift::migrate::Migrations;
use drift::prelude::*;
use drift::{ErrorKind, StorageBackend};

mod v1 {
    use drift::prelude::*;

    #[derive(Entity, Debug, Clone, PartialEq, Default)]
    pub struct Author {
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
        pub author_id: u64,
        #[drift(belongs_to(Author, key = author_id, on_delete = cascade))]
        pub author: BelongsTo<Author>,
        #[drift(index)]
        pub score: i32,
        pub title: String,
    }
}

mod v2 {
    use drift::prelude::*;

    #[derive(Entity, Debug, Clone, PartialEq, Default)]
    pub struct Author {
        #[drift(primary_key, auto_increment)]
        pub id: u64,
        #[drift(unique)]
        pub email: String,
        pub name: String,
        #[drift(has_many(Post, foreign_key = author_id))]
        pub posts: HasMany<Post>,
    }

    /// v1's post with an indexed optional field: opening a v1 file migrates it.
    #[derive(Entity, Debug, Clone, PartialEq, Default)]
    #[drift(version = 2)]
    pub struct Post {
        #[drift(primary_key, auto_increment)]
        pub id: u64,
        pub author_id: u64,
        #[drift(belongs_to(Author, key = author_id, on_delete = cascade))]
        pub author: BelongsTo<Author>,
        #[drift(index)]
        pub score: i32,
        pub title: String,
        #[drift(index)]
        pub pinned: Option<bool>,
    }
}

/// How the faulty call fails.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    /// `EIO` on whatever call it is.
    Io,
    /// `ENOSPC` on a write or `set_len`; `EIO` on any other call.
    NoSpace,
    /// A write lands its first half, then fails; any other call fails with `EIO`.
    Torn,
}

#[derive(Debug, Clone, Copy)]
struct Fault {
    at: u64,
    kind: Kind,
    /// Every call from `at` on fails, not only the `at`-th.
    permanent: bool,
}

#[derive(Debug, Default)]
struct DiskState {
    bytes: Vec<u8>,
    /// The bytes as of the last successful `sync_data`.
    synced: Vec<u8>,
    calls: u64,
    fault: Option<Fault>,
    /// `(bytes, synced)` when the fault struck.
    at_fault: Option<(Vec<u8>, Vec<u8>)>,
}

/// Storage in memory that fails as told. Clones share the same bytes.
#[derive(Debug, Clone, Default)]
struct Disk(Arc<Mutex<DiskState>>);

impl Disk {
    fn with_bytes(bytes: Vec<u8>) -> Disk {
        Disk(Arc::new(Mutex::new(DiskState { synced: bytes.clone(), bytes, ..DiskState::default() })))
    }

    fn state(&self) -> MutexGuard<'_, DiskState> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Counts a call; the error it must fail with, if any.
    fn call(&self, write: Option<(u64, &[u8])>, grows: bool) -> std::io::Result<()> {
        let mut s = self.state();
        s.calls += 1;
        let Some(f) = s.fault else { return Ok(()) };
        let strikes = s.calls == f.at || (f.permanent && s.calls > f.at);
        if !strikes {
            return Ok(());
        }
        if s.at_fault.is_none() {
            s.at_fault = Some((s.bytes.clone(), s.synced.clone()));
        }
        match (f.kind, write) {
            (Kind::Torn, Some((offset, data))) => {
                let half = &data[..data.len() / 2];
                put(&mut s.bytes, offset, half);
                Err(std::io::Error::other("injected: the write landed only in part"))
            }
            (Kind::NoSpace, Some(_)) => Err(std::io::Error::from_raw_os_error(28)),
            (Kind::NoSpace, None) if grows => Err(std::io::Error::from_raw_os_error(28)),
            _ => Err(std::io::Error::other("injected: I/O error")),
        }
    }
}

fn put(bytes: &mut Vec<u8>, offset: u64, data: &[u8]) {
    let at = usize::try_from(offset).unwrap();
    if bytes.len() < at + data.len() {
        bytes.resize(at + data.len(), 0);
    }
    bytes[at..at + data.len()].copy_from_slice(data);
}

impl StorageBackend for Disk {
    fn len(&self) -> std::io::Result<u64> {
        Ok(self.state().bytes.len() as u64)
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> std::io::Result<()> {
        self.call(None, false)?;
        let s = self.state();
        let at = usize::try_from(offset).map_err(std::io::Error::other)?;
        let end = at.checked_add(out.len()).filter(|&e| e <= s.bytes.len());
        let Some(end) = end else {
            return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "read past the end"));
        };
        out.copy_from_slice(&s.bytes[at..end]);
        Ok(())
    }

    fn set_len(&self, len: u64) -> std::io::Result<()> {
        let grows = len > self.state().bytes.len() as u64;
        self.call(None, grows)?;
        self.state().bytes.resize(usize::try_from(len).map_err(std::io::Error::other)?, 0);
        Ok(())
    }

    fn sync_data(&self) -> std::io::Result<()> {
        self.call(None, false)?;
        let mut s = self.state();
        s.synced = s.bytes.clone();
        Ok(())
    }

    fn write(&self, offset: u64, data: &[u8]) -> std::io::Result<()> {
        self.call(Some((offset, data)), false)?;
        put(&mut self.state().bytes, offset, data);
        Ok(())
    }
}

/// Every table's raw entries: the whole committed state, schema-independent.
type Image = BTreeMap<String, Vec<(Vec<u8>, Vec<u8>)>>;

fn image_of(db: &Db) -> drift::Result<Image> {
    let raw = db.raw_read()?;
    let mut image = Image::new();
    for table in raw.table_names() {
        let mut all = Vec::new();
        let mut chunk = Vec::new();
        loop {
            chunk.clear();
            raw.chunk(table, all.last().map(|(k, _): &(Vec<u8>, Vec<u8>)| k.as_slice()), 256, &mut chunk)?;
            if chunk.is_empty() {
                break;
            }
            all.append(&mut chunk);
        }
        if table == "drift#meta" {
            normalise_history(&mut all);
        }
        image.insert(table.clone(), all);
    }
    Ok(image)
}

/// A migration's history record holds when it ran and for how long: the same
/// migration run twice differs there only, so those two fields are left out.
fn normalise_history(entries: &mut [(Vec<u8>, Vec<u8>)]) {
    for (key, value) in entries {
        if key.starts_with(b"history/") {
            let mut record: serde_json::Value = serde_json::from_slice(value).expect("a history record is JSON");
            if let Some(fields) = record.as_object_mut() {
                fields.remove("at_unix_ms");
                fields.remove("duration_ms");
            }
            *value = serde_json::to_vec(&record).unwrap();
        }
    }
}

/// Opens `bytes` on a healthy backend (no entity registered: the stored descriptors
/// say what is there), checks it, and returns its state.
/// The first entry where two images differ, for messages.
fn first_difference(a: &Image, b: &Image) -> String {
    for (t, ea) in a {
        let Some(eb) = b.get(t) else { return format!("table {t} only on one side") };
        for (x, y) in ea.iter().zip(eb) {
            if x != y {
                return format!(
                    "{t}: {:?} = {:?} against {:?} = {:?}",
                    String::from_utf8_lossy(&x.0),
                    String::from_utf8_lossy(&x.1),
                    String::from_utf8_lossy(&y.0),
                    String::from_utf8_lossy(&y.1)
                );
            }
        }
    }
    "no difference in shared tables".into()
}

/// Tables and their entry counts, for messages.
fn summary(image: &Image) -> String {
    image.iter().map(|(t, e)| format!("{t}:{}", e.len())).collect::<Vec<_>>().join(" ")
}

fn reopen(bytes: Vec<u8>) -> drift::Result<Image> {
    let db = Db::builder().open_backend(Disk::with_bytes(bytes))?;
    let report = db.check()?;
    assert!(report.is_ok(), "the image is not consistent: {report}");
    image_of(&db)
}

fn v1_builder() -> drift::DbBuilder {
    Db::builder().entity::<v1::Author>().entity::<v1::Post>()
}

fn v2_builder() -> drift::DbBuilder {
    Db::builder().entity::<v2::Author>().entity::<v2::Post>().migrations(Migrations::new())
}

fn author(email: &str) -> v1::Author {
    v1::Author { email: email.into(), name: email.to_uppercase(), ..Default::default() }
}

fn post(author_id: u64, score: i32, title: &str) -> v1::Post {
    v1::Post { author_id, score, title: title.into(), ..Default::default() }
}

/// What a run did: the state after each step that succeeded, or the first failure.
struct Run {
    /// Images after each acknowledged step (step 0: the open).
    acknowledged: usize,
    /// The error of the failed step.
    failed: Option<String>,
    /// The open `Db` when the failure struck, to be asked for its data.
    db: Option<Db>,
    /// The image after each acknowledged step, when `record` was set.
    images: Vec<Image>,
}

/// The workload. Each step is one transaction (or an open, a compaction, a close),
/// run until the first one fails.
fn run(disk: &Disk, record: bool) -> Run {
    let mut out = Run { acknowledged: 0, failed: None, db: None, images: Vec::new() };
    macro_rules! step {
        ($db:expr, $body:expr) => {{
            let r: drift::Result<()> = $body;
            match r {
                Ok(()) => {
                    if record {
                        out.images.push(image_of($db).unwrap());
                    }
                    out.acknowledged += 1;
                }
                Err(e) => {
                    out.failed = Some(e.to_string());
                    return out;
                }
            }
        }};
    }
    // Opens the database on the disk, an acknowledged step when it succeeds.
    macro_rules! open {
        ($builder:expr) => {{
            let db = match $builder.open_backend(disk.clone()) {
                Ok(db) => db,
                Err(e) => {
                    out.failed = Some(e.to_string());
                    return out;
                }
            };
            if record {
                out.images.push(image_of(&db).unwrap());
            }
            out.acknowledged += 1;
            out.db = Some(db.clone());
            db
        }};
    }
    let db = open!(v1_builder());
    step!(
        &db,
        db.write(|tx| {
            for e in ["ann@x", "bob@x", "cy@x"] {
                let a = tx.insert(&author(e))?;
                for i in 0..3 {
                    tx.insert(&post(a, i * 10, &format!("{e} {i}")))?;
                }
            }
            Ok(())
        })
    );
    step!(
        &db,
        db.write(|tx| {
            let mut bob = tx.get::<v1::Author>(&2)?.expect("bob");
            bob.email = "robert@x".into();
            tx.update(&bob)?;
            for mut p in tx.query::<v1::Post>().filter(v1::Post::SCORE.eq(10)).all()? {
                p.score = 15;
                tx.update(&p)?;
            }
            Ok(())
        })
    );
    // A cascade: ann's three posts go with her.
    step!(&db, db.write(|tx| tx.delete::<v1::Author>(&1).map(drop)));
    step!(
        &db,
        db.write(|tx| {
            tx.insert(&post(2, 7, "kept"))?;
            // Rolled back to the savepoint by the unique violation at its end.
            let undone = tx.savepoint(|tx| {
                tx.insert(&post(3, 8, "undone"))?;
                tx.delete::<v1::Author>(&3)?;
                tx.insert(&author("robert@x"))
            });
            assert_eq!(undone.unwrap_err().kind(), ErrorKind::UniqueViolation);
            // A statement that fails leaves the transaction as if it never ran.
            let dup = tx.insert(&author("cy@x")).unwrap_err();
            assert_eq!(dup.kind(), ErrorKind::UniqueViolation);
            tx.insert(&author("dee@x")).map(drop)
        })
    );
    step!(&db, db.compact().map(drop));
    out.db = None;
    drop(db);
    // The close writes too: a fault there must leave the last commit in the file.
    if disk.state().at_fault.is_some() {
        out.failed = Some("the close met the fault".into());
        return out;
    }
    let db = open!(v2_builder());
    step!(
        &db,
        db.write(|tx| {
            let mut p = tx.get::<v2::Post>(&5)?.expect("post 5");
            p.pinned = Some(true);
            tx.update(&p)?;
            tx.delete::<v2::Author>(&3).map(drop)
        })
    );
    out
}

#[test]
fn every_fault_point_leaves_a_committed_state_and_no_panic() {
    let clean = Disk::default();
    let reference = run(&clean, true);
    assert!(reference.failed.is_none(), "the workload runs without faults: {:?}", reference.failed);
    drop(reference.db);
    let total_calls = clean.state().calls;
    // Before the first step, nothing: what opening a fresh database with no entity gives
    // (the reopen of an image without tables stores the format mark).
    let nothing = image_of(&Db::builder().open_backend(Disk::default()).unwrap()).unwrap();
    let images: Vec<Image> = std::iter::once(nothing).chain(reference.images).collect();
    // The image a healthy reopen of the fault-free file gives is its last state.
    assert_eq!(&reopen(clean.state().bytes.clone()).unwrap(), images.last().unwrap());

    let mut points = 0;
    let mut landed_in_flight = 0;
    let mut refused_after = 0;
    let mut unopenable_new_files = 0;
    let mut closes_checked = 0;
    for at in 1..=total_calls {
        for kind in [Kind::Io, Kind::NoSpace, Kind::Torn] {
            for permanent in [false, true] {
                points += 1;
                let disk = Disk::default();
                disk.state().fault = Some(Fault { at, kind, permanent });
                let outcome = run(&disk, false);
                let what = format!("fault {kind:?} at call {at} of {total_calls} (permanent: {permanent})");
                let Some(err) = &outcome.failed else {
                    // The workload finished: the fault is in the last close, in a read
                    // of a view that was thrown away (the check before writing), or
                    // past the calls this run made. Whatever it met, the file holds
                    // the last commit.
                    drop(outcome.db);
                    let (at_fault, synced) = disk.state().at_fault.clone().unwrap_or_default();
                    let after = disk.state().bytes.clone();
                    for (name, bytes) in
                        [("at the fault", at_fault), ("synced by the fault", synced), ("after close", after)]
                    {
                        if bytes.is_empty() {
                            continue;
                        }
                        let image =
                            reopen(bytes).unwrap_or_else(|e| panic!("{what}: the image {name} does not reopen: {e}"));
                        if name == "after close" {
                            assert!(image == *images.last().unwrap(), "{what}: the image {name} lost the last commit");
                        } else {
                            // Taken when the fault struck, before the run went on.
                            assert!(images.contains(&image), "{what}: the image {name} is no committed state");
                        }
                        closes_checked += 1;
                    }
                    continue;
                };
                let ack = outcome.acknowledged;
                assert!(disk.state().at_fault.is_some() || ack == 0, "{what}: failed without a fault: {err}");
                // The Db that met the fault serves the last acknowledged state or refuses.
                if let Some(db) = &outcome.db {
                    disk.state().fault = None;
                    match image_of(db) {
                        Ok(seen) => assert!(
                            seen == images[ack],
                            "{what}: after `{err}` the Db serves a state that is not the last acknowledged one"
                        ),
                        Err(_) => refused_after += 1,
                    }
                }
                drop(outcome.db);
                let allowed =
                    |image: &Image| *image == images[ack] || images.get(ack + 1).is_some_and(|next| next == image);
                let (at_fault, synced) = disk.state().at_fault.clone().unwrap_or_default();
                let after = disk.state().bytes.clone();
                for (name, bytes) in
                    [("at the fault", at_fault), ("synced by the fault", synced), ("after close", after)]
                {
                    if bytes.is_empty() {
                        // Nothing reached the disk yet: there is no database to reopen.
                        assert!(ack <= 1, "{what}: the disk is empty {name} after {ack} acknowledged steps");
                        continue;
                    }
                    let image = match reopen(bytes) {
                        Ok(image) => image,
                        // A file whose creation the fault cut short held no commit yet.
                        Err(e) if ack == 0 => {
                            unopenable_new_files += 1;
                            let _ = e;
                            continue;
                        }
                        Err(e) => panic!("{what}: the image {name} does not reopen: {e}"),
                    };
                    assert!(
                        allowed(&image),
                        "{what}: the image {name} is no committed state (acknowledged {ack}): [{}], expected [{}] or [{}]; {}",
                        first_difference(&image, images.get(ack + 1).unwrap_or(&images[ack])),
                        summary(&image),
                        summary(&images[ack]),
                        images.get(ack + 1).map(summary).unwrap_or_default(),
                    );
                    let _ = first_difference;
                    if image != images[ack] {
                        landed_in_flight += 1;
                    }
                }
            }
        }
    }
    eprintln!(
        "fault injection: {points} fault points ({total_calls} storage calls x 3 kinds x transient/permanent); \
         {landed_in_flight} images held the commit in flight; the faulted Db refused to read {refused_after} times; \
         {unopenable_new_files} images of a file whose creation failed did not open; \
         {closes_checked} images of runs that went on after the fault checked"
    );
    assert!(points >= 100, "the workload makes too few storage calls to mean much: {total_calls}");
}
