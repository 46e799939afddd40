use drift::prelude::*;

#[derive(Entity, Clone)]
struct User {
    #[drift(primary_key)]
    id: u64,
    #[drift(renamed_from = "full_name")]
    #[drift(renamed_from = "username")]
    name: String,
}

fn main() {}
