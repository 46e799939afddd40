//! The query engine: planner choices (through `explain`), aggregates, group_by.

use drift::prelude::*;
use drift::{Access, ErrorKind, GroupStrategy, avg, count, max, min, sum};

#[derive(Entity, Debug, Clone, PartialEq, Default)]
#[drift(table = "people", index(fields(city, age)))]
pub struct Person {
    #[drift(primary_key, auto_increment)]
    pub id: u64,
    #[drift(unique)]
    pub email: String,
    #[drift(index)]
    pub age: u32,
    pub city: String,
    pub name: String,
    pub score: i64,
    pub rating: Option<f64>,
}

#[derive(Entity, Debug, Clone, PartialEq, Default)]
pub struct Big {
    #[drift(primary_key)]
    pub id: u32,
    pub n: u64,
    pub i: i64,
}

const CITIES: [&str; 4] = ["Lima", "Oslo", "Pune", "Rome"];

fn people(n: u32) -> Db {
    let db = Db::builder().entity::<Person>().entity::<Big>().in_memory().unwrap();
    db.write(|tx| {
        for i in 0..n {
            tx.insert(&Person {
                id: 0,
                email: format!("p{i}@x"),
                age: i % 80,
                city: CITIES[(i % 4) as usize].into(),
                name: format!("n{}", i % 13),
                score: i64::from(i % 7) - 3,
                rating: (i % 3 != 0).then(|| f64::from(i % 5)),
            })?;
        }
        Ok(())
    })
    .unwrap();
    db
}

#[test]
fn planner_uses_a_unique_lookup_for_an_email_equality() {
    let db = people(2000);
    let plan = db.read(|tx| tx.query::<Person>().filter(Person::EMAIL.eq("p7@x")).explain()).unwrap();
    assert_eq!(plan.access, Access::UniqueLookup { index: "email".into() });
    assert_eq!(plan.estimated_rows, 1);
}

#[test]
fn planner_uses_an_index_range_for_age_between() {
    let db = people(2000);
    let q = |tx: &ReadTx| tx.query::<Person>().filter(Person::AGE.between(10, 12)).explain();
    let plan = db.read(q).unwrap();
    assert_eq!(plan.access, Access::IndexRange { index: "age".into() });
    assert_eq!(plan.range_field.as_deref(), Some("age"));
    assert_eq!(plan.residual, None);
    assert_eq!(plan.estimated_rows, 75, "small ranges are counted exactly by an index dive");
}

#[test]
fn planner_uses_a_composite_prefix_for_equality_then_range() {
    let db = people(2000);
    let plan = db
        .read(|tx| {
            tx.query::<Person>().filter(Person::CITY.eq("Oslo") & Person::AGE.gt(70) & Person::SCORE.lt(0)).explain()
        })
        .unwrap();
    assert_eq!(plan.access, Access::IndexRange { index: "city_age".into() });
    assert_eq!(plan.equality_fields, vec!["city".to_string()]);
    assert_eq!(plan.range_field.as_deref(), Some("age"));
    assert_eq!(plan.residual.as_deref(), Some("score < 0"), "{plan}");
    let rows = db
        .read(|tx| {
            tx.query::<Person>().filter(Person::CITY.eq("Oslo") & Person::AGE.gt(70) & Person::SCORE.lt(-1)).all()
        })
        .unwrap();
    assert!(!rows.is_empty());
    assert!(rows.iter().all(|p| p.city == "Oslo" && p.age > 70 && p.score < -1));
}

#[test]
fn order_by_the_index_field_needs_no_sort_in_either_direction() {
    let db = people(2000);
    for desc in [false, true] {
        let order = if desc { Person::AGE.desc() } else { Person::AGE.asc() };
        let q = |tx: &ReadTx| {
            let q = tx.query::<Person>().filter(Person::AGE.gte(20)).order_by(order.clone()).limit(5);
            Ok((q.explain()?, q.all()?))
        };
        let (plan, rows) = db.read(q).unwrap();
        assert!(!plan.sort, "{plan}");
        assert_eq!(plan.reverse, desc);
        let ages: Vec<u32> = rows.iter().map(|p| p.age).collect();
        assert_eq!(ages, if desc { vec![79; 5] } else { vec![20; 5] });
    }
}

