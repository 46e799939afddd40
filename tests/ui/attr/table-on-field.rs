use drift::prelude::*;

#[derive(Entity, Clone)]
struct User {
    #[drift(primary_key, table = "users")]
    id: u64,
}

fn main() {}
