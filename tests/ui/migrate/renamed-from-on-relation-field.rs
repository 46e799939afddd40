use drift::prelude::*;

#[derive(Entity, Clone)]
struct User {
    #[drift(primary_key)]
    id: u64,
}

// A relation is not stored: there is nothing of it to rename.
#[derive(Entity, Clone)]
struct Post {
    #[drift(primary_key)]
    id: u64,
    author_id: u64,
    #[drift(belongs_to(User, key = author_id), renamed_from = "writer")]
    author: BelongsTo<User>,
}

fn main() {}