#[test]
fn order_by_an_unindexed_field_with_limit_uses_a_top_k_sort() {
    let db = people(500);
    let q = |tx: &ReadTx| {
        let q = tx.query::<Person>().order_by(Person::NAME.desc()).order_by(Person::ID.asc()).limit(3).offset(1);
        Ok((q.explain()?, q.all()?))
    };
    let (plan, rows) = db.read(q).unwrap();
    assert!(plan.sort);
    assert_eq!(plan.top_k, Some(4));
    assert_eq!(
        rows.iter().map(|p| (p.name.as_str(), p.id)).collect::<Vec<_>>(),
        vec![("n9", 23), ("n9", 36), ("n9", 49)]
    );
}

#[test]
fn filter_on_an_indexed_field_with_limit_decodes_a_few_rows_of_100k() {
    let db = people(100_000);
    let tx = db.begin_read().unwrap();
    let rows = tx.query::<Person>().filter(Person::AGE.eq(42)).limit(10).all().unwrap();
    assert_eq!(rows.len(), 10);
    assert!(tx.stats().rows_decoded <= 12, "{:?}", tx.stats());
    let before = tx.stats().rows_decoded;
    assert_eq!(tx.query::<Person>().filter(Person::AGE.eq(42)).count().unwrap(), 1250);
    assert_eq!(tx.stats().rows_decoded, before, "count on an indexed equality decodes no row");
    let plan = tx.query::<Person>().filter(Person::AGE.eq(42)).limit(10).explain_analyze().unwrap();
    assert_eq!(plan.step("access").unwrap().rows, 10, "{plan}");
}

#[test]
fn unindexed_filter_on_a_large_table_scans_and_advises_an_index() {
    let db = people(5000);
    let plan = db.read(|tx| tx.query::<Person>().filter(Person::NAME.eq("n3")).explain()).unwrap();
    assert_eq!(plan.access, Access::FullScan);
    assert!(plan.advice.iter().any(|a| a.contains("#[drift(index)]") && a.contains("`name`")), "{plan}");
    let text = plan.to_string();
    assert!(text.contains("Full scan") && text.contains("Filter name = \"n3\"") && text.contains("advice"), "{text}");
}

#[test]
fn or_of_indexed_predicates_reads_the_union_of_two_paths() {
    let db = people(4000);
    let q = |tx: &ReadTx| {
        let q = tx.query::<Person>().filter(Person::EMAIL.eq("p5@x") | Person::AGE.eq(3));
        Ok((q.explain()?, q.all()?))
    };
    let (plan, rows) = db.read(q).unwrap();
    assert_eq!(plan.access, Access::IndexUnion { indexes: vec!["email".into(), "age".into()] }, "{plan}");
    assert_eq!(rows.len(), 51);
    assert!(rows.windows(2).all(|w| w[0].id < w[1].id), "union rows come in key order, once each");
}

#[test]
fn in_list_on_an_index_reads_one_range_per_value_in_order() {
    let db = people(4000);
    let q = |tx: &ReadTx| {
        let q = tx.query::<Person>().filter(Person::AGE.in_list(vec![7, 3, 7])).order_by(Person::AGE.asc());
        Ok((q.explain()?, q.all()?))
    };
    let (plan, rows) = db.read(q).unwrap();
    assert_eq!(plan.access, Access::IndexRange { index: "age".into() });
    assert!(!plan.sort);
    assert_eq!(rows.len(), 100);
    assert!(rows[..50].iter().all(|p| p.age == 3) && rows[50..].iter().all(|p| p.age == 7));
}

