use drift::prelude::*;

#[derive(Entity, Clone)]
struct User {
    #[drift(primary_key)]
    id: u64,
}

#[derive(Entity, Clone)]
struct Post {
    #[drift(primary_key)]
    id: u64,
    author_id: u64,
    #[drift(belongs_to(User, key = author_id, on_delete = nullify))]
    author: BelongsTo<User>,
}

fn main() {}
