//! More corners of `db.watch` and `db.query_stats`: `pending_bytes` after a resume, shapes
//! counted as untracked only once 1,024 are kept, one advice for one set of equality
//! fields whatever their order in the filter.

use drift::prelude::*;

#[derive(Entity, Debug, Clone, PartialEq, Default)]
struct Counter {
    #[drift(primary_key)]
    id: u64,
    value: u64,
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
    let db = Db::builder().entity::<Order>().in_memory().unwrap();
    db.write(|tx| {
        for id in 0..n {
            tx.insert(&Order { id, customer: id % 10, day: (id / 10 % 10) as u32, total: 5 })?;
        }
        Ok(())
    })
    .unwrap();
    db.reset_query_stats();
    db
}

/// `Hub::resume` (drift-core/src/watch.rs) now sets `queued_bytes = 0` for the commits
/// it replays, and `Watch::pending_bytes` returns `queued_bytes`: after a resume the
/// subscription reports commits buffered (`pending() > 0`) that hold no bytes, though
/// its doc says "How many bytes of keys and rows the buffered commits hold".
#[test]
fn pending_bytes_counts_the_commits_a_resume_buffered() {
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
    let db = orders(10);
    db.read(|tx| {
        for n in 1..=1_000u64 {
            let any = (0..n).map(|id| Order::ID.eq(id)).reduce(|a, b| a | b).unwrap();
            tx.query::<Order>().filter(any).count()?;
        }
        Ok(())
    })
    .unwrap();
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
