//! The workload analyzer: `db.query_stats()` counts queries by shape and recommends
//! the indexes that would help the workload as a whole.

use std::time::Duration;

use drift::prelude::*;

/// Orders: indexed by status only. The workload below looks orders up by customer and
/// date range, most of the time: its best index is (customer, day).
#[derive(Entity, Debug, Clone, PartialEq)]
struct Order {
    #[drift(primary_key)]
    id: u64,
    customer: u64,
    day: u32,
    #[drift(index)]
    status: String,
    total: u32,
}

fn seeded(builder: drift::DbBuilder) -> Db {
    let db = builder.entity::<Order>().in_memory().unwrap();
    db.write(|tx| {
        for id in 0..2_000u64 {
            let status = if id % 10 == 0 { "open" } else { "shipped" };
            tx.insert(&Order { id, customer: id % 100, day: (id / 10) as u32, status: status.into(), total: 5 })?;
        }
        Ok(())
    })
    .unwrap();
    db.reset_query_stats();
    db
}

#[test]
fn queries_are_counted_by_shape_whatever_their_values() {
    let db = seeded(Db::builder());
    db.read(|tx| {
        for c in 0..30 {
            tx.query::<Order>().filter(Order::CUSTOMER.eq(c) & Order::DAY.gte(50)).all()?;
        }
        for _ in 0..5 {
            tx.query::<Order>().filter(Order::STATUS.eq("open")).count()?;
        }
        Ok(())
    })
    .unwrap();
    let stats = db.query_stats();
    assert_eq!(stats.shapes.len(), 2, "{stats}");
    let by_customer = stats.shapes.iter().find(|s| s.shape.contains("customer")).unwrap();
    assert_eq!(by_customer.shape, "Order where customer = ? and day >= ? (rows)");
    assert_eq!(by_customer.calls, 30);
    assert_eq!(by_customer.rows_examined, 30 * 2_000, "a full scan each time");
    assert!(by_customer.rows_returned < by_customer.rows_examined / 10);
    assert!(by_customer.worst_time >= by_customer.mean_time());
    assert!(by_customer.plan.contains("Full scan"), "{}", by_customer.plan);
    let by_status = stats.shapes.iter().find(|s| s.shape.contains("status")).unwrap();
    assert_eq!(by_status.shape, "Order where status = ? (count)");
    assert_eq!(by_status.calls, 5);
    assert_eq!(by_status.rows_returned, 5 * 200, "a count returns the rows it counted");
    assert!(by_status.plan.contains("status"), "served by the status index: {}", by_status.plan);
}

#[test]
fn the_advisor_recommends_the_index_that_serves_the_workload_best() {
    let db = seeded(Db::builder());
    db.read(|tx| {
        // The heavy shape: customer and a day range.
        for c in 0..40 {
            tx.query::<Order>().filter(Order::CUSTOMER.eq(c) & Order::DAY.between(20, 120)).all()?;
        }
        // The same customer alone: served by the same index's prefix.
        for c in 0..10 {
            tx.query::<Order>().filter(Order::CUSTOMER.eq(c)).count()?;
        }
        // Already indexed: needs nothing.
        for _ in 0..40 {
            tx.query::<Order>().filter(Order::STATUS.eq("open")).all()?;
        }
        // Returns everything it reads: needs nothing.
        tx.query::<Order>().all()?;
        Ok(())
    })
    .unwrap();
    let stats = db.query_stats();
    // The README's "Workload analysis" shows this report (`--nocapture`).
    println!("{stats}");
    assert_eq!(stats.advice.len(), 1, "{stats}");
    let best = &stats.advice[0];
    assert_eq!(best.entity, "Order");
    assert_eq!(best.fields, ["customer", "day"], "equality first, then the range");
    assert_eq!(best.attribute, "#[drift(index(fields(customer, day)))] on the struct");
    assert_eq!(best.shapes.len(), 2, "it also serves the customer-only count: {:?}", best.shapes);
    assert!(best.rows_avoided > 40 * 1_900, "{}", best.rows_avoided);
}

