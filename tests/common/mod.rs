//! Entities shared by the behaviour tests, and helpers that read a transaction's
//! rows and index entries through the public API.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fmt::Debug;

use drift::prelude::*;
use drift::{Access, GroupStrategy, KeyCodec};

#[derive(Entity, Debug, Clone, PartialEq, Default)]
#[drift(table = "users", version = 1)]
pub struct User {
    #[drift(primary_key, auto_increment)]
    pub id: u64,
    #[drift(unique)]
    pub email: String,
    #[drift(index)]
    pub age: u32,
    pub name: String,
}

impl User {
    pub fn new(email: &str, age: u32, name: &str) -> User {
        User { id: 0, email: email.into(), age, name: name.into() }
    }
}

/// Every kind of key field, for ordering tests.
#[derive(Entity, Debug, Clone, PartialEq, Default)]
#[drift(index(fields(city, score)))]
pub struct Reading {
    #[drift(primary_key)]
    pub sensor: String,
    #[drift(primary_key)]
    pub seq: i64,
    #[drift(index)]
    pub temp: f64,
    #[drift(index)]
    pub delta: i32,
    pub city: String,
    pub score: i16,
    #[drift(index)]
    pub label: Option<String>,
}

pub fn memory_db() -> Db {
    Db::builder().entity::<User>().entity::<Reading>().in_memory().expect("in-memory db opens")
}

pub fn file_db(dir: &tempfile::TempDir) -> Db {
    Db::builder().entity::<User>().entity::<Reading>().open(dir.path().join("test.drift")).expect("db opens")
}

/// The reads both transaction kinds offer, so that the helpers below can also look
/// inside a write transaction that is still open.
pub trait Reads {
    fn q<T: Entity>(&self) -> Query<'_, T>;
}

impl Reads for ReadTx {
    fn q<T: Entity>(&self) -> Query<'_, T> {
        self.query::<T>()
    }
}

impl Reads for WriteTx {
    fn q<T: Entity>(&self) -> Query<'_, T> {
        self.query::<T>()
    }
}

/// The entries of the index named `index`, which `field` leads, as (value, number
/// of entries) pairs in index order. They are read from the index alone: a count
/// grouped by `field` whose plan is checked to walk that index and decode no row.
/// So an entry left behind by a failed or undone write shows up here, and a row
/// whose entry is missing does not.
pub fn index_entries<T: Entity, V: KeyCodec + Clone + Debug + Send + Sync + 'static>(
    tx: &impl Reads,
    field: Field<T, V>,
    index: &str,
) -> Vec<(V, u64)> {
    let grouped = tx.q::<T>().group_by(field).aggregate((count(),));
    let plan = grouped.explain().unwrap();
    assert_eq!(plan.access, Access::IndexRange { index: index.into() }, "{plan}");
    assert_eq!(plan.group, Some(GroupStrategy::Streaming { index: index.into() }), "{plan}");
    assert!(plan.index_only && plan.residual.is_none(), "the count must come from the entries alone: {plan}");
    grouped.all().unwrap().into_iter().map(|(v, (n,))| (v, n)).collect()
}

/// The number of `User` rows that `tx` sees, after checking that each index of
/// `User` holds exactly the entries of those rows: the `email` index one entry per
/// row's email, the `age` index one entry per row (read with [`index_entries`]).
pub fn user_count_in(tx: &impl Reads) -> u64 {
    let rows = tx.q::<User>().all().unwrap();
    let table_len = tx.q::<User>().count().unwrap();
    assert_eq!(table_len, rows.len() as u64, "the table's length and a scan of it disagree");
    let mut emails: Vec<(String, u64)> = rows.iter().map(|u| (u.email.clone(), 1)).collect();
    emails.sort();
    assert_eq!(index_entries(tx, User::EMAIL, "email"), emails, "the `email` index does not match the rows");
    let mut ages = BTreeMap::new();
    for u in &rows {
        *ages.entry(u.age).or_insert(0u64) += 1;
    }
    assert_eq!(
        index_entries(tx, User::AGE, "age"),
        ages.into_iter().collect::<Vec<_>>(),
        "the `age` index does not match the rows"
    );
    table_len
}

/// [`user_count_in`] on a fresh read transaction: the committed `User` rows, with
/// every index entry checked against them.
pub fn user_count(db: &Db) -> u64 {
    db.read(|tx| Ok(user_count_in(tx))).unwrap()
}
