//! SQLite through rusqlite (bundled), WAL mode, cached prepared statements, an index on every
//! column the other arms index. `synchronous=FULL` except for the non-durable single-commit
//! workload, which runs with `synchronous=NORMAL` (in WAL mode: no fsync at commit).
//! The page cache is raised to 1 GiB, the size of redb's default cache.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, params};

use super::{Arm, size_of, two_threads};
use crate::workloads::{BoxResult, Dataset, Loaded, OrderData, Tally, UserData, Workload, len_of};

const SCHEMA: &str = "
CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    age INTEGER NOT NULL,
    city TEXT NOT NULL,
    name TEXT NOT NULL,
    bio TEXT NOT NULL
);
CREATE INDEX users_age ON users(age);
CREATE INDEX users_city ON users(city);
CREATE TABLE orders (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL,
    amount INTEGER NOT NULL
);
CREATE INDEX orders_user ON orders(user_id);
";

const INSERT_USER: &str = "INSERT INTO users (id, email, age, city, name, bio) VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
const SELECT_COLUMNS: &str = "SELECT id, email, age, city, name, bio FROM users";

fn key(id: u64) -> BoxResult<i64> {
    Ok(i64::try_from(id)?)
}

/// A decoded row, as an application would hold it.
struct Row {
    #[allow(dead_code)] // read like every other column, kept for realism
    id: i64,
    email: String,
    age: u32,
    city: String,
    name: String,
    bio: String,
}

impl Row {
    fn from_sql(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
        Ok(Row { id: r.get(0)?, email: r.get(1)?, age: r.get(2)?, city: r.get(3)?, name: r.get(4)?, bio: r.get(5)? })
    }

    fn text_len(&self) -> u64 {
        len_of(&self.email, &self.city, &self.name, &self.bio)
    }
}

pub struct SqliteArm {
    conn: Connection,
    path: PathBuf,
    /// The second reader's connection, open only for the two-reader workload.
    second: Option<Connection>,
}

impl SqliteArm {
    pub fn open(path: &Path) -> BoxResult<SqliteArm> {
        let conn = SqliteArm::connect(path)?;
        let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(format!("sqlite refused WAL mode: {mode}").into());
        }
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.execute_batch(SCHEMA)?;
        Ok(SqliteArm { conn, path: path.to_path_buf(), second: None })
    }

    /// A connection with the arm's page cache size and statement cache.
    fn connect(path: &Path) -> BoxResult<Connection> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "cache_size", -1_048_576)?; // KiB: 1 GiB
        conn.set_prepared_statement_cache_capacity(32);
        Ok(conn)
    }

    fn insert_user(conn: &Connection, u: &UserData) -> BoxResult<()> {
        let mut st = conn.prepare_cached(INSERT_USER)?;
        st.execute(params![key(u.id)?, u.email, u.age, u.city, u.name, u.bio])?;
        Ok(())
    }
}

/// Gets by primary key in one read transaction.
fn gets(conn: &mut Connection, ids: &[u64]) -> BoxResult<Tally> {
    let tx = conn.transaction()?;
    let mut t = Tally::default();
    {
        let mut st = tx.prepare_cached(&format!("{SELECT_COLUMNS} WHERE id = ?1"))?;
        for &id in ids {
            if let Some(row) = st.query_row([key(id)?], Row::from_sql).optional()? {
                t.add(row.age, row.text_len());
            }
        }
    }
    tx.commit()?;
    Ok(t)
}

impl Arm for SqliteArm {
    fn prepare(&mut self, workload: Workload, _data: &Dataset) -> BoxResult<()> {
        self.second = None;
        if workload == Workload::GetUniform2Threads {
            let second = SqliteArm::connect(&self.path)?;
            // Untimed: fills the new connection's page cache with the users table, as the
            // first connection's is after the workloads before this one.
            second.query_row("SELECT sum(length(bio)) FROM users", [], |r| r.get::<_, Option<i64>>(0))?;
            self.second = Some(second);
        }
        Ok(())
    }

