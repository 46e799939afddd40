use drift::prelude::*;

#[derive(Entity, Clone)]
#[drift(table = "users")]
#[drift(table = "people")]
struct User {
    #[drift(primary_key)]
    id: u64,
}

fn main() {}
