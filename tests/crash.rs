//! kill -9 at random moments: a writer process commits in a loop and is killed; the
//! file it leaves must open, pass `db.check()`, and hold exactly the commits the
//! writer acknowledged, plus at most the one it was making when it died.
//!
//! The writer is this test binary run again (`crash_writer`, ignored, so only the
//! parent starts it). Each commit's content is a function of its sequence number and
//! the state before it (`plan`), so the parent rebuilds the expected state after any
//! number of commits. Every commit also stores its sequence number and the last keys
//! its inserts took, so the rounds share one file: each writer resumes from the state
//! the last one left, which the parent has checked.
//!
//! `DRIFT_CRASH_ROUNDS` sets the number of rounds (default 30; `.ci/run --long` runs
//! 1,000 in release), `DRIFT_CRASH_SEED` the seed of the kill delays.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use drift::ErrorKind;
use drift::prelude::*;

const DB_VAR: &str = "DRIFT_CRASH_CHILD_DB";
const LOG_VAR: &str = "DRIFT_CRASH_CHILD_LOG";
const CHILD_TEST: &str = "crash_writer";
/// A writer whose parent is gone stops by itself after this long; a parent kills its
/// writer within 80 ms.
const WRITER_LIFETIME: Duration = Duration::from_secs(60);
const DEFAULT_ROUNDS: u64 = 30;
/// The error a savepoint returns to be rolled back.
const ROLLBACK: &str = "savepoint rolled back on purpose";

#[derive(Entity, Debug, Clone, PartialEq, Default)]
#[drift(table = "crash_authors")]
pub struct Author {
    #[drift(primary_key, auto_increment)]
    pub id: u64,
    #[drift(unique)]
    pub email: String,
    #[drift(index)]
    pub rank: u32,
    pub name: String,
    #[drift(has_many(Book, foreign_key = author_id))]
    pub books: HasMany<Book>,
}

#[derive(Entity, Debug, Clone, PartialEq, Default)]
#[drift(table = "crash_books")]
pub struct Book {
    #[drift(primary_key, auto_increment)]
    pub id: u64,
    #[drift(index)]
    pub author_id: u64,
    #[drift(unique)]
    pub isbn: String,
    #[drift(index)]
    pub pages: u32,
    pub title: String,
    #[drift(belongs_to(Author, key = author_id, on_delete = cascade))]
    pub author: BelongsTo<Author>,
}

/// One row, which every commit writes: its sequence number and the last keys the
/// inserts took, so that a writer resumes from the file alone.
#[derive(Entity, Debug, Clone, PartialEq, Default)]
#[drift(table = "crash_progress")]
pub struct Progress {
    #[drift(primary_key)]
    pub slot: u8,
    pub seq: u64,
    pub last_author: u64,
    pub last_book: u64,
}

fn open(path: &Path) -> Result<Db> {
    Db::builder().entity::<Author>().entity::<Book>().entity::<Progress>().open(path)
}

/// splitmix64: the kill delays (from the seed) and each commit's content (from its
/// sequence number).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn below_u32(&mut self, n: u32) -> u32 {
        u32::try_from(self.below(u64::from(n))).expect("below a u32")
    }

    /// A key of `map`, or `None` when it is empty.
    fn pick<V>(&mut self, map: &BTreeMap<u64, V>) -> Option<u64> {
        let len = u64::try_from(map.len()).expect("a length fits u64");
        let nth = usize::try_from(self.below(len.max(1))).expect("below a usize length");
        map.keys().nth(nth).copied()
    }
}

/// The expected content of the file after `seq` commits.
#[derive(Clone, Debug, Default)]
struct Model {
    seq: u64,
    authors: BTreeMap<u64, Author>,
    books: BTreeMap<u64, Book>,
    /// The keys the last committed inserts took: `auto_increment` never reuses one.
    last_author: u64,
    last_book: u64,
}

/// One statement of a commit, or a savepoint around several.
#[derive(Debug)]
enum Step {
    /// Inserts an author, then its books (isbn, pages).
    InsertAuthor { email: String, rank: u32, books: Vec<(String, u32)> },
    /// Sets an author's unique and indexed fields.
    UpdateAuthor { id: u64, email: String, rank: u32 },
    /// Sets a book's indexed field.
    UpdateBook { id: u64, pages: u32 },
    /// Deletes an author; its books go by cascade.
    DeleteAuthor { id: u64 },
    /// Inserts an author with a taken email: the statement fails and leaves nothing.
    DuplicateEmail { email: String },
    /// Runs the steps in a savepoint that is kept or rolled back.
    Savepoint { steps: Vec<Step>, keep: bool },
}

