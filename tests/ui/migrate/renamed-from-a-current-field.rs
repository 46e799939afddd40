use drift::prelude::*;

#[derive(Entity, Clone)]
struct User {
    #[drift(primary_key)]
    id: u64,
    name: String,
    #[drift(renamed_from = "name")]
    display_name: String,
}

fn main() {}