#[test]
fn explain_analyze_reports_actual_rows_per_step() {
    let db = people(2000);
    let plan = db
        .read(|tx| {
            tx.query::<Person>()
                .filter(Person::AGE.lt(10) & Person::NAME.eq("n1"))
                .order_by(Person::SCORE.asc())
                .explain_analyze()
        })
        .unwrap();
    assert_eq!(plan.step("access").unwrap().rows, 250);
    let matching = (0..2000u32).filter(|i| i % 80 < 10 && i % 13 == 1).count() as u64;
    assert_eq!(plan.step("filter").unwrap().rows, matching);
    assert_eq!(plan.step("sort").unwrap().rows, matching);
    let text = plan.to_string();
    assert!(text.contains("actual rows=250"), "{text}");
}

#[test]
fn aggregates_sum_avg_min_max_count_over_a_filter() {
    let db = people(1000);
    db.read(|tx| {
        let q = tx.query::<Person>().filter(Person::CITY.eq("Rome"));
        let rows = q.all()?;
        let want_sum: i64 = rows.iter().map(|p| p.score).sum();
        assert_eq!(q.sum(Person::SCORE)?, want_sum);
        assert_eq!(q.sum(Person::AGE)?, rows.iter().map(|p| u64::from(p.age)).sum::<u64>());
        let avg_age = rows.iter().map(|p| f64::from(p.age)).sum::<f64>() / rows.len() as f64;
        assert!((q.avg(Person::AGE)?.unwrap() - avg_age).abs() < 1e-9);
        assert_eq!(q.min(Person::AGE)?, rows.iter().map(|p| p.age).min());
        assert_eq!(q.max(Person::EMAIL)?, rows.iter().map(|p| p.email.clone()).max());
        assert_eq!(q.count()?, rows.len() as u64);
        let ratings: Vec<f64> = rows.iter().filter_map(|p| p.rating).collect();
        assert_eq!(q.sum(Person::RATING)?, ratings.iter().sum::<f64>(), "None ratings are skipped");
        let (c, s, a) = q.aggregate((count(), sum(Person::SCORE), avg(Person::RATING)))?;
        assert_eq!((c, s), (rows.len() as u64, want_sum));
        assert!((a.unwrap() - ratings.iter().sum::<f64>() / ratings.len() as f64).abs() < 1e-9);
        let none = tx.query::<Person>().filter(Person::AGE.gt(1000));
        assert_eq!((none.sum(Person::AGE)?, none.avg(Person::AGE)?, none.max(Person::AGE)?), (0, None, None));
        Ok(())
    })
    .unwrap();
}

#[test]
fn integer_sum_is_exact_past_u64_and_errors_instead_of_wrapping() {
    let db = people(0);
    db.write(|tx| {
        tx.insert(&Big { id: 1, n: u64::MAX, i: i64::MAX })?;
        tx.insert(&Big { id: 2, n: 1, i: i64::MAX })?;
        tx.insert(&Big { id: 3, n: 0, i: i64::MIN })?;
        Ok(())
    })
    .unwrap();
    let err = db.read(|tx| tx.query::<Big>().sum(Big::N)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Overflow);
    assert!(err.to_string().contains("`n`") && err.to_string().contains("Big"), "{err}");
    // The intermediate total passes i64::MAX, the final one fits: exact.
    assert_eq!(db.read(|tx| tx.query::<Big>().sum(Big::I)).unwrap(), i64::MAX - 1);
    let avg = db.read(|tx| tx.query::<Big>().filter(Big::ID.lte(2)).avg(Big::N)).unwrap().unwrap();
    assert!((avg - (u64::MAX as f64 + 1.0) / 2.0).abs() < 1e3);
}

