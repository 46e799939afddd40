use drift::prelude::*;

#[derive(Entity, Clone)]
struct User {
    #[drift(primary_key)]
    id: u64,
    #[drift(unique, unique)]
    email: String,
}

fn main() {}
