//! Profiling driver for issue 13: where a get and a scanned row spend their time.
//!
//! One operation per run, so each can be run under callgrind on its own:
//!
//! ```text
//! cargo build --release -p drift-bench --example profile
//! P=target/release/examples/profile
//! $P setup --n 100000                     # builds /tmp/drift-profile/{drift,raw}.redb natively
//! valgrind --tool=callgrind --toggle-collect='*measure_*' \
//!     --callgrind-out-file=/tmp/cg.get-nocache $P get-nocache --gets 20000
//! callgrind_annotate --inclusive=yes /tmp/cg.get-nocache
//! ```
//!
//! Each operation runs inside one `#[inline(never)] fn measure_*`, so `--toggle-collect`
//! counts only the operation (one read transaction and the work in it), not the open or the
//! setup. The entity is the bench's user without the city: `{ id: u64, name, email (unique),
//! age (index), bio }`; the raw arm stores the same row as postcard bytes under a `u64` key,
//! with `email -> id` and `(age, id) -> ()` tables as the indexes.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::path::PathBuf;
use std::time::Instant;

use drift::prelude::*;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

#[derive(Entity, Debug, Clone, PartialEq, Default)]
#[drift(table = "users")]
pub struct User {
    #[drift(primary_key)]
    pub id: u64,
    pub name: String,
    #[drift(unique)]
    pub email: String,
    #[drift(index)]
    pub age: u32,
    pub bio: String,
}

const USERS: TableDefinition<u64, &[u8]> = TableDefinition::new("users");
const USERS_EMAIL: TableDefinition<&str, u64> = TableDefinition::new("users_email");
const USERS_AGE: TableDefinition<(u32, u64), ()> = TableDefinition::new("users_age");

#[derive(Serialize)]
struct RowRef<'a> {
    name: &'a str,
    email: &'a str,
    age: u32,
    bio: &'a str,
}

#[derive(Deserialize, Debug)]
struct Row {
    name: String,
    email: String,
    age: u32,
    bio: String,
}

/// Ages span 18..=80; the index range takes 10 of them.
const MIN_AGE: u32 = 18;
const MAX_AGE: u32 = 80;
const RANGE_LO: u32 = 30;
const RANGE_HI: u32 = 39;

fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

fn make_user(id: u64) -> User {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz     ";
    const FIRST: &[&str] = &["Ada", "Alan", "Grace", "Edsger", "Barbara", "Donald", "Ken", "Dennis"];
    const LAST: &[&str] = &["Lovelace", "Turing", "Hopper", "Dijkstra", "Liskov", "Knuth", "Thompson", "Ritchie"];
    let mut s = mix(id ^ 0x5151);
    let mut next = || {
        s = mix(s);
        s
    };
    let bio: String = (0..100).map(|_| char::from(ALPHABET[(next() % ALPHABET.len() as u64) as usize])).collect();
    let age = MIN_AGE + (next() % u64::from(MAX_AGE - MIN_AGE + 1)) as u32;
    let name = format!("{} {}", FIRST[(next() % 8) as usize], LAST[(next() % 8) as usize]);
    User { id, name, email: format!("{:016x}@example.com", mix(id)), age, bio }
}

fn dir() -> PathBuf {
    PathBuf::from(std::env::var("DRIFT_PROFILE_DIR").unwrap_or_else(|_| "/tmp/drift-profile".into()))
}

fn drift_path() -> PathBuf {
    dir().join("drift.redb")
}

fn raw_path() -> PathBuf {
    dir().join("raw.redb")
}