/// Fresh unique values for commit `seq`.
struct Names {
    seq: u64,
    made: u32,
}

impl Names {
    fn fresh(&mut self, prefix: &str) -> String {
        self.made += 1;
        format!("{prefix}{}.{}", self.seq, self.made)
    }

    fn insert_author(&mut self, rng: &mut Rng) -> Step {
        let email = self.fresh("a") + "@x";
        let books = (0..rng.below(4)).map(|_| (self.fresh("isbn-"), rng.below_u32(900))).collect();
        Step::InsertAuthor { email, rank: rng.below_u32(50), books }
    }
}

/// The statements of commit `seq`, made on the state `m` after the commits before it.
/// A commit never names a row that an earlier statement of the same commit deleted.
fn plan(seq: u64, m: &Model) -> Vec<Step> {
    let mut rng = Rng(seq);
    let mut names = Names { seq, made: 0 };
    // Below 120 authors a commit adds 0.4 authors on average, above it takes away 0.2:
    // the file stays near 120 authors and their books, split over many pages.
    let (inserts, updates) = if m.authors.len() < 120 { (40, 60) } else { (0, 40) };
    let roll = rng.below(100);
    let (Some(a), Some(b), Some(book)) = (rng.pick(&m.authors), rng.pick(&m.authors), rng.pick(&m.books)) else {
        return vec![names.insert_author(&mut rng)];
    };
    if roll < inserts {
        vec![names.insert_author(&mut rng)]
    } else if roll < updates {
        let email = names.fresh("u") + "@x";
        vec![
            Step::UpdateAuthor { id: a, email: email.clone(), rank: rng.below_u32(50) },
            Step::DuplicateEmail { email },
            Step::UpdateBook { id: book, pages: rng.below_u32(900) },
        ]
    } else if roll < 80 {
        // The deleted author's email is free again in the same commit.
        let email = m.authors[&a].email.clone();
        let mut steps = vec![Step::DeleteAuthor { id: a }];
        if b != a {
            steps.push(Step::DeleteAuthor { id: b });
        }
        steps.push(Step::InsertAuthor { email, rank: rng.below_u32(50), books: vec![(names.fresh("isbn-"), 1)] });
        steps
    } else {
        // Kept work, a savepoint kept, one rolled back (which also undoes a change the
        // kept one made), then an insert that takes the keys the rolled-back one took.
        let kept_email = names.fresh("k") + "@x";
        // a's email once the kept savepoint ran, whatever the undone one did to it.
        let taken = if a == b { kept_email.clone() } else { m.authors[&a].email.clone() };
        let kept = Step::UpdateAuthor { id: b, email: kept_email, rank: rng.below_u32(50) };
        let mut undone = vec![Step::DeleteAuthor { id: a }, names.insert_author(&mut rng)];
        if b != a {
            undone.push(Step::UpdateAuthor { id: b, email: names.fresh("r") + "@x", rank: rng.below_u32(50) });
        }
        vec![
            Step::UpdateBook { id: book, pages: rng.below_u32(900) },
            Step::Savepoint { steps: vec![kept], keep: true },
            Step::Savepoint { steps: undone, keep: false },
            Step::DuplicateEmail { email: taken },
            names.insert_author(&mut rng),
        ]
    }
}

impl Model {
    /// The model after the next commit.
    fn advance(&mut self) {
        let steps = plan(self.seq + 1, self);
        for step in &steps {
            self.apply(step);
        }
        self.seq += 1;
    }

    fn advance_to(&mut self, seq: u64) {
        while self.seq < seq {
            self.advance();
        }
    }

