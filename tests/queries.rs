mod common;

use common::{Reading, Reads, User, index_entries, memory_db};
use drift::prelude::*;
use drift::{Access, ErrorKind};

fn reading(sensor: &str, seq: i64, temp: f64, delta: i32) -> Reading {
    Reading {
        sensor: sensor.into(),
        seq,
        temp,
        delta,
        city: format!("c{}", seq.rem_euclid(3)),
        score: i16::try_from(seq * 7 % 100).unwrap(),
        label: if seq % 2 == 0 { Some(format!("L{seq}")) } else { None },
    }
}

fn readings_db() -> (Db, Vec<Reading>) {
    let db = memory_db();
    let temps = [-273.15, -40.5, -0.0, 0.0, 0.25, 1.5, 36.6, 1e9, f64::INFINITY, f64::NEG_INFINITY];
    let deltas = [i32::MIN, -1_000_000, -2, -1, 0, 1, 2, 1_000_000, i32::MAX, -7];
    let mut rows = Vec::new();
    for (i, (&t, &d)) in temps.iter().zip(deltas.iter()).enumerate() {
        let sensor = ["b", "a", "", "a\0", "ab"][i % 5];
        rows.push(reading(sensor, i64::try_from(i).unwrap() - 5, t, d));
    }
    db.write(|tx| {
        for r in &rows {
            tx.insert(r)?;
        }
        Ok(())
    })
    .unwrap();
    (db, rows)
}

#[test]
fn negative_integers_sort_right_through_an_index_range() {
    let (db, rows) = readings_db();
    let got: Vec<i32> = db
        .read(|tx| tx.query::<Reading>().filter(Reading::DELTA.between(-1_000_000, 1)).all())
        .unwrap()
        .iter()
        .map(|r| r.delta)
        .collect();
    let mut want: Vec<i32> = rows.iter().map(|r| r.delta).filter(|d| (-1_000_000..=1).contains(d)).collect();
    want.sort_unstable();
    assert_eq!(got, want);
    let plan = db.read(|tx| tx.query::<Reading>().filter(Reading::DELTA.between(-1_000_000, 1)).explain()).unwrap();
    assert_eq!(plan.access, Access::IndexRange { index: "delta".into() });
    assert!(!plan.sort);
}

#[test]
fn floats_sort_in_total_order_through_an_index_and_negative_zero_equals_zero() {
    let (db, rows) = readings_db();
    let got: Vec<f64> = db
        .read(|tx| {
            tx.query::<Reading>().filter(Reading::TEMP.gte(f64::NEG_INFINITY)).order_by(Reading::TEMP.asc()).all()
        })
        .unwrap()
        .iter()
        .map(|r| r.temp)
        .collect();
    let mut want: Vec<f64> = rows.iter().map(|r| r.temp).collect();
    want.sort_by(f64::total_cmp);
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(&want) {
        assert!(g == w, "{got:?} vs {want:?}");
    }
    let zeros = db.read(|tx| tx.query::<Reading>().filter(Reading::TEMP.eq(0.0)).count()).unwrap();
    assert_eq!(zeros, 2, "-0.0 and 0.0 are one key");
    let below = db.read(|tx| tx.query::<Reading>().filter(Reading::TEMP.lt(0.0)).count()).unwrap();
    assert_eq!(below, 3);
}

#[test]
fn strings_sort_bytewise_through_the_composite_key_including_nul_and_empty() {
    let (db, rows) = readings_db();
    let got: Vec<(String, i64)> =
        db.read(|tx| tx.query::<Reading>().all()).unwrap().into_iter().map(|r| (r.sensor, r.seq)).collect();
    let mut want: Vec<(String, i64)> = rows.iter().map(|r| (r.sensor.clone(), r.seq)).collect();
    want.sort();
    assert_eq!(got, want);
    let a = db.read(|tx| tx.query::<Reading>().filter(Reading::SENSOR.eq("a")).all()).unwrap();
    assert!(a.iter().all(|r| r.sensor == "a") && a.len() == 2);
    let plan = db.read(|tx| tx.query::<Reading>().filter(Reading::SENSOR.eq("a")).explain()).unwrap();
    assert_eq!(plan.access, Access::KeyRange);
}

