use drift::prelude::*;

#[derive(Entity, Clone)]
struct User {
    #[drift(primary_key)]
    id: u64,
    #[drift(renamed_from = full_name)]
    name: String,
}

fn main() {}
