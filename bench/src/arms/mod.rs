//! The arms: one implementation of the workloads per storage engine.
//!
//! Every method does the whole operation the workload names, decoding full rows where it
//! reads them, inside one transaction per call unless the method says otherwise.

use std::path::Path;

use crate::workloads::{BoxResult, Dataset, Loaded, OrderData, Tally, UserData, Workload};

/// Runs `first` on the first half on this thread and `second` on the second half on a
/// scoped thread, at the same time, and adds up the two tallies.
pub fn two_threads(
    halves: [&[u64]; 2],
    first: impl FnOnce(&[u64]) -> BoxResult<Tally>,
    second: impl FnOnce(&[u64]) -> BoxResult<Tally> + Send,
) -> BoxResult<Tally> {
    let [a, b] = halves;
    let (ta, tb) = std::thread::scope(|s| {
        // A boxed error is not `Send`: the thread hands back its message.
        let other = s.spawn(move || second(b).map_err(|e| e.to_string()));
        (first(a), other.join())
    });
    let ta = ta?;
    let tb = tb.map_err(|_| "reader thread panicked")??;
    Ok(Tally { rows: ta.rows + tb.rows, sum_age: ta.sum_age + tb.sum_age, text_len: ta.text_len + tb.text_len })
}

pub mod drift;
pub mod lmdb;
pub mod native;
pub mod redb_raw;
pub mod sqlite;

/// The arm names accepted by `--arms`, in table order.
pub const ALL: [&str; 6] = ["drift", "drift-nocache", "redb", "lmdb", "native_db", "sqlite"];

pub trait Arm {
    /// Untimed, before each workload: lets an arm build its own entity values from the data
    /// set, so that the timed part does not include converting the benchmark's input rows.
    fn prepare(&mut self, _workload: Workload, _data: &Dataset) -> BoxResult<()> {
        Ok(())
    }

    /// Inserts all rows in one transaction (durable commit). Duplicate keys or emails are errors.
    fn insert_bulk(&mut self, users: &[UserData]) -> BoxResult<()>;

    /// Inserts each row in its own transaction, durable (fsync at commit) or not.
    fn insert_single_commits(&mut self, users: &[UserData], durable: bool) -> BoxResult<()>;

    /// Gets each id by primary key in one read transaction.
    fn get_by_id(&mut self, ids: &[u64]) -> BoxResult<Tally>;

    /// The same gets as [`get_by_id`](Arm::get_by_id) from two threads at once, one half of
    /// `ids` each, sharing one database handle; each thread opens its own read
    /// transaction. `None`: the arm does not run this workload (reported as n/a).
    fn get_by_id_2threads(&mut self, _halves: [&[u64]; 2]) -> BoxResult<Option<Tally>> {
        Ok(None)
    }

    /// Gets each email through the unique index in one read transaction.
    fn get_by_email(&mut self, emails: &[String]) -> BoxResult<Tally>;

    /// `age between a and a + width`, in age order, first `limit` rows, for each `a`.
    fn age_range(&mut self, starts: &[u32], width: u32, limit: usize) -> BoxResult<Tally>;

    /// Decodes every user row.
    fn scan_all(&mut self) -> BoxResult<Tally>;

    /// Users per city.
    fn count_by_city(&mut self) -> BoxResult<Vec<(String, u64)>>;

    /// Users whose (unindexed) name starts with `prefix`.
    fn count_name_prefix(&mut self, prefix: &str) -> BoxResult<u64>;

    /// Sets `age` of each id in one transaction; returns how many rows were found.
    fn update_ages(&mut self, updates: &[(u64, u32)]) -> BoxResult<u64>;

    /// Deletes each id in one transaction; returns how many rows were removed.
    fn delete_users(&mut self, ids: &[u64]) -> BoxResult<u64>;

    /// Inserts all orders in one transaction.
    fn insert_orders(&mut self, orders: &[OrderData]) -> BoxResult<()>;

    /// Sum of `amount` per `user_id`.
    fn sum_orders_by_user(&mut self) -> BoxResult<Vec<(u64, u64)>>;

    /// Loads each user by primary key together with all of its orders (found through the
    /// orders' `user_id` index), decoding both, in one read transaction.
    fn users_with_orders(&mut self, ids: &[u64]) -> BoxResult<Loaded>;

    /// Untimed verification: number of users.
    fn count_users(&mut self) -> BoxResult<u64>;

    /// Untimed verification: users with `lo <= age <= hi`, through the age index.
    fn count_age_between(&mut self, lo: u32, hi: u32) -> BoxResult<u64>;

    /// Bytes on disk (all files of the database).
    fn file_bytes(&self) -> BoxResult<u64>;

    /// The query plans of the read workloads, where the engine can show them (`--explain`).
    fn explain(&mut self) -> BoxResult<Option<String>> {
        Ok(None)
    }

    /// Reclaims free space, if the engine can; returns false when it cannot.
    fn compact(&mut self) -> BoxResult<bool>;
}

/// Opens arm `name` on a fresh database in `dir`.
pub fn open(name: &str, dir: &Path) -> BoxResult<Box<dyn Arm>> {
    Ok(match name {
        "drift" => Box::new(drift::DriftArm::open(&dir.join("bench.drift"), true)?),
        "drift-nocache" => Box::new(drift::DriftArm::open(&dir.join("bench.drift"), false)?),
        "redb" => Box::new(redb_raw::RedbArm::open(&dir.join("bench.redb"))?),
        "lmdb" => Box::new(lmdb::LmdbArm::open(&dir.join("bench.lmdb"))?),
        "native_db" => Box::new(native::NativeArm::open(&dir.join("bench.native_db"))?),
        "sqlite" => Box::new(sqlite::SqliteArm::open(&dir.join("bench.sqlite"))?),
        other => return Err(format!("unknown arm `{other}`").into()),
    })
}

/// Size of a file, 0 when it does not exist.
pub fn size_of(path: &Path) -> BoxResult<u64> {
    match std::fs::metadata(path) {
        Ok(m) => Ok(m.len()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
        Err(e) => Err(e.into()),
    }
}
