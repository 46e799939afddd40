//! Model-based test of the query engine: random rows and random queries (filters,
//! orders, limits, offsets, aggregates, group_by with having) against a naive
//! in-memory oracle, on an entity with indexes and on the same entity without.

use std::collections::BTreeMap;

use drift::prelude::*;
use drift::{KeyCodec, avg, count, max, min, sum};
use proptest::prelude::*;

macro_rules! item {
    ($name:ident, [$($attr:tt)*], [$($ia:tt)*], [$($ib:tt)*], [$($is:tt)*]) => {
        #[derive(Entity, Debug, Clone, PartialEq, Default)]
        #[drift($($attr)*)]
        pub struct $name {
            #[drift(primary_key)]
            pub id: u64,
            $($ia)* pub a: i32,
            $($ib)* pub b: Option<i16>,
            $($is)* pub s: String,
            pub c: u8,
        }
    };
}
item!(Indexed, [table = "indexed", index(fields(s, a))], [#[drift(index)]], [#[drift(index)]], [#[drift(unique)]]);
item!(Plain, [table = "plain"], [], [], []);

#[derive(Debug, Clone)]
struct Row {
    id: u64,
    a: i32,
    b: Option<i16>,
    s: String,
    c: u8,
}

#[derive(Debug, Clone)]
enum F {
    A(u8, i32, i32),
    B(u8, Option<i16>),
    S(u8, String),
    C(u8, u8),
    Id(u8, u64),
    And(Box<F>, Box<F>),
    Or(Box<F>, Box<F>),
    Not(Box<F>),
}

fn cmp_ok<V: PartialOrd>(op: u8, v: &V, x: &V, y: &V) -> bool {
    match op % 7 {
        0 => v == x,
        1 => v != x,
        2 => v < x,
        3 => v <= x,
        4 => v > x,
        5 => v >= x,
        _ => v >= (if x < y { x } else { y }) && v <= (if x > y { x } else { y }),
    }
}

fn eval(f: &F, r: &Row) -> bool {
    match f {
        F::A(op, x, y) => cmp_ok(*op, &r.a, x, y),
        F::B(op, x) => match op % 3 {
            0 => r.b.is_none(),
            1 => r.b.is_some(),
            _ => r.b == *x,
        },
        F::S(op, x) => match op % 3 {
            0 => r.s.starts_with(x.as_str()),
            1 => r.s == *x,
            _ => r.s > *x,
        },
        F::C(op, x) => match op % 2 {
            0 => r.c == *x,
            _ => [*x, x.wrapping_add(1), x.wrapping_add(2)].contains(&r.c),
        },
        F::Id(op, x) => cmp_ok(*op, &r.id, x, &x.saturating_add(5)),
        F::And(l, r2) => eval(l, r) && eval(r2, r),
        F::Or(l, r2) => eval(l, r) || eval(r2, r),
        F::Not(x) => !eval(x, r),
    }
}

macro_rules! to_filter {
    ($fn:ident, $T:ident) => {
        fn $fn(f: &F) -> Filter<$T> {
            fn cmp<V: drift::KeyCodec + std::fmt::Debug + Send + Sync + Clone + PartialOrd + 'static>(
                field: drift::Field<$T, V>,
                op: u8,
                x: V,
                y: V,
            ) -> Filter<$T> {
                match op % 7 {
                    0 => field.eq(x),
                    1 => field.ne(x),
                    2 => field.lt(x),
                    3 => field.lte(x),
                    4 => field.gt(x),
                    5 => field.gte(x),
                    _ => {
                        let (lo, hi) = if x > y { (y, x) } else { (x, y) };
                        field.between(lo, hi)
                    }
                }
            }
            match f {
                F::A(op, x, y) => cmp($T::A, *op, *x, *y),
                F::B(op, x) => match op % 3 {
                    0 => $T::B.is_none(),
                    1 => $T::B.is_some(),
                    _ => $T::B.eq(*x),
                },
                F::S(op, x) => match op % 3 {
                    0 => $T::S.starts_with(x),
                    1 => $T::S.eq(x.as_str()),
                    _ => $T::S.gt(x.as_str()),
                },
                F::C(op, x) => match op % 2 {
                    0 => $T::C.eq(*x),
                    _ => $T::C.in_list(vec![*x, x.wrapping_add(1), x.wrapping_add(2)]),
                },
                F::Id(op, x) => cmp($T::ID, *op, *x, x.saturating_add(5)),
                F::And(l, r) => $fn(l) & $fn(r),
                F::Or(l, r) => $fn(l) | $fn(r),
                F::Not(x) => !$fn(x),
            }
        }
    };
}
to_filter!(filter_indexed, Indexed);
to_filter!(filter_plain, Plain);

fn leaf() -> impl Strategy<Value = F> {
    let s = "[ab]{0,3}";
    prop_oneof![
        (any::<u8>(), -4..4i32, -4..4i32).prop_map(|(o, x, y)| F::A(o, x, y)),
        (any::<u8>(), proptest::option::of(-2..2i16)).prop_map(|(o, x)| F::B(o, x)),
        (any::<u8>(), s).prop_map(|(o, x)| F::S(o, x)),
        (any::<u8>(), 0..4u8).prop_map(|(o, x)| F::C(o, x)),
        (any::<u8>(), 0..40u64).prop_map(|(o, x)| F::Id(o, x)),
    ]
}

fn filter() -> impl Strategy<Value = F> {
    leaf().prop_recursive(2, 6, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(l, r)| F::And(Box::new(l), Box::new(r))),
            (inner.clone(), inner.clone()).prop_map(|(l, r)| F::Or(Box::new(l), Box::new(r))),
            inner.prop_map(|x| F::Not(Box::new(x))),
        ]
    })
}

