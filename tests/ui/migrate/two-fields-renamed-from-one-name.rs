use drift::prelude::*;

#[derive(Entity, Clone)]
struct User {
    #[drift(primary_key)]
    id: u64,
    #[drift(renamed_from = "name")]
    first_name: String,
    #[drift(renamed_from = "name")]
    last_name: String,
}

fn main() {}