#[test]
fn composite_key_point_lookup_and_prefix_range() {
    let (db, _) = readings_db();
    let r = db.read(|tx| tx.get::<Reading>(&("a".to_string(), -4))).unwrap().unwrap();
    assert_eq!(r.seq, -4);
    let q = db.read(|tx| {
        let q = tx.query::<Reading>().filter(Reading::SENSOR.eq("a") & Reading::SEQ.gt(-4));
        Ok((q.all()?, q.explain()?))
    });
    let (rows, plan) = q.unwrap();
    assert_eq!(rows.iter().map(|r| r.seq).collect::<Vec<_>>(), vec![1]);
    assert_eq!(plan.equality_fields, vec!["sensor".to_string()]);
    assert_eq!(plan.range_field.as_deref(), Some("seq"));
}

#[test]
fn multi_field_index_serves_equality_then_range() {
    let (db, rows) = readings_db();
    fn q(tx: &ReadTx) -> Query<'_, Reading> {
        tx.query::<Reading>().filter(Reading::CITY.eq("c1") & Reading::SCORE.gte(10))
    }
    let (got, plan) = db.read(|tx| Ok((q(tx).all()?, q(tx).explain()?))).unwrap();
    assert_eq!(plan.access, Access::IndexRange { index: "city_score".into() });
    let mut want: Vec<i16> = rows.iter().filter(|r| r.city == "c1" && r.score >= 10).map(|r| r.score).collect();
    want.sort_unstable();
    assert_eq!(got.iter().map(|r| r.score).collect::<Vec<_>>(), want);
}

#[test]
fn option_index_puts_none_first_and_filters_is_none() {
    let (db, rows) = readings_db();
    let nones = db.read(|tx| tx.query::<Reading>().filter(Reading::LABEL.is_none()).count()).unwrap();
    assert_eq!(nones, rows.iter().filter(|r| r.label.is_none()).count() as u64);
    let ordered = db.read(|tx| tx.query::<Reading>().order_by(Reading::LABEL.asc()).all()).unwrap();
    let first_some = ordered.iter().position(|r| r.label.is_some()).unwrap();
    assert!(ordered[..first_some].iter().all(|r| r.label.is_none()));
    assert!(ordered[first_some..].iter().all(|r| r.label.is_some()));
}

#[test]
fn order_by_desc_limit_offset() {
    let db = memory_db();
    db.write(|tx| {
        for i in 0..50u32 {
            tx.insert(&User::new(&format!("u{i}@x"), (i * 37) % 50, &format!("n{i}")))?;
        }
        Ok(())
    })
    .unwrap();
    fn q(tx: &ReadTx) -> Query<'_, User> {
        tx.query::<User>().filter(User::AGE.gte(10)).order_by(User::AGE.desc()).offset(3).limit(5)
    }
    let (got, plan) = db.read(|tx| Ok((q(tx).all()?, q(tx).explain()?))).unwrap();
    assert_eq!(got.iter().map(|u| u.age).collect::<Vec<_>>(), vec![46, 45, 44, 43, 42]);
    assert!(!plan.sort && plan.reverse, "{plan}");
    // Ordered by an unindexed field: sorted after reading.
    let by_name = db
        .read(|tx| tx.query::<User>().order_by(User::NAME.asc()).limit(3).all())
        .unwrap()
        .into_iter()
        .map(|u| u.name)
        .collect::<Vec<_>>();
    assert_eq!(by_name, vec!["n0", "n1", "n10"]);
    let plan = db.read(|tx| tx.query::<User>().order_by(User::NAME.asc()).explain()).unwrap();
    assert!(plan.sort);
}