    fn apply(&mut self, step: &Step) {
        match step {
            Step::InsertAuthor { email, rank, books } => {
                self.last_author += 1;
                let author_id = self.last_author;
                let name = format!("author {author_id}");
                let author = Author { id: author_id, email: email.clone(), rank: *rank, name, ..Author::default() };
                self.authors.insert(author_id, author);
                for (isbn, pages) in books {
                    self.last_book += 1;
                    let title = format!("title of {isbn}");
                    let (id, isbn, pages) = (self.last_book, isbn.clone(), *pages);
                    self.books.insert(id, Book { id, author_id, isbn, pages, title, ..Book::default() });
                }
            }
            Step::UpdateAuthor { id, email, rank } => {
                let author = self.authors.get_mut(id).expect("planned on an existing author");
                author.email.clone_from(email);
                author.rank = *rank;
            }
            Step::UpdateBook { id, pages } => {
                self.books.get_mut(id).expect("planned on an existing book").pages = *pages;
            }
            Step::DeleteAuthor { id } => {
                self.authors.remove(id);
                self.books.retain(|_, book| book.author_id != *id);
            }
            Step::DuplicateEmail { .. } | Step::Savepoint { keep: false, .. } => {}
            Step::Savepoint { steps, keep: true } => {
                for step in steps {
                    self.apply(step);
                }
            }
        }
    }

    fn progress(&self) -> Progress {
        Progress { slot: 0, seq: self.seq, last_author: self.last_author, last_book: self.last_book }
    }

    fn contents(&self) -> Contents {
        let progress = (self.seq > 0).then(|| self.progress()).into_iter().collect();
        Contents {
            progress,
            authors: self.authors.values().cloned().collect(),
            books: self.books.values().cloned().collect(),
        }
    }
}

/// Runs `steps` in `tx` and on `m` side by side; checks every key the database assigns
/// and every row it returns against the model.
fn execute(tx: &mut WriteTx, m: &mut Model, steps: &[Step]) -> Result<()> {
    for step in steps {
        match step {
            Step::InsertAuthor { .. } => {
                let (author_id, first_book) = (m.last_author + 1, m.last_book + 1);
                m.apply(step);
                let key = tx.insert(&Author { id: 0, ..m.authors[&author_id].clone() })?;
                assert_eq!(key, author_id, "auto_increment takes the key after the last committed one");
                for (&book_id, book) in m.books.range(first_book..) {
                    let key = tx.insert(&Book { id: 0, ..book.clone() })?;
                    assert_eq!(key, book_id, "auto_increment takes the key after the last committed one");
                }
            }
            Step::UpdateAuthor { id, .. } => {
                m.apply(step);
                tx.update(&m.authors[id])?;
            }
            Step::UpdateBook { id, .. } => {
                m.apply(step);
                tx.update(&m.books[id])?;
            }
            Step::DeleteAuthor { id } => {
                let deleted = tx.delete::<Author>(id)?;
                assert_eq!(deleted.as_ref(), m.authors.get(id), "delete returns the stored row");
                m.apply(step);
            }
            Step::DuplicateEmail { email } => {
                let err = tx.insert(&Author { email: email.clone(), ..Author::default() }).unwrap_err();
                assert_eq!(err.kind(), ErrorKind::UniqueViolation, "{err}");
            }
            Step::Savepoint { steps, keep } => {
                let kept = tx.savepoint(|tx| {
                    let mut scratch = m.clone();
                    execute(tx, &mut scratch, steps)?;
                    if *keep { Ok(scratch) } else { Err(Error::NotFound { entity: "Author", key: ROLLBACK.into() }) }
                });
                match kept {
                    Ok(scratch) => *m = scratch,
                    Err(Error::NotFound { key, .. }) if key == ROLLBACK => {}
                    Err(e) => return Err(e),
                }
            }
        }
    }
    Ok(())
}

/// Makes commit `m.seq + 1` and, once it is committed, advances `m` to it.
fn commit_next(db: &Db, m: &mut Model) -> Result<()> {
    let seq = m.seq + 1;
    let steps = plan(seq, m);
    let next = db.write(|tx| {
        let mut next = m.clone();
        execute(tx, &mut next, &steps)?;
        next.seq = seq;
        tx.upsert(&next.progress())?;
        Ok(next)
    })?;
    *m = next;
    Ok(())
}

/// Every row of every entity, in key order.
struct Contents {
    progress: Vec<Progress>,
    authors: Vec<Author>,
    books: Vec<Book>,
}

impl Contents {
    fn read(db: &Db) -> Result<Contents> {
        db.read(|tx| {
            Ok(Contents {
                progress: tx.query::<Progress>().all()?,
                authors: tx.query::<Author>().all()?,
                books: tx.query::<Book>().all()?,
            })
        })
    }

