//! One aggregate on its own (`aggregate(count())`) returns its value, not a 1-tuple,
//! over a query and per group; tuples keep returning tuples.

use drift::prelude::*;

#[derive(Entity, Debug, Clone, PartialEq, Default)]
struct Post {
    #[drift(primary_key, auto_increment)]
    id: u64,
    #[drift(index)]
    author_id: u64,
    #[drift(index)]
    likes: u32,
    score: i32,
    title: String,
}

/// Posts 0..12: author `i % 3`, likes `i * 10`, score `i - 6`, title `t{i:02}`.
fn db() -> Db {
    let db = Db::builder().entity::<Post>().in_memory().unwrap();
    db.write(|tx| {
        for i in 0..12u32 {
            let score = i32::try_from(i).unwrap() - 6;
            tx.insert(&Post {
                author_id: u64::from(i % 3),
                likes: i * 10,
                score,
                title: format!("t{i:02}"),
                ..Default::default()
            })?;
        }
        Ok(())
    })
    .unwrap();
    db
}

#[test]
fn count_alone_returns_a_u64() {
    let n: u64 = db().read(|tx| tx.query::<Post>().aggregate(count())).unwrap();
    assert_eq!(n, 12);
}

#[test]
fn sum_alone_returns_the_exact_total() {
    let db = db();
    let likes: u64 = db.read(|tx| tx.query::<Post>().aggregate(sum(Post::LIKES))).unwrap();
    assert_eq!(likes, (0..12).map(|i| i * 10).sum::<u64>());
    let score: i64 = db.read(|tx| tx.query::<Post>().aggregate(sum(Post::SCORE))).unwrap();
    assert_eq!(score, (-6..6).sum::<i64>());
}

#[test]
fn min_and_max_alone_return_an_option_of_the_field() {
    let db = db();
    let lo: Option<i32> = db.read(|tx| tx.query::<Post>().aggregate(min(Post::SCORE))).unwrap();
    let hi: Option<String> = db.read(|tx| tx.query::<Post>().aggregate(max(Post::TITLE))).unwrap();
    assert_eq!((lo, hi.as_deref()), (Some(-6), Some("t11")));
}

#[test]
fn avg_alone_returns_an_option_of_f64() {
    let mean: Option<f64> = db().read(|tx| tx.query::<Post>().aggregate(avg(Post::LIKES))).unwrap();
    assert_eq!(mean, Some(55.0));
}

/// Each single aggregate over the posts with more than `likes` likes, one query each.
fn singles_over(db: &Db, likes: u32) -> (u64, u64, Option<f64>, Option<u32>, Option<u32>) {
    db.read(|tx| {
        let q = tx.query::<Post>().filter(Post::LIKES.gt(likes));
        Ok((
            q.aggregate(count())?,
            q.aggregate(sum(Post::LIKES))?,
            q.aggregate(avg(Post::LIKES))?,
            q.aggregate(min(Post::LIKES))?,
            q.aggregate(max(Post::LIKES))?,
        ))
    })
    .unwrap()
}

#[test]
fn single_aggregates_apply_the_filter() {
    let (n, total, mean, lo, hi) = singles_over(&db(), 50);
    assert_eq!((n, total, mean, lo, hi), (6, 60 + 70 + 80 + 90 + 100 + 110, Some(85.0), Some(60), Some(110)));
}

#[test]
fn single_aggregates_over_no_rows_are_zero_or_none() {
    let (n, total, mean, _, hi) = singles_over(&db(), 1_000);
    assert_eq!((n, total, mean, hi), (0, 0, None, None));
}

#[test]
fn single_aggregate_equals_the_one_tuple_and_the_shortcut_methods() {
    let db = db();
    db.read(|tx| {
        let q = tx.query::<Post>().filter(Post::AUTHOR_ID.eq(1));
        let (n,) = q.aggregate((count(),))?;
        let (total,) = q.aggregate((sum(Post::LIKES),))?;
        assert_eq!(q.aggregate(count())?, n);
        assert_eq!(q.aggregate(count())?, q.count()?);
        assert_eq!(q.aggregate(sum(Post::LIKES))?, total);
        assert_eq!(q.aggregate(sum(Post::LIKES))?, q.sum(Post::LIKES)?);
        assert_eq!(q.aggregate(avg(Post::LIKES))?, q.avg(Post::LIKES)?);
        assert_eq!(q.aggregate(min(Post::LIKES))?, q.min(Post::LIKES)?);
        Ok(())
    })
    .unwrap();
}

#[test]
fn group_by_with_count_alone_gives_each_group_a_u64() {
    let groups: Vec<(u64, u64)> =
        db().read(|tx| tx.query::<Post>().group_by(Post::AUTHOR_ID).aggregate(count()).all()).unwrap();
    assert_eq!(groups, [(0, 4), (1, 4), (2, 4)]);
}

#[test]
fn group_by_with_sum_alone_takes_having_and_order() {
    // Author a has likes 10 * (a, a + 3, a + 6, a + 9): totals 180, 220, 260.
    let groups: Vec<(u64, u64)> = db()
        .read(|tx| {
            tx.query::<Post>()
                .group_by(Post::AUTHOR_ID)
                .aggregate(sum(Post::LIKES))
                .having(sum(Post::LIKES).gt(200))
                .order_by(sum(Post::LIKES).desc())
                .all()
        })
        .unwrap();
    assert_eq!(groups, [(2, 260), (1, 220)]);
}

#[test]
fn group_by_with_max_alone_over_a_filter_gives_an_option() {
    let groups: Vec<(u64, Option<u32>)> = db()
        .read(|tx| {
            tx.query::<Post>().filter(Post::LIKES.lt(60)).group_by(Post::AUTHOR_ID).aggregate(max(Post::LIKES)).all()
        })
        .unwrap();
    assert_eq!(groups, [(0, Some(30)), (1, Some(40)), (2, Some(50))]);
}

#[test]
fn tuples_of_aggregates_still_return_tuples() {
    let db = db();
    let (n, total, mean): (u64, u64, Option<f64>) =
        db.read(|tx| tx.query::<Post>().aggregate((count(), sum(Post::LIKES), avg(Post::LIKES)))).unwrap();
    assert_eq!((n, total, mean), (12, 660, Some(55.0)));
    let groups: Vec<(u64, (u64, Option<i32>))> = db
        .read(|tx| tx.query::<Post>().group_by(Post::AUTHOR_ID).aggregate((count(), min(Post::SCORE))).all())
        .unwrap();
    assert_eq!(groups, [(0, (4, Some(-6))), (1, (4, Some(-5))), (2, (4, Some(-4)))]);
}
