use drift::prelude::*;

#[derive(Entity, Clone)]
struct User {
    #[drift(primary_key)]
    id: u64,
    #[drift(has_one(Profile, foreign_key = user_id))]
    profile: HasOne<Profile>,
}

#[derive(Entity, Clone)]
struct Profile {
    #[drift(primary_key)]
    id: u64,
    #[drift(index)]
    user_id: u64,
}

fn main() {}