    fn seq(&self) -> u64 {
        self.progress.first().map_or(0, |p| p.seq)
    }

    /// The model these contents are the state of, trusted as they are.
    fn into_model(self) -> Model {
        let p = self.progress.first().cloned().unwrap_or_default();
        Model {
            seq: p.seq,
            authors: self.authors.into_iter().map(|a| (a.id, a)).collect(),
            books: self.books.into_iter().map(|b| (b.id, b)).collect(),
            last_author: p.last_author,
            last_book: p.last_book,
        }
    }

    /// Where `self` differs from `expected`: the first differing row of each entity.
    fn differences(&self, expected: &Contents) -> Vec<String> {
        let mut out = Vec::new();
        difference(&mut out, "progress", &self.progress, &expected.progress);
        difference(&mut out, "authors", &self.authors, &expected.authors);
        difference(&mut out, "books", &self.books, &expected.books);
        out
    }
}

fn difference<T: PartialEq + std::fmt::Debug>(out: &mut Vec<String>, what: &str, found: &[T], expected: &[T]) {
    if found != expected {
        let i = found.iter().zip(expected).take_while(|(f, e)| f == e).count();
        out.push(format!(
            "{what}: {} rows, {} expected; row {i} is {:?}, expected {:?}",
            found.len(),
            expected.len(),
            found.get(i),
            expected.get(i)
        ));
    }
}

/// The writer: run by the crash test in a process of its own, with the file and the
/// log in `DRIFT_CRASH_CHILD_DB` and `DRIFT_CRASH_CHILD_LOG`. It commits until it is
/// killed, and after each commit appends the commit's sequence number to the log.
#[test]
#[ignore = "the writer process of kill_9_leaves_exactly_the_acknowledged_commits, which runs it"]
fn crash_writer() {
    let (Some(db_path), Some(log_path)) = (std::env::var_os(DB_VAR), std::env::var_os(LOG_VAR)) else {
        return;
    };
    let db = open(Path::new(&db_path)).expect("the writer opens the file");
    // The parent has checked the file against its model before starting this writer.
    let mut m = Contents::read(&db).expect("the writer reads the file").into_model();
    let mut log = OpenOptions::new().append(true).open(log_path).expect("the log exists");
    let deadline = Instant::now() + WRITER_LIFETIME;
    while Instant::now() < deadline {
        commit_next(&db, &mut m).expect("a commit succeeds");
        // One write() of the whole line, no fsync: the process is killed, not the
        // machine, so once write() returns the line is in the kernel's page cache, and
        // the parent reads the log only after the writer is dead.
        log.write_all(format!("{}\n", m.seq).as_bytes()).expect("the log takes a line");
    }
}

/// A running writer; killed when dropped, so a failing parent leaves none behind.
struct Writer(Child);

impl Writer {
    fn spawn(db: &Path, log: &Path, stderr: &Path) -> Writer {
        let exe = std::env::current_exe().expect("the test binary's path");
        let child = Command::new(exe)
            .args(["--exact", CHILD_TEST, "--nocapture", "--ignored"])
            .env(DB_VAR, db)
            .env(LOG_VAR, log)
            .stdout(Stdio::null())
            .stderr(File::create(stderr).expect("the writer's stderr file"))
            .spawn()
            .expect("the writer starts");
        Writer(child)
    }