type BoxResult<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn setup(n: u64) -> BoxResult<()> {
    std::fs::create_dir_all(dir())?;
    let _ = std::fs::remove_file(drift_path());
    let _ = std::fs::remove_file(raw_path());
    let users: Vec<User> = (1..=n).map(make_user).collect();

    let db = Db::builder().entity::<User>().cache_capacity(0).open(drift_path())?;
    db.write(|tx| {
        for u in &users {
            tx.insert(u)?;
        }
        Ok(())
    })?;
    drop(db);

    let db = Database::create(raw_path())?;
    let tx = db.begin_write()?;
    {
        let mut t = tx.open_table(USERS)?;
        let mut by_email = tx.open_table(USERS_EMAIL)?;
        let mut by_age = tx.open_table(USERS_AGE)?;
        for u in &users {
            let bytes = postcard::to_allocvec(&RowRef { name: &u.name, email: &u.email, age: u.age, bio: &u.bio })?;
            t.insert(u.id, bytes.as_slice())?;
            by_email.insert(u.email.as_str(), u.id)?;
            by_age.insert((u.age, u.id), ())?;
        }
    }
    tx.commit()?;
    println!("setup: {n} users in {} and {}", drift_path().display(), raw_path().display());
    Ok(())
}

/// Uniform ids in 1..=n, drawn before the measured region.
fn ids(n: u64, gets: usize) -> Vec<u64> {
    (0..gets as u64).map(|i| 1 + mix(i.wrapping_mul(7919) ^ 0xABCD) % n).collect()
}

/// Zipf (s = 1.1) over the ids, the hot ids scattered over the key space.
fn zipf_ids(n: u64, gets: usize) -> Vec<u64> {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x5EED);
    let zipf = rand_distr::Zipf::new(n as f64, 1.1).expect("valid zipf");
    (0..gets).map(|_| 1 + mix(rng.sample(zipf) as u64) % n).collect()
}

fn open_drift(cache: bool) -> BoxResult<Db> {
    let capacity = if cache { 100_000 } else { 0 };
    Ok(Db::builder().entity::<User>().cache_capacity(capacity).open(drift_path())?)
}

#[inline(never)]
fn measure_drift_get(db: &Db, ids: &[u64]) -> BoxResult<u64> {
    Ok(db.read(|tx| {
        let mut sum = 0u64;
        for id in ids {
            if let Some(u) = tx.get::<User>(id)? {
                sum += u64::from(u.age) + (u.name.len() + u.email.len() + u.bio.len()) as u64;
            }
        }
        Ok(sum)
    })?)
}

#[inline(never)]
fn measure_drift_scan(db: &Db) -> BoxResult<u64> {
    Ok(db.read(|tx| {
        let all = tx.query::<User>().all()?;
        Ok(all.iter().map(|u| u64::from(u.age) + (u.name.len() + u.email.len() + u.bio.len()) as u64).sum())
    })?)
}

#[inline(never)]
fn measure_drift_range(db: &Db) -> BoxResult<u64> {
    Ok(db.read(|tx| {
        let rows = tx.query::<User>().filter(User::AGE.between(RANGE_LO, RANGE_HI)).all()?;
        Ok(rows.iter().map(|u| u64::from(u.age) + (u.name.len() + u.email.len() + u.bio.len()) as u64).sum())
    })?)
}

/// 20,000 small queries (an age, limit 10): what `query_stats` bookkeeping costs a
/// query, measured with it on (`small-queries`) and off (`small-queries-nostats`).
#[inline(never)]
fn measure_drift_small_queries(db: &Db) -> BoxResult<u64> {
    Ok(db.read(|tx| {
        let mut sum = 0u64;
        for i in 0..20_000u32 {
            let rows = tx.query::<User>().filter(User::AGE.eq(18 + i % 60)).limit(10).all()?;
            sum += rows.iter().map(|u| u.id).sum::<u64>();
        }
        Ok(sum)
    })?)
}

#[inline(never)]
fn measure_drift_group(db: &Db) -> BoxResult<u64> {
    Ok(db.read(|tx| {
        let groups = tx.query::<User>().group_by(User::AGE).aggregate((count(), avg(User::ID))).all()?;
        Ok(groups.iter().map(|(age, (n, a))| u64::from(*age) + n + a.unwrap_or(0.0) as u64).sum())
    })?)
}

#[inline(never)]
fn measure_raw_get(db: &Database, ids: &[u64]) -> BoxResult<u64> {
    let tx = db.begin_read()?;
    let t = tx.open_table(USERS)?;
    let mut sum = 0u64;
    for &id in ids {
        if let Some(g) = t.get(id)? {
            let row: Row = postcard::from_bytes(g.value())?;
            sum += u64::from(row.age) + (row.name.len() + row.email.len() + row.bio.len()) as u64;
        }
    }
    Ok(sum)
}

