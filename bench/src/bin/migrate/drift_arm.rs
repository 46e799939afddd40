//! Drift: a `Post` at version 1 and, for each scenario, a `Post` at version 2 in its own
//! module, as two releases of a program would compile them. The migration runs on open.

use std::path::Path;

use drift::migrate::{Migrations, applied};
use drift::prelude::*;
use redb::{ReadableDatabase, ReadableTableMetadata, TableDefinition};

use std::sync::atomic::{AtomicU64, Ordering};

use crate::data::{self, BoxResult, PROBE_LIKES, Scenario, check};

mod v1 {
    use drift::prelude::*;

    #[derive(Entity, Debug, Clone, PartialEq, Default)]
    pub struct Post {
        #[drift(primary_key)]
        pub id: u64,
        pub title: String,
        pub body: String,
        pub likes: u32,
    }
}

mod add_option {
    use drift::prelude::*;

    #[derive(Entity, Debug, Clone, PartialEq, Default)]
    #[drift(version = 2)]
    pub struct Post {
        #[drift(primary_key)]
        pub id: u64,
        pub title: String,
        pub body: String,
        pub likes: u32,
        pub pinned: Option<bool>,
    }
}

mod add_index {
    use drift::prelude::*;

    #[derive(Entity, Debug, Clone, PartialEq, Default)]
    #[drift(version = 2)]
    pub struct Post {
        #[drift(primary_key)]
        pub id: u64,
        pub title: String,
        pub body: String,
        #[drift(index)]
        pub likes: u32,
    }
}

mod transform {
    use drift::prelude::*;

    #[derive(Entity, Debug, Clone, PartialEq, Default)]
    #[drift(version = 2)]
    pub struct Post {
        #[drift(primary_key)]
        pub id: u64,
        pub title: String,
        pub body: String,
        pub likes: u32,
    }
}

/// The table of `Post`, and of its `likes` index.
const TABLE: &str = "post";
const LIKES_INDEX: &str = "post#likes";

pub fn write_v1(path: &Path, n: u64, page_cache: usize) -> BoxResult<()> {
    let db = Db::builder().entity::<v1::Post>().page_cache(page_cache).cache_capacity(0).open(path)?;
    for ids in data::batches(n) {
        db.write(|tx| {
            for id in ids.clone() {
                tx.insert(&v1::Post { id, title: data::title(id), body: data::body(id), likes: data::likes(id) })?;
            }
            Ok(())
        })?;
    }
    check("v1 rows", db.read(|tx| tx.query::<v1::Post>().count())?, n)
}

/// Opens the v1 file at `path` with the scenario's version 2, which migrates it. With
/// `trace_every` > 0, prints the resident set every `trace_every` rows.
pub fn migrate(path: &Path, scenario: Scenario, page_cache: usize, trace_every: u64) -> BoxResult<Db> {
    let mut migrations = match scenario {
        Scenario::AddOption | Scenario::AddIndex => Migrations::new(),
        Scenario::Transform => Migrations::new().transform("Post", 2, |mut row| {
            let title: String = row.get_as("title")?;
            row.set("title", title.to_uppercase());
            Ok(row)
        }),
    };
    if trace_every > 0 {
        let next = AtomicU64::new(0);
        migrations = migrations.on_progress(move |p| {
            if p.rows_done >= next.load(Ordering::Relaxed) || p.rows_done == p.rows_total {
                next.store(p.rows_done + trace_every, Ordering::Relaxed);
                let kib = |f| data::proc_status_kib(f).unwrap_or(0);
                eprintln!(
                    "    {}: {:>8}/{} rows, VmRSS {:>6.1} MiB, VmHWM {:>6.1} MiB",
                    p.step,
                    p.rows_done,
                    p.rows_total,
                    kib("VmRSS") as f64 / 1024.0,
                    kib("VmHWM") as f64 / 1024.0
                );
            }
        });
    }
    let builder = Db::builder().page_cache(page_cache).migrations(migrations);
    let db = match scenario {
        Scenario::AddOption => builder.entity::<add_option::Post>().open(path)?,
        Scenario::AddIndex => builder.entity::<add_index::Post>().open(path)?,
        Scenario::Transform => builder.entity::<transform::Post>().open(path)?,
    };
    Ok(db)
}

/// Rows, sample values, the migration record and (for `add_index`) the index, through
/// Drift; then the index table's entries, through redb once `db` is closed.
pub fn verify(db: Db, path: &Path, scenario: Scenario, n: u64) -> BoxResult<()> {
    let records = applied(&db)?;
    check("migration records", records.len(), 1)?;
    let steps: Vec<(String, u32, u32, u64)> =
        records[0].steps.iter().map(|s| (s.entity.clone(), s.from_version, s.to_version, s.rows)).collect();
    check("applied steps", steps, vec![("Post".to_string(), 1, 2, n)])?;
    let samples = data::sample_ids(n);
    match scenario {
        Scenario::AddOption => {
            use add_option::Post;
            check("rows", db.read(|tx| tx.query::<Post>().count())?, n)?;
            check(
                "rows with pinned = None",
                db.read(|tx| tx.query::<Post>().filter(Post::PINNED.eq(None)).count())?,
                n,
            )?;
            for id in samples {
                let want =
                    Post { id, title: data::title(id), body: data::body(id), likes: data::likes(id), pinned: None };
                check("sample row", db.read(|tx| tx.get::<Post>(&id))?, Some(want))?;
            }
        }
        Scenario::AddIndex => {
            use add_index::Post;
            check("rows", db.read(|tx| tx.query::<Post>().count())?, n)?;
            for id in samples {
                let want = Post { id, title: data::title(id), body: data::body(id), likes: data::likes(id) };
                check("sample row", db.read(|tx| tx.get::<Post>(&id))?, Some(want))?;
            }
            let plan = db.read(|tx| tx.query::<Post>().filter(Post::LIKES.eq(PROBE_LIKES)).explain())?.to_string();
            if !plan.contains("Index range on `likes`") {
                return Err(format!("check failed: `likes = {PROBE_LIKES}` does not use the new index:\n{plan}").into());
            }
            let found = db.read(|tx| tx.query::<Post>().filter(Post::LIKES.eq(PROBE_LIKES)).count())?;
            check("rows found through the likes index", found, data::probe_count(n))?;
        }
        Scenario::Transform => {
            use transform::Post;
            check("rows", db.read(|tx| tx.query::<Post>().count())?, n)?;
            for id in samples {
                let want =
                    Post { id, title: data::title_v2(id, scenario), body: data::body(id), likes: data::likes(id) };
                check("sample row", db.read(|tx| tx.get::<Post>(&id))?, Some(want))?;
            }
        }
    }
    drop(db);
    let file = redb::ReadOnlyDatabase::open(path)?;
    let tx = file.begin_read()?;
    check("row table entries", tx.open_table(TableDefinition::<&[u8], &[u8]>::new(TABLE))?.len()?, n)?;
    if scenario == Scenario::AddIndex {
        let index = tx.open_table(TableDefinition::<&[u8], &[u8]>::new(LIKES_INDEX))?;
        check("likes index entries", index.len()?, n)?;
    }
    Ok(())
}