#[test]
fn first_exists_count_keys() {
    let db = memory_db();
    db.write(|tx| {
        for i in 0..10u32 {
            tx.insert(&User::new(&format!("u{i}@x"), i, "n"))?;
        }
        Ok(())
    })
    .unwrap();
    db.read(|tx| {
        assert_eq!(tx.query::<User>().filter(User::AGE.gt(7)).first()?.map(|u| u.age), Some(8));
        assert!(tx.query::<User>().filter(User::AGE.eq(3)).exists()?);
        assert!(!tx.query::<User>().filter(User::AGE.eq(30)).exists()?);
        assert_eq!(tx.query::<User>().filter(User::AGE.lt(5)).count()?, 5);
        assert_eq!(tx.query::<User>().filter(User::AGE.lt(5)).limit(2).count()?, 2);
        assert_eq!(tx.query::<User>().filter(User::NAME.eq("n") & User::AGE.lte(2)).keys()?, vec![1, 2, 3]);
        Ok(())
    })
    .unwrap();
}

#[test]
fn count_on_indexed_equality_decodes_no_row() {
    let db = memory_db();
    db.write(|tx| {
        for i in 0..100u32 {
            tx.insert(&User::new(&format!("u{i}@x"), i % 10, "n"))?;
        }
        Ok(())
    })
    .unwrap();
    let tx = db.begin_read().unwrap();
    assert_eq!(tx.query::<User>().filter(User::AGE.eq(3)).count().unwrap(), 10);
    assert_eq!(tx.stats().rows_decoded, 0);
}

#[test]
fn unindexed_filter_scans_and_the_plan_says_which_index_would_serve_it() {
    let db = memory_db();
    db.write(|tx| {
        for i in 0..1500u32 {
            tx.insert(&User::new(&format!("u{i}@x"), i % 90, &format!("n{}", i % 7)))?;
        }
        Ok(())
    })
    .unwrap();
    let plan = db.read(|tx| tx.query::<User>().filter(User::NAME.eq("n3")).explain()).unwrap();
    assert_eq!(plan.access, Access::FullScan);
    assert!(plan.advice.iter().any(|a| a.contains("#[drift(index)]") && a.contains("name")), "{plan}");
    let n = db.read(|tx| tx.query::<User>().filter(User::NAME.eq("n3")).count()).unwrap();
    assert_eq!(n, (0..1500).filter(|i| i % 7 == 3).count() as u64);
}

#[test]
fn or_not_ne_in_list_and_starts_with_filter_correctly() {
    let db = memory_db();
    db.write(|tx| {
        for (i, name) in ["anna", "andrew", "bob", "an", "carl"].iter().enumerate() {
            tx.insert(&User::new(&format!("{name}@x"), u32::try_from(i).unwrap() * 10, name))?;
        }
        Ok(())
    })
    .unwrap();
    let names = |f: Filter<User>| -> Vec<String> {
        let mut v: Vec<String> =
            db.read(|tx| tx.query::<User>().filter(f).all()).unwrap().into_iter().map(|u| u.name).collect();
        v.sort();
        v
    };
    assert_eq!(names(User::NAME.starts_with("an")), vec!["an", "andrew", "anna"]);
    assert_eq!(names(User::EMAIL.starts_with("an")), vec!["an", "andrew", "anna"]);
    assert_eq!(names(User::AGE.eq(0) | User::AGE.eq(40)), vec!["anna", "carl"]);
    assert_eq!(names(!User::NAME.starts_with("a")), vec!["bob", "carl"]);
    assert_eq!(names(User::AGE.ne(20) & User::AGE.lt(30)), vec!["andrew", "anna"]);
    assert_eq!(names(User::NAME.in_list(vec!["bob", "carl", "zed"])), vec!["bob", "carl"]);
}

#[test]
fn nan_in_a_filter_is_a_key_error_naming_the_field() {
    let (db, _) = readings_db();
    let err = db.read(|tx| tx.query::<Reading>().filter(Reading::TEMP.gt(f64::NAN)).all()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Key);
    assert!(err.to_string().contains("temp") && err.to_string().contains("Reading"), "{err}");
}