#[inline(never)]
fn measure_drift_scan_iter(db: &Db) -> BoxResult<u64> {
    Ok(db.read(|tx| {
        let mut sum = 0u64;
        for u in tx.query::<User>().iter()? {
            let u = u?;
            sum += u64::from(u.age) + (u.name.len() + u.email.len() + u.bio.len()) as u64;
        }
        Ok(sum)
    })?)
}

#[inline(never)]
fn measure_drift_get_email(db: &Db, emails: &[String]) -> BoxResult<u64> {
    Ok(db.read(|tx| {
        let mut sum = 0u64;
        for e in emails {
            if let Some(u) = tx.get_by::<User, _>(User::EMAIL, e.as_str())? {
                sum += u64::from(u.age) + (u.name.len() + u.email.len() + u.bio.len()) as u64;
            }
        }
        Ok(sum)
    })?)
}

#[inline(never)]
fn measure_raw_get_email(db: &Database, emails: &[String]) -> BoxResult<u64> {
    let tx = db.begin_read()?;
    let t = tx.open_table(USERS)?;
    let by_email = tx.open_table(USERS_EMAIL)?;
    let mut sum = 0u64;
    for e in emails {
        if let Some(id) = by_email.get(e.as_str())? {
            let g = t.get(id.value())?.ok_or("index points to a missing row")?;
            let row: Row = postcard::from_bytes(g.value())?;
            sum += u64::from(row.age) + (row.name.len() + row.email.len() + row.bio.len()) as u64;
        }
    }
    Ok(sum)
}

#[inline(never)]
fn measure_raw_scan(db: &Database) -> BoxResult<u64> {
    let tx = db.begin_read()?;
    let t = tx.open_table(USERS)?;
    let mut all = Vec::new();
    for entry in t.iter()? {
        let (k, v) = entry?;
        let row: Row = postcard::from_bytes(v.value())?;
        all.push((k.value(), row));
    }
    Ok(all.iter().map(|(_, u)| u64::from(u.age) + (u.name.len() + u.email.len() + u.bio.len()) as u64).sum())
}

#[inline(never)]
fn measure_raw_range(db: &Database) -> BoxResult<u64> {
    let tx = db.begin_read()?;
    let t = tx.open_table(USERS)?;
    let by_age = tx.open_table(USERS_AGE)?;
    let mut rows = Vec::new();
    for entry in by_age.range((RANGE_LO, 0)..=(RANGE_HI, u64::MAX))? {
        let (k, _) = entry?;
        let (_, id) = k.value();
        let g = t.get(id)?.ok_or("index points to a missing row")?;
        let row: Row = postcard::from_bytes(g.value())?;
        rows.push((id, row));
    }
    Ok(rows.iter().map(|(_, u)| u64::from(u.age) + (u.name.len() + u.email.len() + u.bio.len()) as u64).sum())
}

#[inline(never)]
fn measure_raw_group(db: &Database) -> BoxResult<u64> {
    let tx = db.begin_read()?;
    let t = tx.open_table(USERS)?;
    let mut groups: BTreeMap<u32, (u64, u64)> = BTreeMap::new();
    for entry in t.iter()? {
        let (k, v) = entry?;
        let row: Row = postcard::from_bytes(v.value())?;
        let g = groups.entry(row.age).or_default();
        g.0 += 1;
        g.1 += k.value();
    }
    Ok(groups.iter().map(|(age, (n, s))| u64::from(*age) + n + (*s as f64 / *n as f64) as u64).sum())
}

