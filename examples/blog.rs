//! The main demo: a blog in one Drift file — users, posts, tags (many-to-many) and
//! comments; queries and plans; lazy and eager loading with their storage work side
//! by side; a cascade delete and a restrict error.
//!
//! Run with `cargo run --release --example blog`.

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
    #[drift(has_many(Post, foreign_key = author_id))]
    pub posts: HasMany<Post>,
}

#[derive(Entity, Debug, Clone, PartialEq, Default)]
#[drift(index(fields(author_id, likes)))]
pub struct Post {
    #[drift(primary_key, auto_increment)]
    pub id: u64,
    pub author_id: u64,
    pub title: String,
    #[drift(index)]
    pub likes: u32,
    pub published: Option<i64>,
    #[drift(belongs_to(User, key = author_id, on_delete = cascade))]
    pub author: BelongsTo<User>,
    #[drift(many_to_many(Tag, through = PostTag))]
    pub tags: ManyToMany<Tag>,
    #[drift(has_many(Comment, foreign_key = post_id))]
    pub comments: HasMany<Comment>,
}

#[derive(Entity, Debug, Clone, PartialEq, Default)]
pub struct Tag {
    #[drift(primary_key, auto_increment)]
    pub id: u64,
    #[drift(unique)]
    pub name: String,
}

#[derive(Entity, Debug, Clone, PartialEq, Default)]
pub struct PostTag {
    #[drift(primary_key)]
    pub post_id: u64,
    #[drift(primary_key)]
    pub tag_id: u64,
    #[drift(belongs_to(Post, key = post_id, on_delete = cascade))]
    pub post: BelongsTo<Post>,
    #[drift(belongs_to(Tag, key = tag_id, on_delete = restrict))]
    pub tag: BelongsTo<Tag>,
}

#[derive(Entity, Debug, Clone, PartialEq, Default)]
pub struct Comment {
    #[drift(primary_key, auto_increment)]
    pub id: u64,
    pub post_id: u64,
    pub body: String,
    #[drift(belongs_to(Post, key = post_id, on_delete = cascade))]
    pub post: BelongsTo<Post>,
}

fn main() -> Result<()> {
    let dir = std::env::temp_dir().join("drift-blog-example");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)
        .map_err(|e| Error::NotADatabase { path: dir.display().to_string(), reason: e.to_string() })?;
    let path = dir.join("blog.drift");
    let db = Db::builder()
        .entity::<User>()
        .entity::<Post>()
        .entity::<Tag>()
        .entity::<PostTag>()
        .entity::<Comment>()
        .cache_capacity(0) // so that the storage counters below show every read
        .open(&path)?;
    println!("opened {}", path.display());

    let ids = seed(&db)?;
    queries(&db, &ids)?;
    loading(&db)?;
    deletes(&db, &ids)?;
    println!("\ndb stats: {:?}", db.stats());
    Ok(())
}

fn seed(db: &Db) -> Result<Vec<u64>> {
    let people = [("ann@example.com", 31, "Ann"), ("bob@example.com", 17, "Bob"), ("cy@example.com", 45, "Cy")];
    let (users, posts, tags, comments) = db.write(|tx| {
        let mut users = Vec::new();
        for (email, age, name) in people {
            users.push(tx.insert(&User { email: email.into(), age, name: name.into(), ..Default::default() })?);
        }
        for i in 0..97u32 {
            users.push(tx.insert(&User {
                email: format!("reader{i}@example.com"),
                age: 18 + i % 50,
                name: format!("Reader {i}"),
                ..Default::default()
            })?);
        }
        let mut tags = Vec::new();
        for name in ["rust", "databases", "embedded", "orm"] {
            tags.push(tx.insert(&Tag { name: name.into(), ..Default::default() })?);
        }
        let mut posts = 0;
        let mut comments = 0;
        for n in 0..1000u32 {
            // Ann, Bob and Cy write one post in twenty each (50 apiece); the 97 readers
            // share the rest (8 to 10 each). Likes (0..100) do not follow the author.
            let n_us = n as usize;
            let author = if n_us % 20 < 3 { users[n_us % 20] } else { users[3 + (n_us * 37) % 97] };
            let id = tx.insert(&Post {
                author_id: author,
                title: format!("Post #{n}"),
                likes: (n * 41 + n / 7) % 100,
                published: (n % 3 != 0).then_some(1_700_000_000 + i64::from(n) * 86_400),
                ..Default::default()
            })?;
            posts += 1;
            for (k, &tag) in tags.iter().enumerate() {
                if (n as usize + k) % 3 == 0 {
                    tx.insert(&PostTag { post_id: id, tag_id: tag, ..Default::default() })?;
                }
            }
            for c in 0..n % 3 {
                tx.insert(&Comment { post_id: id, body: format!("comment {c} on #{n}"), ..Default::default() })?;
                comments += 1;
            }
        }
        Ok((users, posts, tags, comments))
    })?;
    println!(
        "inserted {} users, {posts} posts, {} tags and {comments} comments in one transaction",
        users.len(),
        tags.len()
    );
    Ok(vec![users[0], users[1], tags[0]])
}