/// How many entries each index of `Reading` holds: `city_score`, `temp`, `delta`,
/// `label`.
fn reading_entries(tx: &impl Reads) -> [u64; 4] {
    fn total<V>(entries: Vec<(V, u64)>) -> u64 {
        entries.iter().map(|(_, n)| n).sum()
    }
    [
        total(index_entries(tx, Reading::CITY, "city_score")),
        total(index_entries(tx, Reading::TEMP, "temp")),
        total(index_entries(tx, Reading::DELTA, "delta")),
        total(index_entries(tx, Reading::LABEL, "label")),
    ]
}

#[test]
fn nan_in_an_indexed_field_is_rejected_on_insert_and_nothing_is_written() {
    let db = memory_db();
    db.write(|tx| {
        // `seq` 2 gives the row a label: it would have an entry in every index.
        let err = tx.insert(&reading("s", 2, f64::NAN, 0)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Key);
        assert!(err.to_string().contains("temp"), "{err}");
        // Inside the same transaction: no row and no entry in any index.
        assert_eq!(tx.get::<Reading>(&("s".to_string(), 2))?, None);
        assert_eq!(tx.query::<Reading>().count()?, 0);
        assert_eq!(reading_entries(tx), [0; 4]);
        // The transaction goes on, and the same key is free.
        tx.insert(&reading("s", 2, 1.5, 0)).map(drop)
    })
    .unwrap();
    db.read(|tx| {
        assert_eq!(tx.query::<Reading>().all()?, vec![reading("s", 2, 1.5, 0)]);
        assert_eq!(reading_entries(tx), [1; 4]);
        assert_eq!(index_entries(tx, Reading::TEMP, "temp"), vec![(1.5, 1)]);
        Ok(())
    })
    .unwrap();
}

#[test]
fn a_100k_row_table_streams_through_iter_without_collecting() {
    let db = memory_db();
    db.write(|tx| {
        for i in 0..100_000u32 {
            tx.insert(&User { id: 0, email: format!("u{i}@x"), age: i % 100, name: String::new() })?;
        }
        Ok(())
    })
    .unwrap();
    let tx = db.begin_read().unwrap();
    let q = tx.query::<User>();
    let mut it = q.iter().unwrap();
    let first: Vec<User> = it.by_ref().take(10).collect::<Result<_>>().unwrap();
    assert_eq!(first.len(), 10);
    assert!(tx.stats().rows_decoded <= 10, "streaming decodes as it goes: {:?}", tx.stats());
    let (mut n, mut sum) = (10u64, 0u64);
    for u in it {
        let u = u.unwrap();
        n += 1;
        sum += u64::from(u.age);
    }
    assert_eq!(n, 100_000);
    assert_eq!(
        sum + first.iter().map(|u| u64::from(u.age)).sum::<u64>(),
        (0..100_000u64).map(|i| i % 100).sum::<u64>()
    );
    let limited = tx.query::<User>().filter(User::AGE.eq(42)).limit(10).all().unwrap();
    assert_eq!(limited.len(), 10);
}

#[test]
fn write_tx_queries_see_uncommitted_writes() {
    let db = memory_db();
    db.write(|tx| {
        tx.insert(&User::new("a@x", 5, "A"))?;
        let found = tx.query::<User>().filter(User::AGE.eq(5)).all()?;
        assert_eq!(found.len(), 1);
        Ok(())
    })
    .unwrap();
}

#[test]
fn first_and_exists_stay_within_the_query_limit() {
    let db = memory_db();
    db.write(|tx| tx.insert(&User::new("ann@x", 30, "Ann")).map(drop)).unwrap();
    db.read(|tx| {
        let none = tx.query::<User>().limit(0);
        assert_eq!(none.first()?, None, "limit(0) has no first row");
        assert!(!none.exists()?, "limit(0) has no row");
        let one = tx.query::<User>().limit(5);
        assert_eq!(one.first()?.map(|u| u.email), Some("ann@x".to_string()));
        assert!(one.exists()?);
        Ok(())
    })
    .unwrap();
}
