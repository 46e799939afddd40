//! Corners of `db.watch` and `db.query_stats`: commits numbered and delivered in commit
//! order under concurrent writers, resuming without a false lag, the history's memory
//! within its byte budget, a waker that drops its task not deadlocking the writer,
//! counts and iterators measured as what they did, a bounded shape record, advice that
//! follows an existing index's order (whatever the filter's order), `pending_bytes`
//! after a resume, shapes untracked only once 1,024 are kept.
//!
//! Every test takes `serial()`: two of them measure the heap with the counting
//! allocator below (the `cap` crate), which other tests running at the same time would
//! disturb.

use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, mpsc};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use drift::Change;
use drift::prelude::*;

#[global_allocator]
static ALLOC: cap::Cap<std::alloc::System> = cap::Cap::new(std::alloc::System, usize::MAX);

/// Bytes allocated and not yet freed.
fn live() -> isize {
    isize::try_from(ALLOC.allocated()).unwrap_or(isize::MAX)
}

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

const MIB: isize = 1 << 20;

#[derive(Entity, Debug, Clone, PartialEq, Default)]
struct Counter {
    #[drift(primary_key)]
    id: u64,
    value: u64,
}

#[derive(Entity, Debug, Clone, PartialEq, Default)]
struct Note {
    #[drift(primary_key)]
    id: u64,
    body: String,
}

/// Indexed on (customer, day).
#[derive(Entity, Debug, Clone, PartialEq, Default)]
#[drift(index(fields(customer, day)))]
struct Order {
    #[drift(primary_key)]
    id: u64,
    customer: u64,
    day: u32,
    total: u32,
}

fn orders(n: u64) -> Db {
    let db = Db::builder().entity::<Order>().entity::<Note>().in_memory().unwrap();
    db.write(|tx| {
        for id in 0..n {
            tx.insert(&Order { id, customer: id % 10, day: (id / 10 % 10) as u32, total: 5 })?;
        }
        for id in 0..100 {
            tx.insert(&Note { id, body: String::new() })?;
        }
        Ok(())
    })
    .unwrap();
    db.reset_query_stats();
    db
}

// ---------------------------------------------------------------------------------
// watch
// ---------------------------------------------------------------------------------

