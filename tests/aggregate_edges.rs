//! Aggregates and groups at their edges: a row window (`limit`, `offset`) before
//! `group_by` is refused, not ignored; `min` and `max` skip `None` and NaN as `sum` and
//! `avg` skip `None`; a NaN aggregate sorts last in either direction.

use drift::prelude::*;

#[derive(Entity, Debug, Clone, PartialEq, Default)]
struct Item {
    #[drift(primary_key)]
    id: u64,
    #[drift(index)]
    owner: u32,
    plain: u32,
    big: u64,
    neg: i64,
    opt: Option<u32>,
    x: f64,
}

fn db_with(rows: &[Item]) -> Db {
    let db = Db::builder().entity::<Item>().in_memory().unwrap();
    db.write(|tx| rows.iter().try_for_each(|r| tx.insert(r).map(drop))).unwrap();
    db
}

fn items() -> Vec<Item> {
    (1..=10u64)
        .map(|id| Item {
            id,
            owner: (id % 3) as u32,
            plain: (id % 3) as u32,
            big: id,
            neg: -(id as i64),
            opt: if id % 2 == 0 { None } else { Some(id as u32) },
            x: id as f64,
        })
        .collect()
}

/// Which rows a limit keeps before grouping would depend on the access path: a
/// `limit` or `offset` on the query before `group_by` is an error naming it (after
/// `.aggregate(..)` they apply to the groups).
#[test]
fn a_limit_or_offset_before_group_by_is_refused() {
    let db = db_with(&items());
    db.read(|tx| {
        for (q, field) in [(tx.query::<Item>().limit(2), "limit"), (tx.query::<Item>().offset(8), "offset")] {
            let err = q.group_by(Item::OWNER).aggregate(count()).all().unwrap_err();
            assert_eq!(err.kind(), drift::ErrorKind::Query, "{err}");
            assert!(err.to_string().contains(field), "{err}");
        }
        // On the groups, they work.
        let groups = tx.query::<Item>().group_by(Item::OWNER).aggregate(count()).limit(2).all()?;
        assert_eq!(groups.len(), 2);
        Ok(())
    })
    .unwrap();
}

/// `min` of an `Option` field skips `None`, as `sum` and `avg` do (SQL skips NULL).
#[test]
fn min_of_an_option_field_skips_none_like_sum_and_avg() {
    let db = db_with(&items()); // opt: Some(1), None, Some(3), None, ..., Some(9), None
    db.read(|tx| {
        assert_eq!(tx.query::<Item>().aggregate(sum(Item::OPT))?, 1 + 3 + 5 + 7 + 9);
        assert_eq!(tx.query::<Item>().aggregate(avg(Item::OPT))?, Some(5.0));
        let lo = tx.query::<Item>().aggregate(min(Item::OPT))?;
        assert_eq!(lo, Some(Some(1)), "min of an Option field");
        Ok(())
    })
    .unwrap();
}

/// A group whose average is NaN sorts last under `desc()` as under `asc()`, so a
/// `limit(1)` never returns it.
#[test]
fn nan_average_sorts_last_in_descending_order() {
    let mut rows = items();
    rows[0].x = f64::NAN; // id 1: owner 1
    let db = db_with(&rows);
    db.read(|tx| {
        let q = tx.query::<Item>().group_by(Item::OWNER).aggregate(avg(Item::X));
        let asc =
            tx.query::<Item>().group_by(Item::OWNER).aggregate(avg(Item::X)).order_by(avg(Item::X).asc()).all()?;
        assert_eq!(asc.last().map(|g| g.0), Some(1), "{asc:?}");
        let desc = q.order_by(avg(Item::X).desc()).all()?;
        assert_eq!(desc.last().map(|g| g.0), Some(1), "NaN average should sort last: {desc:?}");
        Ok(())
    })
    .unwrap();
}