    fn insert_bulk(&mut self, users: &[UserData]) -> BoxResult<()> {
        let tx = self.conn.transaction()?;
        for u in users {
            SqliteArm::insert_user(&tx, u)?;
        }
        tx.commit()?;
        Ok(())
    }

    fn insert_single_commits(&mut self, users: &[UserData], durable: bool) -> BoxResult<()> {
        if !durable {
            self.conn.pragma_update(None, "synchronous", "NORMAL")?;
        }
        for u in users {
            let tx = self.conn.transaction()?;
            SqliteArm::insert_user(&tx, u)?;
            tx.commit()?;
        }
        if !durable {
            self.conn.pragma_update(None, "synchronous", "FULL")?;
        }
        Ok(())
    }

    fn get_by_id(&mut self, ids: &[u64]) -> BoxResult<Tally> {
        gets(&mut self.conn, ids)
    }

    fn get_by_id_2threads(&mut self, halves: [&[u64]; 2]) -> BoxResult<Option<Tally>> {
        // A connection is not `Sync`: the second reader has its own (opened and warmed in
        // `prepare`), on the same file.
        let second = self.second.as_mut().ok_or("no second connection")?;
        let first = &mut self.conn;
        Ok(Some(two_threads(halves, |ids| gets(first, ids), |ids| gets(second, ids))?))
    }

    fn get_by_email(&mut self, emails: &[String]) -> BoxResult<Tally> {
        let tx = self.conn.transaction()?;
        let mut t = Tally::default();
        {
            let mut st = tx.prepare_cached(&format!("{SELECT_COLUMNS} WHERE email = ?1"))?;
            for e in emails {
                if let Some(row) = st.query_row([e], Row::from_sql).optional()? {
                    t.add(row.age, row.text_len());
                }
            }
        }
        tx.commit()?;
        Ok(t)
    }

    fn age_range(&mut self, starts: &[u32], width: u32, limit: usize) -> BoxResult<Tally> {
        let tx = self.conn.transaction()?;
        let mut t = Tally::default();
        {
            let mut st =
                tx.prepare_cached(&format!("{SELECT_COLUMNS} WHERE age BETWEEN ?1 AND ?2 ORDER BY age, id LIMIT ?3"))?;
            let limit = i64::try_from(limit)?;
            for &a in starts {
                let mut rows = st.query(params![a, a + width, limit])?;
                while let Some(r) = rows.next()? {
                    let row = Row::from_sql(r)?;
                    t.add(row.age, row.text_len());
                }
            }
        }
        tx.commit()?;
        Ok(t)
    }

    fn scan_all(&mut self) -> BoxResult<Tally> {
        let tx = self.conn.transaction()?;
        let mut t = Tally::default();
        {
            let mut st = tx.prepare_cached(SELECT_COLUMNS)?;
            let mut rows = st.query([])?;
            while let Some(r) = rows.next()? {
                let row = Row::from_sql(r)?;
                t.add(row.age, row.text_len());
            }
        }
        tx.commit()?;
        Ok(t)
    }

    fn count_by_city(&mut self) -> BoxResult<Vec<(String, u64)>> {
        let tx = self.conn.transaction()?;
        let out = {
            let mut st = tx.prepare_cached("SELECT city, count(*) FROM users GROUP BY city")?;
            st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?
                .map(|r| -> BoxResult<(String, u64)> {
                    let (c, n) = r?;
                    Ok((c, u64::try_from(n)?))
                })
                .collect::<BoxResult<Vec<_>>>()?
        };
        tx.commit()?;
        Ok(out)
    }

    fn count_name_prefix(&mut self, prefix: &str) -> BoxResult<u64> {
        // GLOB is case-sensitive like `starts_with`; the prefix has no wildcard characters.
        let tx = self.conn.transaction()?;
        let n: i64 = tx
            .prepare_cached("SELECT count(*) FROM users WHERE name GLOB ?1")?
            .query_row([format!("{prefix}*")], |r| r.get(0))?;
        tx.commit()?;
        Ok(u64::try_from(n)?)
    }