fn rows() -> impl Strategy<Value = Vec<Row>> {
    proptest::collection::btree_map(0..40u64, (-4..4i32, proptest::option::of(-2..2i16), 0..4u8), 0..30).prop_map(|m| {
        m.into_iter()
            .enumerate()
            // Unique strings with shared prefixes: a..., b..., and the key's digits.
            .map(|(i, (id, (a, b, c)))| Row { id, a, b, s: format!("{}{}", ["", "a", "ab", "b", "ba"][i % 5], id), c })
            .collect()
    })
}

/// (field, descending) for the ordering; `id` breaks ties in the same direction.
fn sort_rows(rows: &mut [Row], order: Option<(u8, bool)>) {
    let Some((field, desc)) = order else {
        rows.sort_by_key(|r| r.id);
        return;
    };
    rows.sort_by(|x, y| {
        let c = match field % 4 {
            0 => x.a.cmp(&y.a),
            1 => x.b.cmp(&y.b),
            2 => x.s.cmp(&y.s),
            _ => x.c.cmp(&y.c),
        }
        .then(x.id.cmp(&y.id));
        if desc { c.reverse() } else { c }
    });
}

macro_rules! run_query {
    ($tx:expr, $T:ident, $filter:ident, $f:expr, $order:expr, $limit:expr, $offset:expr) => {{
        let mut q = $tx.query::<$T>().filter($filter($f));
        if let Some((field, desc)) = $order {
            let o = |asc: drift::Order<$T>, d: drift::Order<$T>| if desc { d } else { asc };
            q = match field % 4 {
                0 => q.order_by(o($T::A.asc(), $T::A.desc())),
                1 => q.order_by(o($T::B.asc(), $T::B.desc())),
                2 => q.order_by(o($T::S.asc(), $T::S.desc())),
                _ => q.order_by(o($T::C.asc(), $T::C.desc())),
            };
            q = q.order_by(if desc { $T::ID.desc() } else { $T::ID.asc() });
            if let Some(l) = $limit {
                q = q.limit(l);
            }
            q = q.offset($offset);
        }
        let mut got: Vec<u64> = q.all().unwrap().into_iter().map(|r| r.id).collect();
        if $order.is_none() {
            got.sort_unstable();
        }
        let n = q.count().unwrap();
        let sum_a = q.sum($T::A).unwrap();
        let min_s = q.min($T::S).unwrap();
        let max_b = q.max($T::B).unwrap();
        let avg_c = q.avg($T::C).unwrap();
        let agg = q.aggregate((count(), sum($T::A), min($T::S), max($T::B), avg($T::C))).unwrap();
        assert_eq!(agg, (n, sum_a, min_s.clone(), max_b, avg_c));
        (got, n, sum_a, min_s, max_b, avg_c)
    }};
}

