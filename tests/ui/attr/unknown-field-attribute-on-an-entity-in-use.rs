use drift::prelude::*;

// One mistake in `Post`'s attributes is one error: beside it the derive still gives
// `Post` an `Entity` impl, its handles and accessors, and the impls that `User`'s
// `has_many` requires, so the code that uses `Post` does not fail as well.

#[derive(Entity, Clone, Debug)]
struct User {
    #[drift(primary_key)]
    id: u64,
    #[drift(has_many(Post, foreign_key = author_id))]
    posts: HasMany<Post>,
}

#[derive(Entity, Clone, Debug)]
struct Post {
    #[drift(primary_key)]
    id: u64,
    #[drift(indexed)]
    title: String,
    author_id: u64,
    #[drift(belongs_to(User, key = author_id))]
    author: BelongsTo<User>,
}

fn uses(tx: &mut WriteTx) -> Result<()> {
    let post = Post { id: 1, title: "a".into(), author_id: 1, author: BelongsTo::default() };
    tx.insert(&post)?;
    let _: Option<Post> = tx.get::<Post>(&1)?;
    let posts = tx.query::<Post>().filter(Post::TITLE.eq("a")).with(Post::AUTHOR).all()?;
    let _: &User = posts[0].author(&*tx)?;
    let user = tx.get::<User>(&1)?.unwrap();
    let _: &[Post] = user.posts(&*tx)?;
    Ok(())
}

fn main() {}