#[test]
fn an_order_with_a_limit_is_recommended_after_the_equality_fields() {
    let db = seeded(Db::builder());
    db.read(|tx| {
        for c in 0..20 {
            tx.query::<Order>().filter(Order::CUSTOMER.eq(c)).order_by(Order::DAY.desc()).limit(3).all()?;
        }
        Ok(())
    })
    .unwrap();
    let stats = db.query_stats();
    assert_eq!(stats.advice[0].fields, ["customer", "day"], "{stats}");
    assert_eq!(stats.shapes[0].shape, "Order where customer = ? order by day desc limit ? (rows)");
}

#[test]
fn iterators_and_aggregates_are_counted_too() {
    let db = seeded(Db::builder());
    db.read(|tx| {
        let first_five: Vec<Order> = tx.query::<Order>().iter()?.take(5).collect::<drift::Result<_>>()?;
        assert_eq!(first_five.len(), 5);
        tx.query::<Order>().filter(Order::STATUS.eq("open")).first()?;
        tx.query::<Order>().filter(Order::DAY.lt(10)).aggregate(drift::sum(Order::TOTAL))?;
        Ok(())
    })
    .unwrap();
    let stats = db.query_stats();
    let shapes: Vec<&str> = stats.shapes.iter().map(|s| s.shape.as_str()).collect();
    for expected in ["Order (rows)", "Order where status = ? limit ? (rows)", "Order where day < ? (aggregate)"] {
        assert!(shapes.contains(&expected), "{expected} in {shapes:?}");
    }
    let iterated = stats.shapes.iter().find(|s| s.shape == "Order (rows)").unwrap();
    assert_eq!(iterated.rows_returned, 5, "what the iterator gave before it was dropped");
}

#[test]
fn the_slow_query_threshold_counts_slow_calls() {
    let db = seeded(Db::builder().slow_query_threshold(Duration::ZERO));
    db.read(|tx| tx.query::<Order>().filter(Order::CUSTOMER.eq(3)).all()).unwrap();
    let stats = db.query_stats();
    assert_eq!(stats.shapes[0].slow_calls, 1);
    assert!(stats.shapes[0].plan.contains("Full scan"));
}

#[test]
fn query_stats_can_be_turned_off_and_reset() {
    let db = seeded(Db::builder().query_stats(false));
    db.read(|tx| tx.query::<Order>().filter(Order::CUSTOMER.eq(3)).all()).unwrap();
    assert!(db.query_stats().shapes.is_empty());
    let db = seeded(Db::builder());
    db.read(|tx| tx.query::<Order>().filter(Order::CUSTOMER.eq(3)).all()).unwrap();
    assert_eq!(db.query_stats().shapes.len(), 1);
    db.reset_query_stats();
    assert!(db.query_stats().shapes.is_empty());
}

#[test]
fn group_by_queries_are_counted_with_the_rows_they_aggregated() {
    let db = seeded(Db::builder());
    db.read(|tx| {
        for _ in 0..3 {
            let groups = tx
                .query::<Order>()
                .filter(Order::DAY.lt(20))
                .group_by(Order::CUSTOMER)
                .aggregate(drift::count())
                .all()?;
            assert_eq!(groups.len(), 100);
        }
        Ok(())
    })
    .unwrap();
    let stats = db.query_stats();
    let grouped = stats.shapes.iter().find(|s| s.shape.contains("group by")).expect("the group_by shape");
    assert_eq!(grouped.shape, "Order where day < ? group by customer (groups)");
    assert_eq!(grouped.calls, 3);
    assert_eq!(grouped.rows_returned, 3 * 200, "the rows it aggregated");
    assert_eq!(grouped.rows_examined, 3 * 2_000, "a full scan each time");
    assert!(grouped.plan.contains("Group"), "{}", grouped.plan);
    assert_eq!(stats.advice[0].fields, ["day"], "{stats}");
}