fn main() -> BoxResult<()> {
    let args: Vec<String> = std::env::args().collect();
    let op = args.get(1).map(String::as_str).unwrap_or("help");
    let flag = |name: &str, default: u64| -> u64 {
        args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).map_or(default, |v| v.parse().unwrap())
    };
    let n = flag("--n", 100_000);
    let gets = flag("--gets", 100_000) as usize;
    let started = Instant::now();
    let (label, out): (&str, u64) = match op {
        "setup" => return setup(n),
        "get-nocache" => {
            let ids = ids(n, gets);
            let db = open_drift(false)?;
            ("drift get, cache off", black_box(measure_drift_get(&db, &ids)?))
        }
        "get-cache" => {
            let ids = ids(n, gets);
            let db = open_drift(true)?;
            let r = measure_drift_get(&db, &ids)?;
            let s = db.stats();
            eprintln!("cache hits {} misses {}", s.cache_hits, s.cache_misses);
            ("drift get, cache on", black_box(r))
        }
        "get-zipf-nocache" => {
            let ids = zipf_ids(n, gets);
            let db = open_drift(false)?;
            ("drift zipf get, cache off", black_box(measure_drift_get(&db, &ids)?))
        }
        "get-zipf-cache" => {
            let ids = zipf_ids(n, gets);
            let db = open_drift(true)?;
            let r = measure_drift_get(&db, &ids)?;
            let s = db.stats();
            eprintln!("cache hits {} misses {}", s.cache_hits, s.cache_misses);
            ("drift zipf get, cache on", black_box(r))
        }
        "raw-get-zipf" => {
            let ids = zipf_ids(n, gets);
            let db = Database::open(raw_path())?;
            ("raw redb zipf get", black_box(measure_raw_get(&db, &ids)?))
        }
        "get-email" => {
            let emails: Vec<String> = ids(n, gets).iter().map(|&id| format!("{:016x}@example.com", mix(id))).collect();
            ("drift get_by email, cache off", black_box(measure_drift_get_email(&open_drift(false)?, &emails)?))
        }
        "raw-get-email" => {
            let emails: Vec<String> = ids(n, gets).iter().map(|&id| format!("{:016x}@example.com", mix(id))).collect();
            ("raw redb get by email", black_box(measure_raw_get_email(&Database::open(raw_path())?, &emails)?))
        }
        "scan-iter" => ("drift query().iter()", black_box(measure_drift_scan_iter(&open_drift(false)?)?)),
        "scan" => ("drift query().all()", black_box(measure_drift_scan(&open_drift(false)?)?)),
        "scan-cache" => ("drift query().all(), cache on", black_box(measure_drift_scan(&open_drift(true)?)?)),
        "range" => ("drift age index range", black_box(measure_drift_range(&open_drift(false)?)?)),
        "group" => ("drift group_by(age) count+avg", black_box(measure_drift_group(&open_drift(false)?)?)),
        "small-queries" => {
            let db = Db::builder().entity::<User>().cache_capacity(0).open(drift_path())?;
            ("drift 20,000 queries age = x limit 10, query_stats on", black_box(measure_drift_small_queries(&db)?))
        }
        "small-queries-nostats" => {
            let db = Db::builder().entity::<User>().cache_capacity(0).query_stats(false).open(drift_path())?;
            ("drift 20,000 queries age = x limit 10, query_stats off", black_box(measure_drift_small_queries(&db)?))
        }
        "raw-get" => {
            let ids = ids(n, gets);
            let db = Database::open(raw_path())?;
            ("raw redb get", black_box(measure_raw_get(&db, &ids)?))
        }
        "raw-scan" => ("raw redb scan", black_box(measure_raw_scan(&Database::open(raw_path())?)?)),
        "raw-range" => ("raw redb age index range", black_box(measure_raw_range(&Database::open(raw_path())?)?)),
        "raw-group" => ("raw redb group by age", black_box(measure_raw_group(&Database::open(raw_path())?)?)),
        _ => {
            eprintln!(
                "usage: profile <setup|get-nocache|get-cache|get-zipf-nocache|get-zipf-cache|raw-get-zipf|get-email|raw-get-email|scan|scan-iter|scan-cache|range|group|raw-get|raw-scan|raw-range|raw-group> [--n N] [--gets G]\n\
                 files under $DRIFT_PROFILE_DIR (default /tmp/drift-profile)"
            );
            std::process::exit(2);
        }
    };
    println!("{label}: checksum {out}, {:?}", started.elapsed());
    Ok(())
}
