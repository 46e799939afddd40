//! The `tracing` feature: write and read transactions are spans, each query reports its
//! entity, shape, rows and time inside them, and a query at or over the slow-query
//! threshold is a warning that carries its plan.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use drift::prelude::*;

#[derive(Entity, Debug, Clone, PartialEq)]
struct Item {
    #[drift(primary_key)]
    id: u64,
    #[drift(index)]
    kind: u32,
    weight: u32,
}

/// Everything a subscriber writes, shared with the test.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

fn capture(level: tracing::Level, f: impl FnOnce()) -> String {
    let out = Captured::default();
    let writer = out.clone();
    let subscriber =
        tracing_subscriber::fmt().with_max_level(level).with_ansi(false).with_writer(move || writer.clone()).finish();
    tracing::subscriber::with_default(subscriber, f);
    out.text()
}

fn db(builder: drift::DbBuilder) -> Db {
    let db = builder.entity::<Item>().in_memory().unwrap();
    db.write(|tx| {
        for id in 0..300 {
            tx.insert(&Item { id, kind: (id % 3) as u32, weight: (id % 50) as u32 })?;
        }
        Ok(())
    })
    .unwrap();
    db
}

#[test]
fn queries_are_reported_inside_their_transaction_span() {
    let db = db(Db::builder());
    let out = capture(tracing::Level::DEBUG, || {
        db.read(|tx| tx.query::<Item>().filter(Item::KIND.eq(1)).limit(5).all()).unwrap();
        db.write(|tx| tx.insert(&Item { id: 1_000, kind: 2, weight: 1 }).map(drop)).unwrap();
    });
    let query = out.lines().find(|l| l.contains("drift::query")).unwrap_or_else(|| panic!("a query event:\n{out}"));
    assert!(query.contains("drift.read"), "inside the read span: {query}");
    assert!(query.contains("drift.query{entity=\"Item\"}"), "{query}");
    assert!(query.contains("shape=Item where kind = ? limit ? (rows)"), "{query}");
    assert!(query.contains("rows_returned=5"), "{query}");
    assert!(query.contains("access=Index range on `kind`"), "the plan's access line: {query}");
    let commit = out.lines().find(|l| l.contains("drift::commit")).unwrap_or_else(|| panic!("a commit event:\n{out}"));
    assert!(commit.contains("drift.write") && commit.contains("attempt=1"), "inside the write span: {commit}");
    assert!(commit.contains("changes=1"), "{commit}");
}

#[test]
fn a_slow_query_is_a_warning_with_its_plan() {
    let db = db(Db::builder().slow_query_threshold(Duration::ZERO));
    let out = capture(tracing::Level::WARN, || {
        db.read(|tx| tx.query::<Item>().filter(Item::WEIGHT.gt(40)).all()).unwrap();
    });
    assert!(out.contains("WARN") && out.contains("drift::slow_query"), "{out}");
    assert!(out.contains("shape=Item where weight > ? (rows)"), "{out}");
    assert!(out.contains("Full scan"), "the plan: {out}");
    assert!(out.contains("rows_examined=300"), "{out}");
    assert!(!out.contains("drift::query"), "no debug events at WARN: {out}");
}

#[test]
fn without_a_threshold_nothing_is_logged_at_warn() {
    let db = db(Db::builder());
    let out = capture(tracing::Level::WARN, || {
        db.read(|tx| tx.query::<Item>().filter(Item::WEIGHT.gt(40)).all()).unwrap();
    });
    assert!(out.is_empty(), "{out}");
}
