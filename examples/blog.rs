//! The main demo: a small blog in one Drift file.
//!
//! Run with `cargo run --release --example blog`.

use drift::prelude::*;
use drift::{avg, count, sum};

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

#[derive(Entity, Debug, Clone, PartialEq, Default)]
#[drift(index(fields(author_id, likes)))]
pub struct Post {
    #[drift(primary_key, auto_increment)]
    pub id: u64,
    #[drift(index)]
    pub author_id: u64,
    pub title: String,
    #[drift(index)]
    pub likes: u32,
    pub published: Option<i64>,
}

fn main() -> Result<()> {
    let dir = std::env::temp_dir().join("drift-blog-example");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)
        .map_err(|e| Error::NotADatabase { path: dir.display().to_string(), reason: e.to_string() })?;
    let path = dir.join("blog.drift");
    let db = Db::builder().entity::<User>().entity::<Post>().open(&path)?;
    println!("opened {}", path.display());

    let people = [
        ("ann@example.com", 31, "Ann"),
        ("bob@example.com", 17, "Bob"),
        ("cy@example.com", 45, "Cy"),
        ("di@example.com", 28, "Di"),
    ];
    let ids = db.write(|tx| {
        let mut ids = Vec::new();
        for (email, age, name) in people {
            ids.push(tx.insert(&User { email: email.into(), age, name: name.into(), ..Default::default() })?);
        }
        for (n, &author) in ids.iter().cycle().take(24).enumerate() {
            let n = u32::try_from(n).unwrap_or(u32::MAX);
            tx.insert(&Post {
                author_id: author,
                title: format!("Post #{n} by user {author}"),
                likes: (n * 37) % 100,
                published: (n % 3 != 0).then_some(1_700_000_000 + i64::from(n) * 86_400),
                ..Default::default()
            })?;
        }
        Ok(ids)
    })?;
    println!("inserted {} users and 24 posts in one transaction", ids.len());

    db.read(|tx| {
        let ann = tx.get_by::<User, _>(User::EMAIL, "ann@example.com")?;
        println!("\nget_by email: {ann:?}");

        let adults = tx.query::<User>().filter(User::AGE.gte(18)).order_by(User::AGE.desc()).all()?;
        println!("\nadults, oldest first:");
        for u in &adults {
            println!("  {:>3}  {}", u.age, u.name);
        }

        let q = tx.query::<Post>().filter(Post::LIKES.between(50, 99)).order_by(Post::LIKES.desc()).limit(5);
        println!("\ntop 5 posts with 50..=99 likes:");
        for p in q.all()? {
            println!("  {:>3} likes  {}", p.likes, p.title);
        }
        println!("\nplan:\n{}", q.explain()?);

        let by_ann = tx.query::<Post>().filter(Post::AUTHOR_ID.eq(ids[0]) & Post::LIKES.gt(20));
        println!("\nAnn's posts with more than 20 likes: {}", by_ann.count()?);
        println!("plan:\n{}", by_ann.explain()?);

        let per_author = tx
            .query::<Post>()
            .group_by(Post::AUTHOR_ID)
            .aggregate((count(), sum(Post::LIKES), avg(Post::LIKES)))
            .having(count().gt(2))
            .order_by(sum(Post::LIKES).desc());
        println!("\nposts per author (count, total likes, average likes):");
        for (author, (n, total, mean)) in per_author.all()? {
            println!("  user {author}: {n} posts, {total} likes, {:.1} on average", mean.unwrap_or(0.0));
        }
        println!("plan:\n{}", per_author.explain_analyze()?);

        let drafts = tx.query::<Post>().filter(Post::PUBLISHED.is_none()).count()?;
        println!("\ndrafts: {drafts}");
        let scan = tx.query::<Post>().filter(Post::TITLE.starts_with("Post #1"));
        println!("titles starting with \"Post #1\": {}", scan.count()?);
        println!("plan:\n{}", scan.explain()?);
        println!("\nread transaction stats: {:?}", tx.stats());
        Ok(())
    })?;

    // A failed statement changes nothing; the transaction goes on.
    db.write(|tx| {
        let dup = User { email: "ann@example.com".into(), age: 99, name: "Impostor".into(), ..Default::default() };
        match tx.insert(&dup) {
            Err(e) => println!("\nrejected: {e}"),
            Ok(id) => println!("\nunexpectedly inserted {id}"),
        }
        let removed = tx.delete::<User>(&ids[1])?;
        println!("deleted {:?}", removed.map(|u| u.name));
        Ok(())
    })?;
    println!("users now: {}", db.read(|tx| tx.query::<User>().count())?);
    println!("db stats: {:?}", db.stats());
    Ok(())
}
