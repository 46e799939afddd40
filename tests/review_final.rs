//! Final review: single aggregates, group_by workload recording.

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

#[test]
fn p_single_equals_tuple_with_offset_limit_and_residual() {
    let db = db_with(&items());
    db.read(|tx| {
        for (off, lim) in [(0, None), (2, Some(3)), (9, Some(5)), (20, None), (0, Some(0))] {
            let mut q = tx.query::<Item>().filter(Item::PLAIN.ne(0)).offset(off);
            if let Some(l) = lim {
                q = q.limit(l);
            }
            let (c, s, a, lo, hi) = q.aggregate((count(), sum(Item::BIG), avg(Item::BIG), min(Item::BIG), max(Item::BIG)))?;
            assert_eq!(q.aggregate(count())?, c);
            assert_eq!(q.aggregate(sum(Item::BIG))?, s);
            assert_eq!(q.aggregate(avg(Item::BIG))?, a);
            assert_eq!(q.aggregate(min(Item::BIG))?, lo);
            assert_eq!(q.aggregate(max(Item::BIG))?, hi);
            assert_eq!(q.all()?.len() as u64, c, "off {off} lim {lim:?}");
            // index path with residual
            let mut q2 = tx.query::<Item>().filter(Item::OWNER.gte(1)).offset(off);
            if let Some(l) = lim {
                q2 = q2.limit(l);
            }
            assert_eq!(q2.aggregate(count())?, q2.all()?.len() as u64);
        }
        Ok(())
    })
    .unwrap();
}

#[test]
fn p_overflow() {
    let db = db_with(&[
        Item { id: 1, big: u64::MAX, neg: i64::MIN, ..Default::default() },
        Item { id: 2, big: 1, neg: -1, ..Default::default() },
    ]);
    db.read(|tx| {
        let e = tx.query::<Item>().aggregate(sum(Item::BIG));
        assert!(matches!(e, Err(Error::Overflow { .. })), "{e:?}");
        let e = tx.query::<Item>().aggregate(sum(Item::NEG));
        assert!(matches!(e, Err(Error::Overflow { .. })), "{e:?}");
        let a = tx.query::<Item>().aggregate(avg(Item::BIG))?;
        assert!(a.is_some());
        let e = tx.query::<Item>().group_by(Item::OWNER).aggregate(sum(Item::BIG)).all();
        assert!(matches!(e, Err(Error::Overflow { .. })), "{e:?}");
        Ok(())
    })
    .unwrap();
}

#[test]
fn p_min_of_option_field_skips_none_like_sum_and_avg() {
    let db = db_with(&items());
    db.read(|tx| {
        let lo = tx.query::<Item>().aggregate(min(Item::OPT))?;
        let s = tx.query::<Item>().aggregate(sum(Item::OPT))?;
        let a = tx.query::<Item>().aggregate(avg(Item::OPT))?;
        assert_eq!(s, 1 + 3 + 5 + 7 + 9);
        assert_eq!(a, Some(5.0));
        assert_eq!(lo, Some(Some(1)), "min of an Option field returned {lo:?}");
        Ok(())
    })
    .unwrap();
}

#[test]
fn p_group_by_respects_query_limit() {
    let db = db_with(&items());
    db.read(|tx| {
        let q = tx.query::<Item>().limit(2);
        let n: u64 = q.aggregate(count())?;
        let groups = q.clone().group_by(Item::OWNER).aggregate(count()).all()?;
        let total: u64 = groups.iter().map(|g| g.1).sum();
        assert_eq!(total, n, "group_by over a query with limit(2): {groups:?}");
        Ok(())
    })
    .unwrap();
}

#[test]
fn p_nan_avg_desc_sorts_last() {
    let mut rows = items();
    rows[0].x = f64::NAN; // id 1, owner 1
    let db = db_with(&rows);
    db.read(|tx| {
        let asc = tx.query::<Item>().group_by(Item::OWNER).aggregate(avg(Item::X)).order_by(avg(Item::X).asc()).all()?;
        let desc = tx.query::<Item>().group_by(Item::OWNER).aggregate(avg(Item::X)).order_by(avg(Item::X).desc()).all()?;
        assert_eq!(asc.last().unwrap().0, 1, "{asc:?}");
        assert_eq!(desc.last().unwrap().0, 1, "NaN average should sort last: {desc:?}");
        Ok(())
    })
    .unwrap();
}

fn group_stats(db: &Db) -> Vec<(String, u64, u64, u64)> {
    db.query_stats().shapes.iter().map(|s| (s.shape.clone(), s.calls, s.rows_examined, s.rows_returned)).collect()
}

#[test]
fn p_group_matched_paths() {
    let db = db_with(&items());
    // index-only
    db.reset_query_stats();
    db.read(|tx| tx.query::<Item>().group_by(Item::OWNER).aggregate(count()).having(count().gt(3)).limit(1).offset(0).all().map(drop)).unwrap();
    eprintln!("index-only {:?}", group_stats(&db));
    db.reset_query_stats();
    // streaming with rows
    db.read(|tx| tx.query::<Item>().group_by(Item::OWNER).aggregate(sum(Item::BIG)).having(count().gt(3)).limit(1).all().map(drop)).unwrap();
    eprintln!("streaming {:?}", group_stats(&db));
    db.reset_query_stats();
    // hash
    db.read(|tx| tx.query::<Item>().group_by(Item::PLAIN).aggregate(count()).limit(1).offset(1).all().map(drop)).unwrap();
    eprintln!("hash {:?}", group_stats(&db));
    db.reset_query_stats();
    // filtered streaming
    db.read(|tx| tx.query::<Item>().filter(Item::OWNER.gt(0)).group_by(Item::OWNER).aggregate(count()).all().map(drop)).unwrap();
    eprintln!("filtered {:?}", group_stats(&db));
    db.reset_query_stats();
    db.read(|tx| tx.query::<Item>().filter(Item::PLAIN.gt(0)).group_by(Item::OWNER).aggregate(count()).all().map(drop)).unwrap();
    eprintln!("residual {:?}", group_stats(&db));
    db.reset_query_stats();
    db.read(|tx| {
        tx.query::<Item>().group_by(Item::OWNER).aggregate(count()).explain_analyze()?;
        tx.query::<Item>().group_by(Item::OWNER).aggregate(count()).all()?;
        tx.query::<Item>().aggregate(count())?;
        tx.query::<Item>().count()?;
        tx.query::<Item>().all()?;
        Ok(())
    })
    .unwrap();
    eprintln!("mixed {:#?}", group_stats(&db));
    panic!("show");
}
