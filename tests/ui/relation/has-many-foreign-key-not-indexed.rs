use drift::prelude::*;

#[derive(Entity, Clone)]
struct User {
    #[drift(primary_key)]
    id: u64,
    #[drift(has_many(Post, foreign_key = author_id))]
    posts: HasMany<Post>,
}

#[derive(Entity, Clone)]
struct Post {
    #[drift(primary_key)]
    id: u64,
    author_id: u64,
}

fn main() {}
