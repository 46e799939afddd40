//! Entities shared by the behaviour tests.
#![allow(dead_code)]

use drift::prelude::*;

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

/// Every (index name, entry count) pair, read through the public API: for each
/// indexed field, the number of rows a full index range returns equals the table.
pub fn user_count(db: &Db) -> u64 {
    db.read(|tx| tx.query::<User>().count()).unwrap()
}
