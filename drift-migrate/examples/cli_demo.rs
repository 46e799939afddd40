//! Makes a small blog database and a schema history to try the `drift` tool on:
//! users, posts and comments at version 1 in `blog.drift`, and a
//! `schema-history.json` that also records a version 2 of `Post` (a renamed field,
//! a new optional indexed field, a widened type).
//!
//! ```text
//! cargo run -p drift-migrate --example cli_demo -- /tmp/demo
//! cargo run -p drift-migrate --bin drift -- inspect /tmp/demo/blog.drift
//! cargo run -p drift-migrate --bin drift -- check /tmp/demo/blog.drift
//! cargo run -p drift-migrate --bin drift -- migrate /tmp/demo/blog.drift --history /tmp/demo/schema-history.json --dry-run
//! ```

use drift::migrate::SchemaHistory;
use drift::prelude::*;

/// Version 1, what the file holds.
mod v1 {
    use drift::prelude::*;

    #[derive(Entity, Debug, Clone, PartialEq, Default)]
    #[drift(table = "users")]
    pub struct User {
        #[drift(primary_key, auto_increment)]
        pub id: u64,
        #[drift(unique)]
        pub email: String,
        pub name: String,
        #[drift(has_many(Post, foreign_key = author_id))]
        pub posts: HasMany<Post>,
    }

    #[derive(Entity, Debug, Clone, PartialEq, Default)]
    pub struct Post {
        #[drift(primary_key, auto_increment)]
        pub id: u64,
        #[drift(index)]
        pub author_id: u64,
        pub title: String,
        pub likes: u32,
        #[drift(belongs_to(User, key = author_id, on_delete = cascade))]
        pub author: BelongsTo<User>,
        #[drift(has_many(Comment, foreign_key = post_id))]
        pub comments: HasMany<Comment>,
    }

    #[derive(Entity, Debug, Clone, PartialEq, Default)]
    pub struct Comment {
        #[drift(primary_key, auto_increment)]
        pub id: u64,
        #[drift(index)]
        pub post_id: u64,
        pub body: String,
        #[drift(belongs_to(Post, key = post_id, on_delete = cascade))]
        pub post: BelongsTo<Post>,
    }
}

/// Version 2 of `Post`, recorded in the history only.
mod v2 {
    use drift::prelude::*;

    use super::v1::{Comment, User};

    #[derive(Entity, Debug, Clone, PartialEq, Default)]
    #[drift(version = 2)]
    pub struct Post {
        #[drift(primary_key, auto_increment)]
        pub id: u64,
        #[drift(index)]
        pub author_id: u64,
        #[drift(renamed_from = "title")]
        pub headline: String,
        pub likes: u64,
        #[drift(index)]
        pub pinned: Option<bool>,
        #[drift(belongs_to(User, key = author_id, on_delete = cascade))]
        pub author: BelongsTo<User>,
        #[drift(has_many(Comment, foreign_key = post_id))]
        pub comments: HasMany<Comment>,
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args().nth(1).map_or_else(|| std::env::temp_dir().join("drift-cli-demo"), Into::into);
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("blog.drift");
    let _ = std::fs::remove_file(&path);
    let db = Db::builder().entity::<v1::User>().entity::<v1::Post>().entity::<v1::Comment>().open(&path)?;
    db.write(|tx| {
        let ann = tx.insert(&v1::User { email: "ann@example.com".into(), name: "Ann".into(), ..Default::default() })?;
        let bob = tx.insert(&v1::User { email: "bob@example.com".into(), name: "Bob".into(), ..Default::default() })?;
        let hello = tx.insert(&v1::Post { author_id: ann, title: "Hello".into(), likes: 3, ..Default::default() })?;
        tx.insert(&v1::Post { author_id: bob, title: "Drift".into(), likes: 7, ..Default::default() })?;
        tx.insert(&v1::Comment { post_id: hello, body: "Welcome!".into(), ..Default::default() })?;
        Ok(())
    })?;
    drop(db);
    let mut history = SchemaHistory::default();
    history.record([
        <v1::User as Entity>::SCHEMA,
        <v1::Post as Entity>::SCHEMA,
        <v1::Comment as Entity>::SCHEMA,
        <v2::Post as Entity>::SCHEMA,
    ]);
    history.save(dir.join("schema-history.json"))?;
    println!("{}", path.display());
    println!("{}", dir.join("schema-history.json").display());
    Ok(())
}