    /// Kills the writer (SIGKILL on Unix) and waits for it.
    fn kill(&mut self) -> ExitStatus {
        // An error here means the writer had already exited; the status says why.
        let _ = self.0.kill();
        self.0.wait().expect("the writer is waited for")
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[cfg(unix)]
fn killed(status: ExitStatus) -> bool {
    use std::os::unix::process::ExitStatusExt;
    status.signal() == Some(9)
}

#[cfg(not(unix))]
fn killed(status: ExitStatus) -> bool {
    // `Child::kill` is `TerminateProcess(.., 1)`; a panicking writer exits with 101.
    status.code() == Some(1)
}

/// The log's sequence numbers from byte `from` on, and where its complete lines end.
/// Each is larger than the one before.
fn read_log(path: &Path, from: usize, mut last: u64) -> (u64, u64, usize) {
    let text = std::fs::read_to_string(path).expect("the log reads");
    // A line is one write(), which a kill does not tear; a tail without its newline
    // would be ignored all the same, as its commit is at most the one in flight.
    let end = text.rfind('\n').map_or(0, |i| i + 1).max(from);
    let mut count = 0;
    for line in text[from..end].lines() {
        let seq: u64 = line.parse().unwrap_or_else(|e| panic!("log line {line:?}: {e}"));
        assert!(seq > last, "the log goes {last} then {seq}");
        (last, count) = (seq, count + 1);
    }
    (last, count, end)
}

fn env_u64(name: &str) -> Option<u64> {
    let value = std::env::var(name).ok()?;
    Some(value.parse().unwrap_or_else(|e| panic!("{name}={value}: {e}")))
}

#[test]
fn kill_9_leaves_exactly_the_acknowledged_commits() {
    let rounds = env_u64("DRIFT_CRASH_ROUNDS").unwrap_or(DEFAULT_ROUNDS);
    let seed = env_u64("DRIFT_CRASH_SEED").unwrap_or_else(|| {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("after 1970");
        u64::from(now.subsec_nanos()) ^ now.as_secs()
    });
    eprintln!("crash: seed {seed} (DRIFT_CRASH_SEED={seed} repeats the kill delays), {rounds} rounds");
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let (db_path, log_path, stderr_path) =
        (dir.path().join("crash.drift"), dir.path().join("acknowledged.log"), dir.path().join("writer.stderr"));
    File::create(&log_path).unwrap();
    let mut rng = Rng(seed);
    // The state the file was last seen to hold.
    let mut m = Model::default();
    let (mut log_end, mut acknowledged, mut landed, mut committed_nothing) = (0, 0, 0, 0);
    for round in 1..=rounds {
        let mut writer = Writer::spawn(&db_path, &log_path, &stderr_path);
        // Not a synchronisation: the moment of the kill is the thing tested.
        std::thread::sleep(Duration::from_millis(5 + rng.below(76)));
        let status = writer.kill();
        let at = format!("round {round} (seed {seed})");
        assert!(
            killed(status),
            "{at}: the writer ended by itself ({status}):\n{}",
            std::fs::read_to_string(&stderr_path).unwrap_or_default()
        );

        let (last, count, end) = read_log(&log_path, log_end, m.seq);
        log_end = end;
        acknowledged += count;
        // Acknowledged: what the log says, and what the last round found in the file.
        let n = last.max(m.seq);
        m.advance_to(n);
        let db = open(&db_path).unwrap_or_else(|e| panic!("{at}: the file does not open: {e}"));
        let report = db.check().unwrap_or_else(|e| panic!("{at}: check fails: {e}"));
        assert!(report.is_ok(), "{at}: {report}");
        let found = Contents::read(&db).unwrap_or_else(|e| panic!("{at}: the file does not read: {e}"));
        let seq = found.seq();
        assert!(
            seq == n || seq == n + 1,
            "{at}: the file holds {seq} commits; {n} were acknowledged, so it must hold {n} or {}",
            n + 1
        );
        if seq == n + 1 {
            landed += 1;
            m.advance();
        } else if count == 0 {
            committed_nothing += 1;
        }
        let differences = found.differences(&m.contents());
        assert!(differences.is_empty(), "{at}: the file differs from the model after {seq} commits: {differences:#?}");
    }

    // Rounds where the writer got nothing done test nothing: most rounds must commit.
    assert!(
        committed_nothing * 2 <= rounds,
        "{committed_nothing} of {rounds} rounds were killed before their writer committed anything"
    );
    assert!(acknowledged > 0, "no commit was acknowledged in {rounds} rounds");
    // The last file still takes commits, with the keys the model expects.
    let db = open(&db_path).unwrap();
    commit_next(&db, &mut m).unwrap();
    let differences = Contents::read(&db).unwrap().differences(&m.contents());
    assert!(differences.is_empty(), "the commit after the last round: {differences:#?}");
    eprintln!(
        "crash: {rounds} rounds in {:.1} s: {acknowledged} commits acknowledged, the one in flight landed in \
         {landed} rounds, {committed_nothing} rounds killed before their writer committed; \
         the file holds {} commits, {} authors, {} books",
        started.elapsed().as_secs_f64(),
        m.seq,
        m.authors.len(),
        m.books.len()
    );
}
