use drift::prelude::*;

#[derive(Entity, Clone)]
#[drift(renamed_from = "accounts::Account")]
struct User {
    #[drift(primary_key)]
    id: u64,
}

fn main() {}