    fn update_ages(&mut self, updates: &[(u64, u32)]) -> BoxResult<u64> {
        let tx = self.conn.transaction()?;
        let mut found = 0;
        {
            let mut st = tx.prepare_cached("UPDATE users SET age = ?2 WHERE id = ?1")?;
            for &(id, age) in updates {
                found += st.execute(params![key(id)?, age])? as u64;
            }
        }
        tx.commit()?;
        Ok(found)
    }

    fn delete_users(&mut self, ids: &[u64]) -> BoxResult<u64> {
        let tx = self.conn.transaction()?;
        let mut removed = 0;
        {
            let mut st = tx.prepare_cached("DELETE FROM users WHERE id = ?1")?;
            for &id in ids {
                removed += st.execute([key(id)?])? as u64;
            }
        }
        tx.commit()?;
        Ok(removed)
    }

    fn insert_orders(&mut self, orders: &[OrderData]) -> BoxResult<()> {
        let tx = self.conn.transaction()?;
        {
            let mut st = tx.prepare_cached("INSERT INTO orders (id, user_id, amount) VALUES (?1, ?2, ?3)")?;
            for o in orders {
                st.execute(params![key(o.id)?, key(o.user_id)?, key(o.amount)?])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn sum_orders_by_user(&mut self) -> BoxResult<Vec<(u64, u64)>> {
        let tx = self.conn.transaction()?;
        let out = {
            let mut st = tx.prepare_cached("SELECT user_id, sum(amount) FROM orders GROUP BY user_id")?;
            st.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))?
                .map(|r| -> BoxResult<(u64, u64)> {
                    let (u, s) = r?;
                    Ok((u64::try_from(u)?, u64::try_from(s)?))
                })
                .collect::<BoxResult<Vec<_>>>()?
        };
        tx.commit()?;
        Ok(out)
    }

    fn users_with_orders(&mut self, ids: &[u64]) -> BoxResult<Loaded> {
        let tx = self.conn.transaction()?;
        let mut l = Loaded::default();
        {
            let mut user = tx.prepare_cached(&format!("{SELECT_COLUMNS} WHERE id = ?1"))?;
            let mut orders = tx.prepare_cached("SELECT id, user_id, amount FROM orders WHERE user_id = ?1")?;
            for &id in ids {
                let Some(row) = user.query_row([key(id)?], Row::from_sql).optional()? else { continue };
                l.users.add(row.age, row.text_len());
                let mut rows = orders.query([key(id)?])?;
                while let Some(r) = rows.next()? {
                    let (_id, _user_id, amount): (i64, i64, i64) = (r.get(0)?, r.get(1)?, r.get(2)?);
                    l.add_order(u64::try_from(amount)?);
                }
            }
        }
        tx.commit()?;
        Ok(l)
    }

    fn count_users(&mut self) -> BoxResult<u64> {
        let n: i64 = self.conn.query_row("SELECT count(*) FROM users", [], |r| r.get(0))?;
        Ok(u64::try_from(n)?)
    }

    fn count_age_between(&mut self, lo: u32, hi: u32) -> BoxResult<u64> {
        let n: i64 =
            self.conn.query_row("SELECT count(*) FROM users WHERE age BETWEEN ?1 AND ?2", [lo, hi], |r| r.get(0))?;
        Ok(u64::try_from(n)?)
    }

    fn file_bytes(&self) -> BoxResult<u64> {
        let mut wal = self.path.clone().into_os_string();
        wal.push("-wal");
        Ok(size_of(&self.path)? + size_of(Path::new(&wal))?)
    }

    /// Checkpoints the WAL into the main file and truncates it, then VACUUMs.
    fn compact(&mut self) -> BoxResult<bool> {
        self.conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE); VACUUM; PRAGMA wal_checkpoint(TRUNCATE);")?;
        Ok(true)
    }
}
