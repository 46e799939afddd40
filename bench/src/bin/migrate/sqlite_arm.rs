//! SQLite through rusqlite (bundled), WAL mode, `synchronous=FULL`, a 64 MiB page cache.
//! Each migration is the SQL a project would write, in one transaction with the schema
//! version bump: `ALTER TABLE .. ADD COLUMN`, `CREATE INDEX`, or an `UPDATE`.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, params};

use crate::data::{self, BoxResult, PROBE_LIKES, Scenario, check};

const SCHEMA_V1: &str = "
CREATE TABLE posts (
    id INTEGER PRIMARY KEY,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    likes INTEGER NOT NULL
);
PRAGMA user_version = 1;
";

fn open(path: &Path, page_cache: usize) -> BoxResult<Connection> {
    let conn = Connection::open(path)?;
    let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(format!("sqlite refused WAL mode: {mode}").into());
    }
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "cache_size", -i64::try_from(page_cache / 1024)?)?; // KiB
    Ok(conn)
}

fn key(id: u64) -> BoxResult<i64> {
    Ok(i64::try_from(id)?)
}

pub fn write_v1(path: &Path, n: u64, page_cache: usize) -> BoxResult<()> {
    let mut conn = open(path, page_cache)?;
    conn.execute_batch(SCHEMA_V1)?;
    for ids in data::batches(n) {
        let tx = conn.transaction()?;
        {
            let mut st = tx.prepare("INSERT INTO posts (id, title, body, likes) VALUES (?1, ?2, ?3, ?4)")?;
            for id in ids {
                st.execute(params![key(id)?, data::title(id), data::body(id), data::likes(id)])?;
            }
        }
        tx.commit()?;
    }
    let rows: i64 = conn.query_row("SELECT count(*) FROM posts", [], |r| r.get(0))?;
    check("v1 rows", u64::try_from(rows)?, n)?;
    // Closing the last connection checkpoints the WAL into the file.
    conn.close().map_err(|(_, e)| e)?;
    Ok(())
}

/// Opens the v1 file at `path` and migrates it in one transaction.
pub fn migrate(path: &Path, scenario: Scenario, page_cache: usize) -> BoxResult<Connection> {
    let mut conn = open(path, page_cache)?;
    let tx = conn.transaction()?;
    let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    check("schema version before", version, 1)?;
    tx.execute_batch(match scenario {
        Scenario::AddOption => "ALTER TABLE posts ADD COLUMN pinned INTEGER;",
        Scenario::AddIndex => "CREATE INDEX posts_likes ON posts(likes);",
        Scenario::Transform => "UPDATE posts SET title = upper(title);",
    })?;
    tx.execute_batch("PRAGMA user_version = 2;")?;
    tx.commit()?;
    Ok(conn)
}

/// Rows, sample values, the schema version and (for `add_index`) the index in the plan.
pub fn verify(conn: Connection, scenario: Scenario, n: u64) -> BoxResult<()> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    check("schema version after", version, 2)?;
    let rows: i64 = conn.query_row("SELECT count(*) FROM posts", [], |r| r.get(0))?;
    check("rows", u64::try_from(rows)?, n)?;
    for id in data::sample_ids(n) {
        let got = conn
            .query_row("SELECT title, body, likes FROM posts WHERE id = ?1", [key(id)?], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, u32>(2)?))
            })
            .optional()?;
        check("sample row", got, Some((data::title_v2(id, scenario), data::body(id), data::likes(id))))?;
    }
    match scenario {
        Scenario::AddOption => {
            let none: i64 = conn.query_row("SELECT count(*) FROM posts WHERE pinned IS NULL", [], |r| r.get(0))?;
            check("rows with pinned NULL", u64::try_from(none)?, n)?;
        }
        Scenario::AddIndex => {
            let query = "SELECT count(*) FROM posts WHERE likes = ?1";
            let plan: Vec<String> = conn
                .prepare(&format!("EXPLAIN QUERY PLAN {query}"))?
                .query_map([PROBE_LIKES], |r| r.get::<_, String>(3))?
                .collect::<rusqlite::Result<_>>()?;
            if !plan.iter().any(|d| d.contains("INDEX posts_likes")) {
                return Err(
                    format!("check failed: `likes = {PROBE_LIKES}` does not use the new index: {plan:?}").into()
                );
            }
            let found: i64 = conn.query_row(query, [PROBE_LIKES], |r| r.get(0))?;
            check("rows found through the likes index", u64::try_from(found)?, data::probe_count(n))?;
            let check_ok: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
            check("integrity_check", check_ok.as_str(), "ok")?;
        }
        Scenario::Transform => {}
    }
    Ok(())
}