#[test]
fn group_by_a_leading_indexed_field_streams_and_counts_from_the_index() {
    let db = people(2000);
    let tx = db.begin_read().unwrap();
    let q = tx.query::<Person>().group_by(Person::AGE).aggregate((count(),));
    let plan = q.explain().unwrap();
    assert_eq!(plan.group, Some(GroupStrategy::Streaming { index: "age".into() }));
    assert!(plan.index_only);
    let groups = q.all().unwrap();
    assert_eq!(groups.len(), 80);
    assert!(groups.iter().all(|(_, (c,))| *c == 25));
    assert_eq!(tx.stats().rows_decoded, 0);
    // A filter served by an index that leads with the grouping field: rows arrive
    // grouped, so the groups stream.
    let by_city = tx
        .query::<Person>()
        .filter(Person::CITY.gte("Oslo"))
        .group_by(Person::CITY)
        .aggregate((count(), min(Person::AGE)));
    assert_eq!(by_city.explain().unwrap().group, Some(GroupStrategy::Streaming { index: "city_age".into() }));
    let rows = by_city.all().unwrap();
    assert_eq!(
        rows,
        vec![("Oslo".into(), (500, Some(1))), ("Pune".into(), (500, Some(2))), ("Rome".into(), (500, Some(3)))]
    );
    // Without such a filter, `min` needs rows: a sequential table scan with hashing.
    let all_cities = tx.query::<Person>().group_by(Person::CITY).aggregate((count(), min(Person::AGE)));
    assert_eq!(all_cities.explain().unwrap().group, Some(GroupStrategy::Hash));
    assert_eq!(all_cities.all().unwrap().len(), 4);
}

#[test]
fn group_by_an_unindexed_field_hashes_with_having_and_order() {
    let db = people(1300);
    let tx = db.begin_read().unwrap();
    let q = tx
        .query::<Person>()
        .filter(Person::AGE.lt(40))
        .group_by(Person::NAME)
        .aggregate((count(), sum(Person::SCORE), max(Person::AGE)))
        .having(count().gte(39))
        .order_by(sum(Person::SCORE).desc())
        .limit(3);
    assert_eq!(q.explain().unwrap().group, Some(GroupStrategy::Hash));
    let got = q.all().unwrap();
    // Oracle.
    let mut groups: std::collections::BTreeMap<String, (u64, i64, u32)> = Default::default();
    for p in tx.query::<Person>().filter(Person::AGE.lt(40)).all().unwrap() {
        let g = groups.entry(p.name.clone()).or_default();
        g.0 += 1;
        g.1 += p.score;
        g.2 = g.2.max(p.age);
    }
    type Row = (String, (u64, i64, Option<u32>));
    let mut want: Vec<Row> =
        groups.into_iter().filter(|(_, g)| g.0 >= 39).map(|(k, g)| (k, (g.0, g.1, Some(g.2)))).collect();
    want.sort_by_key(|g| std::cmp::Reverse(g.1.1));
    want.truncate(3);
    assert_eq!(got, want);
}

#[test]
fn group_by_two_fields_orders_by_the_key_and_filters_by_avg() {
    let db = people(800);
    let rows = db
        .read(|tx| {
            tx.query::<Person>()
                .group_by((Person::CITY, Person::SCORE))
                .aggregate((count(), avg(Person::AGE)))
                .having(avg(Person::AGE).gt(39.0))
                .order_by(Person::CITY.desc())
                .all()
        })
        .unwrap();
    assert!(!rows.is_empty());
    assert!(rows.windows(2).all(|w| w[0].0.0 >= w[1].0.0));
    assert!(rows.iter().all(|(_, (_, a))| a.unwrap() > 39.0));
}

#[test]
fn ordering_groups_by_an_ungrouped_field_is_an_error() {
    let db = people(10);
    let err = db
        .read(|tx| tx.query::<Person>().group_by(Person::CITY).aggregate((count(),)).order_by(Person::AGE.asc()).all())
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Query);
    assert!(err.to_string().contains("`age`"), "{err}");
}