fn queries(db: &Db, ids: &[u64]) -> Result<()> {
    db.read(|tx| {
        let ann = tx.get_by::<User, _>(User::EMAIL, "ann@example.com")?;
        println!("\nget_by email: {:?}", ann.map(|u| (u.id, u.name)));

        let q = tx.query::<User>().filter(User::AGE.gte(40)).order_by(User::AGE.desc()).limit(3);
        println!("\noldest three users aged 40+:");
        for u in q.all()? {
            println!("  {:>3}  {}", u.age, u.name);
        }
        println!("plan:\n{}", q.explain()?);

        let q = tx.query::<Post>().filter(Post::AUTHOR_ID.eq(ids[0]) & Post::LIKES.gt(50));
        println!("\nAnn's posts with more than 50 likes: {}", q.count()?);
        println!("plan:\n{}", q.explain()?);

        let per_author = tx
            .query::<Post>()
            .group_by(Post::AUTHOR_ID)
            .aggregate((count(), sum(Post::LIKES), avg(Post::LIKES)))
            .having(count().gt(10))
            .order_by(sum(Post::LIKES).desc())
            .limit(3);
        println!("\ntop authors of more than 10 posts by total likes (posts, likes, average):");
        for (author, (n, total, mean)) in per_author.all()? {
            let name = tx.get::<User>(&author)?.map(|u| u.name).unwrap_or_default();
            println!("  {name} (user {author}): {n} posts, {total} likes, {:.1} on average", mean.unwrap_or(0.0));
        }
        println!("plan:\n{}", per_author.explain_analyze()?);

        let scan = tx.query::<Post>().filter(Post::TITLE.starts_with("Post #99"));
        println!("\ntitles starting with \"Post #99\": {}", scan.count()?);
        println!("plan:\n{}", scan.explain()?);
        Ok(())
    })
}

fn loading(db: &Db) -> Result<()> {
    // The same load twice: every post with its author, lazily (one read per post)
    // and eagerly (one batched pass over the distinct authors).
    let lazy = db.read(|tx| {
        let posts = tx.query::<Post>().all()?;
        let mut total_age = 0u64;
        for p in &posts {
            total_age += u64::from(p.author(tx)?.age);
        }
        Ok((posts.len(), total_age, tx.stats()))
    })?;
    let eager = db.read(|tx| {
        let posts = tx.query::<Post>().with(Post::AUTHOR).all()?;
        let mut total_age = 0u64;
        for p in &posts {
            total_age += u64::from(p.author(tx)?.age);
        }
        Ok((posts.len(), total_age, tx.stats()))
    })?;
    assert_eq!((lazy.0, lazy.1), (eager.0, eager.1));
    println!("\n{} posts with their authors (N+1 vs eager):", lazy.0);
    println!(
        "  lazy : gets={:>5} rows_decoded={:>5} lazy_loads={:>5}",
        lazy.2.gets, lazy.2.rows_decoded, lazy.2.lazy_loads
    );
    println!(
        "  eager: gets={:>5} rows_decoded={:>5} lazy_loads={:>5}",
        eager.2.gets, eager.2.rows_decoded, eager.2.lazy_loads
    );

    db.read(|tx| {
        let users = tx
            .query::<User>()
            .filter(User::AGE.gte(66))
            .with(User::POSTS.then(Post::TAGS).then(Post::COMMENTS))
            .all()?;
        for u in &users {
            let posts = u.posts.loaded().unwrap_or_default();
            let tags: usize = posts.iter().map(|p| p.tags.loaded().map_or(0, <[Tag]>::len)).sum();
            let comments: usize = posts.iter().map(|p| p.comments.loaded().map_or(0, <[Comment]>::len)).sum();
            println!("  {} (age {}): {} posts, {tags} tag links, {comments} comments", u.name, u.age, posts.len());
        }
        println!("  nested eager load of users -> posts -> (tags, comments): {:?}", tx.stats());
        Ok(())
    })
}

fn deletes(db: &Db, ids: &[u64]) -> Result<()> {
    // Restrict: a tag still used by posts cannot go.
    match db.write(|tx| tx.delete::<Tag>(&ids[2]).map(drop)) {
        Err(e) => println!("\nrestricted: {e}"),
        Ok(()) => println!("\nunexpectedly deleted the tag"),
    }
    // A failed statement changes nothing; the transaction goes on.
    db.write(|tx| {
        let dup = User { email: "ann@example.com".into(), age: 99, name: "Impostor".into(), ..Default::default() };
        if let Err(e) = tx.insert(&dup) {
            println!("rejected: {e}");
        }
        Ok(())
    })?;
    // Cascade: deleting Bob deletes his posts, their comments and their tag links.
    let before = db
        .read(|tx| Ok((tx.query::<Post>().count()?, tx.query::<Comment>().count()?, tx.query::<PostTag>().count()?)))?;
    db.write(|tx| tx.delete::<User>(&ids[1]).map(drop))?;
    let after = db
        .read(|tx| Ok((tx.query::<Post>().count()?, tx.query::<Comment>().count()?, tx.query::<PostTag>().count()?)))?;
    println!(
        "deleted Bob: posts {} -> {}, comments {} -> {}, post-tag links {} -> {}",
        before.0, after.0, before.1, after.1, before.2, after.2
    );
    Ok(())
}
