//! Migrations: version 1 of a program writes 100,000 posts; version 2 opens the
//! same file and migrates it on open — a renamed field, an added `Option` field
//! with an index, a field with a default, and a transform that rewrites a string
//! field — in one write transaction, with a dry run first, progress as it goes and
//! the applied steps read back from the file.
//!
//! Run with `cargo run --release --example migrate`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use drift::migrate::{Migrations, Row, SchemaHistory};
use drift::prelude::*;

/// What version 1 of the program compiled.
mod v1 {
    use drift::prelude::*;

    #[derive(Entity, Debug, Clone, PartialEq, Default)]
    pub struct Post {
        #[drift(primary_key, auto_increment)]
        pub id: u64,
        pub title: String,
        /// Tags as one comma-separated string.
        pub tags: String,
        pub likes: u32,
    }
}

/// What version 2 compiles: no v1 struct is kept to migrate.
mod v2 {
    use drift::prelude::*;

    #[derive(Entity, Debug, Clone, PartialEq, Default)]
    #[drift(version = 2)]
    pub struct Post {
        #[drift(primary_key, auto_increment)]
        pub id: u64,
        #[drift(renamed_from = "title", index)]
        pub headline: String,
        /// Tags as a list, made from v1's string by a transform.
        pub tags: Vec<String>,
        /// Widened from u32: automatic.
        pub likes: u64,
        /// New, optional, indexed.
        #[drift(index)]
        pub pinned: Option<bool>,
        /// New, with a default for stored rows.
        #[drift(default = String::from("en"))]
        pub lang: String,
    }
}

const ROWS: u64 = 100_000;

fn split_tags(mut row: Row) -> Result<Row, drift::migrate::BoxError> {
    let tags: String = row.get_as("tags")?;
    let list: Vec<String> = tags.split(',').filter(|t| !t.is_empty()).map(str::to_string).collect();
    row.set_as("tags", &list)?;
    Ok(row)
}

fn main() -> drift::Result<()> {
    let dir = std::env::temp_dir().join(format!("drift-migrate-example-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| drift::Error::Migration {
        step: "setup".into(),
        entity: String::new(),
        key: None,
        field: None,
        reason: e.to_string(),
    })?;
    let path = dir.join("posts.drift");
    let _ = std::fs::remove_file(&path);

    // Version 1 ships and writes its file.
    let t = Instant::now();
    let db = Db::builder().entity::<v1::Post>().durability(Durability::None).open(&path)?;
    db.write(|tx| {
        for i in 0..ROWS {
            let tags = if i % 3 == 0 { "rust,db".to_string() } else { "rust".to_string() };
            tx.insert(&v1::Post { id: 0, title: format!("post {i}"), tags, likes: (i % 500) as u32 })?;
        }
        Ok(())
    })?;
    db.flush()?;
    drop(db);
    println!("v1 wrote {ROWS} posts in {:.2?}", t.elapsed());

    // The project's lock file holds every shipped version.
    let mut history = SchemaHistory::default();
    history.record([<v1::Post as Entity>::SCHEMA]);
    history.record([<v2::Post as Entity>::SCHEMA]);

    // Version 2 without migrations: the open says what changed.
    let err = Db::builder().entity::<v2::Post>().open(&path).unwrap_err();
    println!("\nv2 without migrations:\n  {err}");

    let printed = AtomicU64::new(0);
    let migrations = Migrations::new().history(history).transform("Post", 2, split_tags).on_progress(move |p| {
        // Every 25,000 rows (progress comes after each chunk of rows).
        let mark = p.rows_done / 25_000;
        if p.rows_done == 0 || mark > printed.swap(mark, Ordering::Relaxed) {
            println!("  {}: {}/{} rows", p.step, p.rows_done, p.rows_total);
        }
    });
    let builder = Db::builder().entity::<v2::Post>();
    println!("\ndry run:\n{}", migrations.dry_run(&builder, &path)?);

    let t = Instant::now();
    let db = builder.migrations(migrations).open(&path)?;
    println!("migrated on open in {:.2?}", t.elapsed());

    let p = db.read(|tx| tx.get::<v2::Post>(&3))?.expect("post 3");
    println!("\npost 3 after: {p:?}");
    let by_headline = db.read(|tx| tx.query::<v2::Post>().filter(v2::Post::HEADLINE.eq("post 99")).all())?;
    println!("by the new headline index: {:?}", by_headline.iter().map(|p| p.id).collect::<Vec<_>>());
    let unpinned = db.read(|tx| tx.query::<v2::Post>().filter(v2::Post::PINNED.eq(None)).count())?;
    println!("unpinned posts: {unpinned}");

    for m in drift::migrate::applied(&db)? {
        for s in &m.steps {
            println!(
                "\napplied: {} v{} -> v{}, {} rows in {} ms: {}",
                s.entity,
                s.from_version,
                s.to_version,
                s.rows,
                m.duration_ms,
                s.changes.join("; ")
            );
        }
    }
    drop(db);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