macro_rules! run_group {
    ($tx:expr, $T:ident, $filter:ident, $f:expr, $gfield:expr, $having:expr) => {{
        let q = $tx.query::<$T>().filter($filter($f));
        let enc = |k: &dyn Fn(&mut Vec<u8>)| {
            let mut v = Vec::new();
            k(&mut v);
            v
        };
        match $gfield % 3 {
            0 => {
                let g = q.group_by($T::S).aggregate((count(), sum($T::A)));
                let g = if let Some(h) = $having { g.having(count().gte(h)) } else { g };
                g.all()
                    .unwrap()
                    .into_iter()
                    .map(|(k, (c, s))| (enc(&|v| k.encode_key(v).unwrap()), c, s))
                    .collect::<Vec<_>>()
            }
            1 => {
                let g = q.group_by($T::B).aggregate((count(), sum($T::A)));
                let g = if let Some(h) = $having { g.having(count().gte(h)) } else { g };
                g.all()
                    .unwrap()
                    .into_iter()
                    .map(|(k, (c, s))| (enc(&|v| k.encode_key(v).unwrap()), c, s))
                    .collect::<Vec<_>>()
            }
            _ => {
                let g = q.group_by(($T::C, $T::B)).aggregate((count(), sum($T::A)));
                let g = if let Some(h) = $having { g.having(count().gte(h)) } else { g };
                g.all()
                    .unwrap()
                    .into_iter()
                    .map(|(k, (c, s))| (enc(&|v| k.encode_key(v).unwrap()), c, s))
                    .collect::<Vec<_>>()
            }
        }
    }};
}

fn setup(rows: &[Row]) -> Db {
    let db = Db::builder().entity::<Indexed>().entity::<Plain>().in_memory().unwrap();
    db.write(|tx| {
        for r in rows {
            tx.insert(&Indexed { id: r.id, a: r.a, b: r.b, s: r.s.clone(), c: r.c })?;
            tx.insert(&Plain { id: r.id, a: r.a, b: r.b, s: r.s.clone(), c: r.c })?;
        }
        Ok(())
    })
    .unwrap();
    db
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn queries_match_the_oracle_with_and_without_indexes(
        rows in rows(),
        f in filter(),
        order in proptest::option::of((0..4u8, any::<bool>())),
        limit in proptest::option::of(0..10usize),
        offset in 0..5usize,
    ) {
        let db = setup(&rows);
        let mut want: Vec<Row> = rows.iter().filter(|r| eval(&f, r)).cloned().collect();
        sort_rows(&mut want, order);
        if order.is_some() {
            want = want.into_iter().skip(offset).take(limit.unwrap_or(usize::MAX)).collect();
        }
        let want_ids: Vec<u64> = want.iter().map(|r| r.id).collect();
        let want_count = want.len() as u64;
        let want_sum: i64 = want.iter().map(|r| i64::from(r.a)).sum();
        let want_min_s = want.iter().map(|r| r.s.clone()).min();
        // `max` skips `None`, as SQL skips NULL: no value at all is `None`.
        let want_max_b = want.iter().filter_map(|r| r.b).max().map(Some);
        let want_avg_c = (!want.is_empty()).then(|| want.iter().map(|r| f64::from(r.c)).sum::<f64>() / want.len() as f64);
        let tx = db.begin_read().unwrap();
        let indexed = run_query!(tx, Indexed, filter_indexed, &f, order, limit, offset);
        let plain = run_query!(tx, Plain, filter_plain, &f, order, limit, offset);
        for got in [indexed, plain] {
            prop_assert_eq!(&got.0, &want_ids);
            prop_assert_eq!(got.1, want_count);
            prop_assert_eq!(got.2, want_sum);
            prop_assert_eq!(&got.3, &want_min_s);
            prop_assert_eq!(got.4, want_max_b);
            match (got.5, want_avg_c) {
                (Some(g), Some(w)) => prop_assert!((g - w).abs() < 1e-9),
                (g, w) => prop_assert_eq!(g, w),
            }
        }
    }

    #[test]
    fn group_by_matches_the_oracle_with_and_without_indexes(
        rows in rows(),
        f in filter(),
        gfield in 0..3u8,
        having in proptest::option::of(1..4u64),
    ) {
        let db = setup(&rows);
        let mut groups: BTreeMap<Vec<u8>, (u64, i64)> = BTreeMap::new();
        for r in rows.iter().filter(|r| eval(&f, r)) {
            let key = match gfield % 3 {
                0 => r.s.to_key_bytes().unwrap(),
                1 => r.b.to_key_bytes().unwrap(),
                _ => (r.c, r.b).to_key_bytes().unwrap(),
            };
            let g = groups.entry(key).or_default();
            g.0 += 1;
            g.1 += i64::from(r.a);
        }
        let want: Vec<(Vec<u8>, u64, i64)> = groups
            .into_iter()
            .filter(|(_, (c, _))| having.is_none_or(|h| *c >= h))
            .map(|(k, (c, s))| (k, c, s))
            .collect();
        let tx = db.begin_read().unwrap();
        let indexed = run_group!(tx, Indexed, filter_indexed, &f, gfield, having);
        let plain = run_group!(tx, Plain, filter_plain, &f, gfield, having);
        prop_assert_eq!(&indexed, &want);
        prop_assert_eq!(&plain, &want);
    }
}