/// `WriteTx::commit` (drift-core/src/transaction/mod.rs) calls `store.commit`, which
/// lets redb's writer lock go, and only then `cache.end_commit` and `watch.publish`,
/// where the commit gets its number. The next writer can begin, commit and publish in
/// between: a later commit is numbered (and delivered) before an earlier one.
/// Each commit here raises one counter by one, so in commit order the values rise.
#[test]
fn commits_are_numbered_and_delivered_in_the_order_they_were_made() {
    let _s = serial();
    let db = Db::builder().entity::<Counter>().entity::<Note>().in_memory().unwrap();
    db.write(|tx| tx.insert(&Counter { id: 0, value: 0 }).map(drop)).unwrap();
    let mut seen = db.watch::<Counter>().unwrap().capacity(1 << 20).max_bytes(usize::MAX);
    let writers: Vec<_> = (0..6)
        .map(|_| {
            let db = db.clone();
            std::thread::spawn(move || {
                for _ in 0..1_500 {
                    db.write(|tx| {
                        let mut c = tx.get::<Counter>(&0)?.unwrap();
                        c.value += 1;
                        tx.update(&c)
                    })
                    .unwrap();
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    let mut out_of_order = Vec::new();
    let mut last: Option<(u64, u64)> = None;
    let mut n = 0;
    while let Some(commit) = seen.try_recv() {
        let commit = commit.unwrap();
        let value = match &commit.changes[..] {
            [Change::Update { new, .. }] => new.value,
            other => panic!("{other:?}"),
        };
        if let Some((seq, before)) = last {
            if value < before {
                out_of_order.push(format!("commit {seq} set {before}, then commit {} set {value}", commit.seq));
            }
        }
        last = Some((commit.seq, value));
        n += 1;
    }
    assert_eq!(n, 6 * 1_500);
    let shown = &out_of_order[..3.min(out_of_order.len())];
    assert!(out_of_order.is_empty(), "{} commits delivered before earlier ones, e.g. {shown:?}", out_of_order.len());
}

/// `Hub::resume` (drift-core/src/watch.rs) refills the buffer with every held commit
/// from `from` on, those of other entities included, and `Slot::offer` then counts
/// them against the capacity: a subscription that resumes is told it lagged at its
/// first commit, though it missed nothing of its entity. All limits are the defaults.
#[test]
fn resuming_does_not_make_the_next_commit_a_lag() {
    let _s = serial();
    let db = Db::builder().entity::<Counter>().entity::<Note>().in_memory().unwrap();
    for id in 0..1_024 {
        db.write(|tx| tx.insert(&Note { id, body: String::new() }).map(drop)).unwrap();
    }
    let probe = db.watch::<Counter>().unwrap();
    let oldest = probe.last_commit() - 1_023;
    let mut counters = db.watch::<Counter>().unwrap().resume_from(oldest).unwrap();
    db.write(|tx| tx.insert(&Counter { id: 1, value: 1 }).map(drop)).unwrap();
    let got = counters.recv_timeout(Duration::from_secs(5)).expect("a commit");
    match got {
        Ok(c) => assert!(matches!(&c.changes[..], [Change::Insert { new }] if new.id == 1)),
        Err(e) => panic!("the only Counter commit is reported as missed: {e}"),
    }
}

/// `Hub::publish` (drift-core/src/watch.rs) weighs a record by `changes.byte_len()`,
/// the arena's length, while the record keeps the arena's allocation: after a
/// savepoint undid a large write (`ChangeSet::undo_to` truncates, it does not shrink)
/// a commit of a few bytes holds megabytes. The history's 16 MiB byte budget
/// (default) then holds 40 such commits: over 40 MiB.
#[test]
fn the_history_byte_budget_bounds_the_memory_it_holds() {
    let _s = serial();
    let run = |hold: bool| -> isize {
        let b = Db::builder().entity::<Note>();
        let db = if hold { b } else { b.watch_history(0, 0) }.in_memory().unwrap();
        let before = live();
        for i in 0..40u64 {
            db.write(|tx| {
                let undone = tx.savepoint(|tx| {
                    tx.insert(&Note { id: 1_000_000 + i, body: "x".repeat(1 << 20) })?;
                    Err::<(), _>(drift::Error::NotFound { entity: "Note", key: "undo".into() })
                });
                assert!(undone.is_err());
                tx.insert(&Note { id: i, body: "small".into() }).map(drop)
            })
            .unwrap();
        }
        let held = live() - before;
        drop(db);
        held
    };
    let without = run(false);
    let with = run(true);
    let history = with - without;
    assert!(history <= 16 * MIB + 4 * MIB, "the history of 40 small commits holds {} MiB", history / MIB);
}

/// `Slot::wake` (drift-core/src/watch.rs) calls the stored waker inside `offer`, under
/// the slot's lock and the hub's lock that `Hub::publish` holds. A waker that drops
/// the last reference to its task (an executor that shut down: async-task, a futures
/// ThreadPool) drops the task's `WatchStream`, whose `Drop` locks the hub again: the
/// writer deadlocks in `commit`, and every later commit with it.
#[test]
fn waking_an_abandoned_task_does_not_deadlock_the_writer() {
    let _s = serial();
    type Stream = Pin<Box<drift::WatchStream<Counter>>>;
    /// A task of an executor that is gone: waking it drops it.
    struct Task(Mutex<Option<Stream>>);
    impl Wake for Task {
        fn wake(self: Arc<Self>) {}
    }
    let db = Db::builder().entity::<Counter>().in_memory().unwrap();
    {
        let task = Arc::new(Task(Mutex::new(Some(Box::pin(db.watch::<Counter>().unwrap().into_stream())))));
        let waker = Waker::from(Arc::clone(&task));
        let mut cx = Context::from_waker(&waker);
        let mut fut = task.0.lock().unwrap();
        let polled = futures::Stream::poll_next(fut.as_mut().unwrap().as_mut(), &mut cx);
        assert!(matches!(polled, Poll::Pending));
    }
    let (done, wait) = mpsc::channel();
    let writer = db.clone();
    std::thread::spawn(move || {
        let r = writer.write(|tx| tx.insert(&Counter { id: 1, value: 1 }).map(drop));
        let _ = done.send(r.map_err(|e| e.to_string()));
    });
    let r = wait.recv_timeout(Duration::from_secs(10));
    assert!(matches!(r, Ok(Ok(()))), "the commit did not return in 10 s: {r:?}");
}

// ---------------------------------------------------------------------------------
// query_stats
// ---------------------------------------------------------------------------------

/// `Query::count` and `Query::aggregate` (drift-core/src/query/mod.rs) record one row
/// returned, so `advise` (drift-core/src/query/workload.rs) counts every matching row
/// as read in vain: a count whose filter every row matches gets an index recommended
/// that would avoid no row (the same filter through `all()` gets none).
#[test]
fn a_count_that_matches_every_row_gets_no_index_advice() {
    let _s = serial();
    let db = orders(2_000);
    db.read(|tx| {
        for _ in 0..20 {
            assert_eq!(tx.query::<Order>().filter(Order::TOTAL.gt(0)).count()?, 2_000);
            assert_eq!(tx.query::<Order>().filter(Order::TOTAL.gt(0)).aggregate(drift::sum(Order::TOTAL))?, 10_000);
        }
        Ok(())
    })
    .unwrap();
    let stats = db.query_stats();
    assert!(stats.advice.is_empty(), "every row matches `total > ?`, an index on it avoids nothing:\n{stats}");
}

/// `QueryIter` measures its query from `iter()` to its drop, rows examined as the
/// transaction's `rows_decoded` counter moved meanwhile (drift-core/src/query/mod.rs,
/// `Observe::measure`): the queries the caller runs per row while it iterates (the
/// N+1 pattern) are counted again as rows the outer query examined, and the advisor
/// recommends an index for an outer query that returns every row it reads.
#[test]
fn rows_examined_by_an_iterator_are_its_own() {
    let _s = serial();
    let db = orders(20);
    db.read(|tx| {
        for o in tx.query::<Order>().filter(Order::TOTAL.gt(0)).iter()? {
            o?;
            tx.query::<Note>().all()?;
        }
        Ok(())
    })
    .unwrap();
    let stats = db.query_stats();
    let outer = stats.shapes.iter().find(|s| s.entity == "Order").unwrap();
    assert_eq!((outer.rows_examined, outer.rows_returned), (20, 20), "{stats}");
    assert!(stats.advice.is_empty(), "{stats}");
}

/// The same measure takes the time from `iter()` to the drop: the caller's work
/// between two `next()` calls is counted as the query's, which is then reported slow.
#[test]
fn an_iterators_time_is_the_querys_not_the_callers() {
    let _s = serial();
    let db = Db::builder().entity::<Order>().slow_query_threshold(Duration::from_millis(100)).in_memory().unwrap();
    db.write(|tx| {
        for id in 0..3 {
            tx.insert(&Order { id, ..Default::default() })?;
        }
        Ok(())
    })
    .unwrap();
    db.read(|tx| {
        for o in tx.query::<Order>().iter()? {
            o?;
            std::thread::sleep(Duration::from_millis(60)); // the caller's work
        }
        Ok(())
    })
    .unwrap();
    let stats = db.query_stats();
    assert_eq!(stats.shapes[0].slow_calls, 0, "a scan of 3 rows is not slow:\n{stats}");
}

/// `Workload::record` (drift-core/src/query/workload.rs) keeps every shape it sees,
/// with its text and plan, and never evicts one. A filter built from the request (an
/// `or` of the ids asked for) is a new shape per length: memory grows with the
/// square of the longest list, for as long as the database is open.
/// Counts orders `n` times, the `k`-th time with an `or` of `k` ids: `n` distinct
/// shapes, as a filter built from request data makes.
fn count_ors_of_ids(db: &Db, n: u64) {
    db.read(|tx| {
        for k in 1..=n {
            let any = (0..k).map(|id| Order::ID.eq(id)).reduce(|a, b| a | b).unwrap();
            tx.query::<Order>().filter(any).count()?;
        }
        Ok(())
    })
    .unwrap();
}

#[test]
fn the_shape_map_is_bounded() {
    let _s = serial();
    let db = orders(10);
    let before = live();
    count_ors_of_ids(&db, 1_200);
    let grown = live() - before;
    let shapes = db.query_stats().shapes.len();
    assert!(grown < 8 * MIB, "{shapes} shapes held, {} MiB", grown / MIB);
}

/// `served` (drift-core/src/query/workload.rs) asks whether an index leads with the
/// recommended fields in the order the filter names them; equality fields can come in
/// any order, so an existing (customer, day) index is not seen for a filter written
/// `day = ? and customer = ?`.
#[test]
fn an_index_is_not_recommended_when_one_with_the_same_equality_fields_exists() {
    let _s = serial();
    let db = orders(2_000);
    db.read(|tx| {
        for c in 0..10 {
            tx.query::<Order>().filter(Order::DAY.eq(3) & Order::CUSTOMER.eq(c) & Order::TOTAL.gt(5)).all()?;
        }
        Ok(())
    })
    .unwrap();
    let stats = db.query_stats();
    let fields: Vec<&Vec<String>> = stats.advice.iter().map(|a| &a.fields).collect();
    assert!(
        stats.advice.iter().all(|a| a.fields.starts_with(&["customer".to_string(), "day".to_string()])),
        "the advice should extend the (customer, day) index: {fields:?}\n{stats}"
    );
}

/// `Hub::resume` (drift-core/src/watch.rs) now sets `queued_bytes = 0` for the commits
/// it replays, and `Watch::pending_bytes` returns `queued_bytes`: after a resume the
/// subscription reports commits buffered (`pending() > 0`) that hold no bytes, though
/// its doc says "How many bytes of keys and rows the buffered commits hold".
#[test]
fn pending_bytes_counts_the_commits_a_resume_buffered() {
    let _s = serial();
    let db = Db::builder().entity::<Counter>().in_memory().unwrap();
    let first = db.watch::<Counter>().unwrap().last_commit() + 1;
    for id in 0..10 {
        db.write(|tx| tx.insert(&Counter { id, value: id }).map(drop)).unwrap();
    }
    let w = db.watch::<Counter>().unwrap().resume_from(first).unwrap();
    assert_eq!(w.pending(), 10);
    assert!(w.pending_bytes() > 0, "{} commits buffered, pending_bytes() = {}", w.pending(), w.pending_bytes());
}

/// `Workload::status`/`record` (drift-core/src/query/workload.rs) cap each of the 16
/// shards at 64 shapes: a shard fills while the others have room, and a new shape is
/// then counted in `untracked_calls`, documented as "Queries of shapes beyond the
/// 1,024 kept", with far fewer than 1,024 shapes kept.
#[test]
fn calls_are_untracked_only_once_1024_shapes_are_kept() {
    let _s = serial();
    let db = orders(10);
    count_ors_of_ids(&db, 1_000);
    let stats = db.query_stats();
    assert_eq!(
        stats.untracked_calls,
        0,
        "1,000 distinct shapes (< 1,024): {} kept, {} calls untracked",
        stats.shapes.len(),
        stats.untracked_calls
    );
}

/// `index_order` (drift-core/src/query/workload.rs) follows an existing index only when
/// it leads with exactly the equality fields; when an index covers some of them the
/// filter's order is kept, so the same three equality fields written in two orders
/// get two different indexes recommended, neither extending (customer, day).
#[test]
fn equality_fields_in_another_order_get_one_advice_extending_the_index() {
    let _s = serial();
    let db = orders(2_000);
    db.read(|tx| {
        for c in 0..10 {
            tx.query::<Order>().filter(Order::DAY.eq(3) & Order::CUSTOMER.eq(c) & Order::TOTAL.eq(6)).all()?;
            tx.query::<Order>().filter(Order::CUSTOMER.eq(c) & Order::TOTAL.eq(6) & Order::DAY.eq(3)).all()?;
        }
        Ok(())
    })
    .unwrap();
    let stats = db.query_stats();
    let fields: Vec<&Vec<String>> = stats.advice.iter().map(|a| &a.fields).collect();
    assert_eq!(stats.advice.len(), 1, "one index serves both shapes: {fields:?}\n{stats}");
    assert!(
        stats.advice[0].fields.starts_with(&["customer".to_string(), "day".to_string()]),
        "the advice should extend the (customer, day) index: {fields:?}\n{stats}"
    );
}
